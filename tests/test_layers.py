"""One harness for every layer and loss module (Keras' run_layer_test): build, forward shape, state_dict
round trip into a fresh instance, one SGD step lowers the loss, and parity with PyTorch (same weights:
outputs, input gradients, parameter gradients, buffers and state_dict names). Adding a layer adds a row."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import ember
from ember import nn


@dataclass
class LayerCase:
    name: str  # unique id of the row
    make: Callable  # make(nn, T): the layer from a namespace (ember.nn or torch.nn) and a tensor maker
    inputs: Callable[[np.random.Generator], list]  # sample inputs as NumPy arrays (float32 or int64)
    out_shape: tuple  # the expected output shape
    train_only: bool = False  # random in training mode (dropout): compare with PyTorch in eval mode only
    atol: float = 1e-5
    rtol: float = 1e-4


def _randn(*shape):
    return lambda rng: [rng.standard_normal(shape).astype(np.float32)]


def _ids(high, *shape):
    return lambda rng: [rng.integers(0, high, shape).astype(np.int64)]


def _logits_and_classes(n, c):
    return lambda rng: [rng.standard_normal((n, c)).astype(np.float32), rng.integers(0, c, (n,)).astype(np.int64)]


def _two(*shape, low=None):
    def sample(rng):
        a = rng.standard_normal(shape).astype(np.float32)
        b = rng.standard_normal(shape).astype(np.float32) if low is None else rng.uniform(low, 1 - low, shape)
        return [a, b.astype(np.float32)]

    return sample


def _probs_and_labels(*shape):
    return lambda rng: [rng.uniform(0.05, 0.95, shape).astype(np.float32), (rng.random(shape) > 0.5).astype(np.float32)]


def _with_padding_ids(rng):
    ids = rng.integers(0, 10, (3, 5)).astype(np.int64)
    ids[0, :2] = 0  # the padding row appears
    return [ids]


def _ce_ignore(rng):
    target = rng.integers(0, 5, (6,)).astype(np.int64)
    target[1] = -100
    return [rng.standard_normal((6, 5)).astype(np.float32), target]


CASES = [
    LayerCase("linear", lambda nn, T: nn.Linear(6, 4), _randn(3, 6), (3, 4)),
    LayerCase("linear_1d", lambda nn, T: nn.Linear(6, 4), _randn(6), (4,)),
    LayerCase("linear_3d_nobias", lambda nn, T: nn.Linear(6, 4, bias=False), _randn(2, 3, 6), (2, 3, 4)),
    LayerCase("bilinear", lambda nn, T: nn.Bilinear(5, 3, 4), lambda rng: _randn(6, 5)(rng) + _randn(6, 3)(rng),
              (6, 4)),
    LayerCase("identity", lambda nn, T: nn.Identity(), _randn(3, 4), (3, 4)),
    LayerCase("conv1d", lambda nn, T: nn.Conv1d(3, 4, 3, stride=2, padding=1), _randn(2, 3, 9), (2, 4, 5)),
    LayerCase("conv1d_same", lambda nn, T: nn.Conv1d(2, 3, 4, padding="same", bias=False), _randn(2, 2, 7),
              (2, 3, 7)),
    LayerCase("conv2d", lambda nn, T: nn.Conv2d(3, 4, 3, padding=1), _randn(2, 3, 6, 6), (2, 4, 6, 6)),
    LayerCase("conv2d_groups_dilation", lambda nn, T: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), dilation=2, groups=2),
              _randn(2, 4, 9, 7), (2, 6, 3, 5)),
    LayerCase("conv2d_same_even", lambda nn, T: nn.Conv2d(2, 3, (2, 4), padding="same"), _randn(1, 2, 5, 6),
              (1, 3, 5, 6)),
    LayerCase("conv2d_valid", lambda nn, T: nn.Conv2d(2, 3, 3, padding="valid"), _randn(1, 2, 5, 5), (1, 3, 3, 3)),
    LayerCase("conv_transpose1d", lambda nn, T: nn.ConvTranspose1d(3, 2, 3, stride=2), _randn(2, 3, 5), (2, 2, 11)),
    LayerCase("conv_transpose2d", lambda nn, T: nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1),
              _randn(2, 4, 3, 3), (2, 3, 6, 6)),
    LayerCase("conv_transpose2d_groups",
              lambda nn, T: nn.ConvTranspose2d(4, 6, 3, stride=2, output_padding=1, groups=2, bias=False),
              _randn(1, 4, 3, 3), (1, 6, 8, 8)),
    LayerCase("max_pool1d", lambda nn, T: nn.MaxPool1d(3, stride=2), _randn(2, 3, 9), (2, 3, 4)),
    LayerCase("max_pool2d", lambda nn, T: nn.MaxPool2d(2), _randn(2, 3, 6, 6), (2, 3, 3, 3)),
    LayerCase("max_pool2d_pad_ceil", lambda nn, T: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
              _randn(1, 2, 6, 6), (1, 2, 4, 4)),
    LayerCase("avg_pool1d", lambda nn, T: nn.AvgPool1d(2), _randn(2, 3, 8), (2, 3, 4)),
    LayerCase("avg_pool2d", lambda nn, T: nn.AvgPool2d(3, stride=2, padding=1), _randn(2, 3, 7, 7), (2, 3, 4, 4)),
    LayerCase("avg_pool2d_exclude_pad", lambda nn, T: nn.AvgPool2d(2, padding=1, count_include_pad=False),
              _randn(1, 2, 5, 5), (1, 2, 3, 3)),
    LayerCase("adaptive_avg_pool1d", lambda nn, T: nn.AdaptiveAvgPool1d(3), _randn(2, 3, 7), (2, 3, 3)),
    LayerCase("adaptive_avg_pool2d", lambda nn, T: nn.AdaptiveAvgPool2d((2, 3)), _randn(2, 3, 5, 7), (2, 3, 2, 3)),
    LayerCase("adaptive_avg_pool2d_global", lambda nn, T: nn.AdaptiveAvgPool2d(1), _randn(2, 3, 4, 4),
              (2, 3, 1, 1)),
    LayerCase("conv3d", lambda nn, T: nn.Conv3d(3, 4, 3, padding=1), _randn(2, 3, 4, 5, 4), (2, 4, 4, 5, 4)),
    LayerCase("conv3d_groups_dilation_same",
              lambda nn, T: nn.Conv3d(4, 6, (3, 2, 2), dilation=(1, 2, 1), groups=2, padding="same"),
              _randn(1, 4, 4, 5, 3), (1, 6, 4, 5, 3)),
    LayerCase("conv_transpose3d", lambda nn, T: nn.ConvTranspose3d(4, 6, 3, stride=2, padding=1, output_padding=1,
                                                                   groups=2), _randn(1, 4, 2, 3, 2), (1, 6, 4, 6, 4)),
    LayerCase("max_pool3d", lambda nn, T: nn.MaxPool3d(3, stride=2, padding=1, ceil_mode=True),
              _randn(1, 2, 5, 6, 4), (1, 2, 3, 4, 3)),
    LayerCase("avg_pool3d", lambda nn, T: nn.AvgPool3d(2, padding=1, count_include_pad=False),
              _randn(1, 2, 3, 4, 5), (1, 2, 2, 3, 3)),
    LayerCase("adaptive_avg_pool3d", lambda nn, T: nn.AdaptiveAvgPool3d((2, None, 3)), _randn(2, 3, 5, 4, 7),
              (2, 3, 2, 4, 3)),
    LayerCase("batch_norm3d", lambda nn, T: nn.BatchNorm3d(3, momentum=0.3), _randn(2, 3, 2, 3, 2), (2, 3, 2, 3, 2)),
    LayerCase("instance_norm3d", lambda nn, T: nn.InstanceNorm3d(3, affine=True), _randn(2, 3, 2, 3, 4),
              (2, 3, 2, 3, 4)),
    LayerCase("batch_norm1d", lambda nn, T: nn.BatchNorm1d(4), _randn(8, 4), (8, 4)),
    LayerCase("batch_norm1d_3d", lambda nn, T: nn.BatchNorm1d(3, momentum=None), _randn(4, 3, 5), (4, 3, 5)),
    LayerCase("batch_norm2d", lambda nn, T: nn.BatchNorm2d(3, momentum=0.3, eps=1e-3), _randn(4, 3, 3, 3),
              (4, 3, 3, 3)),
    # one process: SyncBatchNorm is BatchNorm (its multi-rank statistics: tests/distributed/sync_batch_norm.py)
    LayerCase("sync_batch_norm", lambda nn, T: nn.SyncBatchNorm(3, momentum=0.2), _randn(4, 3, 2, 3), (4, 3, 2, 3)),
    LayerCase("sync_batch_norm_2d", lambda nn, T: nn.SyncBatchNorm(4, momentum=None), _randn(6, 4), (6, 4)),
    LayerCase("batch_norm1d_no_bias", lambda nn, T: nn.BatchNorm1d(4, bias=False), _randn(6, 4), (6, 4)),
    LayerCase("batch_norm2d_plain", lambda nn, T: nn.BatchNorm2d(3, affine=False, track_running_stats=False),
              _randn(4, 3, 2, 2), (4, 3, 2, 2)),
    LayerCase("layer_norm", lambda nn, T: nn.LayerNorm(6), _randn(3, 6), (3, 6)),
    LayerCase("layer_norm_2d_nobias", lambda nn, T: nn.LayerNorm((3, 4), eps=1e-3, bias=False), _randn(2, 3, 4),
              (2, 3, 4)),
    LayerCase("layer_norm_no_affine", lambda nn, T: nn.LayerNorm(5, elementwise_affine=False), _randn(2, 5), (2, 5)),
    LayerCase("dropout", lambda nn, T: nn.Dropout(0.3), _randn(4, 5), (4, 5), train_only=True),
    LayerCase("embedding", lambda nn, T: nn.Embedding(10, 4), _ids(10, 3, 5), (3, 5, 4)),
    LayerCase("embedding_padding", lambda nn, T: nn.Embedding(10, 4, padding_idx=0), _with_padding_ids, (3, 5, 4)),
    LayerCase("embedding_sparse", lambda nn, T: nn.Embedding(10, 4, sparse=True), _ids(10, 6), (6, 4)),
    LayerCase("flatten", lambda nn, T: nn.Flatten(), _randn(2, 3, 4), (2, 12)),
    LayerCase("flatten_range", lambda nn, T: nn.Flatten(0, 1), _randn(2, 3, 4), (6, 4)),
    LayerCase("unflatten", lambda nn, T: nn.Unflatten(1, (2, 3)), _randn(4, 6), (4, 2, 3)),
    LayerCase("relu", lambda nn, T: nn.ReLU(), _randn(3, 5), (3, 5)),
    LayerCase("relu6", lambda nn, T: nn.ReLU6(), lambda rng: [rng.uniform(-8, 8, (3, 5)).astype(np.float32)],
              (3, 5)),
    LayerCase("leaky_relu", lambda nn, T: nn.LeakyReLU(0.2), _randn(3, 5), (3, 5)),
    LayerCase("elu", lambda nn, T: nn.ELU(alpha=0.7), _randn(3, 5), (3, 5)),
    LayerCase("gelu", lambda nn, T: nn.GELU(), _randn(3, 5), (3, 5)),
    LayerCase("gelu_tanh", lambda nn, T: nn.GELU(approximate="tanh"), _randn(3, 5), (3, 5)),
    LayerCase("silu", lambda nn, T: nn.SiLU(), _randn(3, 5), (3, 5)),
    LayerCase("sigmoid", lambda nn, T: nn.Sigmoid(), _randn(3, 5), (3, 5)),
    LayerCase("tanh", lambda nn, T: nn.Tanh(), _randn(3, 5), (3, 5)),
    LayerCase("softmax", lambda nn, T: nn.Softmax(dim=1), _randn(3, 5), (3, 5)),
    LayerCase("log_softmax", lambda nn, T: nn.LogSoftmax(dim=-1), _randn(2, 3, 5), (2, 3, 5)),
    LayerCase("softplus", lambda nn, T: nn.Softplus(beta=2.0, threshold=3.0), _randn(3, 5), (3, 5)),
    LayerCase("mish", lambda nn, T: nn.Mish(), _randn(3, 5), (3, 5)),
    LayerCase("hardtanh", lambda nn, T: nn.Hardtanh(-0.5, 0.8), _randn(3, 5), (3, 5)),
    LayerCase("mlp", lambda nn, T: nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.0), nn.Linear(8, 3)),
              _randn(4, 6), (4, 3)),
    LayerCase("cnn", lambda nn, T: nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 3)),
        _randn(3, 2, 4, 4), (3, 3)),
    # losses: the "layer" output is the loss
    LayerCase("mse_loss", lambda nn, T: nn.MSELoss(), _two(3, 4), ()),
    LayerCase("mse_loss_none", lambda nn, T: nn.MSELoss(reduction="none"), _two(3, 4), (3, 4)),
    LayerCase("l1_loss_sum", lambda nn, T: nn.L1Loss(reduction="sum"), _two(3, 4), ()),
    LayerCase("huber_loss", lambda nn, T: nn.HuberLoss(delta=0.5), _two(3, 4), ()),
    LayerCase("smooth_l1_loss", lambda nn, T: nn.SmoothL1Loss(beta=0.5), _two(3, 4), ()),
    LayerCase("cross_entropy", lambda nn, T: nn.CrossEntropyLoss(), _logits_and_classes(6, 5), ()),
    LayerCase("cross_entropy_options", lambda nn, T: nn.CrossEntropyLoss(
        weight=T([1.0, 2.0, 0.5, 1.5, 1.0]), ignore_index=-100, label_smoothing=0.1), _ce_ignore, ()),
    LayerCase("cross_entropy_none", lambda nn, T: nn.CrossEntropyLoss(reduction="none"), _logits_and_classes(6, 5),
              (6,)),
    LayerCase("nll_loss", lambda nn, T: nn.NLLLoss(weight=T([0.5, 1.0, 2.0, 1.0])), _logits_and_classes(5, 4), ()),
    LayerCase("bce_loss", lambda nn, T: nn.BCELoss(), _probs_and_labels(4, 3), ()),
    LayerCase("bce_with_logits", lambda nn, T: nn.BCEWithLogitsLoss(), _two(4, 3, low=0.0), ()),
    LayerCase("bce_with_logits_pos_weight", lambda nn, T: nn.BCEWithLogitsLoss(pos_weight=T([1.0, 2.0, 3.0])),
              _two(4, 3, low=0.0), ()),
]


def _ember_inputs(case: LayerCase, seed: int = 0) -> list:
    return [ember.tensor(a) for a in case.inputs(np.random.default_rng(seed))]


def _is_loss(module) -> bool:
    return type(module).__name__.endswith("Loss")


def _float_inputs(module, inputs: list) -> list:
    # A loss differentiates its prediction only; a layer every float input.
    floats = [t for t in inputs if np.dtype(str(t.dtype).replace("torch.", "")).kind == "f"]
    return floats[:1] if _is_loss(module) else floats


def _build(case: LayerCase, seed: int = 0):
    ember.manual_seed(seed)
    return case.make(nn, ember.tensor)


def _run(module, inputs: list):
    ember.manual_seed(123)  # the same dropout mask on every call
    return module(*inputs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_forward_shape_and_dtype(case):
    module = _build(case)
    out = _run(module, _ember_inputs(case))
    assert tuple(out.shape) == case.out_shape
    assert out.dtype == np.float32
    assert isinstance(repr(module), str)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_state_dict_round_trip(case):
    module = _build(case, seed=0)
    inputs = _ember_inputs(case)
    _run(module, inputs)  # a training step moves running statistics away from their initial values
    module.eval()
    state = {k: v.numpy().copy() for k, v in module.state_dict().items()}
    fresh = _build(case, seed=1).eval()
    params_before = list(fresh.parameters())
    fresh.load_state_dict(state)
    params_after = list(fresh.parameters())
    assert len(params_after) == len(params_before) and all(a is b for a, b in zip(params_after, params_before))
    np.testing.assert_array_equal(_run(fresh, inputs).detach().numpy(), _run(module, inputs).detach().numpy())
    assert list(fresh.state_dict()) == list(state)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_one_sgd_step_lowers_the_loss(case):
    module = _build(case)
    inputs = _ember_inputs(case)
    trainable = list(module.parameters())
    if not trainable:  # a parameter-free layer: descend on its input instead
        trainable = _float_inputs(module, inputs)
        for t in trainable:
            t.requires_grad_(True)
    target = np.random.default_rng(7).standard_normal(case.out_shape).astype(np.float32)

    def loss_value():
        out = _run(module, inputs)
        return out.sum() if _is_loss(module) else ember.mse_loss(out, target)

    loss = loss_value()
    loss.backward()
    grads = [p.grad.to_dense() if isinstance(p.grad, ember.RowSparse) else p.grad for p in trainable]
    norm = math.sqrt(sum(float((g.array.astype(np.float64) ** 2).sum()) for g in grads))
    assert norm > 0
    lr = 1e-2 / norm
    for p, g in zip(trainable, grads):
        p.array -= lr * g.array
    with ember.no_grad():
        assert float(loss_value()) < float(loss)


def _torch_pair(case: LayerCase):
    torch = pytest.importorskip("torch")
    module = _build(case)
    torch_module = case.make(torch.nn, lambda data: torch.tensor(data))
    state = module.state_dict()
    torch_state = torch_module.state_dict()
    assert list(state) == list(torch_state), "state_dict names differ from PyTorch's"
    for key, value in state.items():
        assert tuple(value.shape) == tuple(torch_state[key].shape), key
    torch_module.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in state.items()})
    return torch, module, torch_module


def _dense_grad(grad) -> np.ndarray:
    if isinstance(grad, ember.RowSparse):
        grad = grad.to_dense()
    return np.asarray(grad.numpy())


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_matches_torch(case, training):
    if training and case.train_only:
        pytest.skip("random in training mode; checked in eval mode and by statistics")
    torch, module, torch_module = _torch_pair(case)
    module.train(training)
    torch_module.train(training)
    arrays = case.inputs(np.random.default_rng(0))
    inputs = [ember.tensor(a) for a in arrays]
    torch_inputs = [torch.from_numpy(a.copy()) for a in arrays]
    for t, tt in zip(_float_inputs(module, inputs), _float_inputs(module, torch_inputs)):
        t.requires_grad_(True)
        tt.requires_grad_(True)
    out = _run(module, inputs)
    torch_out = torch_module(*torch_inputs)
    tol = {"atol": case.atol, "rtol": case.rtol}
    np.testing.assert_allclose(out.detach().numpy(), torch_out.detach().numpy(), **tol)
    if not out.requires_grad:
        return
    weights = np.random.default_rng(3).standard_normal(case.out_shape).astype(np.float32)
    (out * ember.tensor(weights)).sum().backward()
    (torch_out * torch.from_numpy(weights)).sum().backward()
    for t, tt in zip(_float_inputs(module, inputs), _float_inputs(module, torch_inputs)):
        np.testing.assert_allclose(_dense_grad(t.grad), tt.grad.numpy(), **tol)
    torch_params = dict(torch_module.named_parameters())
    for name, p in module.named_parameters():
        tp = torch_params[name]
        expected = tp.grad.to_dense() if tp.grad.is_sparse else tp.grad
        np.testing.assert_allclose(_dense_grad(p.grad), expected.numpy(), err_msg=name, **tol)
    torch_buffers = dict(torch_module.named_buffers())
    for name, b in module.named_buffers():
        np.testing.assert_allclose(b.numpy(), torch_buffers[name].numpy(), err_msg=name, **tol)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda nn: nn.Linear(300, 200), {"weight": ("uniform", 300), "bias": ("uniform", 300)}),
        (lambda nn: nn.Conv2d(16, 32, 3), {"weight": ("uniform", 144), "bias": ("uniform", 144)}),
        (lambda nn: nn.Conv1d(8, 64, 5, groups=4), {"weight": ("uniform", 10), "bias": ("uniform", 10)}),
        (lambda nn: nn.ConvTranspose2d(32, 16, 3), {"weight": ("uniform", 144), "bias": ("uniform", 144)}),
        (lambda nn: nn.Bilinear(20, 30, 40), {"weight": ("uniform", 20), "bias": ("uniform", 20)}),
        (lambda nn: nn.Embedding(500, 32), {"weight": ("normal", 1)}),
    ],
    ids=["linear", "conv2d", "conv1d_groups", "conv_transpose2d", "bilinear", "embedding"],
)
def test_default_initialisation_matches_torch(make, expected):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, N(0, 1) for embeddings; the same
    expectation is checked on PyTorch's layer, so it is PyTorch's rule."""
    torch = pytest.importorskip("torch")
    ember.manual_seed(0)
    torch.manual_seed(0)
    module, torch_module = make(nn), make(torch.nn)
    ours = {k: v.detach().numpy().astype(np.float64) for k, v in module.named_parameters()}
    theirs = {k: v.detach().numpy().astype(np.float64) for k, v in torch_module.named_parameters()}
    assert list(ours) == list(theirs) == list(expected)
    for name, (kind, fan_in) in expected.items():
        for values in (ours[name], theirs[name]):
            if kind == "uniform":
                bound = 1 / math.sqrt(fan_in)
                assert np.abs(values).max() <= bound, name
                spread = bound / math.sqrt(3)
            else:
                spread = 1.0
            if values.size >= 1000:
                assert abs(values.std() / spread - 1) < 0.05, name
                assert abs(values.mean()) < 0.05 * spread, name


