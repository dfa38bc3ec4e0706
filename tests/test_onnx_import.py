"""ONNX import: Ember -> ONNX -> Ember round trips, compiled through ember.jit, and fine-tuning of imported
initializers."""

from __future__ import annotations

import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import ember  # noqa: E402
from ember import nn  # noqa: E402


def _float(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


NETS = {
    "cnn": (lambda: nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(8, 4, 3, stride=2, padding=1), nn.AvgPool2d(2), nn.Flatten(),
                                  nn.Linear(4, 10), nn.LogSoftmax(dim=1)), _float(2, 1, 8, 8)),
    "conv1d_transpose": (lambda: nn.Sequential(nn.Conv1d(2, 3, 3, padding=1), nn.MaxPool1d(2),
                                               nn.ConvTranspose1d(3, 2, 3, stride=2)), _float(2, 2, 9)),
    "cnn3d": (lambda: nn.Sequential(nn.Conv3d(2, 4, 3, padding=1, dilation=(1, 2, 1)), nn.BatchNorm3d(4), nn.ReLU(),
                                    nn.MaxPool3d(3, stride=2, padding=1, ceil_mode=True),
                                    nn.ConvTranspose3d(4, 2, 3, stride=2, padding=1, output_padding=(1, 0, 1)),
                                    nn.AvgPool3d(2, padding=1, count_include_pad=False)), _float(2, 2, 5, 6, 4)),
    "lstm": (lambda: nn.LSTM(3, 5, batch_first=True), _float(2, 4, 3)),
    "gru": (lambda: nn.GRU(3, 5), _float(4, 2, 3)),
    "attention": (lambda: nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), _float(2, 5, 8)),
    "mlp_norm": (lambda: nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 3),
                                       nn.Softmax(dim=-1)), _float(4, 6)),
}


def _first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", sorted(NETS))
def test_ember_onnx_ember_round_trip(name):
    ember.manual_seed(0)
    make, x = NETS[name]
    net = make()
    net.eval()
    model = ember.onnx.export(net, [x])
    imported = ember.onnx.load(model.SerializeToString())
    with ember.no_grad():
        expected = _first(net(ember.tensor(x))).numpy()
        eager = _first(imported(ember.tensor(x))).numpy()
        compiled = _first(ember.jit(imported)(ember.tensor(x))).numpy()
    np.testing.assert_allclose(eager, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(compiled, expected, rtol=1e-5, atol=1e-5)
    graph = imported.to_graph(x)
    assert graph.nodes and all(node.op.name != "const" or not node.inputs for node in graph.nodes)


def test_imported_model_fine_tunes(tmp_path):
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    path = tmp_path / "reg.onnx"
    ember.onnx.export(net, [_float(8, 4)], path, dynamic_axes={"input0": {0: "batch"}})
    imported = ember.onnx.load(path)
    params = list(imported.parameters())
    assert sum(p.array.size for p in params) == sum(p.array.size for p in net.parameters())
    x = _float(64, 4, seed=1)
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)).astype(np.float32)
    optimizer = ember.optim.Adam(params, lr=1e-2)

    @ember.jit
    def step(xb, yb):
        optimizer.zero_grad()
        loss = ember.mse_loss(imported(xb), yb)
        loss.backward()
        optimizer.step()
        return loss

    first = step(ember.tensor(x), ember.tensor(y)).item()
    for _ in range(200):
        last = step(ember.tensor(x), ember.tensor(y)).item()
    assert last < 0.1 * first


def test_unsupported_op_is_named():
    node = onnx.helper.make_node("NonMaxSuppression", ["x"], ["y"], name="nms_3")
    graph = onnx.helper.make_graph([node], "g", [onnx.helper.make_tensor_value_info("x", 1, [2, 2])],
                                   [onnx.helper.make_tensor_value_info("y", 1, [])])
    with pytest.raises(ember.onnx.UnsupportedError, match=r"NonMaxSuppression.*'nms_3' \(NonMaxSuppression\)"):
        ember.onnx.load(onnx.helper.make_model(graph))


def test_an_unsupported_attribute_names_its_node():
    # the converter's error named the op type only ("LSTM: ... not supported"), not which of the model's nodes
    h = onnx.helper
    x, w, r = _float(5, 2, 3), _float(1, 16, 3), _float(1, 16, 4)
    graph = h.make_graph([h.make_node("LSTM", ["x", "w", "r"], ["y"], name="encoder_lstm", hidden_size=4,
                                      activations=["Sigmoid", "Swoosh", "Tanh"])],
                         "g", [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x.shape)],
                         [h.make_empty_tensor_value_info("y")],
                         [onnx.numpy_helper.from_array(w, "w"), onnx.numpy_helper.from_array(r, "r")])
    model = ember.onnx.load(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]))
    with pytest.raises(ember.onnx.UnsupportedError, match=r"^LSTM \(encoder_lstm\): recurrent activation 'swoosh'"):
        model(x)


