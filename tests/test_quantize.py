"""int8 post-training quantization: the digits CNN keeps its accuracy, the int8 primitives accumulate exactly
as int32 does, and the quantized graph exports to ONNX in QDQ form."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.quantize import QCONV2D, QLINEAR, quantize_array


@pytest.fixture(scope="module")
def digits_cnn():
    pytest.importorskip("sklearn")
    from ember.data.datasets import load_digits, train_test_split
    from ember.model import Model, Net

    ember.manual_seed(0)
    x, y = load_digits(images=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_fraction=0.2, seed=0, stratify=True)
    net = Net([  # examples/cnn_digits.py
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10),
    ])
    model = Model(net, nn.CrossEntropyLoss(), ember.optim.Adam(net.parameters(), lr=3e-3), compile=True)
    model.fit(x_train, y_train, epochs=2, batch_size=64, verbose=0)
    net.eval()
    return net, x_train, x_test, y_test


def test_digits_cnn_loses_at_most_one_point(digits_cnn):
    net, x_train, x_test, y_test = digits_cnn
    with ember.no_grad():
        float_accuracy = (net(ember.tensor(x_test)).numpy().argmax(1) == y_test).mean()
    qnet = ember.quantize.quantize_model(net, [x_train[i:i + 128] for i in range(0, 512, 128)])
    ops = [node.op.name for node in qnet.graph.nodes]
    assert ops.count("qconv2d") == 2 and ops.count("qlinear") == 2
    assert "conv2d" not in ops and "linear" not in ops
    int8_accuracy = (qnet(x_test).argmax(1) == y_test).mean()
    assert float_accuracy > 0.8
    assert int8_accuracy >= float_accuracy - 0.01


def test_quantized_graph_exports_as_qdq(digits_cnn):
    ort = pytest.importorskip("onnxruntime")
    net, x_train, x_test, _ = digits_cnn
    qnet = ember.quantize.quantize_model(net, [x_train[:256]])
    model = ember.onnx.to_onnx(qnet.graph, dynamic_axes={"input0": {0: "batch"}})
    types = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= types
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input0": x_test})[0]
    expected = qnet(x_test)
    assert (got.argmax(1) == expected.argmax(1)).mean() > 0.99  # rounding ties may flip a rare activation
    np.testing.assert_allclose(np.median(np.abs(got - expected)), 0, atol=1e-4)


def test_qdq_export_saturates_activations_as_the_int8_ops():
    # inputs past the calibrated range: the int8 ops clip to -127, ONNX's QuantizeLinear alone to -128
    ort = pytest.importorskip("onnxruntime")
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 3), nn.Conv1d(1, 2, 2))
    net.eval()
    qnet = ember.quantize.quantize_model(net, [np.full((2, 1, 8), 0.5, np.float32)])
    session = ort.InferenceSession(ember.onnx.to_onnx(qnet.graph).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    x = np.linspace(-3, 3, 32, dtype=np.float32).reshape(4, 1, 8)
    np.testing.assert_allclose(session.run(None, {"input0": x})[0], qnet(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_qdq_export_of_a_half_or_double_model_runs(dtype):
    # QuantizeLinear / DequantizeLinear take float32 scales and inputs at opset 17: the file had float16 / float64
    # ones, which onnxruntime refused as an invalid model
    ort = pytest.importorskip("onnxruntime")
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)).to(dtype)
    net.eval()
    rng = np.random.default_rng(0)
    qnet = ember.quantize.quantize_model(net, [rng.standard_normal((32, 8)).astype(dtype)])
    session = ort.InferenceSession(ember.onnx.to_onnx(qnet.graph).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    x = rng.standard_normal((4, 8)).astype(dtype)
    got = session.run(None, {"input0": x})[0]
    assert got.dtype == dtype
    np.testing.assert_allclose(got, qnet(x), rtol=2e-3 if dtype == np.float16 else 1e-6, atol=1e-3)


@pytest.mark.parametrize("k", [16, 2000])  # float32-exact accumulation, and the int32 path beyond it
def test_qlinear_accumulates_like_int32(k):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, k)).astype(np.float32)
    w_q = rng.integers(-127, 128, (3, k)).astype(np.int8)
    w_scale = np.array([0.01, 0.02, 0.03], np.float32)
    x_scale = float(np.abs(x).max() / 127)
    y = QLINEAR.forward(np, x, w_q, w_scale, x_scale=x_scale)
    acc = quantize_array(np, x, x_scale).astype(np.int64) @ w_q.astype(np.int64).T  # exact integer reference
    np.testing.assert_allclose(y, (acc * (w_scale * np.float32(x_scale))).astype(np.float32), rtol=1e-6)


def test_qconv2d_matches_integer_reference():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    w_q = rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    w_scale = np.full(4, 0.05, np.float32)
    y = QCONV2D.forward(np, x, w_q, w_scale, x_scale=0.02, stride=(1, 1), padding=(1, 1), dilation=(1, 1),
                        groups=1)
    xq = quantize_array(np, x, 0.02).astype(np.int64)
    padded = np.pad(xq, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = np.zeros((2, 4, 5, 5), np.int64)
    for i in range(5):
        for j in range(5):
            ref[:, :, i, j] = np.einsum("nchw,ochw->no", padded[:, :, i:i + 3, j:j + 3], w_q.astype(np.int64))
    np.testing.assert_allclose(y, (ref * np.float32(0.05 * 0.02)).astype(np.float32), rtol=1e-6)


def test_calibration_batches_must_be_a_nonempty_list_of_batches():
    net = nn.Sequential(nn.Linear(8, 3))
    x = np.zeros((4, 8), np.float32)
    with pytest.raises(TypeError, match=r"one array of shape \[4, 8\]; pass a list of batches"):
        ember.quantize.quantize_model(net, x)  # would be read as 4 batches of one row each
    with pytest.raises(TypeError, match="one array"):
        ember.quantize.quantize_model(net, ember.tensor(x))
    with pytest.raises(ValueError, match="calibration_batches is empty"):
        ember.quantize.quantize_model(net, [])
    assert ember.quantize.quantize_model(net, [x])(x).shape == (4, 3)


class _NeedsBatchSize(nn.Module):
    """A CNN whose forward computes with the batch size: a flattening reshape, and a zero bias built from
    int(x.shape[0]) (a trace with an unknown batch cannot build it)."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(1, 4, 3), nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        h = self.conv(x).relu()
        return self.fc(h.reshape(x.shape[0], -1)) + ember.zeros(int(x.shape[0]), 3)