def test_dropout_statistics_and_modes():
    drop = nn.Dropout(0.25)
    x = ember.ones(200, 200)
    y = drop(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    np.testing.assert_array_equal(drop.eval()(x).numpy(), x.numpy())
    with pytest.raises(ValueError, match="p must be in"):
        nn.Dropout(1.5)


def test_embedding_padding_row_gets_no_gradient_and_sparse_flag():
    emb = nn.Embedding(6, 3, padding_idx=2, sparse=True)
    assert np.all(emb.weight.detach().numpy()[2] == 0)
    emb(ember.tensor([[2, 1, 2], [4, 2, 1]])).sum().backward()
    grad = emb.weight.grad
    assert isinstance(grad, ember.RowSparse)
    dense = grad.to_dense().numpy()
    np.testing.assert_array_equal(dense[2], 0)
    np.testing.assert_array_equal(dense[1], 2)
    frozen = nn.Embedding.from_pretrained(ember.randn(4, 2))
    assert not frozen.weight.requires_grad and tuple(frozen(ember.tensor([3])).shape) == (1, 2)


@pytest.mark.parametrize("sparse", [False, True])
def test_embedding_padding_row_gets_no_gradient_under_jit(sparse):
    emb = nn.Embedding(6, 3, padding_idx=2, sparse=sparse)
    emb.weight.array[2] = 0.5  # a padding row need not be zero (from_pretrained keeps it): it is still fixed
    opt = ember.optim.SGD(emb.parameters(), lr=0.1)

    @ember.jit
    def step(ids):
        opt.zero_grad()
        loss = (emb(ids) ** 2).sum()
        loss.backward()
        opt.step()
        return loss

    before = emb.weight.detach().numpy().copy()
    for _ in range(2):
        step(ember.tensor([[2, 1, 2], [4, 2, 1]]))
    after = emb.weight.detach().numpy()
    np.testing.assert_array_equal(after[2], before[2])
    assert not np.array_equal(after[1], before[1])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_batch_norm_in_training_keeps_the_dtype_everywhere(dtype):
    bn = nn.BatchNorm2d(3).to(dtype)
    x = ember.tensor(np.random.default_rng(0).standard_normal((4, 3, 5, 5)), dtype=dtype, requires_grad=True)
    y = bn(x)
    y.backward(ember.ones_like(y) * 0.5 + x.detach())
    for t in (y, x.grad, bn.weight.grad, bn.bias.grad, bn.running_mean, bn.running_var):
        assert t.dtype == np.dtype(dtype)
    expected = x.detach().numpy().astype(np.float64)
    expected = (expected - expected.mean((0, 2, 3), keepdims=True)) / np.sqrt(expected.var((0, 2, 3), keepdims=True))
    np.testing.assert_allclose(y.detach().numpy().astype(np.float64), expected, atol=0.05 if dtype in
                               ("float16", "bfloat16") else 1e-4)


def test_batch_norm_running_statistics_follow_torch_over_steps():
    torch = pytest.importorskip("torch")
    bn, tbn = nn.BatchNorm1d(3, momentum=None), torch.nn.BatchNorm1d(3, momentum=None)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal((5, 3)).astype(np.float32) * 2 + 1
        bn(ember.tensor(x))
        tbn(torch.from_numpy(x))
    np.testing.assert_allclose(bn.running_mean.numpy(), tbn.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), tbn.running_var.numpy(), rtol=1e-5, atol=1e-6)
    assert int(bn.num_batches_tracked.item()) == 3
    with pytest.raises(ValueError, match="expected 4-D input"):
        nn.BatchNorm2d(3)(ember.randn(2, 3))


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_empty_batch_in_training_follows_torch(momentum):
    """An empty batch in training gives an empty output and zero weight/bias gradients, counts as a batch and
    leaves the running statistics as they were (as PyTorch); it was refused as having one value per channel."""
    torch = pytest.importorskip("torch")
    bn, tbn = nn.BatchNorm2d(3, momentum=momentum), torch.nn.BatchNorm2d(3, momentum=momentum)
    x = ember.zeros(0, 3, 2, 2, requires_grad=True)
    out = bn(x)
    out.sum().backward()
    assert tuple(out.shape) == (0, 3, 2, 2) and tuple(x.grad.shape) == (0, 3, 2, 2)
    np.testing.assert_array_equal(bn.weight.grad.numpy(), np.zeros(3, np.float32))
    np.testing.assert_array_equal(bn.bias.grad.numpy(), np.zeros(3, np.float32))
    tbn(torch.zeros(0, 3, 2, 2))
    batch = np.arange(48, dtype=np.float32).reshape(4, 3, 2, 2)
    bn(ember.tensor(batch))
    tbn(torch.from_numpy(batch))
    for name, value in tbn.state_dict().items():
        np.testing.assert_allclose(bn.state_dict()[name].numpy(), value.numpy(), rtol=1e-6, err_msg=name)


