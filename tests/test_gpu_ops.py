"""Every row of the op table on the cuda device: forward and first gradients equal the CPU's to rounding.

The CPU results are the reference here (test_ops.py checks those against NumPy float64, PyTorch and finite
differences). Skipped without CuPy and a GPU.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_ops import ALL_CASES, GRAD_CASES, _case_ids, _grad_indices, _inputs, _is_float, _outputs, _upstream

import ember

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not ember.cuda_is_available(), reason="needs CuPy and a CUDA GPU"),
]


def _on(device: str, arrays, float_dtype, requires_grad=()) -> list:
    tensors = []
    for i, a in enumerate(arrays):
        if _is_float(a):
            a = a.astype(float_dtype)
        tensors.append(ember.tensor(a, device=device, requires_grad=i in requires_grad))
    return tensors


def _host(t) -> np.ndarray:
    return np.asarray(t.detach().to("cpu").numpy())


def _close(gpu: np.ndarray, cpu: np.ndarray, what: str):
    assert gpu.shape == cpu.shape and gpu.dtype == cpu.dtype, \
        f"{what}: {gpu.dtype}{list(gpu.shape)} on cuda, {cpu.dtype}{list(cpu.shape)} on cpu"
    if cpu.dtype.kind == "f":
        tol = 1e-9 if cpu.dtype == np.float64 else 2e-4  # CUDA's exp, log... differ from NumPy's by ulps
        np.testing.assert_allclose(gpu.astype(np.float64), cpu.astype(np.float64), rtol=tol, atol=tol, err_msg=what)
    else:
        np.testing.assert_array_equal(gpu, cpu, err_msg=what)


@pytest.mark.parametrize("float_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ALL_CASES, ids=_case_ids(ALL_CASES))
def test_forward_matches_the_cpu(case, float_dtype):
    arrays = _inputs(case)
    expected = _outputs(case.fn(*_on("cpu", arrays, float_dtype)))
    actual = _outputs(case.fn(*_on("cuda", arrays, float_dtype)))
    assert len(actual) == len(expected)
    for k, (gpu, cpu) in enumerate(zip(actual, expected)):
        if "to_device" not in case.covers:  # to_device rows move to a named device
            assert gpu.device == ember.device("cuda"), f"output {k} is on {gpu.device}"
        _close(_host(gpu), _host(cpu), f"output {k}")


@pytest.mark.parametrize("float_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", GRAD_CASES, ids=_case_ids(GRAD_CASES))
def test_gradients_match_the_cpu(case, float_dtype):
    arrays = _inputs(case)
    idx = _grad_indices(case, arrays)
    with ember.no_grad():
        upstream = [u.to(float_dtype) for u in _upstream(case, _outputs(case.fn(*_on("cpu", arrays, float_dtype))))]
    results = []
    for device in ("cpu", "cuda"):
        leaves = _on(device, arrays, float_dtype, requires_grad=idx)
        outs = _outputs(case.fn(*leaves))
        grads = ember.grad(outs, [leaves[i] for i in idx], grad_outputs=[u.to(device) for u in upstream],
                           allow_unused=True)
        results.append([None if g is None else _host(g) for g in grads])
    for i, (cpu, gpu) in zip(idx, zip(*results)):
        assert (cpu is None) == (gpu is None), f"gradient of input {i}: {gpu} on cuda, {cpu} on cpu"
        if cpu is not None:
            _close(gpu, cpu, f"gradient of input {i}")