def test_value_inputs_are_frozen_by_the_backend():
    # Reshape's shape comes in as a model input: the backend freezes it into the trace, retracing on change
    node = onnx.helper.make_node("Reshape", ["x", "shape"], ["y"])
    graph = onnx.helper.make_graph([node], "g", [onnx.helper.make_tensor_value_info("x", 1, [2, 6]),
                                                 onnx.helper.make_tensor_value_info("shape", 7, [2])],
                                   [onnx.helper.make_tensor_value_info("y", 1, ["a", "b"])])
    rep = ember.onnx.backend.prepare(onnx.helper.make_model(graph))
    x = _float(2, 6)
    (a,) = rep.run([x, np.array([3, 4])])
    (b,) = rep.run([x, np.array([4, -1])])
    assert a.shape == (3, 4) and b.shape == (4, 3)
    np.testing.assert_array_equal(b, x.reshape(4, 3))


@pytest.mark.parametrize("name", ["cnn_digits", "mlp_digits", "rnn_sequence", "autoencoder", "logistic_regression",
                                  "linear_regression"])
def test_example_models_round_trip(name):
    from test_onnx_export import _example_models

    ember.manual_seed(0)
    net, x = _example_models()[name]
    if isinstance(net, nn.Module):
        net.eval()
    imported = ember.onnx.load(ember.onnx.export(net, [x]))
    with ember.no_grad():
        expected = net(ember.tensor(x)).numpy()
        np.testing.assert_allclose(ember.jit(imported)(ember.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_embedding_round_trip():
    ember.manual_seed(0)
    net = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2))
    ids = np.array([[1, 2, 9], [0, 5, 5]])
    imported = ember.onnx.load(ember.onnx.export(net, [ids]))
    with ember.no_grad():
        np.testing.assert_allclose(imported(ember.tensor(ids)).numpy(), net(ember.tensor(ids)).numpy(), rtol=1e-6)


