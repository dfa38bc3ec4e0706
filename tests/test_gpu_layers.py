"""Layers and optimizers on the cuda device: a few training steps give the CPU's numbers to rounding.

Each case builds one small network twice from one seed, moves one copy to the GPU, trains both for a few
steps on the same batches and compares the losses and the final weights. Skipped without CuPy and a GPU.
"""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not ember.cuda_is_available(), reason="needs CuPy and a CUDA GPU"),
]


class _Pooled(nn.Module):
    """Embedding-bag features into a linear head (the CTR model's shape)."""

    def __init__(self, sparse: bool):
        super().__init__()
        self.bag = nn.EmbeddingBag(50, 8, mode="sum", sparse=sparse)
        self.head = nn.Linear(8, 3)

    def forward(self, ids):
        return self.head(self.bag(ids))


class _Tokens(nn.Module):
    """Embedding, a recurrent or attention body, and a linear head on the last step."""

    def __init__(self, body: str):
        super().__init__()
        self.embed = nn.Embedding(20, 16)
        self.kind = body
        if body == "gru":
            self.body = nn.GRU(16, 16, batch_first=True)
        elif body == "lstm":
            self.body = nn.LSTM(16, 16, num_layers=2, batch_first=True)
        else:
            self.body = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0, batch_first=True)
        self.head = nn.Linear(16, 3)

    def forward(self, ids):
        h = self.body(self.embed(ids))
        if isinstance(h, tuple):
            h = h[0]
        return self.head(h[:, -1])


