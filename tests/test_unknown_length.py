"""Models over an unknown batch and length (B, T): the sizes their shape-dependent parts need (causal masks,
triangles) are read when the graph runs, so an ONNX file with both axes dynamic, and one ``ember.jit`` compile,
serve every (B, T) with eager mode's values; so do reshapes to sizes computed from B and T."""

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn import functional as F

SIZES = [(2, 5), (3, 3), (1, 4), (4, 1), (1, 1)]


def _x(batch: int, length: int) -> np.ndarray:
    return np.random.default_rng(10 * batch + length).standard_normal((batch, length, 4)).astype(np.float32)


def _eager(f, x: np.ndarray) -> np.ndarray:
    with ember.no_grad():
        return f(ember.tensor(x)).numpy()


def _check_jit(f) -> None:
    fast = ember.jit(f)  # the second signature makes B and T unknown: one function for the rest
    for batch, length in SIZES:
        x = _x(batch, length)
        np.testing.assert_allclose(fast(ember.tensor(x)).numpy(), _eager(f, x), rtol=1e-5, atol=1e-6)
    assert not fast.specialized, fast.specialized


def _check_onnx(f) -> None:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = ember.onnx.export(f, [_x(2, 5)], dynamic_axes={"input0": {0: "B", 1: "T"}})
    session = ort.InferenceSession(model.SerializeToString())
    for batch, length in SIZES:
        x = _x(batch, length)
        (got,) = session.run(None, {session.get_inputs()[0].name: x})
        np.testing.assert_allclose(got, _eager(f, x), rtol=1e-5, atol=1e-6)


def _encoder():
    ember.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True).eval()
    return lambda x: layer(x, src_mask=nn.Transformer.generate_square_subsequent_mask(x.size(1)), is_causal=True)


MASKED = {
    # each refused a length unknown while the graph is built ("the last two dimensions ... must be known", or
    # NumPy's mask of an unknown size); the mask is now two ranges compared when the graph runs
    "tril": lambda x: ember.tril(x),
    "triu": lambda x: ember.triu(x, 1),
    "tril_below": lambda x: ember.tril(x.transpose(1, 2), -2),
    "triu_of_ones": lambda x: x @ x.transpose(1, 2) + ember.triu(ember.ones(x.size(1), x.size(1)), 1) * -1e9,
    "sdpa_is_causal": lambda x: F.scaled_dot_product_attention(x, x, x, is_causal=True),
    "encoder_is_causal": _encoder(),
}


RESHAPED = {
    # a size computed from unknown ones beside a -1 left two sizes to infer ("reshape: target [?, -1] of
    # float32[?, ?, 4] leaves more than one size to infer"); the computed one is read when the graph runs
    "merged": lambda x: x.reshape(x.size(0) * x.size(1), -1),
    "merged_view": lambda x: x.view(x.size(0) * x.size(1), -1) * 2,
    "doubled_length": lambda x: x.reshape(-1, x.size(1) * 2, 2),
}
COUNTED = {
    # a size beside a tensor (x.sum(1) / x.size(1)) was refused ("making a tensor of it"); it is now a 0-d tensor
    # read when the graph runs, typed as the Python int eager mode has there
    "mean_by_size": lambda x: x.sum(1) / x.size(1),
    "scaled_by_batch": lambda x: x * x.size(0) - (x.size(1) + 1),
    "int_floor_division": lambda x: (x > 0).sum(1) // x.size(1),
    "reflected": lambda x: x.size(1) - x,
}


def _group_norm(groups: int):
    ember.manual_seed(0)
    norm = nn.GroupNorm(groups, 4)
    with ember.no_grad():
        norm.weight.copy_(ember.randn(4))
        norm.bias.copy_(ember.randn(4))
    return lambda x: norm(x.transpose(1, 2))


NORMALIZED = {
    # group_norm multiplied the group's channels by its unknown positions (int * None) and was refused; over unknown
    # positions its groups are now normalized with sizes read when the graph runs
    "group_norm": _group_norm(2),
    "group_norm_per_channel": _group_norm(4),
    "group_norm_2d": lambda x: F.group_norm(x.reshape(x.size(0), 2, x.size(1), 2), 1).sum(1),
}
CASES = {**MASKED, **RESHAPED, **COUNTED, **NORMALIZED}


@pytest.mark.parametrize("name", sorted(COUNTED))
def test_a_size_beside_a_tensor_keeps_eager_mode_s_dtype(name):
    fast = ember.jit(COUNTED[name])
    for batch, length in SIZES[:3]:
        x = ember.tensor(_x(batch, length))
        assert fast(x).dtype == COUNTED[name](x).dtype


@pytest.mark.parametrize("name", sorted(CASES))
def test_sizes_over_an_unknown_length_compile_once(name):
    _check_jit(CASES[name])


@pytest.mark.parametrize("name", sorted(CASES))
def test_sizes_over_an_unknown_length_export_with_a_dynamic_length(name):
    _check_onnx(CASES[name])


def test_a_triangle_of_an_unknown_length_passes_its_gradient():
    def loss(x):
        return (ember.tril(x) ** 2).sum()

    fast = ember.jit(lambda x: ember.autograd.grad(loss(x), x)[0])
    for batch, length in SIZES:
        x = ember.tensor(_x(batch, length), requires_grad=True)
        np.testing.assert_allclose(fast(x).numpy(), ember.autograd.grad(loss(x), x)[0].numpy(), rtol=1e-6)


def test_group_norm_over_an_unknown_length_passes_its_gradient():
    norm = _group_norm(2)

    def grad(x):
        return ember.autograd.grad((norm(x) ** 3).sum(), x)[0]

    fast = ember.jit(grad)
    for batch, length in SIZES:
        x = ember.tensor(_x(batch, length), requires_grad=True)
        np.testing.assert_allclose(fast(x).numpy(), grad(x).numpy(), rtol=1e-4, atol=1e-5)
    assert not fast.specialized, fast.specialized