@pytest.mark.parametrize("reduce", ["prod", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_round_trips_through_scatter_elements(reduce, include_self):
    index = ember.tensor([[0, 2, 0, 1], [0, 2, 2, 1]])

    def fn(x, src):
        return ember.scatter_reduce(x, 0, index, src, reduce, include_self=include_self)

    x, src = _float(3, 4), _float(2, 4, seed=1)
    with pytest.raises(ValueError, match="opset 16" if reduce == "prod" else "opset 18"):
        ember.onnx.export(fn, [x, src], opset=15)
    imported = ember.onnx.load(ember.onnx.export(fn, [x, src], opset=18).SerializeToString())
    with ember.no_grad():
        np.testing.assert_array_equal(imported(ember.tensor(x), ember.tensor(src)).numpy(),
                                      fn(ember.tensor(x), ember.tensor(src)).numpy())


def test_a_model_reading_its_input_shape_compiles_for_each_batch_size():
    # y = reshape(x, [shape(x)[0], -1]): ember.jit's trace for an unknown batch cannot read the shape, so it
    # traces each size instead of failing on the second one
    h = onnx.helper
    nodes = [h.make_node("Shape", ["x"], ["s"]),
             h.make_node("Gather", ["s", "first"], ["n"], axis=0),
             h.make_node("Unsqueeze", ["n", "zero"], ["n1"]),
             h.make_node("Concat", ["n1", "minus_one"], ["target"], axis=0),
             h.make_node("Reshape", ["x", "target"], ["y"])]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", 1, ["batch", 3, 4])],
                         [h.make_tensor_value_info("y", 1, ["batch", 12])],
                         [onnx.numpy_helper.from_array(np.array(0, np.int64), "first"),
                          onnx.numpy_helper.from_array(np.array([0], np.int64), "zero"),
                          onnx.numpy_helper.from_array(np.array([-1], np.int64), "minus_one")])
    compiled = ember.jit(ember.onnx.load(h.make_model(graph)))
    for batch in (2, 5, 3):
        x = _float(batch, 3, 4, seed=batch)
        np.testing.assert_array_equal(compiled(ember.tensor(x)).numpy(), x.reshape(batch, 12))


@pytest.mark.parametrize("shape, grid_shape, mode, padding, opset", [
    ((2, 3, 4, 5), (2, 6, 7, 2), "bicubic", "reflection", 17),
    ((1, 2, 3, 4, 5), (1, 2, 3, 4, 3), "bilinear", "border", 20),
])
def test_grid_sample_round_trips_through_gridsample(shape, grid_shape, mode, padding, opset):
    x, grid = _float(*shape), np.random.default_rng(1).uniform(-1.3, 1.3, grid_shape).astype(np.float32)

    def sample(image, points):
        return ember.grid_sample(image, points, mode, padding, align_corners=True)

    model = ember.onnx.export(sample, [x, grid], opset=opset)
    assert "GridSample" in [n.op_type for n in model.graph.node]
    imported = ember.onnx.load(model.SerializeToString())
    np.testing.assert_allclose(imported(ember.tensor(x), ember.tensor(grid)).numpy(),
                               sample(ember.tensor(x), ember.tensor(grid)).numpy(), rtol=1e-6, atol=1e-6)


def _one_node(op_type: str, x: np.ndarray, initializers=(), opset: int = 18, **attrs) -> np.ndarray:
    """``op_type`` on x (and the named initializers, its further inputs), imported and run eagerly."""
    h = onnx.helper
    names = ["x", *(name for name, _ in initializers)]
    graph = h.make_graph([h.make_node(op_type, names, ["y"], **attrs)], "g",
                         [h.make_tensor_value_info("x", h.np_dtype_to_tensor_dtype(x.dtype), x.shape)],
                         [h.make_empty_tensor_value_info("y")],
                         [onnx.numpy_helper.from_array(np.asarray(value), name) for name, value in initializers])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    with ember.no_grad():
        return ember.onnx.load(model)(ember.tensor(x)).numpy()


@pytest.mark.parametrize("op_type, expected", [("ReduceSum", lambda x: x), ("ReduceMax", lambda x: x),
                                               ("ReduceL2", np.abs), ("ReduceSumSquare", np.square)])
def test_reduce_with_no_axes_and_noop_with_empty_axes_reduces_nothing(op_type, expected):
    # the axes input omitted, as given empty: no axis is reduced (the elementwise part still applies)
    x = _float(3, 4)
    np.testing.assert_allclose(_one_node(op_type, x, noop_with_empty_axes=1), expected(x), rtol=1e-6)
    empty = [("axes", np.zeros(0, np.int64))]
    np.testing.assert_allclose(_one_node(op_type, x, empty, noop_with_empty_axes=1), expected(x), rtol=1e-6)
    assert _one_node(op_type, x, empty).shape == (1, 1)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot_of_an_index_out_of_range_is_a_row_of_off_values(axis):
    # as the spec and onnxruntime: no error (Ember's one_hot refuses them)
    indices = np.array([[0, -1, 3], [7, -5, -6]], np.int64)
    got = _one_node("OneHot", indices, [("depth", np.array(5, np.int64)), ("values", np.array([2.0, 9.0], np.float32))],
                    axis=axis)
    hot = (np.where(indices < 0, indices + 5, indices)[..., None] == np.arange(5)).astype(np.float32) * 7 + 2
    np.testing.assert_array_equal(got, np.moveaxis(hot, -1, axis))


def _pooled(x: np.ndarray, kernel: int, stride: int, begin: int, end: int, op_type: str, include: int) -> np.ndarray:
    """1-D ceil_mode pooling as the spec: windows that would start in the end padding are ignored."""
    fill = -np.inf if op_type == "MaxPool" else 0.0
    padded = np.pad(x, ((0, 0), (0, 0), (begin, end)), constant_values=fill)
    real = np.pad(np.ones(x.shape[2]), (begin, end))
    out, count = [], -(-(padded.shape[2] - kernel) // stride) + 1
    for start in range(0, min(count * stride, x.shape[2] + begin), stride):
        window, hits = padded[..., start:start + kernel], real[start:start + kernel]
        if op_type == "MaxPool":
            out.append(window.max(-1))
        else:
            out.append(window.sum(-1) / (len(hits) if include else hits.sum()))
    return np.stack(out, -1)


@pytest.mark.parametrize("op_type, include", [("MaxPool", 0), ("AveragePool", 0), ("AveragePool", 1)])
@pytest.mark.parametrize("pads", [[1, 2], [2, 0]])
def test_ceil_mode_pooling_with_uneven_pads_ignores_windows_starting_in_the_end_padding(op_type, include, pads):
    # explicit uneven pads: a last window starting in the end padding came out as a sixth value (onnxruntime: 5)
    x = _float(2, 3, 9)
    attrs = dict(kernel_shape=[3], strides=[2], pads=pads, ceil_mode=1)
    if op_type == "AveragePool":
        attrs["count_include_pad"] = include
    got = _one_node(op_type, x, opset=19, **attrs)
    np.testing.assert_allclose(got, _pooled(x, 3, 2, *pads, op_type, include), rtol=1e-6)


def test_prelu_broadcasts_a_one_dimensional_slope_against_the_last_axis_from_opset_7():
    # channels and last axis both 3: the slope went per channel, as before opset 7 (0.2 off in 24 of 72 values)
    x, slope = _float(2, 3, 4, 3), np.array([0.1, 0.2, 0.3], np.float32)
    np.testing.assert_allclose(_one_node("PRelu", x, [("slope", slope)], opset=17), np.where(x > 0, x, x * slope),
                               rtol=1e-6)
    per_channel = np.where(x > 0, x, x * slope.reshape(3, 1, 1))
    np.testing.assert_allclose(_one_node("PRelu", x, [("slope", slope)], opset=6), per_channel, rtol=1e-6)


@pytest.mark.parametrize("op_type, indices, attrs", [
    ("Gather", np.array([-6, 0], np.int64), {"axis": 1}),  # shifted by 4 to -2: read element 2
    ("GatherND", np.array([[0, 5]], np.int64), {}),  # flat 5: read element (1, 1)
    ("GatherND", np.array([[-5, 0]], np.int64), {}),
])
def test_gather_refuses_an_index_out_of_range_as_onnxruntime(op_type, indices, attrs):
    x = _float(3, 4)
    with pytest.raises(IndexError, match=op_type):
        _one_node(op_type, x, [("indices", indices)], **attrs)
    assert _one_node(op_type, x, [("indices", -np.ones_like(indices))], **attrs).tolist() == (
        x[:, [-1, -1]] if op_type == "Gather" else x[[-1], [-1]]).tolist()


def test_gather_nd_refuses_batch_axes_that_differ():
    # indices with a batch of 1 for data with 2 broadcast: a (2, 2, 4) result from a (1, 2, 1) index, no error
    x = _float(2, 3, 4)
    with pytest.raises(ValueError, match=r"batch_dims=1 axes of the indices \[1, 2, 1\] and the data \[2, 3, 4\]"):
        _one_node("GatherND", x, [("indices", np.array([[[1], [0]]], np.int64))], batch_dims=1)
    out = _one_node("GatherND", x, [("indices", np.array([[[1], [0]], [[2], [2]]], np.int64))], batch_dims=1)
    np.testing.assert_array_equal(out, np.stack([x[0, [1, 0]], x[1, [2, 2]]]))


@pytest.mark.parametrize("op_type, expected", [("Floor", np.floor), ("Ceil", np.ceil)])
def test_floor_and_ceil_keep_infinities(op_type, expected):
    x = np.array([np.inf, -np.inf, np.nan, -2.5, -0.5, 0.5, 2.0, 1e30], np.float32)
    np.testing.assert_array_equal(_one_node(op_type, x), expected(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_sign_of_nan_is_nan_as_onnxruntime(dtype):
    # ember.sign gives PyTorch's 0 for NaN; an imported Sign gave it too where onnxruntime and the ONNX reference
    # give NaN
    x = np.array([-3, 0, 2] + ([np.nan] if dtype != np.int32 else []), dtype)
    np.testing.assert_array_equal(_one_node("Sign", x), np.sign(x))


def _running_sums(x: np.ndarray, axis: int, exclusive: int, reverse: int) -> np.ndarray:
    """ONNX's CumSum in NumPy."""
    walk = np.flip(x, axis) if reverse else x
    sums = np.cumsum(walk, axis=axis, dtype=x.dtype)
    if exclusive:
        sums = np.roll(sums, 1, axis)
        np.moveaxis(sums, axis, 0)[0] = 0
    return np.flip(sums, axis) if reverse else sums


@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
def test_cumsum_carries_an_infinity_or_nan_only_into_the_sums_that_hold_it(exclusive, reverse):
    x = np.array([[1, np.inf, 2, -3], [1, 2, np.nan, 4]], np.float32)
    out = _one_node("CumSum", x, [("axis", np.array(-1, np.int64))], exclusive=exclusive, reverse=reverse)
    np.testing.assert_array_equal(out, _running_sums(x, 1, exclusive, reverse))
    ints = np.arange(12, dtype=np.int32).reshape(3, 4)
    out = _one_node("CumSum", ints, [("axis", np.array(0, np.int32))], exclusive=exclusive, reverse=reverse)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, _running_sums(ints, 0, exclusive, reverse))


def _split(x: np.ndarray, outputs: int, opset: int, split=None, **attrs) -> list:
    h = onnx.helper
    names = [f"y{i}" for i in range(outputs)]
    inputs, initializers = ["x"], []
    if split is not None:
        inputs.append("split")
        initializers.append(onnx.numpy_helper.from_array(np.asarray(split, np.int64), "split"))
    graph = h.make_graph([h.make_node("Split", inputs, names, axis=0, **attrs)], "g",
                         [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x.shape)],
                         [h.make_empty_tensor_value_info(n) for n in names], initializers)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    with ember.no_grad():
        return [t.numpy().tolist() for t in ember.onnx.load(model)(ember.tensor(x))]


def test_split_sizes_follow_the_spec_and_a_model_that_breaks_it_is_refused():
    x = np.arange(5, dtype=np.float32)
    assert _split(x, 3, 18, num_outputs=3) == [[0, 1], [2, 3], [4]]  # chunks of ceil(5 / 3), the last smaller
    assert _split(x, 2, 13, split=[1, 4]) == [[0], [1, 2, 3, 4]]
    assert _split(np.arange(6, dtype=np.float32), 3, 13) == [[0, 1], [2, 3], [4, 5]]
    # four chunks of 2 would need 7 elements (onnxruntime refuses the model); six make three and an empty last one,
    # as onnxruntime's
    with pytest.raises(Exception, match="num_outputs=4"):
        _split(x, 4, 18, num_outputs=4)
    assert _split(np.arange(6, dtype=np.float32), 4, 18, num_outputs=4) == [[0, 1], [2, 3], [4, 5], []]
    with pytest.raises(Exception, match="do not split evenly into 2"):  # opset 13 without sizes: equal parts
        _split(x, 2, 13)
    with pytest.raises(Exception, match=r"split \[1, 3\] must be 2 non-negative sizes"):
        _split(x, 2, 13, split=[1, 3])


@pytest.mark.parametrize("axis", [None, 0, 1, 2])
def test_hardmax_before_opset_13_takes_the_maximum_over_the_flattened_trailing_axes(axis):
    x = _float(3, 4, 5)
    start = 1 if axis is None else axis
    rows = x.reshape(int(np.prod(x.shape[:start])), -1)
    expected = np.zeros_like(rows)
    expected[np.arange(len(rows)), rows.argmax(1)] = 1
    attrs = {} if axis is None else {"axis": axis}
    np.testing.assert_array_equal(_one_node("Hardmax", x, opset=11, **attrs), expected.reshape(x.shape))
    last = (x == x.max(-1, keepdims=True)).astype(np.float32)  # from opset 13: along one axis, the last by default
    np.testing.assert_array_equal(_one_node("Hardmax", x, opset=13), last)


def test_integer_linear_resize_is_truncated_once_after_every_axis():
    # each axis was truncated to uint8 in turn (an output of 171.35 came out 170; 38 of 80 values 1-2 under
    # onnxruntime's); doubling with half_pixel weighs neighbours by 1/4 and 3/4, exact in binary
    x = np.random.default_rng(0).integers(0, 256, (1, 2, 4, 5)).astype(np.uint8)

    def doubling(n):
        m = np.zeros((2 * n, n))
        for i in range(2 * n):
            at = min(max((i + 0.5) / 2 - 0.5, 0), n - 1)
            low = int(np.floor(at))
            m[i, low] += 1 - (at - low)
            m[i, min(low + 1, n - 1)] += at - low
        return m

    exact = doubling(4) @ x.astype(np.float64) @ doubling(5).T
    got = _one_node("Resize", x, [("roi", np.zeros(0, np.float32)), ("scales", np.array([1, 1, 2, 2], np.float32))],
                    opset=19, mode="linear")
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, np.trunc(exact).astype(np.uint8))


def test_resize_at_opset_10_samples_as_upsample_and_onnxruntime():
    # opset 10 has no coordinate_transformation_mode: asymmetric coordinates, nearest rounding down (up when
    # shrinking), the expected values of ONNX's own opset-10 Resize cases
    small, wide = np.array([[[[1, 2], [3, 4]]]], np.float32), np.array([[[[1, 2, 3, 4], [5, 6, 7, 8]]]], np.float32)

    def resize(x, scales, mode):
        return _one_node("Resize", x, [("scales", np.array(scales, np.float32))], opset=10, mode=mode)

    np.testing.assert_array_equal(resize(small, [1, 1, 2, 3], "nearest"),
                                  np.repeat(np.repeat(small, 2, axis=2), 3, axis=3))
    np.testing.assert_array_equal(resize(wide, [1, 1, 0.6, 0.6], "nearest"), [[[[1, 3]]]])
    np.testing.assert_allclose(resize(small, [1, 1, 2, 2], "linear"),
                               [[[[1, 1.5, 2, 2], [2, 2.5, 3, 3], [3, 3.5, 4, 4], [3, 3.5, 4, 4]]]], rtol=1e-6)
    np.testing.assert_allclose(resize(wide, [1, 1, 0.6, 0.6], "linear"), [[[[1, 8 / 3]]]], rtol=1e-6)
    ort = pytest.importorskip("onnxruntime")
    x = _float(2, 3, 5, 7)
    for mode in ("nearest", "linear"):
        for scales in ([1, 1, 2, 2.5], [1, 1, 0.5, 0.6], [1, 1, 0.7, 3]):
            h = onnx.helper
            graph = h.make_graph([h.make_node("Resize", ["x", "scales"], ["y"], mode=mode)], "g",
                                 [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x.shape)],
                                 [h.make_empty_tensor_value_info("y")],
                                 [onnx.numpy_helper.from_array(np.array(scales, np.float32), "scales")])
            model = h.make_model(graph, opset_imports=[h.make_opsetid("", 10)])
            model.ir_version = 8
            expected = ort.InferenceSession(model.SerializeToString(),
                                            providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
            np.testing.assert_allclose(resize(x, scales, mode), expected, rtol=1e-5, atol=1e-6)


def test_nonzero_imports_as_torch_exports_a_boolean_mask_index():
    # x[x > 0.5] is NonZero + GatherND in a torch.onnx.export file; NonZero was refused as unsupported
    torch = pytest.importorskip("torch")

    class Masked(torch.nn.Module):
        def forward(self, x):
            return x[x > 0.5] * 2

    buffer = io.BytesIO()
    torch.onnx.export(Masked(), (torch.randn(2, 3, 4),), buffer, input_names=["x"], dynamic_axes={"x": {0: "b"}},
                      dynamo=False)
    imported = ember.onnx.load(buffer.getvalue())
    for batch in (1, 3):
        x = _float(batch, 3, 4, seed=batch)
        np.testing.assert_array_equal(imported(x).detach().numpy(), Masked()(torch.tensor(x)).numpy())
    # (rank, count) indices in row-major order; a scalar counts as one element, as onnxruntime reads it
    mask = np.array([[True, False, True], [False, False, True]])
    np.testing.assert_array_equal(_one_node("NonZero", mask), np.array(np.nonzero(mask)))
    np.testing.assert_array_equal(_one_node("NonZero", np.array(2.0, np.float32)), np.zeros((1, 1), np.int64))
    assert _one_node("NonZero", np.zeros((2, 0), np.float32)).shape == (2, 0)

def test_float16_gemm_rounds_once_as_torch_linear():
    # an exported float16 Linear is one Gemm: product, scaling and bias in float32, rounded once, as PyTorch's
    # addmm and onnxruntime (the product rounded before the bias was an ulp off in 44 of 150 outputs)
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(np.float16) for s in ((50, 4), (3, 4), (3,)))
    expected = torch.nn.functional.linear(*(torch.tensor(t) for t in (x, w, b))).numpy()
    np.testing.assert_array_equal(_one_node("Gemm", x, [("w", w), ("b", b)], transB=1), expected)
    scaled = torch.addmm(torch.tensor(b), torch.tensor(x), torch.tensor(w).T, beta=1.3, alpha=0.7).numpy()
    got = _one_node("Gemm", x, [("w", w), ("b", b)], transB=1, alpha=0.7, beta=1.3)
    np.testing.assert_array_equal(got, scaled)

