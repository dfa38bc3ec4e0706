"""float32 matrix products on oneDNN's sgemm (the ``onednn`` extra): which products take it, their numbers
against float64, bits that do not depend on threads or row parts, the fallbacks, the cores it takes from
OpenBLAS, and compiled steps that call what eager mode calls. Skipped where oneDNN is not installed."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from test_graph_jit_training import _step as train_step

import ember
from ember import nn
from ember.backend import blas_threads, onednn
from ember.graph import Graph
from ember.ops import kernels
from ember.runtime import GraphFunction

pytestmark = pytest.mark.skipif(not onednn.available(), reason=f"oneDNN not available: {onednn.unavailable_reason()}")


def _record(monkeypatch, name: str) -> list:
    """``(a shape, b shape, taken)`` of each call of ``onednn.<name>``, in order."""
    seen = []
    call = getattr(onednn, name)

    def recording(a, b, out=None):
        result = call(a, b, out)
        seen.append((a.shape, b.shape, result is not None))
        return result

    monkeypatch.setattr(onednn, name, recording)
    return seen


@pytest.fixture
def products(monkeypatch):
    """The matrix products oneDNN computed, in order."""
    return _record(monkeypatch, "product")


@pytest.fixture
def stacks(monkeypatch):
    """The stacked products oneDNN computed, in order."""
    return _record(monkeypatch, "stacked_product")


def _matrix(rng, shape, order="C"):
    return np.asarray(rng.standard_normal(shape), np.float32, order=order)


@pytest.mark.parametrize("orders", [("C", "C"), ("F", "C"), ("C", "F"), ("F", "F")])
def test_products_openblas_would_thread_run_on_onednn_within_float32_rounding(products, orders):
    rng = np.random.default_rng(0)
    a, b = _matrix(rng, (160, 130), orders[0]), _matrix(rng, (130, 144), orders[1])
    assert kernels.large_product_pays(160, 130, 144, np.float32)
    got = kernels.matrix_product(np, a, b)
    assert products == [((160, 130), (130, 144), True)]
    np.testing.assert_allclose(got, a.astype(np.float64) @ b.astype(np.float64), rtol=1e-5, atol=1e-4)
    assert got.dtype == np.float32 and got.flags.c_contiguous


@pytest.mark.parametrize("a_shape, b_shape, dtype", [
    ((64, 784), (784, 256), np.float32),   # a batch of 64: fewer rows than _ONEDNN_SIDE
    ((784, 64), (64, 256), np.float32),    # its weight gradient: an inner size of 64
    ((60, 60), (60, 60), np.float32),      # small: np.dot, one OpenBLAS thread
    ((160, 130), (130, 144), np.float64),  # not float32
])
def test_other_products_stay_on_openblas_bit_for_bit(products, a_shape, b_shape, dtype):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(a_shape).astype(dtype), rng.standard_normal(b_shape).astype(dtype)
    np.testing.assert_array_equal(kernels.matrix_product(np, a, b), np.matmul(a, b))
    assert products == []


def test_bits_do_not_depend_on_the_thread_count_or_the_row_parts():
    """What lets a compiled step cut a product into row parts (``runtime.parallel.RowsInParts``) on oneDNN's
    one-thread sgemm and still give eager mode's numbers."""
    rng = np.random.default_rng(2)
    for a, b in ((_matrix(rng, (512, 430)), _matrix(rng, (430, 400))),
                 (_matrix(rng, (430, 512)).T, _matrix(rng, (400, 430), "F").T)):
        onednn.set_threads(2)
        try:
            whole = onednn.product(a, b)
        finally:
            onednn.set_threads(0)
        with blas_threads.single_threaded():  # a parallel region: one OpenMP thread
            alone = onednn.product(a, b)
        parts = np.empty_like(whole)
        for start, stop in ((0, 100), (100, 333), (333, 512)):
            assert onednn.one_thread_product(a[start:stop], b, parts[start:stop])
        np.testing.assert_array_equal(alone, whole)
        np.testing.assert_array_equal(parts, whole)


def test_operands_onednn_does_not_take_go_to_numpy(products):
    rng = np.random.default_rng(3)
    strided = _matrix(rng, (160, 260))[:, ::2]  # stored neither by rows nor by columns
    b = _matrix(rng, (130, 144))
    assert onednn.product(strided, b) is None
    np.testing.assert_array_equal(kernels.large_product(strided, b), np.matmul(strided, b))
    out = np.empty((160, 144), np.float32)
    assert kernels.large_product(strided, b, out=out) is out
    np.testing.assert_array_equal(out, np.matmul(strided, b))
    assert onednn.product(strided.astype(np.float64), b) is None
    assert onednn.product(np.ones(130, np.float32), b) is None  # a vector: not a matrix product here
    wrong = np.empty((144, 160), np.float32)
    assert onednn.product(_matrix(rng, (160, 130)), b, wrong) is None  # out of another shape: nothing written


