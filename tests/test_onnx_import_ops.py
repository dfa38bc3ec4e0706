"""ONNX import of single nodes checked against onnxruntime: pooling variants, bit shifts, data-dependent
selections, quantization and integer products, recurrent layers with sequence lengths."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import ember  # noqa: E402
from ember.onnx.converters import UnsupportedError  # noqa: E402

h = onnx.helper


def _model(op_type: str, inputs: dict, outputs: int = 1, opset: int = 18, constants: dict | None = None, **attrs):
    """One ``op_type`` node reading ``inputs`` (graph inputs, then ``constants`` as initializers; None: omitted)."""
    constants = constants or {}
    names = [name if value is not None else "" for name, value in {**inputs, **constants}.items()]
    while names and not names[-1]:
        names.pop()
    outs = [f"y{i}" for i in range(outputs)]
    graph = h.make_graph(
        [h.make_node(op_type, names, outs, **attrs)], "g",
        [h.make_tensor_value_info(n, h.np_dtype_to_tensor_dtype(v.dtype), v.shape) for n, v in inputs.items()],
        [h.make_empty_tensor_value_info(o) for o in outs],
        [onnx.numpy_helper.from_array(np.asarray(v), n) for n, v in constants.items() if v is not None])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])


def _run_both(model, inputs: dict) -> tuple[list, list]:
    """(onnxruntime's outputs, Ember's eager outputs) of ``model`` on ``inputs``."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, inputs)
    with ember.no_grad():
        got = ember.onnx.load(model)(*[ember.tensor(v) for v in inputs.values()])
    got = got if isinstance(got, tuple) else (got,)
    return expected, [g.numpy() for g in got]


def _check(op_type: str, inputs: dict, outputs: int = 1, opset: int = 18, constants=None, rtol=1e-5, atol=1e-6,
           **attrs) -> list:
    expected, got = _run_both(_model(op_type, inputs, outputs, opset, constants, **attrs), inputs)
    assert len(got) == len(expected)
    for e, g in zip(expected, got):
        assert g.dtype == e.dtype and g.shape == e.shape, (g.dtype, g.shape, e.dtype, e.shape)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
    return got


def _rng(seed: int = 0):
    return np.random.default_rng(seed)


# --- bit shifts and data-dependent selections ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8])  # (the one unsigned type Ember has)
@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
def test_bit_shift_matches_onnxruntime(dtype, direction):
    bits = np.dtype(dtype).itemsize * 8
    x = _rng().integers(0, np.iinfo(dtype).max, (3, 5), dtype=dtype, endpoint=True)
    shift = _rng(1).integers(0, bits, (5,), dtype=dtype)
    _check("BitShift", {"x": x, "s": shift}, opset=11, direction=direction)


def test_bit_shift_refuses_signed_integers():
    x = np.arange(4, dtype=np.int32)
    with pytest.raises(UnsupportedError, match="BitShift.*unsigned"):
        ember.onnx.load(_model("BitShift", {"x": x, "s": x}, opset=11, direction="LEFT"))(x, x)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("length", [2, 4])
def test_compress_matches_onnxruntime(axis, length):
    x = _rng().standard_normal((4, 4)).astype(np.float32)
    condition = np.array([True, False, True, True][:length])
    _check("Compress", {"x": x, "c": condition}, opset=11, **({} if axis is None else {"axis": axis}))


def test_compress_keeps_gradients_for_the_kept_elements():
    model = _model("Compress", {"x": np.zeros((3, 2), np.float32), "c": np.zeros(3, bool)}, axis=0)
    x = ember.tensor(np.arange(6, dtype=np.float32).reshape(3, 2), requires_grad=True)
    ember.onnx.load(model)(x, ember.tensor(np.array([True, False, True]))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 1], [0, 0], [1, 1]])


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("is_sorted", [0, 1])
def test_unique_gives_onnxruntimes_four_outputs(axis, is_sorted):
    x = _rng().integers(0, 3, (6, 3)).astype(np.float32)
    x[4] = x[1]
    attrs = {} if axis is None else {"axis": axis}
    _check("Unique", {"x": x}, outputs=4, opset=11, sorted=is_sorted, **attrs)
    _check("Unique", {"x": x.astype(np.int64)}, outputs=4, opset=11, sorted=is_sorted, **attrs)


def test_value_sized_outputs_run_eagerly_only():
    model = _model("Unique", {"x": np.zeros(5, np.float32)}, opset=11)
    with pytest.raises(TypeError, match="Unique.*eagerly"):
        ember.jit(ember.onnx.load(model))(ember.tensor(np.arange(5, dtype=np.float32)))