def test_float16_batch_normalization_rounds_once_as_torch():
    # an exported float16 BatchNorm2d: the statistics and affine in float32, rounded once, as PyTorch and
    # onnxruntime (each step rounded to float16 was an ulp off in 375 of 800 outputs)
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((4, 8, 5, 5)) * 20).astype(np.float16)
    scale, bias = rng.uniform(-3, 3, 8).astype(np.float16), rng.uniform(-5, 5, 8).astype(np.float16)
    mean, var = rng.uniform(-20, 20, 8).astype(np.float16), rng.uniform(0.5, 30, 8).astype(np.float16)
    expected = torch.nn.functional.batch_norm(*(torch.tensor(t) for t in (x, mean, var, scale, bias)), eps=1e-5)
    got = _one_node("BatchNormalization", x, [("s", scale), ("b", bias), ("m", mean), ("v", var)], epsilon=1e-5)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, expected.numpy())

@pytest.mark.parametrize("shape", [(2, 3, 9), (2, 3, 5, 5)])
def test_float16_conv_transpose_adds_the_bias_before_rounding_as_torch(shape):
    # the bias added to the float32 sums and rounded once, as PyTorch and onnxruntime (added to the rounded
    # float16 output it was an ulp off in 257 of 968 outputs of the 2-D case)
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 5).astype(np.float16)
    w = (rng.standard_normal((3, 4) + (3,) * (len(shape) - 2)) * 0.3).astype(np.float16)
    b = rng.standard_normal(4).astype(np.float16)
    transposed = torch.nn.functional.conv_transpose1d if len(shape) == 3 else torch.nn.functional.conv_transpose2d
    expected = transposed(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=2, padding=1).numpy()
    got = _one_node("ConvTranspose", x, [("w", w), ("b", b)], strides=[2] * (len(shape) - 2),
                    pads=[1] * (2 * len(shape) - 4))
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, expected)