class _ZerosOfBatchSize(_NeedsBatchSize):
    def forward(self, x):
        return self.fc(self.conv(x).relu().reshape(x.shape[0], -1)) + ember.zeros(x.shape[0], 3)


def test_zeros_of_the_batch_size_trace_once_for_every_batch_size():
    ember.manual_seed(0)
    net = _ZerosOfBatchSize()
    net.eval()
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qnet = ember.quantize.quantize_model(net, [rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
                                                   for n in (16, 5)])
    for n in (16, 3):
        x = rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
        with ember.no_grad():
            expected = net(ember.tensor(x)).numpy()
        np.testing.assert_allclose(qnet(x), expected, atol=0.05 * np.abs(expected).max())


def test_a_bfloat16_model_is_quantized_too():
    # NumPy does not count bfloat16 as a float kind, so its Linear and Conv layers were left as they were, silently
    ember.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).to(ember.bfloat16)
    net.eval()
    x = ember.randn(32, 1, 8, 8).to(ember.bfloat16).numpy()
    qnet = ember.quantize.quantize_model(net, [x])
    assert sorted(node.op.name for node in qnet.graph.nodes if node.op.name.startswith("q")) == ["qconv2d", "qlinear"]
    with ember.no_grad():
        expected = net(ember.tensor(x)).numpy().astype(np.float32)
    got = qnet(x)
    assert got.dtype == ember.bfloat16
    np.testing.assert_allclose(got.astype(np.float32), expected, atol=0.05 * np.abs(expected).max())


def test_model_that_needs_its_batch_size_is_traced_per_batch_shape():
    ember.manual_seed(0)
    net = _NeedsBatchSize()
    net.eval()
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((n, 1, 8, 8)).astype(np.float32) for n in (16, 16, 5)]
    with pytest.warns(UserWarning, match=r"quantize_model: the model needs its batch size to trace .*tracing it "
                                         r"at each input shape instead"):
        qnet = ember.quantize.quantize_model(net, batches)
    assert [node.op.name for node in qnet.graph.nodes].count("qlinear") == 1
    for n in (16, 5, 3):  # calibration shapes, and a new one traced at its first call
        x = rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
        with ember.no_grad():
            expected = net(ember.tensor(x)).numpy()
        got = qnet(x)
        assert got.shape == (n, 3)
        np.testing.assert_allclose(got, expected, atol=0.05 * np.abs(expected).max())
    scales = {shapes: sorted(node.attrs["x_scale"] for node in fn.graph.nodes if "x_scale" in node.attrs)
              for shapes, fn in qnet._by_shapes.items()}
    assert len(scales) == 3 and len({tuple(s) for s in scales.values()}) == 1  # one set of activation scales


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_non_finite_calibration_data_is_refused(bad):
    # an inf made the activation scale inf, so the int8 model gave nan for every input; a nan was skipped silently
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    x = np.ones((8, 4), np.float32)
    x[2, 1] = bad
    with pytest.raises(ValueError, match=r"calibration batch 1 gives a linear node \(node \d+\) an input of "
                                         r"float32\[8, 4\] with non-finite values"):
        ember.quantize.quantize_model(net, [np.ones((8, 4), np.float32), x])


