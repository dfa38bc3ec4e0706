"""``torch.backends.cuda``: ``matmul.allow_tf32`` is ``set_float32_matmul_precision``'s setting seen as a flag
(True: "high", False: "highest"), as in PyTorch; the reduced-precision reductions and the attention kernels'
switches keep what a script sets (Ember's GPU attention is its own composition of products and a softmax, with no
flash or memory-efficient kernels), and ``is_built()`` says whether CuPy is installed."""

from ember.backend import devices, runtime_flags

__all__ = ["cudnn_sdp_enabled", "enable_cudnn_sdp", "enable_flash_sdp", "enable_math_sdp", "enable_mem_efficient_sdp",
           "flash_sdp_enabled", "is_built", "math_sdp_enabled", "matmul", "mem_efficient_sdp_enabled"]


class _MatmulSettings:
    """``torch.backends.cuda.matmul``."""

    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True

    @property
    def allow_tf32(self) -> bool:
        return runtime_flags.get_float32_matmul_precision() != "highest"

    @allow_tf32.setter
    def allow_tf32(self, flag: bool) -> None:
        runtime_flags.set_float32_matmul_precision("high" if flag else "highest")


matmul = _MatmulSettings()
_attention = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def is_built() -> bool:
    """Whether Ember can use a GPU here at all: CuPy imports (``ember.cuda.is_available()`` also needs a GPU)."""
    try:
        devices.cupy_module()
    except Exception:
        return False
    return True


def enable_flash_sdp(enabled: bool) -> None:
    _attention["flash"] = bool(enabled)


def enable_mem_efficient_sdp(enabled: bool) -> None:
    _attention["mem_efficient"] = bool(enabled)


def enable_math_sdp(enabled: bool) -> None:
    _attention["math"] = bool(enabled)


def enable_cudnn_sdp(enabled: bool) -> None:
    _attention["cudnn"] = bool(enabled)


def cudnn_sdp_enabled() -> bool:
    return _attention["cudnn"]


def flash_sdp_enabled() -> bool:
    return _attention["flash"]


def mem_efficient_sdp_enabled() -> bool:
    return _attention["mem_efficient"]


def math_sdp_enabled() -> bool:
    return _attention["math"]
