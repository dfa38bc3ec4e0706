"""An unknown (dynamic) dimension read by user code while a graph is built: ``UnknownSize`` refuses a Python branch
on it (``ember.jit`` then traces per size) and keeps the reshapes the graph can express."""

import numpy as np
import pytest

import ember
from ember.graph import Graph
from ember.ops.unknown_size import UnknownSize, UnknownSizeError


def _batches():
    rng = np.random.default_rng(0)
    return [ember.tensor(rng.standard_normal((n, 4, 3)).astype(np.float32)) for n in (1, 3, 5)]


def test_a_branch_on_an_unknown_batch_size_traces_per_size_instead_of_taking_a_wrong_branch():
    def f(x):
        if x.shape[0] == 1:  # None == 1 was silently False for every size
            return x.sum() * 100
        return x.sum()

    fast = ember.jit(f, dynamic=True)
    for x in _batches():
        np.testing.assert_allclose(fast(x).numpy(), f(x).numpy(), rtol=1e-6)
    assert len(fast.specialized) == 1
    message = fast.specialized[0]
    assert "comparing it with 1" in message and "dimension 0 of %0 (arg0): float32[?, 4, 3]" in message
    assert "test_unknown_size.py" in message and "dynamic=False" in message


@pytest.mark.parametrize("use", [
    lambda n: n == 1, lambda n: n != 2, lambda n: n > 1, lambda n: bool(n), lambda n: range(n), lambda n: int(n),
    lambda n: [0, 1][n], lambda n: n in (1, 2), lambda n: (n * 2) == 4, lambda n: ember.tensor([n, 1]),
])
def test_every_use_that_needs_the_number_raises_naming_the_dimension(use):
    g = Graph()
    x = g.input("x", (None, 4, 3), "float32")
    with g.building():
        n = x.shape[0]
        assert isinstance(n, UnknownSize) and x.size(0).what == n.what and str(n) == "?"
        with pytest.raises(UnknownSizeError, match=r"dimension 0 of %0 \(x\): float32\[\?, 4, 3\]( \* 2)? is unknown "
                                                   r"while the graph is built .* dynamic=False"):
            use(n)
        with pytest.raises(TypeError, match=r"^len\(\)"):
            len(x)
        assert x.shape == (None, 4, 3) and x.shape[1:] == (4, 3)  # the known sizes are plain ints
    assert x.shape == (None, 4, 3) and x.shape[0] is None  # a built graph shows its unknown sizes as None


@pytest.mark.parametrize("name, f", [
    ("reshape", lambda x: x.reshape(x.shape[0], -1)),
    ("view", lambda x: x.view(x.size(0), 12)),
    ("computed", lambda x: x.reshape(x.shape[0] * 4, 3)),
    ("computed_reflected", lambda x: x.reshape(4 * x.size(0) - 0, 3)),
    ("whole_shape", lambda x: (x * 2).reshape(-1, 12).reshape(x.shape)),
])
def test_reshapes_by_an_unknown_size_compile_once_for_every_size(name, f):
    fast = ember.jit(lambda x: f(x) * 1, dynamic=True)
    for x in _batches():
        np.testing.assert_array_equal(fast(x).numpy(), f(x).numpy())
    assert fast.cache.stats()["compiles"] == 1 and not fast.specialized, fast.specialized


def test_eager_shapes_stay_plain_tuples():
    x = ember.ones(2, 3)
    assert x.shape == (2, 3) and type(x.shape[0]) is int and x.size(0) == 2 and len(x) == 2


