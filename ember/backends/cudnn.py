"""``torch.backends.cudnn``: Ember's GPU convolutions run on its own kernels and cuBLAS, not on cuDNN, so
``is_available()`` is False and ``version()`` None; ``enabled``, ``benchmark``, ``deterministic`` and
``allow_tf32`` keep what a script sets (PyTorch's defaults to begin with) and change no result."""

enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """Whether Ember runs on cuDNN: never."""
    return False


def version() -> None:
    """cuDNN's version: None, as PyTorch gives where cuDNN is absent."""
    return None
