"""``ember.backends``: PyTorch's ``torch.backends`` switches, as training scripts set them at their top
(``ember.backends.cudnn.benchmark = True``, ``ember.backends.cuda.matmul.allow_tf32 = True``).

Each submodule says what its settings change in Ember: ``mkldnn.enabled`` turns oneDNN's convolutions and
products on or off, ``cuda.matmul.allow_tf32`` is ``set_float32_matmul_precision``'s setting; the cuDNN, MPS and
MKL ones describe libraries Ember does not run on, so they report that and record what a script sets.
"""

from ember.backends import cpu, cuda, cudnn, mkl, mkldnn, mps, openmp

__all__ = ["cpu", "cuda", "cudnn", "mkl", "mkldnn", "mps", "openmp"]