class _TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(8, 3), nn.Linear(5, 3)

    def forward(self, x, y):
        return self.a(x) + self.b(y)


@pytest.mark.parametrize("second, message", [
    (lambda x, y: (x,), r"batch 1 has 1 arrays for the graph's 2 inputs"),  # was a KeyError
    (lambda x, y: (x, y, y), r"batch 1 has 3 arrays for the graph's 2 inputs"),  # the third was ignored
    (lambda x, y: (x, y[:, :4]), r"batch 1: input input1 is float32\[\?, 5\], got an array of float32\[4, 4\]"),
    (lambda x, y: (x, y.astype(np.float64)), r"batch 1: input input1 is float32\[\?, 5\], got an array of float64"),
])
def test_calibration_batches_must_fit_the_traced_inputs(second, message):
    net = _TwoInputs()
    x, y = np.ones((4, 8), np.float32), np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match="calibrate: calibration " + message):
        ember.quantize.quantize_model(net, [(x, y), second(x, y)])


@pytest.mark.parametrize("dtype", [ember.bfloat16, np.float16])
def test_low_precision_values_are_rounded_once(dtype):
    # w / scale and x / scale were divided in the dtype itself, rounding before rint: 15% of these bfloat16
    # weights, 2% of the float16 ones and 0.7% of float16 activations were a step off round(w / scale)
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(256, 64)).to(dtype)
    net.eval()
    qnet = ember.quantize.quantize_model(net, [ember.randn(8, 256).to(dtype).numpy()])
    consts = {node.outputs[0].id: node.attrs["value"] for node in qnet.graph.nodes if node.op.name == "const"}
    qlinear = next(node for node in qnet.graph.nodes if node.op is QLINEAR)
    w_q, w_scale = (consts[v.id] for v in qlinear.inputs[1:3])
    weight = net[0].weight.detach().numpy().astype(np.float64)
    np.testing.assert_array_equal(w_q, np.rint(weight / w_scale.astype(np.float64)[:, None]))
    x = ember.randn(100_000).to(dtype).numpy()
    scale = float(np.abs(x.astype(np.float32)).max()) / 127
    np.testing.assert_array_equal(quantize_array(np, x, scale), np.rint(x.astype(np.float32) / scale))


def test_float16_int8_ops_scale_their_sums_in_float32():
    # w_scale * x_scale was taken in float16, where 1.7e-7 is a subnormal of 2 digits: outputs up to 10% off
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, (4, 3, 5, 5)).astype(np.float16)
    w_q = rng.integers(-127, 128, (8, 3, 3, 3)).astype(np.int8)
    w_scale = rng.uniform(0.5, 1, 8).astype(np.float16) * np.float16(0.01 / 127)
    x_scale = 0.5 / 127
    xq = quantize_array(np, x, x_scale).astype(np.int64)
    exact = w_scale.astype(np.float64) * x_scale
    y = QLINEAR.forward(np, x.reshape(4, -1)[:, :27], w_q.reshape(8, -1), w_scale, x_scale=x_scale)
    ref = (xq.reshape(4, -1)[:, :27] @ w_q.reshape(8, -1).astype(np.int64).T) * exact
    np.testing.assert_allclose(y.astype(np.float64), ref, rtol=0, atol=1e-3 * np.abs(ref).max())
    y = QCONV2D.forward(np, x, w_q, w_scale, x_scale=x_scale, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                        groups=1)
    ref = np.einsum("nchw,ochw->no", xq[:, :, 1:4, 1:4], w_q.astype(np.int64)) * exact
    np.testing.assert_allclose(y[:, :, 1, 1].astype(np.float64), ref, rtol=0, atol=1e-3 * np.abs(ref).max())


def test_tiny_float16_weights_keep_their_scale():
    # the per-channel scales were kept in float16: weights of magnitude 3e-6 gave a scale of 0 (then 1), every int8
    # weight 0 and a layer of zeros
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 8, bias=False)).half()
    net.eval()
    with ember.no_grad():
        net[0].weight.mul_(3e-6 / float(net[0].weight.abs().max()))
    x = ember.randn(16, 64).half().numpy()
    qnet = ember.quantize.quantize_model(net, [x])
    with ember.no_grad():
        expected = net(ember.tensor(x)).numpy().astype(np.float64)
    np.testing.assert_allclose(qnet(x).astype(np.float64), expected, rtol=0, atol=0.02 * np.abs(expected).max())


def test_calibration_without_values_is_refused():
    # empty batches left the activation scale at 1.0, which rounded every input to an integer (outputs 30% off)
    net = nn.Sequential(nn.Linear(8, 3))
    with pytest.raises(ValueError, match=r"calibrate: no calibration batch gives the linear node \(node \d+\) an "
                                         r"input value"):
        ember.quantize.quantize_model(net, [np.zeros((0, 8), np.float32)])