class _PackedTokens(nn.Module):
    """Embedding, a bidirectional LSTM over the sequences packed at their lengths, a linear head on the final states."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 16)
        self.body = nn.LSTM(16, 16, bidirectional=True, batch_first=True)
        self.head = nn.Linear(32, 3)

    def forward(self, ids):
        lengths = [1 + i % ids.shape[1] for i in range(ids.shape[0])]
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.body(packed)
        return self.head(ember.concat([h_n[0], h_n[1]], axis=1))


NETS = {
    "mlp": lambda: nn.Sequential(nn.Linear(6, 16), nn.GELU(), nn.LayerNorm(16), nn.Linear(16, 3)),
    "cnn": lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(4, 4, 3, stride=2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(4, 3)),
    "cnn3d": lambda: nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(), nn.MaxPool3d(2),
                                   nn.ConvTranspose3d(4, 4, 2, stride=2, groups=2),
                                   nn.AvgPool3d(3, stride=2, padding=1), nn.Conv3d(4, 4, 3, stride=2),
                                   nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 3)),
    "gru": lambda: _Tokens("gru"),
    "lstm": lambda: _Tokens("lstm"),
    "packed_lstm": _PackedTokens,
    "transformer": lambda: _Tokens("transformer"),
    "embedding_bag": lambda: _Pooled(sparse=False),
}


def _inputs(kind: str, rng) -> np.ndarray:
    if kind == "mlp":
        return rng.standard_normal((16, 6)).astype(np.float32)
    if kind == "cnn":
        return rng.standard_normal((16, 1, 8, 8)).astype(np.float32)
    if kind == "cnn3d":
        return rng.standard_normal((16, 1, 6, 8, 6)).astype(np.float32)
    if kind == "embedding_bag":
        return rng.integers(0, 50, (16, 5))
    return rng.integers(0, 20, (16, 7))


OPTIMIZERS = {
    "sgd_nesterov": lambda p: ember.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam_amsgrad": lambda p: ember.optim.Adam(p, lr=1e-2, amsgrad=True),
    "adamw": lambda p: ember.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
    "adagrad": lambda p: ember.optim.Adagrad(p, lr=0.1),
    "rmsprop": lambda p: ember.optim.RMSprop(p, lr=1e-2, momentum=0.5),
    "ftrl": lambda p: ember.optim.Ftrl(p, lr=0.1),
}


def _train(build, make_optimizer, batches, device: str, steps: int = 5) -> tuple:
    ember.manual_seed(0)
    net = build().to(device)
    optimizer = make_optimizer(net.parameters())
    losses = []
    for step in range(steps):
        x, y = batches[step % len(batches)]
        optimizer.zero_grad()
        loss = ember.cross_entropy(net(ember.tensor(x, device=device)), ember.tensor(y, device=device))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(p.device == ember.device(device) for p in net.parameters())
    return losses, {k: v.to("cpu").numpy() for k, v in net.state_dict().items()}


def _compare(build, make_optimizer, kind: str):
    rng = np.random.default_rng(1)
    batches = [(_inputs(kind, rng), rng.integers(0, 3, 16)) for _ in range(2)]
    cpu_losses, cpu_weights = _train(build, make_optimizer, batches, "cpu")
    gpu_losses, gpu_weights = _train(build, make_optimizer, batches, "cuda")
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-4, atol=1e-5)
    for name, value in cpu_weights.items():
        np.testing.assert_allclose(gpu_weights[name], value, rtol=1e-3, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("kind", sorted(NETS))
def test_layers_train_on_the_gpu_as_on_the_cpu(kind):
    # SGD, not Adam: a conv bias before batch norm and attention's key bias have a zero gradient up to
    # rounding, which Adam's normalisation turns into full-size steps of different signs on the two devices.
    _compare(NETS[kind], OPTIMIZERS["sgd_nesterov"], kind)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizers_update_on_the_gpu_as_on_the_cpu(name):
    _compare(NETS["mlp"], OPTIMIZERS[name], "mlp")


@pytest.mark.parametrize("name", ["sgd_momentum", "adagrad", "ftrl"])
def test_sparse_embedding_gradients_on_the_gpu(name):
    make = {"sgd_momentum": lambda p: ember.optim.SGD(p, lr=0.1, momentum=0.9),
            "adagrad": lambda p: ember.optim.Adagrad(p, lr=0.1),
            "ftrl": lambda p: ember.optim.Ftrl(p, lr=0.1)}[name]
    _compare(lambda: _Pooled(sparse=True), make, "embedding_bag")


def test_dropout_on_the_gpu_keeps_the_expected_fraction_and_scale():
    ember.manual_seed(0)
    x = ember.ones(200_000, device="cuda")
    y = ember.dropout(x, 0.3, training=True)
    assert y.device == ember.device("cuda:0")
    kept = y.to("cpu").numpy()
    assert abs((kept == 0).mean() - 0.3) < 0.01
    np.testing.assert_allclose(kept[kept != 0], 1 / 0.7, rtol=1e-6)


def _splitmix64_keep(seed, n: int, threshold) -> np.ndarray:
    """The GPU dropout kernel's keep decisions, computed with NumPy's wrapping uint64 arithmetic."""
    u = np.uint64
    z = u(seed) + np.arange(1, n + 1, dtype=u) * u(0x9E3779B97F4A7C15)
    z = (z ^ (z >> u(30))) * u(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> u(27))) * u(0x94D049BB133111EB)
    z ^= z >> u(31)
    return (z >> u(32)).astype(np.uint32) >= threshold


def test_gpu_dropout_masks_are_splitmix64_of_one_seed_from_the_global_generator():
    ember.manual_seed(5)
    seed = ember.random.draw_seed()  # what the next dropout draws
    ember.manual_seed(5)
    kept = ember.dropout(ember.ones(10_000, device="cuda"), 0.25).cpu().numpy() != 0
    np.testing.assert_array_equal(kept, _splitmix64_keep(seed, 10_000, ember.random.keep_threshold(0.25)))


def test_gpu_dropout_follows_manual_seed_and_the_saved_generator_state():
    x = ember.ones(4096, device="cuda")
    ember.manual_seed(1)
    first = ember.dropout(x, 0.5).cpu().numpy()
    state = ember.get_rng_state()
    second = ember.dropout(x, 0.5).cpu().numpy()
    ember.manual_seed(1)
    np.testing.assert_array_equal(ember.dropout(x, 0.5).cpu().numpy(), first)
    ember.set_rng_state(state)
    np.testing.assert_array_equal(ember.dropout(x, 0.5).cpu().numpy(), second)
    assert (first != second).any()


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_gpu_dropout_keeps_the_dtype_and_its_gradient_is_the_mask(dtype):
    ember.manual_seed(2)
    x = ember.tensor(np.ones(3000), dtype=dtype, device="cuda", requires_grad=True)
    y = ember.dropout(x, 0.2)
    y.sum().backward()
    assert y.dtype == np.dtype(dtype) and x.grad.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(x.grad.cpu().numpy(), y.detach().cpu().numpy())
    assert abs((y.detach().cpu().numpy() == 0).mean() - 0.2) < 0.03


def test_creation_functions_make_tensors_on_the_gpu():
    for t in (ember.zeros(3, device="cuda"), ember.ones(2, 3, device="cuda"), ember.arange(5, device="cuda"),
              ember.randn(4, device="cuda"), ember.full((2,), 7.0, device="cuda"), ember.eye(3, device="cuda")):
        assert t.device == ember.device("cuda:0")
    assert ember.zeros_like(ember.ones(2, device="cuda")).device == ember.device("cuda:0")


def test_compiling_a_gpu_function_is_refused_clearly():
    step = ember.jit(lambda x: (x * 2.0).sum())
    with pytest.raises(RuntimeError, match=r"cuda:0.*not built yet \(run the model eagerly on the GPU\)"):
        step(ember.ones(3, device="cuda"))