@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_resize_align_corners_at_a_fractional_scale_maps_the_output_length_as_torch(mode):
    # torch.onnx.export writes interpolate(scale_factor=1.7, align_corners=True) as Resize with scales; the
    # corners are those of the output's length (8 of 5 rows), as PyTorch and onnxruntime compute them
    torch = pytest.importorskip("torch")
    x = _float(2, 3, 5, 6)
    for scales in ([1, 1, 1.7, 0.6], [1, 1, 0.5, 2.5]):
        got = _one_node("Resize", x, [("roi", np.zeros(0, np.float32)), ("scales", np.array(scales, np.float32))],
                        opset=13, mode=mode, coordinate_transformation_mode="align_corners")
        expected = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=scales[2:], align_corners=True,
                                                   mode="bilinear" if mode == "linear" else "bicubic")
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-5)


def test_sign_and_round_import():
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, -1.7, 0.0, 3.2], np.float32)
    np.testing.assert_array_equal(_one_node("Round", x), np.round(x))  # halves to even
    np.testing.assert_array_equal(_one_node("Sign", x), np.sign(x))
    ints = np.array([-3, 0, 2], np.int32)
    assert _one_node("Sign", ints).tolist() == [-1, 0, 1]


@pytest.mark.parametrize("name", ["topk", "smallest", "sort", "argsort", "median"])
def test_sorting_round_trips_through_topk(name):
    # Ember exports these as TopK nodes, which the importer lacked
    fn = {"topk": lambda t: ember.topk(t, 3, 1)[0] + ember.topk(t, 3, 1)[1],
          "smallest": lambda t: ember.topk(t, 2, 0, largest=False)[1],
          "sort": lambda t: ember.sort(t, -1, descending=True)[0], "argsort": lambda t: ember.argsort(t, 1),
          "median": ember.median}[name]
    x = np.array([[3, 1, 3, 2, 0], [1, 1, 0, 5, 5], [2, 4, 4, 4, 1]], np.float32)  # ties keep their order
    imported = ember.onnx.load(ember.onnx.export(fn, [x]))
    with ember.no_grad():
        np.testing.assert_array_equal(imported(ember.tensor(x)).numpy(), fn(ember.tensor(x)).numpy())