def test_layer_errors_name_the_problem():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


@pytest.mark.parametrize(
    "make, text",
    [
        (lambda nn: nn.Linear(3, 2, bias=False), "Linear(in_features=3, out_features=2, bias=False)"),
        (lambda nn: nn.Conv2d(3, 8, 3, stride=2, padding=1, groups=1),
         "Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))"),
        (lambda nn: nn.BatchNorm2d(4), (
            "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)")),
        (lambda nn: nn.LayerNorm(5), "LayerNorm((5,), eps=1e-05, elementwise_affine=True, bias=True)"),
        (lambda nn: nn.Embedding(10, 3, padding_idx=0), "Embedding(10, 3, padding_idx=0)"),
        (lambda nn: nn.Dropout(0.1), "Dropout(p=0.1, inplace=False)"),
        (lambda nn: nn.ReLU(), "ReLU()"),
        (lambda nn: nn.LeakyReLU(0.2), "LeakyReLU(negative_slope=0.2)"),
        (lambda nn: nn.Softmax(dim=1), "Softmax(dim=1)"),
        (lambda nn: nn.Flatten(), "Flatten(start_dim=1, end_dim=-1)"),
        (lambda nn: nn.MaxPool2d(2), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"),
        (lambda nn: nn.CrossEntropyLoss(), "CrossEntropyLoss()"),
    ],
)
def test_repr_matches_torch(make, text):
    assert repr(make(nn)) == text
    torch = pytest.importorskip("torch")
    assert repr(make(torch.nn)) == text


_SIZED = tuple(f"{kind}{d}d" for kind in ("AdaptiveAvgPool", "AdaptiveMaxPool", "ReflectionPad", "ReplicationPad",
                                          "CircularPad", "ConstantPad", "ZeroPad") for d in (1, 2, 3))


@pytest.mark.parametrize("name", _SIZED)
def test_pooling_and_padding_classes_are_related_as_torchs(name):
    """The 2-d and 3-d adaptive poolings and reflection/replication/circular/zero paddings were subclasses of their
    1-d class (``isinstance(m, nn.AdaptiveAvgPool1d)`` true for an AdaptiveAvgPool2d), and ZeroPad2d/3d not of
    ConstantPad2d/3d; each is now a subclass of the same others as in torch.nn."""
    torch = pytest.importorskip("torch")
    for other in _SIZED:
        assert issubclass(getattr(nn, name), getattr(nn, other)) == \
            issubclass(getattr(torch.nn, name), getattr(torch.nn, other)), other
