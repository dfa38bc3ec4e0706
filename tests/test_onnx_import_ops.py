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


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8])
@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
def test_signed_bit_shift_from_opset_28_matches_the_reference(dtype, direction):
    # onnxruntime lacks opset 28's signed shifts: the spec's reference, with shifts below 0 and past the width
    from onnx.reference import ReferenceEvaluator

    bits = np.iinfo(dtype).bits
    info = np.iinfo(dtype)
    x = _rng().integers(info.min, info.max, (4, 6), dtype=dtype, endpoint=True)
    shift = _rng(1).integers(-2 if info.min else 0, bits + 3, (4, 6)).astype(dtype)
    model = _model("BitShift", {"x": x, "s": shift}, opset=28, direction=direction)
    expected = ReferenceEvaluator(model).run(None, {"x": x, "s": shift})[0]
    got = ember.onnx.load(model)(x, shift).numpy()
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_bit_shift_refuses_signed_integers_before_opset_28():
    x = np.arange(4, dtype=np.int32)
    with pytest.raises(UnsupportedError, match="BitShift.*unsigned.*opset 28"):
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
    with pytest.raises(TypeError, match="Unique.*eagerly"):  # (ember.onnx.backend runs such models eagerly)
        ember.jit(ember.onnx.load(model))(ember.tensor(np.arange(5, dtype=np.float32)))


# --- quantization and integer products ----------------------------------------------------------------------


