"""``torch.backends.cpu``: the vector instructions the CPU offers, in PyTorch's words."""


def _cpu_features() -> dict:
    try:  # what NumPy's own dispatcher detected (numpy.show_runtime prints it)
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_features__
    return __cpu_features__


def get_cpu_capability() -> str:
    """"AVX512" (with AVX512 F, BW, VL and DQ), "AVX2" or "DEFAULT" on x86, as PyTorch names them."""
    features = _cpu_features()
    if all(features.get(f) for f in ("AVX512F", "AVX512BW", "AVX512VL", "AVX512DQ")):
        return "AVX512"
    if features.get("AVX2"):
        return "AVX2"
    return "DEFAULT"
