"""``ember.autocast``: which ops compute in the low dtype and which in float32 (compared with
``torch.autocast("cpu")`` where installed), numerics against float64 references, float32 gradients for float32
parameters, nesting and threads, the hook's absence outside autocast, training, and ``ember.jit`` under
autocast equal to eager mode."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import autograd
from ember.backend.dtypes import bfloat16, float16, float32
from ember.ops import dispatch
from ember.ops.linalg import linear_relu
from ember.ops.registry import REGISTRY, Spec, defop

try:
    import torch
except ImportError:  # the PyTorch comparisons are skipped
    torch = None

RTOL = {bfloat16: 2e-2, float16: 4e-3}  # one rounding of each operand and of the result


def _rng(seed=0):
    return np.random.default_rng(seed)


def _round(a, dtype):
    """float64 values of ``a`` rounded to ``dtype``."""
    return np.asarray(a, np.float32).astype(dtype).astype(np.float64)


# --- the policy lives on the op record ----------------------------------------------------------------------


def test_policy_is_a_field_of_the_op_record():
    lower = {name for name, op in REGISTRY.items() if op.autocast == "lower"}
    to_float32 = {name for name, op in REGISTRY.items() if op.autocast == "float32"}
    assert lower == {"matmul", "linear", "linear_relu", "conv2d", "conv_transpose2d", "conv3d", "conv_transpose3d"}
    assert {"softmax", "log_softmax", "softmax_cross_entropy", "exp", "log", "sum", "pow"} <= to_float32
    assert REGISTRY["relu"].autocast is None and REGISTRY["add"].autocast is None
    with pytest.raises(ValueError, match="autocast must be"):
        defop("autocast_bad_policy", forward=None, infer=lambda x: Spec(x.shape, x.dtype), vjp=None,
              cost=None, onnx=None, autocast="half")
    assert "autocast_bad_policy" not in REGISTRY


# --- output dtypes per op class ------------------------------------------------------------------------------


def _ops():
    """name -> (ember call, torch call or None): the same computation on the same float32 inputs."""
    rng = _rng(1)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    w = rng.standard_normal((5, 6)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    img = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    k = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    kt = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    seq = rng.standard_normal((2, 3, 5)).astype(np.float32)
    kseq = rng.standard_normal((4, 3, 2)).astype(np.float32)
    vol = rng.standard_normal((2, 3, 4, 5, 4)).astype(np.float32)
    kvol = rng.standard_normal((4, 3, 2, 3, 2)).astype(np.float32)
    labels = np.array([0, 2, 1, 4])
    e, t = ember.tensor, (torch.tensor if torch is not None else None)
    ops = {
        "linear": (lambda: F.linear(e(x), e(w), e(b)), lambda: torch.nn.functional.linear(t(x), t(w), t(b))),
        "linear_relu": (lambda: linear_relu(e(x), e(w), e(b)),
                        lambda: torch.relu(torch.nn.functional.linear(t(x), t(w), t(b)))),
        "matmul": (lambda: e(x) @ e(w).T, lambda: t(x) @ t(w).T),
        "batched matmul": (lambda: ember.matmul(e(img[:, 0]), e(img[:, 1])), lambda: t(img[:, 0]) @ t(img[:, 1])),
        "conv2d": (lambda: F.conv2d(e(img), e(k), e(b[:4]), padding=1),
                   lambda: torch.nn.functional.conv2d(t(img), t(k), t(b[:4]), padding=1)),
        "conv1d": (lambda: F.conv1d(e(seq), e(kseq)), lambda: torch.nn.functional.conv1d(t(seq), t(kseq))),
        "conv_transpose2d": (lambda: F.conv_transpose2d(e(img), e(kt), stride=2),
                             lambda: torch.nn.functional.conv_transpose2d(t(img), t(kt), stride=2)),
        "conv3d": (lambda: F.conv3d(e(vol), e(kvol), e(b[:4]), padding=1),
                   lambda: torch.nn.functional.conv3d(t(vol), t(kvol), t(b[:4]), padding=1)),
        "conv_transpose3d": (lambda: F.conv_transpose3d(e(vol), e(kvol.transpose(1, 0, 2, 3, 4).copy()), stride=2),
                             lambda: torch.nn.functional.conv_transpose3d(
                                 t(vol), t(kvol.transpose(1, 0, 2, 3, 4).copy()), stride=2)),
        "cross_entropy": (lambda: F.cross_entropy(e(x @ w.T), e(labels)),
                          lambda: torch.nn.functional.cross_entropy(t(x @ w.T), t(labels))),
        "mse_loss": (lambda: F.mse_loss(e(x), e(x[::-1].copy())),
                     lambda: torch.nn.functional.mse_loss(t(x), t(x[::-1].copy()))),
        "relu": (lambda: ember.relu(e(x)), lambda: torch.relu(t(x))),
        "add": (lambda: e(x) + e(x), lambda: t(x) + t(x)),
        # float32 in Ember on every device (PyTorch lists these for CUDA only; on the CPU it keeps bfloat16)
        "softmax": (lambda: ember.softmax(e(x), axis=1), None),
        "log_softmax": (lambda: ember.log_softmax(e(x), axis=1), None),
        "exp": (lambda: ember.exp(e(x)), None),
        "log": (lambda: ember.log(ember.abs(e(x)) + 1.0), None),
        "sum": (lambda: ember.sum(e(x)), None),
        "mean": (lambda: ember.mean(e(x)), None),
        "layer_norm": (lambda: F.layer_norm(e(x), (6,)), None),
    }
    return ops


EXPECTED = {"linear": bfloat16, "linear_relu": bfloat16, "matmul": bfloat16, "batched matmul": bfloat16,
            "conv2d": bfloat16, "conv1d": bfloat16, "conv_transpose2d": bfloat16, "conv3d": bfloat16,
            "conv_transpose3d": bfloat16, "cross_entropy": float32,
            "mse_loss": float32, "relu": float32, "add": float32, "softmax": float32, "log_softmax": float32,
            "exp": float32, "log": float32, "sum": float32, "mean": float32, "layer_norm": float32}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_output_dtype_per_op_class(name):
    call, torch_call = _ops()[name]
    with ember.autocast("cpu", dtype=ember.bfloat16):
        out = call()
    assert out.dtype == EXPECTED[name], name
    assert call().dtype == float32  # outside the region: float32 in, float32 out
    if torch is not None and torch_call is not None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            expected = torch_call()
        assert str(expected.dtype).removeprefix("torch.") == str(out.dtype), name


def test_ops_follow_their_inputs_after_a_low_precision_op():
    x = ember.randn(4, 6)
    w = ember.randn(6, 6)
    with ember.autocast("cpu"):
        h = x @ w
        assert ember.relu(h).dtype == bfloat16
        assert (h * 2.0).dtype == bfloat16
        assert (h + x).dtype == float32  # type promotion: bfloat16 with float32
        assert ember.softmax(h, axis=1).dtype == float32
        assert (ember.randn(3, dtype="float64") @ ember.randn(3, 2, dtype="float64")).dtype == np.float64


# --- numerics ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [bfloat16, float16], ids=["bfloat16", "float16"])
def test_linear_rounds_inputs_and_result_once(dtype):
    rng = _rng(2)
    x, w, b = rng.standard_normal((16, 64)), rng.standard_normal((32, 64)), rng.standard_normal(32)
    with ember.autocast("cpu", dtype=dtype):
        out = F.linear(ember.tensor(x.astype(np.float32)), ember.tensor(w.astype(np.float32)),
                       ember.tensor(b.astype(np.float32)))
    assert out.dtype == dtype
    # reference: the operands rounded to the low dtype, the product in float64, then one rounding
    expected = _round(_round(x, dtype) @ _round(w, dtype).T + _round(b, dtype), dtype)
    got = out.numpy().astype(np.float64)
    np.testing.assert_allclose(got, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(expected).max())
    exact = x @ w.T + b  # and within the low dtype's precision of the float64 result
    assert np.linalg.norm(got - exact) / np.linalg.norm(exact) < RTOL[dtype]


@pytest.mark.parametrize("dtype", [bfloat16, float16], ids=["bfloat16", "float16"])
def test_low_precision_products_accumulate_in_float32_and_round_once(dtype):
    # NumPy's float16 matmul has no BLAS and rounds as it goes; Ember's products and convolutions do not
    rng = _rng(4)
    a, b = (rng.standard_normal(s).astype(dtype) for s in ((8, 512), (512, 8)))
    expected = (a.astype(np.float32) @ b.astype(np.float32)).astype(dtype)
    np.testing.assert_array_equal(ember.matmul(ember.tensor(a), ember.tensor(b)).numpy(), expected)
    x, k = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3))
    exact = F.conv2d(ember.tensor(x), ember.tensor(k), padding=1).numpy()
    got = F.conv2d(ember.tensor(x.astype(dtype)), ember.tensor(k.astype(dtype)), padding=1)
    assert got.dtype == dtype
    assert np.linalg.norm(got.numpy().astype(np.float64) - exact) / np.linalg.norm(exact) < RTOL[dtype]


def test_conv2d_within_bfloat16_precision_of_float64():
    rng = _rng(3)
    x, k = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3))
    exact = F.conv2d(ember.tensor(x), ember.tensor(k), padding=1).numpy()
    with ember.autocast("cpu"):
        got = F.conv2d(ember.tensor(x.astype(np.float32)), ember.tensor(k.astype(np.float32)), padding=1)
    assert got.dtype == bfloat16
    assert np.linalg.norm(got.numpy().astype(np.float64) - exact) / np.linalg.norm(exact) < 1e-2


def test_softmax_of_low_precision_logits_is_float32_and_matches_the_reference():
    rng = _rng(4)
    logits = rng.standard_normal((8, 10)) * 4
    h = ember.tensor(logits.astype(np.float32)).to(dtype=bfloat16)
    with ember.autocast("cpu"):
        p = ember.softmax(h, axis=1)
    z = _round(logits, bfloat16)
    expected = np.exp(z - z.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    assert p.dtype == float32
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-5, atol=1e-7)


# --- gradients -----------------------------------------------------------------------------------------------


def _mlp_grads(autocast: bool, backward_inside: bool = True):
    ember.manual_seed(0)
    # tanh, not relu: a bfloat16 rounding may move a pre-activation across relu's kink and change a gradient
    # entry from 0 to its full value, which no tolerance on rounding covers
    model = ember.nn.Sequential(ember.nn.Linear(12, 16), ember.nn.Tanh(), ember.nn.Linear(16, 3))
    x = ember.tensor(_rng(5).standard_normal((32, 12)).astype(np.float32))
    y = ember.tensor(_rng(6).integers(0, 3, 32))
    with ember.autocast("cpu", enabled=autocast):
        loss = F.cross_entropy(model(x), y)
        if backward_inside:
            loss.backward()
    if not backward_inside:
        loss.backward()
    return loss, [p.grad for p in model.parameters()], list(model.parameters())


def test_gradients_reach_float32_parameters():
    loss, grads, params = _mlp_grads(autocast=True)
    _, reference, _ = _mlp_grads(autocast=False)
    assert loss.dtype == float32
    for p, g, r in zip(params, grads, reference):
        assert p.dtype == float32 and g.dtype == float32
        assert np.linalg.norm(g.numpy() - r.numpy()) / np.linalg.norm(r.numpy()) < 1e-2


def test_backward_inside_or_after_the_region_agree():
    _, inside, _ = _mlp_grads(autocast=True, backward_inside=True)
    _, after, _ = _mlp_grads(autocast=True, backward_inside=False)
    for a, b in zip(inside, after):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_gradients_match_torch_autocast():
    rng = _rng(7)
    x = rng.standard_normal((8, 10)).astype(np.float32)
    w = rng.standard_normal((4, 10)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    labels = rng.integers(0, 4, 8)
    ew, eb = ember.tensor(w, requires_grad=True), ember.tensor(b, requires_grad=True)
    with ember.autocast("cpu"):
        loss = F.cross_entropy(F.linear(ember.tensor(x), ew, eb), ember.tensor(labels))
    loss.backward()
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        tloss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(torch.tensor(x), tw, tb),
                                                  torch.tensor(labels))
    tloss.backward()
    assert tw.grad.dtype == torch.float32 and ew.grad.dtype == float32
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-2)
    for got, expected in ((ew.grad, tw.grad), (eb.grad, tb.grad)):
        e = expected.numpy()
        assert np.linalg.norm(got.numpy() - e) / np.linalg.norm(e) < 2e-2


# --- regions: nesting, disabling, decorator, threads, and no hook outside ------------------------------------


def test_nested_and_disabled_regions_restore_the_state():
    x, w = ember.randn(2, 3), ember.randn(3, 3)
    assert not ember.is_autocast_enabled()
    with ember.autocast("cpu", dtype=ember.float16):
        assert ember.get_autocast_dtype() == float16
        with ember.autocast("cpu", dtype=ember.bfloat16):
            assert (x @ w).dtype == bfloat16
            with ember.autocast("cpu", enabled=False):
                assert not ember.is_autocast_enabled()
                assert (x @ w).dtype == float32
            assert (x @ w).dtype == bfloat16
        assert (x @ w).dtype == float16
    assert (x @ w).dtype == float32 and ember.get_autocast_dtype() is None


def test_a_region_without_a_dtype_takes_the_enclosing_one_as_torch():
    # autocast("cpu") inside a float16 region (directly, or re-enabled inside a disabled one) ran bfloat16, the
    # default; PyTorch's takes get_autocast_dtype("cpu"), the dtype the innermost region set (enabled or not)

    def run(lib):
        x = lib.ones(2, 2)
        seen = []
        with lib.autocast("cpu", dtype=lib.float16):
            with lib.autocast("cpu"):
                seen.append((x @ x).dtype)
            with lib.autocast("cpu", enabled=False):
                seen.append(lib.get_autocast_dtype("cpu"))
                with lib.autocast("cpu"):
                    seen.append((x @ x).dtype)
        with lib.autocast("cpu", dtype=lib.float16, enabled=False):
            seen.append(lib.get_autocast_dtype("cpu"))
            with lib.autocast("cpu", enabled=True):
                seen.append((x @ x).dtype)
        seen.append(lib.get_autocast_dtype("cpu"))
        with lib.autocast("cpu"):
            seen.append((x @ x).dtype)
        return [str(d).removeprefix("torch.") for d in seen]

    assert run(ember) == ["float16"] * 5 + ["bfloat16"] * 2
    if torch is not None:
        assert run(torch) == run(ember)


def test_decorator_and_reentered_object():
    region = ember.autocast("cpu")

    @region
    def product(a, b):
        return a @ b

    x = ember.randn(2, 2)
    assert product(x, x).dtype == bfloat16
    with region:
        with region:
            assert (x @ x).dtype == bfloat16
        assert (x @ x).dtype == bfloat16
    assert (x @ x).dtype == float32


def test_cuda_autocast_leaves_cpu_tensors_alone():
    x = ember.randn(2, 3)
    with ember.autocast("cuda"):
        assert ember.is_autocast_enabled() and ember.get_autocast_dtype() == float16
        assert ember.is_autocast_enabled("cuda") and not ember.is_autocast_enabled("cpu")
        assert (x @ x.T).dtype == float32


def test_disabling_another_device_type_keeps_the_cpu_region():
    # PyTorch's regions are per device type: autocast("cuda", enabled=False) leaves CPU autocast on
    x = ember.randn(2, 3)
    with ember.autocast("cpu"):
        with ember.autocast("cuda", enabled=False):
            assert ember.is_autocast_enabled("cpu")
            assert (x @ x.T).dtype == bfloat16
        with ember.autocast("cpu", enabled=False):
            with ember.autocast("cuda", enabled=False):
                assert (x @ x.T).dtype == float32
        assert (x @ x.T).dtype == bfloat16
    assert (x @ x.T).dtype == float32


def test_a_cuda_region_inside_a_cpu_region_keeps_the_cpu_region():
    # the cuda region replaced the thread's one state: CPU products inside it ran in float32 (PyTorch: bfloat16)
    x = ember.randn(2, 3)
    with ember.autocast("cpu"):
        with ember.autocast("cuda"):
            assert ember.is_autocast_enabled("cpu") and ember.is_autocast_enabled("cuda")
            assert ember.get_autocast_dtype("cpu") == bfloat16 and ember.get_autocast_dtype("cuda") == float16
            assert (x @ x.T).dtype == bfloat16
            with ember.autocast("cuda", enabled=False):
                assert (x @ x.T).dtype == bfloat16 and not ember.is_autocast_enabled("cuda")
            with ember.autocast("cpu", enabled=False):
                assert (x @ x.T).dtype == float32 and ember.is_autocast_enabled("cuda")
        assert (x @ x.T).dtype == bfloat16 and not ember.is_autocast_enabled("cuda")
    with ember.autocast("cuda"):
        with ember.autocast("cpu", dtype=ember.float16):
            assert ember.is_autocast_enabled("cuda") and (x @ x.T).dtype == float16
        assert ember.is_autocast_enabled("cuda") and (x @ x.T).dtype == float32
    assert not ember.is_autocast_enabled()
    if torch is not None:
        with torch.autocast("cpu"), torch.autocast("cuda", enabled=torch.cuda.is_available()):
            assert (torch.randn(2, 3) @ torch.randn(3, 2)).dtype == torch.bfloat16


def test_cache_enabled_is_accepted():
    x = ember.randn(2, 3)

    @ember.autocast("cpu", cache_enabled=False)
    def product(a):
        return a @ a.T

    with ember.autocast(device_type="cpu", dtype=ember.float16, enabled=True, cache_enabled=True):
        assert (x @ x.T).dtype == float16
    assert product(x).dtype == bfloat16


def test_state_is_per_thread():
    results = {}
    inside, release = threading.Event(), threading.Event()

    def other():
        inside.wait()
        results["other"] = (ember.randn(2, 2) @ ember.randn(2, 2)).dtype
        release.set()

    thread = threading.Thread(target=other)
    thread.start()
    with ember.autocast("cpu"):
        inside.set()
        release.wait(10)
        results["main"] = (ember.randn(2, 2) @ ember.randn(2, 2)).dtype
    thread.join()
    assert results == {"main": bfloat16, "other": float32}


def test_no_hook_outside_any_region():
    assert dispatch.apply is autograd.apply
    with ember.autocast("cpu"):
        assert dispatch.apply is not autograd.apply
    assert dispatch.apply is autograd.apply
    with pytest.raises(RuntimeError), ember.autocast("cpu"):
        raise RuntimeError("leaving by an exception restores the hook too")
    assert dispatch.apply is autograd.apply and not ember.is_autocast_enabled()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="device_type"):
        ember.autocast("tpu")
    with pytest.raises(ValueError, match="bfloat16 or float16"):
        ember.autocast("cpu", dtype=ember.float32)
    with pytest.raises(TypeError, match="enabled"):
        ember.autocast("cpu", enabled=1)


def test_a_disabled_region_takes_any_dtype():
    # autocast("cpu", dtype=dtype, enabled=dtype != float32) raised for float32, where PyTorch runs it disabled
    x = ember.randn(2, 3)
    with ember.autocast("cpu"):
        with ember.autocast("cpu", dtype=ember.float32, enabled=False):
            assert not ember.is_autocast_enabled("cpu") and (x @ x.T).dtype == float32
        assert (x @ x.T).dtype == bfloat16
    if torch is not None:
        with torch.autocast("cpu", dtype=torch.float32, enabled=False):
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


# --- training ------------------------------------------------------------------------------------------------


def _spirals(n=300, seed=0):
    rng = _rng(seed)
    labels = rng.integers(0, 3, n)
    r = rng.uniform(0.2, 1.0, n)
    angle = labels * 2 * np.pi / 3 + r * 3 + rng.normal(0, 0.1, n)
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], 1).astype(np.float32)
    return x, labels


def _train_step(model, opt):
    def step(x, y):
        opt.zero_grad()
        with ember.autocast("cpu", dtype=ember.bfloat16):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def test_mlp_trains_under_autocast():
    ember.manual_seed(0)
    x, labels = _spirals()
    model = ember.nn.Sequential(ember.nn.Linear(2, 64), ember.nn.ReLU(), ember.nn.Linear(64, 64), ember.nn.ReLU(),
                                ember.nn.Linear(64, 3))
    opt = ember.optim.Adam(model.parameters(), lr=0.02)
    step = _train_step(model, opt)
    xt, yt = ember.tensor(x), ember.tensor(labels)
    for _ in range(300):
        step(xt, yt)
    assert all(p.dtype == float32 for p in model.parameters())
    with ember.no_grad(), ember.autocast("cpu"):
        accuracy = float((model(xt).numpy().argmax(1) == labels).mean())
    assert accuracy >= 0.95, accuracy


# --- compiled mode -------------------------------------------------------------------------------------------


def _pair(seed=0):
    ember.manual_seed(seed)
    models = []
    for _ in range(2):
        ember.manual_seed(seed)
        models.append(ember.nn.Sequential(ember.nn.Linear(6, 8), ember.nn.ReLU(), ember.nn.Linear(8, 3)))
    return models


def test_jit_under_autocast_equals_eager_under_autocast():
    eager_model, jit_model = _pair()
    eager_opt = ember.optim.SGD(eager_model.parameters(), lr=0.1, momentum=0.9)
    jit_opt = ember.optim.SGD(jit_model.parameters(), lr=0.1, momentum=0.9)
    eager_step, jit_step = _train_step(eager_model, eager_opt), ember.jit(_train_step(jit_model, jit_opt))
    rng = _rng(8)
    for i in range(4):
        x = ember.tensor(rng.standard_normal((16, 6)).astype(np.float32))
        y = ember.tensor(rng.integers(0, 3, 16))
        a, b = eager_step(x, y), jit_step(x, y)
        assert a.dtype == b.dtype == float32
        np.testing.assert_allclose(b.item(), a.item(), rtol=1e-6, err_msg=f"step {i}")
    for p, q in zip(eager_model.parameters(), jit_model.parameters()):
        assert q.dtype == float32
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-5, atol=1e-6)
    graph = jit_step.graph_for(x, y)
    assert any(n.op.name == "cast" and n.attrs["dtype"] == bfloat16 for n in graph.nodes)


@pytest.mark.parametrize("dtype", [float16, bfloat16])
def test_jit_products_round_once_as_eager(dtype):
    # the forward computes float16/bfloat16 products in float32 and rounds once; compiled code must too
    rng = _rng(3)
    x = ember.tensor(rng.standard_normal((64, 32)).astype(np.float32))
    layer = ember.nn.Linear(32, 16)

    def products(t):
        return layer(t), t @ layer.weight.T

    with ember.no_grad(), ember.autocast("cpu", dtype=dtype):
        eager, compiled = products(x), ember.jit(products)(x)
    for a, b in zip(eager, compiled):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(b.float().numpy(), a.float().numpy())


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", "RNNCell"])
def test_jit_recurrent_layers_without_gradients_equal_eager_under_autocast(name):
    # a trace with gradients off ran each layer as one recurrent op in float32 (RNN and LSTM outputs float32, up
    # to 7e-3 off eager's bfloat16 ones); under autocast it runs the steps as eager mode does
    ember.manual_seed(0)
    layer = getattr(ember.nn, name)(8, 6)
    x = ember.tensor(_rng(29).standard_normal((2, 8) if "Cell" in name else (5, 2, 8)).astype(np.float32))

    def flat(out):
        return [t for o in out for t in flat(o)] if isinstance(out, tuple) else [out]

    with ember.no_grad(), ember.autocast("cpu"):
        eager, compiled = flat(layer(x)), flat(ember.jit(lambda t: layer(t))(x))
    for a, b in zip(eager, compiled):
        assert a.dtype == b.dtype == (float32 if name == "GRU" else bfloat16)
        np.testing.assert_array_equal(b.float().numpy(), a.float().numpy())


def test_jit_retraces_when_the_autocast_state_changes():
    model = ember.nn.Linear(4, 2)
    forward = ember.jit(lambda x: model(x))
    x = ember.randn(3, 4)
    assert forward(x).dtype == float32
    with ember.autocast("cpu"):
        out = forward(x)
        eager = model(x)
    assert out.dtype == bfloat16
    np.testing.assert_array_equal(out.numpy(), eager.detach().numpy())
    assert forward(x).dtype == float32 and forward.traces == 2


def test_jit_retraces_for_the_dtype_a_region_without_one_takes():
    # a disabled float16 region sets the dtype an inner autocast("cpu") takes: a trace made there (float16 products)
    # must not serve a call outside it (bfloat16), though autocast is off in both

    @ember.jit
    def product(x):
        with ember.autocast("cpu"):
            return x @ x

    x = ember.ones(2, 2)
    with ember.autocast("cpu", dtype=ember.float16, enabled=False):
        assert product(x).dtype == float16
    assert product(x).dtype == bfloat16 and product.traces == 2


def test_jit_conv_batch_norm_step_under_autocast_equals_eager():
    def make():
        ember.manual_seed(0)
        return ember.nn.Sequential(ember.nn.Conv2d(3, 4, 3, padding=1), ember.nn.BatchNorm2d(4), ember.nn.ReLU(),
                                   ember.nn.Flatten(), ember.nn.Linear(4 * 6 * 6, 3))

    eager_model, jit_model = make(), make()
    eager_step = _train_step(eager_model, ember.optim.SGD(eager_model.parameters(), lr=0.05))
    jit_step = ember.jit(_train_step(jit_model, ember.optim.SGD(jit_model.parameters(), lr=0.05)))
    rng = _rng(9)
    for _ in range(3):
        x = ember.tensor(rng.standard_normal((8, 3, 6, 6)).astype(np.float32))
        y = ember.tensor(rng.integers(0, 3, 8))
        assert eager_step(x, y).item() == jit_step(x, y).item()
    for p, q in zip(eager_model.parameters(), jit_model.parameters()):
        assert p.grad.dtype == q.grad.dtype == float32
        np.testing.assert_array_equal(q.detach().numpy(), p.detach().numpy())


def test_a_graph_built_under_autocast_holds_the_casts():
    from ember.graph.ir import Graph

    graph = Graph()
    x = graph.input("x", (None, 4), float32)
    w = graph.input("w", (4, 3), float32)
    with graph.building(), ember.autocast("cpu"):
        y = ember.softmax(x @ w, axis=1)
    casts = [n.attrs["dtype"] for n in graph.nodes if n.op.name == "cast"]
    assert casts == [bfloat16, bfloat16, float32] and y.dtype == float32


def test_addmm_family_gives_the_lower_dtype_under_autocast_as_torch():
    # the float32 input promoted the bfloat16 product back to float32 (PyTorch's CPU autocast returns bfloat16)
    b, x, w = ember.randn(3), ember.randn(2, 4), ember.randn(4, 3)
    b1, b2 = ember.randn(5, 2, 4), ember.randn(5, 4, 3)
    with ember.autocast("cpu"):
        results = [ember.addmm(b, x, w), ember.baddbmm(ember.randn(2, 3), b1, b2), ember.addbmm(b, b1, b2)]
    assert [r.dtype for r in results] == [ember.bfloat16] * 3
    np.testing.assert_allclose(results[0].float().numpy(), ember.addmm(b, x, w).numpy(), rtol=2e-2, atol=5e-2)
    assert ember.addmm(b, x, w).dtype == ember.float32  # outside autocast: as it was


_WIDE_LOSSES = {
    "mse_loss": lambda m, a, b: m.mse_loss(a, b),
    "l1_loss": lambda m, a, b: m.l1_loss(a, b),
    "smooth_l1_loss": lambda m, a, b: m.smooth_l1_loss(a, b, beta=0.5),
    "huber_loss": lambda m, a, b: m.huber_loss(a, b, delta=0.5),
    "hinge_embedding_loss": lambda m, a, b: m.hinge_embedding_loss(a, (b > 0).float() * 2 - 1),
    "margin_ranking_loss": lambda m, a, b: m.margin_ranking_loss(a[:, 0], a[:, 1], (b[:, 0] > 0).float() * 2 - 1),
    "triplet_margin_loss": lambda m, a, b: m.triplet_margin_loss(a, b, b * 0.5),
}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", list(_WIDE_LOSSES) + ["cdist"])
def test_losses_of_two_low_precision_inputs_compute_in_float32_as_torch(name, dtype):
    # both inputs bfloat16 (two linear layers' outputs): the composite computed in bfloat16 and returned bfloat16
    # (mse 6e-3 off PyTorch's); PyTorch's autocast casts these ops' inputs to float32
    rng = _rng(3)
    x, w1, w2 = (rng.standard_normal(s).astype(np.float32) for s in ((6, 8), (5, 8), (5, 8)))

    def run(lib, functional, tensor):
        a, b = functional.linear(tensor(x), tensor(w1)), functional.linear(tensor(x), tensor(w2))
        return lib.cdist(a, b) if name == "cdist" else _WIDE_LOSSES[name](functional, a, b)

    with ember.autocast("cpu", dtype=getattr(ember, dtype)):
        out = run(ember, F, ember.tensor)
    assert out.dtype == float32
    if torch is not None:
        with torch.autocast("cpu", dtype=getattr(torch, dtype)):
            expected = run(torch, torch.nn.functional, torch.tensor)
        assert expected.dtype == torch.float32
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


_CLASS_LABELS = np.array([[0, 2, 1, 3, 3], [3, 3, 0, 1, 2], [2, 1, 2, 0, 0]])
_LOSSES_OF_A_LOW_INPUT = {  # (the loss of a (3, 4, 5) low-precision activation a, another b, a float32 sign s)
    "cross_entropy 3-d": lambda m, a, b, s, t: m.cross_entropy(a, t(_CLASS_LABELS)),
    "nll_loss 3-d": lambda m, a, b, s, t: m.nll_loss(a, t(_CLASS_LABELS)),
    "cross_entropy probabilities": lambda m, a, b, s, t: m.cross_entropy(a, a.float().softmax(1)),
    "binary_cross_entropy_with_logits": lambda m, a, b, s, t: m.binary_cross_entropy_with_logits(a, b.sigmoid()),
    "kl_div": lambda m, a, b, s, t: m.kl_div(a, b, reduction="batchmean", log_target=True),
    "poisson_nll_loss": lambda m, a, b, s, t: m.poisson_nll_loss(a, b.abs()),
    "soft_margin_loss": lambda m, a, b, s, t: m.soft_margin_loss(a, s),
    "cosine_embedding_loss": lambda m, a, b, s, t: m.cosine_embedding_loss(a[:, :, 0], b[:, :, 0], s[:, 0, 0]),
    "multi_margin_loss": lambda m, a, b, s, t: m.multi_margin_loss(a[:, :, 0], t(_CLASS_LABELS[:, 0])),
    "multilabel_margin_loss": lambda m, a, b, s, t: m.multilabel_margin_loss(a[:, :, 0], t(_CLASS_LABELS[:, :4] - 1)),
}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", list(_LOSSES_OF_A_LOW_INPUT))
def test_losses_of_a_low_precision_input_compute_in_float32_as_torch(name, dtype):
    # the class weights of a (N, C, d) cross-entropy were made in bfloat16 (1/15 rounded: 2e-3 off PyTorch's),
    # and the other losses multiplied their low-precision inputs before their float32 sums (kl_div 4e-3 off)
    if torch is None:
        pytest.skip("compared with torch.autocast")
    rng = _rng(5)
    x, w1, w2 = (rng.standard_normal(s).astype(np.float32) for s in ((3, 5, 6), (4, 6), (4, 6)))
    sign = np.sign(rng.standard_normal((3, 4, 5))).astype(np.float32)

    def run(lib, functional, tensor):
        a = functional.linear(tensor(x), tensor(w1)).transpose(1, 2)
        b = functional.linear(tensor(x), tensor(w2)).transpose(1, 2)
        return _LOSSES_OF_A_LOW_INPUT[name](functional, a, b, tensor(sign), tensor)

    with ember.autocast("cpu", dtype=getattr(ember, dtype)):
        out = run(ember, F, ember.tensor)
    with torch.autocast("cpu", dtype=getattr(torch, dtype)):
        expected = run(torch, torch.nn.functional, torch.tensor)
    assert out.dtype == float32 and expected.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)



@pytest.mark.parametrize("name", ["inv", "cholesky", "qr", "eigh", "svdvals", "solve", "quantile", "pinv", "lstsq",
                                  "grid_sample", "lu_solve", "solve_ex", "inv_ex", "cholesky_solve", "cholesky_inverse",
                                  "triangular_solve", "eigvals", "eig", "householder_product", "orgqr", "polar",
                                  "view_as_complex"])
def test_factorizations_and_grid_sample_of_a_low_precision_product_run_in_float32_as_torch(name):
    # they refused the bfloat16 result of a matmul in the region ("expects float32 or float64 matrices")
    calls = {"inv": lambda m, a: m.linalg.inv(a), "cholesky": lambda m, a: m.linalg.cholesky(a),
             "qr": lambda m, a: m.linalg.qr(a)[1], "eigh": lambda m, a: m.linalg.eigh(a)[0],
             "svdvals": lambda m, a: m.linalg.svdvals(a), "solve": lambda m, a: m.linalg.solve(a, a),
             "quantile": lambda m, a: m.quantile(a, 0.3), "pinv": lambda m, a: m.linalg.pinv(a),
             "lstsq": lambda m, a: m.linalg.lstsq(a, a).solution,  # (its own products stay float32 too)
             # (lu_solve's permutation product lowered B to bfloat16, and solve_triangular refused it)
             "lu_solve": lambda m, a: m.linalg.lu_solve(*m.linalg.lu_factor(a), a),
             "solve_ex": lambda m, a: m.linalg.solve_ex(a, a)[0], "inv_ex": lambda m, a: m.linalg.inv_ex(a)[0],
             # (these refused the bfloat16 product; householder_product's own products were bfloat16: 6e-3 off)
             "cholesky_solve": lambda m, a: m.cholesky_solve(a, m.linalg.cholesky(a.float())),
             "cholesky_inverse": lambda m, a: m.cholesky_inverse(m.tril(a)),
             "triangular_solve": lambda m, a: m.triangular_solve(a, m.tril(a), upper=False)[0],
             "eigvals": lambda m, a: m.linalg.eigvals(a).real, "eig": lambda m, a: m.linalg.eig(a)[0].real,
             "householder_product": lambda m, a: m.linalg.householder_product(a[:, :3], a[:2, 0]),
             "orgqr": lambda m, a: m.orgqr(a[:, :3], a[:2, 0]), "polar": lambda m, a: m.view_as_real(m.polar(a, a)),
             "view_as_complex": lambda m, a: m.view_as_real(m.view_as_complex(a[:, :2])),
             "grid_sample": lambda m, a: m.grid_sample(a.reshape(1, 1, 4, 4), m.ones(1, 2, 2, 2) * 0.3,
                                                       align_corners=False)}
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4)).astype(np.float32)
    a = a @ a.T + 4 * np.eye(4, dtype=np.float32)
    eye = np.eye(4, dtype=np.float32)
    with ember.autocast("cpu", dtype=ember.bfloat16):
        ours = calls[name](ember, ember.nn.functional.linear(ember.tensor(a), ember.tensor(eye)))
    assert ours.dtype == ember.float32
    rounded = ember.tensor(a).to(ember.bfloat16).float()  # the product's bfloat16 values, factored in float32
    np.testing.assert_allclose(ours.numpy(), calls[name](ember, rounded).numpy(), rtol=1e-5, atol=1e-5)


_CPU_FLOAT32_OPS = {  # (PyTorch's CPU autocast runs these in float32; its CUDA autocast leaves them)
    "avg_pool3d": lambda F, x: F.avg_pool3d(x, 2),
    "max_pool3d": lambda F, x: F.max_pool3d(x, 2),
    "max_pool3d unbatched": lambda F, x: F.max_pool3d(x[0], 2),
    "adaptive_avg_pool3d": lambda F, x: F.adaptive_avg_pool3d(x, 2),
    "adaptive_max_pool3d": lambda F, x: F.adaptive_max_pool3d(x, 2),
    "max_unpool1d": lambda F, x: F.max_unpool1d(*F.max_pool1d(x[0, 0], 2, return_indices=True), 2),
    "max_unpool3d": lambda F, x: F.max_unpool3d(*F.max_pool3d(x, 2, return_indices=True), 2),
    "reflect 1-d": lambda F, x: F.pad(x[0, 0], (1, 2), mode="reflect"),
    "reflect 2-d": lambda F, x: F.pad(x[0], (1, 2, 2, 1), mode="reflect"),
    "replicate 3-d": lambda F, x: F.pad(x, (1, 2, 2, 1, 0, 1), mode="replicate"),
    "fractional_max_pool2d": lambda F, x: F.fractional_max_pool2d(x[0], 2, output_size=2,
                                                                  _random_samples=x[0, :, :, 0, :2] * 0 + 0.5),
}
_CPU_LOW_OPS = {  # (and these in their inputs' dtype)
    "max_pool3d with indices": lambda F, x: F.max_pool3d(x, 2, return_indices=True)[0],
    "reflect 3-d": lambda F, x: F.pad(x, (1, 1, 1, 1, 1, 1), mode="reflect"),
    "circular": lambda F, x: F.pad(x[0, 0], (1, 1), mode="circular"),
    "max_pool2d": lambda F, x: F.max_pool2d(x[0], 2),
}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", list(_CPU_FLOAT32_OPS) + list(_CPU_LOW_OPS))
def test_pooling_and_padding_follow_the_cpu_autocast_policy(name, dtype):
    # 3-d pooling, max_unpool and reflection/replication padding of a bfloat16 input stayed bfloat16 where
    # PyTorch's CPU autocast computes them in float32
    x = np.random.default_rng(7).standard_normal((1, 2, 4, 4, 4)).astype(np.float32)
    call = {**_CPU_FLOAT32_OPS, **_CPU_LOW_OPS}[name]
    with ember.autocast("cpu", dtype=getattr(ember, dtype)):
        out = call(F, ember.tensor(x).to(getattr(ember, dtype)))
    assert out.dtype == (float32 if name in _CPU_FLOAT32_OPS else getattr(ember, dtype))
    if torch is not None:
        with torch.autocast("cpu", dtype=getattr(torch, dtype)):
            expected = call(torch.nn.functional, torch.tensor(x).to(getattr(torch, dtype)))
        assert str(expected.dtype) == f"torch.{out.dtype}"
        np.testing.assert_allclose(out.float().numpy(), expected.float().numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", ["vecdot", "prelu", "prelu one weight"])
def test_vecdot_and_prelu_compute_in_the_lower_dtype_as_torch(name, dtype):
    # they stayed float32 (PyTorch's autocast lists both with the matrix products); vecdot's products are summed
    # in the lower dtype too, as PyTorch's (sum's float32 policy would widen them)
    rng = _rng(11)
    a, b = rng.standard_normal((6, 40)).astype(np.float32), rng.standard_normal((6, 40)).astype(np.float32)
    weight = np.array([0.3, 0.1, 0.7, 0.2, 0.5, 0.9], np.float32)[: 1 if name == "prelu one weight" else 6]

    def run(lib, tensor):
        x = tensor(a).requires_grad_()
        out = lib.linalg.vecdot(x, tensor(b)) if name == "vecdot" else \
            lib.nn.functional.prelu(x.reshape(2, 6, 20), tensor(weight))
        out.float().sum().backward()
        return out, x.grad

    with ember.autocast("cpu", dtype=getattr(ember, dtype)):
        out, grad = run(ember, ember.tensor)
    assert out.dtype == getattr(ember, dtype) and grad.dtype == float32
    if torch is not None:
        with torch.autocast("cpu", dtype=getattr(torch, dtype)):
            expected, expected_grad = run(torch, torch.tensor)
        np.testing.assert_array_equal(out.detach().float().numpy(), expected.detach().float().numpy())
        np.testing.assert_array_equal(grad.numpy(), expected_grad.numpy())


_PRODUCTS_LEFT_ALONE = {  # (x (6, 40), y (6, 40), v (40,), w (6,))
    "dot": lambda m, x, y, v, w: m.dot(v, v),
    "Tensor.dot": lambda m, x, y, v, w: v.dot(v * 0.5),
    "vdot": lambda m, x, y, v, w: m.vdot(v, v),
    "inner of vectors": lambda m, x, y, v, w: m.inner(v, v),
    "mv": lambda m, x, y, v, w: m.mv(x, v),
    "Tensor.mv": lambda m, x, y, v, w: x.mv(v),
    "addmv": lambda m, x, y, v, w: m.addmv(w, x, v, beta=0.5, alpha=2.0),
}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", list(_PRODUCTS_LEFT_ALONE))
def test_products_outside_the_cpu_lower_list_keep_float32_as_torch(name, dtype):
    # they are matmuls in Ember, which autocast lowered: dot, vdot, mv and addmv came back bfloat16 (dot of 40
    # values 0.1 off); PyTorch's CPU autocast lists none of them and computes them in float32
    rng = _rng(13)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((6, 40), (6, 40), (40,), (6,))]
    with ember.autocast("cpu", dtype=getattr(ember, dtype)):
        out = _PRODUCTS_LEFT_ALONE[name](ember, *map(ember.tensor, arrays))
    assert out.dtype == float32
    expected = _PRODUCTS_LEFT_ALONE[name](ember, *map(ember.tensor, arrays))
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)
    if torch is not None:
        with torch.autocast("cpu", dtype=getattr(torch, dtype)):
            reference = _PRODUCTS_LEFT_ALONE[name](torch, *map(torch.tensor, arrays))
        assert reference.dtype == torch.float32
        np.testing.assert_allclose(out.numpy(), reference.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("with_bias", [False, True])
def test_bilinear_gives_its_inputs_dtype_as_torch(with_bias, dtype):
    # without a bias, bilinear of float32 inputs came back in the lower dtype; PyTorch's autocast lowers its two
    # products but returns float32 (a bias's sum promotes to it as well), the values equal
    rng = _rng(17)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((2, 7, 33), (2, 7, 17), (6, 33, 17), (6,))]
    if not with_bias:
        arrays = arrays[:3] + [None]

    def run(lib, tensor):
        with lib.autocast("cpu", dtype=getattr(lib, dtype)):
            return lib.nn.functional.bilinear(*(None if a is None else tensor(a) for a in arrays))

    out = run(ember, ember.tensor)
    assert out.dtype == float32
    rounded = [None if a is None else ember.tensor(a).to(getattr(ember, dtype)).float() for a in arrays[:3]]
    expected = F.bilinear(*rounded, None if arrays[3] is None else ember.tensor(arrays[3]))
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=RTOL[getattr(ember, dtype)], atol=0.1)
    if torch is not None:
        np.testing.assert_array_equal(out.numpy(), run(torch, torch.tensor).numpy())


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", ["addmm", "baddbmm", "addbmm"])
def test_addmm_family_rounds_once_under_autocast_as_torch(name, dtype):
    # the product and the input were lowered apart and summed in the low dtype: rounded twice, an ulp off PyTorch's
    # in a third of the elements; now as for low-precision operands outside autocast (one rounding, per matrix of
    # the batch for addbmm)
    rng = _rng(17)
    inp = rng.standard_normal((30, 50)).astype(np.float32)
    batched = name != "addmm"
    a = rng.standard_normal((4, 30, 40) if batched else (30, 40)).astype(np.float32)
    b = rng.standard_normal((4, 40, 50) if batched else (40, 50)).astype(np.float32)
    low = getattr(ember, dtype)
    with ember.autocast("cpu", dtype=low):
        out = getattr(ember, name)(ember.tensor(inp), ember.tensor(a), ember.tensor(b), beta=0.5, alpha=2.0)
    assert out.dtype == low
    rounded = [ember.tensor(t).to(low) for t in (inp, a, b)]
    np.testing.assert_array_equal(out.float().numpy(),
                                  getattr(ember, name)(*rounded, beta=0.5, alpha=2.0).float().numpy())
    if torch is not None:
        with torch.autocast("cpu", dtype=getattr(torch, dtype)):
            expected = getattr(torch, name)(torch.tensor(inp), torch.tensor(a), torch.tensor(b), beta=0.5, alpha=2.0)
        np.testing.assert_array_equal(out.float().numpy(), expected.float().numpy())


_TRANSPOSED_CONVS = {  # name -> (input shape, weight shape)
    "conv_transpose1d": ((2, 3, 9), (3, 4, 3)),
    "conv_transpose2d": ((2, 3, 9, 9), (3, 4, 3, 3)),
    "conv_transpose3d": ((2, 3, 4, 5, 4), (3, 4, 2, 3, 2)),
}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", list(_TRANSPOSED_CONVS))
def test_transposed_convolutions_with_a_bias_round_once_under_autocast_as_torch(name, dtype):
    # the bias was added after the op had rounded its result to the low dtype: rounded twice, an ulp off PyTorch's
    # in a third of the elements (max error of bfloat16 conv_transpose2d 0.052 for PyTorch's 0.030); now as for
    # low-precision operands outside autocast, and the gradients as well
    rng = _rng(31)
    x_shape, w_shape = _TRANSPOSED_CONVS[name]
    arrays = [rng.standard_normal(s).astype(np.float32) for s in (x_shape, w_shape, (4,))]

    def run(lib, tensor):
        x, w, b = (tensor(a).requires_grad_() for a in arrays)
        with lib.autocast("cpu", dtype=getattr(lib, dtype)):
            out = getattr(lib.nn.functional, name)(x, w, b, stride=2)
        (out.float() * tensor(np.linspace(-1, 1, out.numel(), dtype=np.float32).reshape(out.shape))).sum().backward()
        return [out.detach(), x.grad, w.grad, b.grad]

    outs = run(ember, ember.tensor)
    low = getattr(ember, dtype)
    assert [o.dtype for o in outs] == [low, float32, float32, float32]
    rounded = [ember.tensor(a).to(low) for a in arrays]
    np.testing.assert_array_equal(outs[0].float().numpy(),
                                  getattr(F, name)(*rounded, stride=2).float().numpy())
    if torch is not None:
        for ours, theirs in zip(outs, run(torch, torch.tensor)):
            np.testing.assert_allclose(ours.float().numpy(), theirs.float().numpy(), rtol=1e-5, atol=1e-5)


def _custom_mm(lib, cast_inputs, seen: list):
    class CustomMM(lib.autograd.Function):
        @staticmethod
        @lib.amp.custom_fwd(device_type="cpu", cast_inputs=cast_inputs)
        def forward(ctx, a, b):
            seen.append(("forward", str(a.dtype).split(".")[-1], lib.is_autocast_enabled("cpu")))
            ctx.save_for_backward(a, b)
            return a.mm(b)

        @staticmethod
        @lib.amp.custom_bwd(device_type="cpu")
        def backward(ctx, grad):
            seen.append(("backward", lib.is_autocast_enabled("cpu")))
            a, b = ctx.saved_tensors
            return grad.mm(b.t()), a.t().mm(grad)

    return CustomMM


@pytest.mark.parametrize("cast_inputs", [None, "float32"])
def test_custom_fwd_and_custom_bwd_as_torch(cast_inputs):
    # ember.amp had neither (an AttributeError where PyTorch's custom Functions use them): custom_fwd with
    # cast_inputs runs the forward with autocast off on inputs cast to that dtype, custom_bwd runs the backward
    # under the forward's autocast state
    rng = _rng(19)
    a, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((4, 5)).astype(np.float32)

    def run(lib, tensor):
        seen: list = []
        x, w = tensor(a).requires_grad_(), tensor(b).requires_grad_()
        with lib.autocast("cpu", dtype=lib.bfloat16):
            y = _custom_mm(lib, cast_inputs and getattr(lib, cast_inputs), seen).apply(x, w.bfloat16())
        y.float().sum().backward()
        return y, x.grad, w.grad, seen

    y, ga, gb, seen = run(ember, ember.tensor)
    low = cast_inputs is None
    assert y.dtype == (bfloat16 if low else float32) and ga.dtype == gb.dtype == float32
    assert seen == [("forward", "float32", low), ("backward", low)]
    if torch is not None:
        ty, tga, tgb, tseen = run(torch, torch.tensor)
        assert tseen == seen
        for ours, theirs in ((y, ty), (ga, tga), (gb, tgb)):
            np.testing.assert_array_equal(ours.detach().float().numpy(), theirs.detach().float().numpy())
    with pytest.raises(ValueError, match="device_type"):
        ember.amp.custom_fwd(device_type=None)


_RECURRENT_DTYPES = {  # layer and its arguments -> the dtypes of its outputs under CPU bfloat16 autocast (PyTorch's)
    "RNN": (lambda nn: nn.RNN(8, 6, num_layers=2), ["bfloat16", "bfloat16"]),
    "RNN relu": (lambda nn: nn.RNN(8, 6, nonlinearity="relu"), ["bfloat16", "bfloat16"]),
    "LSTM": (lambda nn: nn.LSTM(8, 6, bidirectional=True), ["bfloat16", "bfloat16", "bfloat16"]),
    "LSTM proj_size": (lambda nn: nn.LSTM(8, 6, proj_size=3), ["bfloat16", "bfloat16", "float32"]),
    "GRU": (lambda nn: nn.GRU(8, 6), ["float32", "float32"]),
    "RNNCell": (lambda nn: nn.RNNCell(8, 6), ["bfloat16"]),
    "LSTMCell": (lambda nn: nn.LSTMCell(8, 6), ["float32", "float32"]),
    "GRUCell": (lambda nn: nn.GRUCell(8, 6), ["float32"]),
}


@pytest.mark.parametrize("name", list(_RECURRENT_DTYPES))
def test_recurrent_layers_give_torch_dtypes_under_autocast(name):
    # RNN, LSTM and RNNCell came back float32 (their float32 biases promoted the products back) where PyTorch's
    # CPU autocast gives bfloat16; the biases are added in the products' dtype, as linear's, and an LSTM runs
    # its states in it (PyTorch's oneDNN LSTM); GRU and the LSTM and GRU cells stay float32, as PyTorch's
    make, expected = _RECURRENT_DTYPES[name]
    x = np.random.default_rng(23).standard_normal((5, 2, 8) if "Cell" not in name else (2, 8)).astype(np.float32)

    def flat(out):
        return [t for o in out for t in flat(o)] if isinstance(out, tuple) else [out]

    def run(lib):
        lib.manual_seed(0)
        layer = make(lib.nn)
        if lib is ember and torch is not None:  # torch's weights, to compare the values
            torch.manual_seed(0)
            layer.load_state_dict({k: ember.tensor(v.numpy()) for k, v in make(torch.nn).state_dict().items()})
        with lib.autocast("cpu", dtype=lib.bfloat16), lib.no_grad():
            return flat(layer(lib.tensor(x)))

    outs = run(ember)
    assert [str(o.dtype) for o in outs] == expected
    if torch is not None:
        theirs = run(torch)
        assert [str(o.dtype).removeprefix("torch.") for o in theirs] == expected
        for ours, reference in zip(outs, theirs):
            np.testing.assert_allclose(ours.float().numpy(), reference.float().numpy(), atol=3e-2)


def test_is_autocast_enabled_without_a_device_type_is_cudas_as_torch():
    # it said True in a CPU region, where PyTorch's (CUDA's state) says False: code that then casts to
    # get_autocast_gpu_dtype() took float16 for a bfloat16 CPU region
    def run(lib):
        seen = [lib.is_autocast_enabled()]
        with lib.autocast("cpu", dtype=lib.bfloat16):
            seen += [lib.is_autocast_enabled(), lib.is_autocast_enabled("cpu"), lib.is_autocast_enabled("cuda")]
            with lib.autocast("cpu", enabled=False):
                seen += [lib.is_autocast_enabled(), lib.is_autocast_enabled("cpu")]
        return seen

    assert run(ember) == [False, False, True, False, False, False]
    if torch is not None:
        assert run(torch) == run(ember)
    with ember.autocast("cuda"):
        assert ember.is_autocast_enabled() and not ember.is_autocast_enabled("cpu")