def _quant_inputs(shape, axis, dtype, per_axis: bool, block: int = 0, seed: int = 0):
    rng = _rng(seed)
    x = (rng.standard_normal(shape) * 40).astype(np.float32)
    x.reshape(-1)[:4] = [0.5, 1.5, -2.5, 1000.0]  # ties to even and a saturated value
    if block:
        scale_shape = tuple(-(-n // block) if i == axis % len(shape) else n for i, n in enumerate(shape))
    elif per_axis:
        scale_shape = (shape[axis],)
    else:
        scale_shape = ()
    scale = rng.uniform(0.5, 2.0, scale_shape).astype(np.float32)
    scale.reshape(-1)[0] = 1.0
    info = np.iinfo(dtype)
    zero = rng.integers(info.min // 4, info.max // 4, scale_shape, endpoint=True).astype(dtype)
    return x, scale, zero


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("per_axis, axis", [(False, 1), (True, 1), (True, 0), (True, -1)])
@pytest.mark.parametrize("opset", [13, 19])
def test_quantize_and_dequantize_linear_match_onnxruntime(dtype, per_axis, axis, opset):
    x, scale, zero = _quant_inputs((3, 4, 5), axis, dtype, per_axis)
    q = _check("QuantizeLinear", {"x": x}, opset=opset, constants={"s": scale, "z": zero}, axis=axis)[0]
    _check("DequantizeLinear", {"q": q}, opset=opset, constants={"s": scale, "z": zero}, axis=axis)


def test_quantize_linear_without_a_zero_point_gives_uint8():
    x, scale, _ = _quant_inputs((4, 6), 1, np.uint8, False)
    _check("QuantizeLinear", {"x": x}, opset=10, constants={"s": scale})
    _check("DequantizeLinear", {"q": np.arange(24, dtype=np.uint8).reshape(4, 6)}, opset=10, constants={"s": scale})
    _check("DequantizeLinear", {"q": np.arange(-12, 12, dtype=np.int32).reshape(4, 6)}, opset=13,
           constants={"s": scale})


@pytest.mark.parametrize("axis, block", [(1, 2), (1, 4), (0, 2), (-1, 3)])
def test_blocked_quantization_matches_onnxruntime(axis, block):
    # opset 21: one scale and zero point per block_size elements along the axis (the last block may be shorter)
    x, scale, zero = _quant_inputs((4, 6), axis, np.int8, False, block)
    q = _check("QuantizeLinear", {"x": x}, opset=21, constants={"s": scale, "z": zero}, axis=axis, block_size=block)[0]
    _check("DequantizeLinear", {"q": q}, opset=21, constants={"s": scale, "z": zero}, axis=axis, block_size=block)


def test_quantize_linear_refuses_float8_and_4_bit_outputs():
    x = np.ones((2, 3), np.float32)
    model = _model("QuantizeLinear", {"x": x}, opset=21, constants={"s": np.float32(1)},
                   output_dtype=onnx.TensorProto.FLOAT8E4M3FN)
    with pytest.raises((UnsupportedError, TypeError), match="QuantizeLinear"):
        ember.onnx.load(model)(x)


def test_dequantize_linear_passes_gradients_to_its_scale():
    model = _model("DequantizeLinear", {"q": np.zeros(3, np.int8), "s": np.float32(1)}, opset=13)
    scale = ember.tensor(np.float32(0.5), requires_grad=True)
    ember.onnx.load(model)(ember.tensor(np.array([1, -2, 4], np.int8)), scale).sum().backward()
    assert float(scale.grad.numpy()) == 3.0


@pytest.mark.parametrize("dtypes", [(np.uint8, np.uint8), (np.uint8, np.int8), (np.int8, np.int8)])
@pytest.mark.parametrize("zero_points", ["none", "scalar", "vector"])
def test_matmul_integer_matches_onnxruntime(dtypes, zero_points):
    rng = _rng()
    a = rng.integers(np.iinfo(dtypes[0]).min, np.iinfo(dtypes[0]).max, (2, 3, 4), endpoint=True).astype(dtypes[0])
    b = rng.integers(np.iinfo(dtypes[1]).min, np.iinfo(dtypes[1]).max, (4, 5), endpoint=True).astype(dtypes[1])
    constants = {}
    if zero_points != "none":
        shape_a, shape_b = ((), ()) if zero_points == "scalar" else ((), (5,))
        constants = {"az": rng.integers(0, 9, shape_a).astype(dtypes[0]),
                     "bz": rng.integers(0, 9, shape_b).astype(dtypes[1])}
    _check("MatMulInteger", {"a": a, "b": b}, opset=10, constants=constants)


@pytest.mark.parametrize("attrs", [{}, {"pads": [1, 0, 2, 1], "strides": [2, 1]}, {"auto_pad": "SAME_UPPER"},
                                   {"dilations": [2, 1], "group": 2}])
def test_conv_integer_matches_onnxruntime(attrs):
    rng = _rng()
    x = rng.integers(0, 255, (2, 4, 7, 6), endpoint=True).astype(np.uint8)
    w = rng.integers(0, 255, (6, 4 // attrs.get("group", 1), 3, 3), endpoint=True).astype(np.uint8)
    constants = {"xz": np.uint8(131), "wz": np.uint8(7)}
    _check("ConvInteger", {"x": x, "w": w}, opset=10, constants=constants, **attrs)


# --- pooling ----------------------------------------------------------------------------------------------------

_WINDOWS = [
    {"kernel_shape": [3, 2]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 0, 2, 1]},
    {"kernel_shape": [2, 3], "strides": [2, 1], "auto_pad": "SAME_UPPER"},
    {"kernel_shape": [3, 2], "strides": [2, 2], "auto_pad": "SAME_LOWER"},
    {"kernel_shape": [2, 2], "strides": [2, 2], "auto_pad": "VALID"},
    {"kernel_shape": [2, 2], "strides": [2, 3], "dilations": [2, 1]},
    {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 1, 1, 0], "dilations": [1, 2], "ceil_mode": 1},
    {"kernel_shape": [2, 2], "strides": [3, 2], "ceil_mode": 1},
]


@pytest.mark.parametrize("attrs", _WINDOWS)
@pytest.mark.parametrize("p", [1, 2, 3])
def test_lp_pool_matches_onnxruntime(attrs, p):
    x = _rng().standard_normal((2, 3, 7, 8)).astype(np.float32)
    _check("LpPool", {"x": x}, opset=18, p=p, **attrs)


@pytest.mark.parametrize("shape", [(2, 3, 9), (2, 3, 5, 6, 4)])
def test_lp_pool_in_one_and_three_dimensions(shape):
    x = _rng().standard_normal(shape).astype(np.float32)
    k = len(shape) - 2
    _check("LpPool", {"x": x}, opset=11, kernel_shape=[2] * k, strides=[2] * k, pads=[1] * (2 * k), p=3)
    _check("GlobalLpPool", {"x": x}, opset=2, p=3)


@pytest.mark.parametrize("p", [1, 2, 4])
def test_global_lp_pool_matches_onnxruntime(p):
    _check("GlobalLpPool", {"x": _rng().standard_normal((2, 3, 5, 4)).astype(np.float32)}, opset=2, p=p)


def test_lp_pool_passes_gradients():
    model = _model("LpPool", {"x": np.zeros((1, 1, 2, 2), np.float32)}, opset=18, kernel_shape=[2, 2], p=2)
    x = ember.tensor(np.array([[[[3.0, 0.0], [0.0, 4.0]]]], np.float32), requires_grad=True)
    ember.onnx.load(model)(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy().reshape(-1), [0.6, 0, 0, 0.8], rtol=1e-6)


@pytest.mark.parametrize("attrs", [w for w in _WINDOWS if "dilations" in w] + [
    {"kernel_shape": [2, 3], "dilations": [2, 2], "pads": [1, 2, 0, 1]},
    {"kernel_shape": [2, 3], "dilations": [3, 2], "strides": [2, 2], "pads": [1, 0, 1, 2], "ceil_mode": 1}])
@pytest.mark.parametrize("include", [0, 1])
def test_average_pool_with_dilations_matches_onnxruntime(attrs, include):
    # (with SAME pads and dilations onnxruntime sizes its pads for the undilated kernel, against the spec's shape
    # inference; Ember follows the spec there, as for MaxPool)
    x = _rng().standard_normal((2, 3, 9, 8)).astype(np.float32)
    _check("AveragePool", {"x": x}, opset=19, count_include_pad=include, **attrs)


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [2, 2]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [3, 2], "strides": [2, 1], "pads": [0, 1, 2, 0]},
    {"kernel_shape": [2, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"},
    {"kernel_shape": [2, 2], "strides": [2, 2], "dilations": [2, 1]},
    {"kernel_shape": [3, 2], "strides": [2, 2], "ceil_mode": 1},
    {"kernel_shape": [3, 2], "strides": [2, 3], "pads": [1, 0, 1, 1], "ceil_mode": 1},
])
@pytest.mark.parametrize("storage_order", [0, 1])
def test_max_pool_indices_match_onnxruntime(attrs, storage_order):
    # distinct values: no ties, so the position of each maximum is unambiguous
    x = _rng().permutation(2 * 3 * 7 * 6).astype(np.float32).reshape(2, 3, 7, 6)
    _check("MaxPool", {"x": x}, outputs=2, opset=12, storage_order=storage_order, **attrs)


@pytest.mark.parametrize("shape", [(2, 3, 9), (2, 2, 5, 4, 6)])
def test_max_pool_indices_in_one_and_three_dimensions(shape):
    x = _rng().permutation(int(np.prod(shape))).astype(np.float32).reshape(shape)
    k = len(shape) - 2
    _check("MaxPool", {"x": x}, outputs=2, opset=12, kernel_shape=[2] * k, strides=[2] * k, pads=[1] * (2 * k))


# --- recurrent layers: sequence lengths, clip, input_forget ---------------------------------------------------


def _recurrent_case(kind: str, direction: str, layout: int, lengths, peepholes: bool = False, seed: int = 0):
    rng = _rng(seed)
    steps, batch, size, hidden = 5, len(lengths), 3, 4
    gates, dirs = {"RNN": 1, "GRU": 3, "LSTM": 4}[kind], 2 if direction == "bidirectional" else 1
    x = rng.standard_normal((batch, steps, size) if layout else (steps, batch, size)).astype(np.float32)
    state_shape = (batch, dirs, hidden) if layout else (dirs, batch, hidden)
    constants = {
        "w": rng.standard_normal((dirs, gates * hidden, size)).astype(np.float32),
        "r": rng.standard_normal((dirs, gates * hidden, hidden)).astype(np.float32),
        "b": rng.standard_normal((dirs, 2 * gates * hidden)).astype(np.float32),
        "lens": None if lengths is None else np.asarray(lengths, np.int32),
        "h0": rng.standard_normal(state_shape).astype(np.float32),
    }
    if kind == "LSTM":
        constants["c0"] = rng.standard_normal(state_shape).astype(np.float32)
        constants["p"] = rng.standard_normal((dirs, 3 * hidden)).astype(np.float32) if peepholes else None
    return {"x": x}, constants, hidden


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("layout", [0, 1])
def test_sequence_lens_zero_the_outputs_past_each_length_as_onnxruntime(kind, direction, layout):
    inputs, constants, hidden = _recurrent_case(kind, direction, 0, [5, 2, 3, 1])
    outputs = 3 if kind == "LSTM" else 2
    expected = _check(kind, inputs, outputs, opset=14, constants=constants, hidden_size=hidden, direction=direction,
                      rtol=1e-5, atol=1e-5)
    if layout:  # batch first (onnxruntime has no layout=1): the same numbers, axes swapped
        batch_first = {"x": inputs["x"].swapaxes(0, 1)}
        constants = {k: v.swapaxes(0, 1) if k in ("h0", "c0") else v for k, v in constants.items()}
        model = _model(kind, batch_first, outputs, 14, constants, hidden_size=hidden, direction=direction, layout=1)
        with ember.no_grad():
            got = ember.onnx.load(model)(ember.tensor(batch_first["x"]))
        np.testing.assert_allclose(got[0].numpy(), expected[0].transpose(2, 0, 1, 3), rtol=1e-6)
        for g, e in zip(got[1:], expected[1:]):
            np.testing.assert_allclose(g.numpy(), e.swapaxes(0, 1), rtol=1e-6)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_recurrent_clip_matches_onnxruntime(kind, direction):
    inputs, constants, hidden = _recurrent_case(kind, direction, 0, [5, 4], peepholes=True)
    outputs = 3 if kind == "LSTM" else 2
    _check(kind, inputs, outputs, opset=14, constants=constants, hidden_size=hidden, direction=direction, clip=0.7,
           rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("peepholes", [False, True])
@pytest.mark.parametrize("clip", [None, 1.5])
def test_lstm_input_forget_couples_the_gates_as_onnxruntime(peepholes, clip):
    inputs, constants, hidden = _recurrent_case("LSTM", "forward", 0, [5, 3, 5], peepholes=peepholes)
    attrs = {} if clip is None else {"clip": clip}
    _check("LSTM", inputs, 3, opset=14, constants=constants, hidden_size=hidden, input_forget=1, rtol=1e-5,
           atol=1e-5, **attrs)


def test_sequence_lens_out_of_range_are_refused():
    inputs, constants, hidden = _recurrent_case("GRU", "forward", 0, [6, 2])
    with pytest.raises(ValueError, match="GRU.*sequence_lens"):
        ember.onnx.load(_model("GRU", inputs, 2, opset=14, constants=constants, hidden_size=hidden))(inputs["x"])


def test_new_pooling_and_sequence_lengths_compile_with_jit():
    x = _rng().standard_normal((2, 3, 7, 8)).astype(np.float32)
    for op_type, attrs in [("LpPool", {"p": 3, "pads": [1, 0, 1, 2]}), ("AveragePool", {"dilations": [2, 1]})]:
        model = _model(op_type, {"x": x}, opset=19, kernel_shape=[2, 3], strides=[2, 2], **attrs)
        net = ember.onnx.load(model)
        with ember.no_grad():
            np.testing.assert_allclose(ember.jit(net)(ember.tensor(x)).numpy(), net(ember.tensor(x)).numpy(),
                                       rtol=1e-6)
    inputs, constants, hidden = _recurrent_case("LSTM", "bidirectional", 0, [5, 2, 4])
    net = ember.onnx.load(_model("LSTM", inputs, 3, opset=14, constants=constants, hidden_size=hidden,
                                 direction="bidirectional"))
    with ember.no_grad():
        for c, e in zip(ember.jit(net)(ember.tensor(inputs["x"])), net(ember.tensor(inputs["x"]))):
            np.testing.assert_allclose(c.numpy(), e.numpy(), rtol=1e-6)


# --- resize with antialias (opset 18) ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("scales, sizes", [([1, 1, 0.5, 0.6], None), ([1, 1, 0.3, 1.5], None),
                                           (None, [2, 3, 4, 3])])
@pytest.mark.parametrize("transform", ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"])
@pytest.mark.parametrize("exclude_outside", [0, 1])
def test_resize_antialias_matches_onnxruntime_and_the_reference(mode, scales, sizes, transform, exclude_outside):
    # the kernel stretched by 1 / scale when downscaling, taps normalized (edges read the edge element)
    from onnx.reference import ReferenceEvaluator

    x = _rng().standard_normal((2, 3, 9, 10)).astype(np.float32)
    constants = {"roi": None, "scales": None if scales is None else np.asarray(scales, np.float32),
                 "sizes": None if sizes is None else np.asarray(sizes, np.int64)}
    attrs = {"mode": mode, "antialias": 1, "coordinate_transformation_mode": transform,
             "exclude_outside": exclude_outside}
    got = _check("Resize", {"x": x}, opset=18, constants=constants, atol=1e-5, **attrs)[0]
    if transform != "align_corners" or scales is None:  # (the reference maps align_corners by scale * size there)
        expected = ReferenceEvaluator(_model("Resize", {"x": x}, opset=18, constants=constants, **attrs)).run(
            None, {"x": x})[0]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
