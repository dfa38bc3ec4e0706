"""A few independent pieces of a compiled step run on the CPU's cores at once: the runner of
``ember.backend.threads``, which the op library's kernels share (one set of helper threads per process)."""

from ember.backend.threads import num_threads, run_parts, run_pieces

__all__ = ["num_threads", "run_parts", "run_pieces"]