def test_a_product_takes_openblas_cores_and_turning_onednn_off_gives_them_back(products):
    rng = np.random.default_rng(4)
    a, b = _matrix(rng, (160, 130)), _matrix(rng, (130, 144))
    onednn.release_cores()
    try:
        onednn.set_threads(2)
        blas_threads.set_outside_regions(2)
        kernels.matrix_product(np, a, b)
        if blas_threads.available():
            assert blas_threads.outside_regions() == 1  # OpenMP's threads took the cores
        onednn.set_enabled(False)
        if blas_threads.available():
            assert blas_threads.outside_regions() == 2
        np.testing.assert_array_equal(kernels.matrix_product(np, a, b), np.matmul(a, b))
        np.testing.assert_array_equal(kernels.large_product(a, b), np.matmul(a, b))
    finally:
        onednn.set_threads(0)
        onednn.set_enabled(True)
    assert [taken for *_, taken in products] == [True, False]  # the last while oneDNN was off


@pytest.mark.parametrize("compiled_while_off", [False, True])
def test_a_compiled_training_step_takes_the_products_eager_mode_takes(products, compiled_while_off):
    """Forward and weight-gradient products of 128-row batches on oneDNN, in eager mode and in ``ember.jit``'s
    code alike: the same bits after every step (Adam, whose compiled update keeps eager mode's order). The first
    layer's inner size (430) is one where oneDNN's bits differ from OpenBLAS's. Code compiled while oneDNN was
    off asks again on each call, as eager mode does."""
    def build():
        ember.manual_seed(0)
        net = nn.Sequential(nn.Linear(430, 144), nn.ReLU(), nn.Linear(144, 136), nn.ReLU(), nn.Linear(136, 10))
        return net, ember.optim.Adam(net.parameters(), lr=1e-3)

    rng = np.random.default_rng(5)
    batches = [(ember.tensor(_matrix(rng, (128, 430))), ember.tensor(rng.integers(0, 10, 128))) for _ in range(3)]
    eager_net, eager_opt = build()
    net, opt = build()
    step = ember.jit(lambda x, y: train_step(net, opt, x, y))
    if compiled_while_off:
        onednn.set_enabled(False)
        try:
            assert train_step(eager_net, eager_opt, *batches[0]).item() == step(*batches[0]).item()
        finally:
            onednn.set_enabled(True)
    for x, y in batches:
        products.clear()
        expected = train_step(eager_net, eager_opt, x, y).item()
        eager_calls = len(products)
        assert eager_calls >= 5  # two forward products, three weight gradients, the inner input gradients
        assert step(x, y).item() == expected
        assert len(products) > eager_calls  # the compiled step's products went to oneDNN too
        for a, b in zip(eager_net.parameters(), net.parameters()):
            np.testing.assert_array_equal(b.detach().numpy(), a.detach().numpy())