def test_gather_nd_imports_and_an_exported_pair_of_index_arrays_round_trips():
    x = _float(3, 4, 5)
    index = np.array([[[0, 1], [-1, 4]], [[2, -3], [1, 0]], [[0, 0], [3, 2]]], np.int64)  # (3, 2, 2)
    take = np.stack([x[i][tuple(np.moveaxis(index[i] % [4, 5], -1, 0))] for i in range(3)])
    np.testing.assert_array_equal(_one_node("GatherND", x, [("i", index)], batch_dims=1), take)
    rows = np.array([[1, 2], [0, -1]], np.int64)
    np.testing.assert_array_equal(_one_node("GatherND", x, [("i", rows)]), x[[1, 0], [2, -1]])

    def fn(t):  # exported as one GatherND
        return t[np.array([0, 2, -1]), np.array([1, 1, 3])]

    imported = ember.onnx.load(ember.onnx.export(fn, [x]))
    np.testing.assert_array_equal(imported(ember.tensor(x)).numpy(), fn(ember.tensor(x)).numpy())


@pytest.mark.parametrize("op_type, inputs, opset, attrs", [
    ("ReduceL2", [("axes", np.array([2, 3], np.int64))], 18, {"keepdims": 0}),
    ("LpNormalization", [], 18, {"axis": -1, "p": 2}),
    ("InstanceNormalization", [("scale", np.ones(3)), ("bias", np.zeros(3))], 18, {}),
    ("LayerNormalization", [("scale", np.ones(7))], 18, {"axis": -2}),
    ("GroupNormalization", [("scale", np.ones(3)), ("bias", np.zeros(3))], 21, {"num_groups": 3}),
    ("RMSNormalization", [("scale", np.ones(7))], 23, {}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_float16_norms_compute_their_statistics_in_float32(op_type, inputs, opset, attrs):
    # as the stash type (and onnxruntime) does: float16 squares of values past 256 overflowed to inf
    x = (_float(2, 3, 6, 7) * 400).astype(np.float16)
    half = _one_node(op_type, x, [(n, v.astype(np.float16)) for n, v in inputs], opset=opset, **attrs)
    wide = _one_node(op_type, x.astype(np.float32), [(n, v.astype(np.float32)) for n, v in inputs], opset=opset,
                     **attrs)
    assert half.dtype == np.float16
    np.testing.assert_allclose(half.astype(np.float32), wide.astype(np.float16).astype(np.float32), rtol=2e-3,
                               atol=2e-3)


@pytest.mark.parametrize("equation, shapes", [
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ii->i", [(4, 4)]), ("ij", [(3, 4)]), ("i, j -> ij", [(3,), (4,)]),
    ("...ij,...jk->...ik", [(6, 2, 3, 4), (4, 5)]), ("b...d,b...d->b...", [(2, 3, 4, 5), (2, 3, 4, 5)]),
    ("...ij,...jk", [(2, 3, 4), (2, 4, 5)]),
])
def test_einsum_imports_with_ellipses_and_implicit_outputs(equation, shapes):
    h = onnx.helper
    arrays = [_float(*shape, seed=i) for i, shape in enumerate(shapes)]
    names = [f"x{i}" for i in range(len(arrays))]
    graph = h.make_graph([h.make_node("Einsum", names, ["y"], equation=equation)], "g",
                         [h.make_tensor_value_info(n, onnx.TensorProto.FLOAT, a.shape) for n, a in zip(names, arrays)],
                         [h.make_empty_tensor_value_info("y")])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 12)])
    with ember.no_grad():
        out = ember.onnx.load(model)(*[ember.tensor(a) for a in arrays]).numpy()
    np.testing.assert_allclose(out, np.einsum(equation.replace(" ", ""), *arrays), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatter_nd_imports(reduction):
    x = _float(4, 5, 3)
    index = np.array([[1, -1], [3, 2], [0, 0]], np.int64)
    updates = _float(3, 3, seed=1)
    expected = x.copy()
    apply = {"none": lambda a, u: u, "add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}
    for (i, j), u in zip(index, updates):
        expected[i, j] = apply[reduction](expected[i, j], u)
    attrs = {} if reduction == "none" else {"reduction": reduction}
    out = _one_node("ScatterND", x, [("index", index), ("updates", updates)], **attrs)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


@pytest.mark.parametrize("mode", ["reflect", "wrap", "edge"])
def test_pad_wider_than_the_axis_reflects_or_wraps_again(mode):
    # slices stopped at the axis's ends: wrap by 7 of 3 elements added 3, reflect by 4 added 2
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    pads = np.array([4, 7, 2, 9], np.int64)  # (begin 0, begin 1, end 0, end 1)
    out = _one_node("Pad", x, [("pads", pads)], mode=mode)
    np.testing.assert_array_equal(out, np.pad(x, ((4, 2), (7, 9)), mode=mode))


@pytest.mark.parametrize("op_type", ["ScatterElements", "ScatterND"])
def test_scatter_writes_a_value_repeated_at_one_position_once(op_type):
    # the spec leaves repeated positions undefined; onnxruntime writes one of them, the importer gave their sum
    # (5 written twice read 10); now their mean, as ember.scatter and ember.index_copy
    x = np.zeros((2, 4), np.float32)
    if op_type == "ScatterElements":
        inputs = [("index", np.array([[2, 2, 0]], np.int64)), ("updates", np.array([[5, 5, 1]], np.float32))]
    else:
        inputs = [("index", np.array([[0, 2], [0, 2], [-1, 1]], np.int64)),
                  ("updates", np.array([5, 5, 1], np.float32))]
    expected = np.array([[0, 0, 5, 0], [0, 0, 0, 0]], np.float32)
    expected[0 if op_type == "ScatterElements" else 1, 0 if op_type == "ScatterElements" else 1] = 1
    attrs = {"axis": 1} if op_type == "ScatterElements" else {}
    np.testing.assert_array_equal(_one_node(op_type, x, inputs, **attrs), expected)


def test_external_data_is_read_beside_the_model_or_refused(tmp_path, monkeypatch):
    # a file object's (or bytes') external data was read from the current directory: another model's w.bin there
    # gave its weights silently ([21, 21] for [1, 2]); now beside the file opened, else refused as onnxruntime
    h = onnx.helper

    def model(weight):
        graph = h.make_graph([h.make_node("MatMul", ["x", "w"], ["y"])], "g",
                             [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2])],
                             [h.make_empty_tensor_value_info("y")], [onnx.numpy_helper.from_array(weight, "w")])
        return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])

    (tmp_path / "model").mkdir()
    path = tmp_path / "model" / "m.onnx"
    onnx.save_model(model(np.eye(2, dtype=np.float32)), path, save_as_external_data=True, location="w.bin",
                    size_threshold=0)
    monkeypatch.chdir(tmp_path)
    onnx.save_model(model(np.full((2, 2), 7, np.float32)), "other.onnx", save_as_external_data=True,
                    location="w.bin", size_threshold=0)
    x = ember.tensor(np.array([[1.0, 2.0]], np.float32))
    with open(path, "rb") as f:
        np.testing.assert_array_equal(ember.onnx.load(f)(x).detach().numpy(), [[1.0, 2.0]])
    for given in (path.read_bytes(), io.BytesIO(path.read_bytes()), onnx.load(path, load_external_data=False)):
        with pytest.raises(ValueError, match=r"tensors \['w'\] keep their data in external files \['w.bin'\]"):
            ember.onnx.load(given)
