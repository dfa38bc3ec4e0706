"""``torch.backends.openmp``: whether Ember computes on an OpenMP runtime, which oneDNN's kernels (the ``onednn``
extra) run on."""

from ember.backend import onednn


def is_available() -> bool:
    return onednn.available()