@pytest.mark.parametrize("name, make", [
    ("zeros", lambda x: ember.zeros(x.size(0), 3)),
    ("zeros_shape", lambda x: ember.zeros(x.shape)),
    ("ones_list", lambda x: ember.ones([2, x.shape[0]], dtype=ember.float64)),
    ("full", lambda x: ember.full((x.size(0), 1, 3), 2.5)),
    ("full_one_size", lambda x: ember.full(x.size(0), 7)),
    ("empty", lambda x: ember.empty(x.size(0), 4)),
    ("zeros_like", lambda x: ember.zeros_like(x)),
    ("ones_like_dtype", lambda x: ember.ones_like(x, dtype=ember.int32)),
    ("full_like", lambda x: ember.full_like(x[:, 0], -1.5)),
    ("new_zeros", lambda x: x.new_zeros(x.size(0), 2)),
    ("new_full", lambda x: x.new_full((1, x.size(0)), 3.0)),
    ("computed", lambda x: ember.zeros(x.size(0) * 2 - 1, (x.shape[0] + 3) // 2)),
    ("arange", lambda x: ember.arange(x.size(0))),
    ("arange_bounds", lambda x: ember.arange(1, x.size(0) * 3, 2, dtype=ember.float32)),
    ("slice", lambda x: x[:x.size(0) - 1]),
    ("slices", lambda x: ember.ones(9, 9)[1:x.shape[0] + 1, ..., -x.shape[0]:]),
    ("slice_after_int", lambda x: ember.ones(2, 9, 9)[1, None, :x.size(0) * 2]),
])
def test_creation_by_an_unknown_size_reads_it_when_the_graph_runs(name, make):
    # each needed the number (int(None)), so ember.jit traced once per batch size; the sizes are now read from the
    # value when the graph runs: one compile serves every batch size
    def f(x):
        made = make(x)
        return made + made.sum() if made.dtype != ember.bool else made

    fast = ember.jit(f, dynamic=True)
    for x in _batches():
        got, expected = fast(x), f(x)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    assert fast.cache.stats()["compiles"] == 1 and not fast.specialized, fast.specialized


def test_a_trainable_tensor_of_an_unknown_size_is_refused():
    g = Graph()
    x = g.input("x", (None, 4, 3), "float32")
    with g.building():
        for make in (lambda: ember.zeros(x.size(0), requires_grad=True),
                     lambda: ember.zeros_like(x, requires_grad=True),
                     lambda: ember.arange(x.size(0), requires_grad=True)):
            with pytest.raises(ValueError, match="requires_grad=True for a (tensor|range) of unknown size"):
                make()


def test_a_slice_by_an_unknown_size_passes_its_gradient():
    def f(x):
        return (x[x.size(0) // 2:] ** 2).sum()

    def grad(x):
        return ember.autograd.grad(f(x), x)[0]

    fast = ember.jit(grad, dynamic=True)
    for x in _batches():
        x.requires_grad_()
        expected = grad(x)
        assert np.count_nonzero(expected.numpy()) == x.numel() - x.shape[0] // 2 * 12
        np.testing.assert_array_equal(fast(x).numpy(), expected.numpy())
    assert fast.cache.stats()["compiles"] == 1 and not fast.specialized, fast.specialized


def test_a_range_whose_bounds_are_past_int64_is_refused_naming_the_op():
    from ember.ops.registry import Spec
    from ember.ops.sized import ARANGE_SIZED

    with pytest.raises(ValueError, match="arange_sized.*int64"):
        ARANGE_SIZED.infer(Spec((2, 3), np.dtype("float32")), start=10**23, stop=("*", (0, 1), 2), step=1,
                           dtype=np.dtype("int64"))


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_a_recurrent_training_step_compiles_once_for_every_batch_size(mode):
    # the layer's zero first state and its (steps * batch) rows needed the number, so a batch_first RNN's step
    # traced once per batch size; the state now reads the batch when the graph runs and the rows stay 3-D
    import copy

    ember.manual_seed(0)
    extra = {"proj_size": 3} if mode == "LSTM" else {}
    rnn = getattr(ember.nn, mode)(3, 5, num_layers=2, bidirectional=True, batch_first=True, **extra)
    head = ember.nn.Linear(2 * (3 if extra else 5), 2)
    twin_rnn, twin_head = copy.deepcopy(rnn), copy.deepcopy(head)

    def stepper(rnn, head):
        opt = ember.optim.SGD([*rnn.parameters(), *head.parameters()], lr=0.1)

        def step(x, y):
            loss = ((head(rnn(x)[0][:, -1]) - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
        return step

    fast, eager = ember.jit(stepper(rnn, head), dynamic=True), stepper(twin_rnn, twin_head)
    for batch in (4, 6, 1):
        x, y = ember.randn(batch, 7, 3), ember.randn(batch, 2)
        np.testing.assert_allclose(float(fast(x, y)), float(eager(x, y)), rtol=1e-5)
    for p, q in zip(rnn.parameters(), twin_rnn.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-6)
    assert fast.cache.stats()["compiles"] == 1 and not fast.specialized, fast.specialized


def test_einsum_over_an_unknown_batch_compiles_once():
    # einsum's contractions reshaped to sizes computed from every dimension, so it refused an unknown batch
    w = ember.randn(4, 6)

    def attend(x):
        q = ember.einsum("...ij,jk->...ik", x, w)
        return ember.einsum("bqd,bkd->bqk", q, q).softmax(-1)

    fast = ember.jit(attend, dynamic=True)
    for batch in (2, 5, 1):
        x = ember.randn(batch, 3, 4)
        np.testing.assert_allclose(fast(x).numpy(), attend(x).numpy(), rtol=1e-5, atol=1e-6)
    assert fast.cache.stats()["compiles"] == 1 and not fast.specialized, fast.specialized


def test_a_call_whose_sizes_break_a_size_the_graph_fixed_is_compiled_alone():
    # x[:, :1] is 1 long at every size but 0: the function shared by (n, n) calls raised a GraphError for (0, 0)
    # rather than falling back to a trace for those sizes, as every other size-specific case does
    def f(x):
        return (x[:, :1] * 2).sum(1)

    fast = ember.jit(f)
    for n in (2, 3, 0, 1):
        x = ember.ones(n, n)
        got, expected = fast(x), f(x)
        assert got.shape == expected.shape == (n,)
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    assert len(fast.specialized) == 1 and "sizes [0, 0]" in fast.specialized[0], fast.specialized