def test_a_process_forked_after_a_product_still_multiplies():
    """GNU OpenMP's pool does not survive a fork: the child's products run on one thread, not waiting forever."""
    script = (
        "import os, numpy as np\n"
        "from ember.ops import kernels\n"
        "a, b = np.ones((256, 300), np.float32), np.ones((300, 200), np.float32)\n"
        "before = kernels.matrix_product(np, a, b).sum()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0 if kernels.matrix_product(np, a, b).sum() == before == 256 * 300 * 200 else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "assert os.waitstatus_to_exitcode(status) == 0\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_code_for_an_unknown_batch_takes_each_batch_sizes_product(products):
    """One function serves every batch size (``runtime.sized``): each size's call is the one eager mode makes for
    it, OpenBLAS's for 8 rows and oneDNN's for 256, with eager mode's bits."""
    rng = np.random.default_rng(6)
    weight, bias = _matrix(rng, (144, 430)), _matrix(rng, (144,))
    graph = Graph()
    x = graph.input("x", (None, 430), np.float32)
    with graph.building():
        graph.outputs = [ember.linear(x, ember.tensor(weight), ember.tensor(bias))]
    function = GraphFunction(graph)
    for rows, on_onednn in ((8, False), (256, True), (8, False)):
        batch = _matrix(rng, (rows, 430))
        products.clear()
        expected = ember.linear(ember.tensor(batch), ember.tensor(weight), ember.tensor(bias)).numpy()
        assert bool(products) == on_onednn
        got = function(batch)
        np.testing.assert_array_equal(got[0] if isinstance(got, (list, tuple)) else got, expected)
        assert len(products) == (2 if on_onednn else 0)


def test_stacks_of_large_matrices_run_on_onednns_matmul(stacks):
    """Attention-shaped stacks (leading batch and head axes, a transposed view on the right) take oneDNN's matmul
    over the whole stack, within float32 rounding of float64; a stack of one matrix (whose first stride NumPy may
    give as 0) too."""
    rng = np.random.default_rng(7)
    a = _matrix(rng, (2, 3, 160, 430))
    b = _matrix(rng, (2, 3, 144, 430)).swapaxes(-1, -2)
    got = kernels.matrix_product(np, a, b)
    assert stacks == [(a.shape, b.shape, True)]
    assert got.shape == (2, 3, 160, 144)
    np.testing.assert_allclose(got, np.matmul(a.astype(np.float64), b), rtol=1e-5, atol=1e-3)
    single = onednn.stacked_product(a[:1, :1], b[:1, :1])
    np.testing.assert_allclose(single, np.matmul(a[:1, :1].astype(np.float64), b[:1, :1]), rtol=1e-5, atol=1e-3)
    column = _matrix(rng, (430, 160)).T[None]  # a stack of one matrix stored by columns: its first stride is 0
    assert column.strides[0] == 0
    np.testing.assert_allclose(onednn.stacked_product(column, b[0, :1]),
                               np.matmul(column.astype(np.float64), b[0, :1]), rtol=1e-5, atol=1e-3)
    out = np.empty_like(got)
    assert kernels.large_product(a, b, out=out) is out
    np.testing.assert_array_equal(out, got)
    strided = np.empty((2, 3, 160, 288), np.float32)[..., ::2]  # an out oneDNN does not take: NumPy's call
    assert onednn.stacked_product(a, b, strided) is None
    assert kernels.large_product(a, b, out=strided) is strided
    np.testing.assert_array_equal(strided, np.matmul(a, b))


@pytest.mark.parametrize("a_shape, b_shape, taken", [
    ((16, 64, 32), (16, 32, 64), True),       # a small stack: NumPy's loop, cheaper than a call below 2^22
    ((4, 160, 430), (430, 144), False),       # a stack times one matrix (broadcast)
    ((4, 160, 430), (1, 430, 144), False),    # leading shapes that differ (broadcast)
])
def test_other_stacks_stay_on_numpy_bit_for_bit(stacks, a_shape, b_shape, taken):
    rng = np.random.default_rng(8)
    a, b = _matrix(rng, a_shape), _matrix(rng, b_shape)
    np.testing.assert_array_equal(kernels.matrix_product(np, a, b), np.matmul(a, b))
    assert stacks == []
    assert (onednn.stacked_product(a, b) is not None) == taken  # what oneDNN itself would take


def test_compiled_stacked_products_take_the_call_eager_mode_takes(stacks):
    rng = np.random.default_rng(9)
    a, b = _matrix(rng, (3, 160, 430)), _matrix(rng, (3, 430, 144))
    graph = Graph()
    x, y = graph.input("x", a.shape, np.float32), graph.input("y", b.shape, np.float32)
    with graph.building():
        graph.outputs = [ember.matmul(x, y)]
    got = GraphFunction(graph)(a, b)
    expected = ember.matmul(ember.tensor(a), ember.tensor(b)).numpy()
    np.testing.assert_array_equal(got[0] if isinstance(got, (list, tuple)) else got, expected)
    assert [taken for *_, taken in stacks] == [True, True]


def test_attention_heads_as_strided_views_multiply_on_onednn(stacks):
    """q @ k.T and weights @ v over (batch, heads) axes that are strided views of (batch, tokens, heads, width)
    projections run as one oneDNN call each, within float32 rounding of float64; an ``out`` is written in place."""
    rng = np.random.default_rng(10)
    batch, tokens, heads, width = 3, 40, 4, 48
    q = _matrix(rng, (batch, tokens, heads, width)).transpose(0, 2, 1, 3)  # (B, H, T, D), not contiguous
    k = _matrix(rng, (batch, tokens, heads, width)).transpose(0, 2, 3, 1)  # (B, H, D, T)
    scores = onednn.stacked_product(q, k)
    np.testing.assert_allclose(scores, np.matmul(q.astype(np.float64), k), rtol=1e-5, atol=1e-4)
    v = _matrix(rng, (batch, tokens, heads, width)).transpose(0, 2, 1, 3)
    out = np.empty((batch, heads, tokens, width), np.float32)
    assert onednn.stacked_product(scores, v, out) is out
    np.testing.assert_allclose(out, np.matmul(scores.astype(np.float64), v), rtol=1e-5, atol=1e-2)
    assert [taken for *_, taken in stacks] == [True, True]
