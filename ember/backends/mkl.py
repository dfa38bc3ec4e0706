"""``torch.backends.mkl``: Ember's products run on OpenBLAS (through NumPy) and oneDNN, not on MKL."""


def is_available() -> bool:
    return False
