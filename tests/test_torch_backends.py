"""``ember.backends`` and the ``ember.cuda`` helpers scripts call, against torch's behaviour (on a machine
without a GPU for the cuda ones)."""

import pytest

import ember
from ember.backend import onednn

torch = pytest.importorskip("torch")


def test_backends_import_as_modules_and_keep_settings():
    import ember.backends.cudnn as cudnn

    saved = (cudnn.benchmark, cudnn.deterministic)
    try:
        cudnn.benchmark, cudnn.deterministic = True, True
        assert ember.backends.cudnn.benchmark and ember.backends.cudnn.deterministic
    finally:
        cudnn.benchmark, cudnn.deterministic = saved
    assert (cudnn.enabled, cudnn.allow_tf32) == (torch.backends.cudnn.enabled, torch.backends.cudnn.allow_tf32)
    assert cudnn.is_available() is False and cudnn.version() is None
    assert ember.backends.mps.is_available() is False and ember.backends.mps.is_built() is False
    assert ember.backends.mkl.is_available() is False
    assert ember.backends.openmp.is_available() == onednn.available()


def test_allow_tf32_is_the_matmul_precision():
    try:
        assert ember.backends.cuda.matmul.allow_tf32 is False  # "highest" to begin with, as PyTorch
        ember.backends.cuda.matmul.allow_tf32 = True
        assert ember.get_float32_matmul_precision() == "high"
        ember.set_float32_matmul_precision("medium")
        assert ember.backends.cuda.matmul.allow_tf32 is True
        ember.backends.cuda.matmul.allow_tf32 = False
        assert ember.get_float32_matmul_precision() == "highest"
    finally:
        ember.set_float32_matmul_precision("highest")


def test_mkldnn_enabled_switches_onednn():
    assert ember.backends.mkldnn.is_available() == onednn.available()
    assert ember.backends.mkldnn.enabled is True
    try:
        ember.backends.mkldnn.enabled = False
        assert not onednn.enabled() and ember.backends.mkldnn.enabled is False
    finally:
        ember.backends.mkldnn.enabled = True
    assert onednn.switched_on()


def test_attention_switches_and_cpu_capability():
    cuda = ember.backends.cuda
    try:
        cuda.enable_flash_sdp(False)
        assert cuda.flash_sdp_enabled() is False and cuda.math_sdp_enabled() is True
    finally:
        cuda.enable_flash_sdp(True)
    assert ember.backends.cpu.get_cpu_capability() in ("AVX512", "AVX2", "DEFAULT")
    if torch.backends.cpu.get_cpu_capability() in ("AVX512", "AVX2", "DEFAULT"):
        assert ember.backends.cpu.get_cpu_capability() == torch.backends.cpu.get_cpu_capability()


@pytest.mark.skipif(ember.cuda.is_available(), reason="the answers without a GPU")
def test_cuda_helpers_without_a_gpu():
    assert ember.cuda.empty_cache() is None
    assert ember.cuda.memory_allocated() == ember.cuda.memory_reserved() == ember.cuda.max_memory_allocated() == 0
    assert ember.cuda.reset_peak_memory_stats() is None
    assert ember.cuda.is_bf16_supported() is False
    for call in (ember.cuda.get_device_name, ember.cuda.get_device_capability, lambda: ember.cuda.set_device(0)):
        with pytest.raises(RuntimeError, match="no CUDA GPU is available"):
            call()


def test_cuda_amp_custom_fwd_and_custom_bwd_as_torch():
    # ember.cuda.amp had neither (an AttributeError for a Function decorated with torch.cuda.amp.custom_fwd); a
    # CUDA decorator leaves a CPU autocast region as it is, so the forward's product is bfloat16 in both

    def run(lib):
        class Scale(lib.autograd.Function):
            @staticmethod
            @lib.cuda.amp.custom_fwd(cast_inputs=lib.float32)
            def forward(ctx, a, b):
                ctx.save_for_backward(a, b)
                return a @ b

            @staticmethod
            @lib.cuda.amp.custom_bwd
            def backward(ctx, grad):
                a, b = ctx.saved_tensors
                return grad @ b.t().to(grad.dtype), a.t().to(grad.dtype) @ grad

        a = lib.arange(6.0).reshape(2, 3).requires_grad_()
        with lib.autocast("cpu", dtype=lib.bfloat16):
            y = Scale.apply(a, lib.ones(3, 2))
        y.float().sum().backward()
        return str(y.dtype).removeprefix("torch."), y.detach().float().tolist(), a.grad.tolist()

    with pytest.warns(FutureWarning, match="torch.amp.custom_[fb]wd\\(args..., device_type='cuda'\\)"):
        ours = run(ember)
    with pytest.warns(FutureWarning):
        assert ours == run(torch)
    assert ember.amp.is_autocast_available("cpu") and not ember.amp.is_autocast_available("xpu")


def test_cuda_amp_is_the_old_path_to_ember_amp():
    from ember.cuda.amp import GradScaler, autocast

    with pytest.warns(FutureWarning, match="torch.amp.GradScaler\\('cuda'"):
        scaler = GradScaler(init_scale=1024.0, enabled=False)
    assert isinstance(scaler, ember.amp.GradScaler) and scaler.device == "cuda" and not scaler.is_enabled()
    with pytest.warns(FutureWarning, match="torch.amp.autocast\\('cuda'"):
        guard = autocast(dtype=ember.bfloat16)
    assert isinstance(guard, ember.amp.autocast)
    with guard:
        assert ember.nn.Linear(2, 2)(ember.ones(1, 2)).dtype == ember.float32  # CPU ops are not cast by a GPU autocast
