"""``ember.jit``: tracing eager functions into the IR; results equal eager mode."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from graph_cases import CASES, _inputs

import ember


@pytest.mark.parametrize("name,fn,shapes", CASES, ids=[c[0] for c in CASES])
def test_jit_matches_eager(name, fn, shapes):
    arrays = _inputs(shapes, seed=3)
    fast = ember.jit(fn)
    expected = fn(*[ember.tensor(a) for a in arrays]).numpy()
    got = fast(*[ember.tensor(a) for a in arrays])
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-14)


def test_jit_retraces_per_signature_and_reads_parameters_live():
    ember.manual_seed(0)
    net = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU(), ember.nn.Linear(8, 2))
    fast = ember.jit(lambda x: ember.softmax(net(x)))
    x = ember.randn(3, 4)
    np.testing.assert_allclose(fast(x).numpy(), ember.softmax(net(x)).detach().numpy(), rtol=1e-6)
    fast(ember.randn(3, 4))
    assert fast.traces == 1
    fast(ember.randn(5, 4))
    assert fast.traces == 2
    with ember.no_grad():
        for p in net.parameters():
            p.array[...] = p.array * 0.5  # parameters change in place: the compiled code sees it
    np.testing.assert_allclose(fast(x).numpy(), ember.softmax(net(x)).detach().numpy(), rtol=1e-6)
    assert fast.frozen == []
    assert [n.op.name for n in fast.graph_for(x).nodes] == ["linear", "relu", "linear", "softmax"]


def test_a_traced_evaluation_reads_buffers_and_frozen_parameters_as_they_are_now():
    ember.manual_seed(0)
    net = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.BatchNorm1d(8), ember.nn.ReLU(), ember.nn.Linear(8, 2))
    opt = ember.optim.SGD(net.parameters(), lr=0.1)
    evaluate = ember.jit(lambda x: net(x))
    x = ember.randn(16, 4)
    for _ in range(3):  # training between the calls moves the running statistics
        net.train()
        for _ in range(4):
            opt.zero_grad()
            (net(ember.randn(16, 4) * 3 + 1) ** 2).mean().backward()
            opt.step()
        net.eval()
        np.testing.assert_allclose(evaluate(x).numpy(), net(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert evaluate.traces == 1 and not any("float32[8]" in f for f in evaluate.frozen)
    for p in net.parameters():
        p.requires_grad_(False)  # a frozen model: its parameters are still read on every call
    evaluate(x)
    net.load_state_dict({k: v * 0.5 for k, v in net.state_dict().items()})
    np.testing.assert_allclose(evaluate(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-6)


def test_jit_reports_what_it_froze_and_refuses_value_branches():
    table = ember.tensor([1.0, 2.0, 3.0])

    @ember.jit
    def scaled(x, k):
        return {"out": (x * table * k,), "k": k}

    result = scaled(ember.ones(3), 2.0)
    assert result["k"] == 2.0 and result["out"][0].numpy().tolist() == [2.0, 4.0, 6.0]
    assert scaled(ember.ones(3), 3.0)["out"][0].numpy().tolist() == [3.0, 6.0, 9.0]
    assert scaled.traces == 2
    assert any("argument 1 = 2.0" in f for f in scaled.frozen)
    assert any("as a constant" in f for f in scaled.frozen)

    @ember.jit
    def branchy(x):
        return x if x.sum() > 0 else -x

    with pytest.raises(TypeError, match="truth value"):
        branchy(ember.ones(2))
    with pytest.raises(TypeError, match="hashable"):
        scaled(ember.ones(3), [1.0])


def test_a_named_tuple_result_comes_back_as_its_own_type():
    pair = collections.namedtuple("Pair", "doubled rest")

    @ember.jit
    def split(x):
        return pair(x * 2, {"plus": x + 1, "k": 3})

    for _ in range(2):  # the trace, then its cached code
        got = split(ember.ones(2))
        assert type(got) is pair and got.doubled.numpy().tolist() == [2.0, 2.0]
        assert got.rest["plus"].numpy().tolist() == [2.0, 2.0] and got.rest["k"] == 3


def test_rand_and_randn_in_a_traced_function_draw_anew_on_every_call():
    @ember.jit
    def noisy(x):
        return x + ember.randn(2, 3), ember.rand(2, 3)

    x = ember.zeros(2, 3)
    ember.manual_seed(0)
    first = [[t.numpy() for t in noisy(x)] for _ in range(3)]
    assert not np.array_equal(first[0][0], first[1][0]) and not np.array_equal(first[1][1], first[2][1])
    assert all(0.0 <= u.min() and u.max() < 1.0 for _, u in first)
    ember.manual_seed(0)  # the draws follow the seed
    again = [[t.numpy() for t in noisy(x)] for _ in range(3)]
    np.testing.assert_array_equal(np.array(first), np.array(again))
    assert noisy.traces == 1 and noisy.frozen == []


def test_switching_train_and_eval_retraces_and_each_mode_keeps_its_trace():
    ember.manual_seed(0)
    net = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.Dropout(0.5), ember.nn.Linear(8, 2))
    fast = ember.jit(lambda x: net(x))
    x = ember.randn(3, 4)
    for _ in range(3):  # into the steady state
        fast(x)
    net.eval()
    expected = net(x).detach().numpy()
    for _ in range(3):
        np.testing.assert_array_equal(fast(x).numpy(), expected)
    net.train()
    ember.manual_seed(1)
    eager = net(x).detach().numpy()
    ember.manual_seed(1)
    np.testing.assert_array_equal(fast(x).numpy(), eager)
    net.eval()
    np.testing.assert_array_equal(fast(x).numpy(), expected)
    assert fast.traces == 2


def test_detach_in_a_traced_function_stops_gradients_as_eagerly():
    # it was refused ("a graph has no op that stops gradients"), so a GAN step with fake.detach() could not be traced
    def step(g, d, z):
        fake = z @ g
        d_loss = ((fake.detach() @ d) ** 2).sum()  # the discriminator's loss: no gradient into g
        g_loss = (fake @ d.detach()).sum()  # the generator's: no gradient into d
        return ember.grad(d_loss + g_loss, [g, d], allow_unused=True)

    rng = np.random.default_rng(0)
    g, d, z = (ember.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
               for s in [(3, 3), (3, 1), (4, 3)])
    fast = ember.jit(step)
    for got, want in zip(fast(g, d, z), step(g, d, z)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_retain_grad_of_a_traced_value_is_refused_and_compile_runs_it_eagerly():
    # h.retain_grad() on a value computed in the traced call did nothing: h.grad after backward was None where eager
    # gives the gradient (ones); an argument's retain_grad stays a leaf's no-op, its .grad set by the call
    net = ember.nn.Linear(3, 2)

    def fn(x):
        x.retain_grad()
        h = net(x)
        h.retain_grad()
        (h * 2).sum().backward()
        return h.grad

    with pytest.raises(TypeError, match="retain_grad: %.* symbolic graph value"):
        ember.jit(fn)(ember.ones(2, 3, requires_grad=True))
    with pytest.warns(UserWarning, match="graph break"):
        got = ember.compile(fn)(ember.ones(2, 3, requires_grad=True))
    np.testing.assert_array_equal(got.numpy(), fn(ember.ones(2, 3, requires_grad=True)).numpy())
    assert got.numpy().tolist() == [[2.0, 2.0], [2.0, 2.0]]
    x = ember.ones(3, requires_grad=True)
    ember.jit(lambda x: (x.retain_grad(), (x * 2).sum().backward()) and None)(x)
    assert x.grad.numpy().tolist() == [2.0, 2.0, 2.0]


def test_a_jit_function_called_in_another_trace_joins_it_and_may_recurse():
    inner = ember.jit(lambda a: a * 2)
    x = ember.tensor(np.arange(3, dtype=np.float32))
    for _ in range(3):  # into its steady state
        inner(x)
    outer = ember.jit(lambda a: inner(a) + 1)
    for _ in range(3):
        np.testing.assert_array_equal(outer(x).numpy(), [1, 3, 5])
    assert inner.traces == 1 and outer.traces == 1
    w = ember.nn.Parameter(ember.ones(3))
    for _ in range(3):
        inner(w)
    outer = ember.jit(lambda a: inner(w) + a)  # a parameter captured by the inner call: read on every call
    outer(x)
    w.data[...] = 5
    np.testing.assert_array_equal(outer(x).numpy(), [10, 11, 12])

    @ember.jit(dynamic=False)
    def total(a):  # unrolled at trace time, once per shape
        return a.sum() if a.shape[0] == 1 else total(a[1:]) + a[0].sum()

    for n in (4, 4, 3):
        m = np.arange(3 * n, dtype=np.float32).reshape(n, 3)
        assert total(ember.tensor(m)).item() == m.sum()
    assert total.traces == 2


def test_jit_on_a_method_binds_each_instance():
    class Scaled(ember.nn.Module):
        def __init__(self, scale):
            super().__init__()
            self.scale = ember.nn.Parameter(ember.tensor([float(scale)]))

        @ember.jit
        def forward(self, x):
            return x * self.scale

    a, b = Scaled(2), Scaled(3)
    x = ember.ones(2)
    for _ in range(3):
        np.testing.assert_array_equal(a(x).numpy(), [2, 2])
        np.testing.assert_array_equal(b(x).numpy(), [3, 3])
    assert a.forward is a.forward and a.forward is not b.forward and a.forward.traces == 1
    a.scale.data[...] = 5  # its parameter is read on every call
    np.testing.assert_array_equal(a(x).numpy(), [5, 5])


@pytest.mark.parametrize("dynamic", [None, False])
def test_a_structure_of_tensors_as_an_argument_is_a_clear_error(dynamic):
    add = ember.jit(lambda pair: pair[0] + pair[1], dynamic=dynamic)
    x, y = ember.ones(2), ember.ones(2)
    for pair in [(x, y), [x, y], {0: x, 1: (y,)}]:  # a tuple would be frozen: x's later values never read
        with pytest.raises(TypeError, match=f"jit <lambda>: argument 0 is a {type(pair).__name__} holding Tensors"):
            add(pair)


def test_python_zeros_keep_their_sign_in_eager_and_traced_code():
    # 0.0 == -0.0 as Python numbers, but -0.0 + 0.0 is 0.0 and -0.0 - 0.0 is -0.0: each cached constant keeps
    # its sign, and simplify drops only x + -0.0 and x - 0.0
    zeros = (-0.0, 0.0, complex(-0.0, -0.0), 0j)

    def fn(x):
        return tuple(r for z in zeros for r in (x + z, x - z, x * z))

    x0 = np.array([-0.0, 0.0, 2.0], np.float32)
    as_numpy = [np.float32(z) if isinstance(z, float) else np.complex64(z) for z in zeros]
    expected = [np.signbit(r.real).tolist() for z in as_numpy for r in (x0 + z, x0 - z, x0 * z)]
    for run in (fn, ember.jit(fn), fn):
        assert [np.signbit(t.numpy().real).tolist() for t in run(ember.tensor(x0))] == expected


def test_a_buffer_rebound_in_a_traced_call_is_written_in_place_as_eager_mode_rebinds_it():
    # self.avg = ... and self.steps += 1 left a symbolic value in the module after the trace, and the compiled
    # calls never updated the buffers (the outputs read them as zeros on every call)
    class Averaged(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("avg", ember.zeros(3))
            self.register_buffer("steps", ember.zeros((), dtype=ember.int64))

        def forward(self, x):
            before = self.avg * 1
            self.avg = 0.9 * self.avg + 0.1 * x.mean(0)
            self.steps += 1
            return x + self.avg, before, self.avg, self.steps

    eager, traced = Averaged(), Averaged()
    fast = ember.jit(traced)
    rng = np.random.default_rng(0)
    results = []
    for _ in range(4):
        x = rng.standard_normal((5, 3)).astype(np.float32)
        expected, got = eager(ember.tensor(x)), fast(ember.tensor(x))
        for e, g in zip(expected, got):
            np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-6)
        results.append((got, [e.numpy().copy() for e in expected]))
    assert fast.traces == 1 and not traced.avg.symbolic and int(traced.steps) == 4
    np.testing.assert_allclose(traced.avg.numpy(), eager.avg.numpy(), rtol=1e-6)
    for got, expected in results:  # a returned buffer is the call's value, not memory later calls overwrite
        np.testing.assert_allclose(got[2].numpy(), expected[2], rtol=1e-6)

    class Widened(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("n", ember.zeros((), dtype=ember.int64))

        def forward(self, x):
            self.n = self.n + 0.5  # a float: eager mode makes the buffer float32; the compiled write cannot
            return x

    with pytest.raises(TypeError, match=r"buffer 'n' of Widened \(int64\[\]\) in traced code"):
        ember.jit(Widened())(ember.ones(2))


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_module_is_read_on_every_call_as_the_original(how):
    # a copy's parameters and buffers were not marked as module state: frozen (requires_grad False) they were
    # folded into the trace as constants, and load_state_dict into the copy gave 0.17 for eager's 0.24
    import copy
    import pickle

    ember.manual_seed(0)
    net = ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.BatchNorm1d(2))
    twin = copy.deepcopy(net) if how == "deepcopy" else pickle.loads(pickle.dumps(net))
    twin.requires_grad_(False)
    twin.eval()
    evaluate = ember.jit(lambda x: twin(x))
    x = ember.ones(2, 3)
    np.testing.assert_allclose(evaluate(x).numpy(), twin(x).numpy(), rtol=1e-6)
    twin.load_state_dict({k: v * 2 for k, v in twin.state_dict().items()})
    np.testing.assert_allclose(evaluate(x).numpy(), twin(x).numpy(), rtol=1e-6)
    assert not any("float32[2" in f for f in evaluate.frozen)  # (the scalars eps and 1 are constants)


@pytest.mark.parametrize("dynamic", [None, True])
def test_an_in_place_op_on_an_argument_writes_the_callers_tensor_as_eager_mode(dynamic):
    # x += y rebound the name to the traced sum and left the caller's tensor as it was; add_, zero_, copy_ and item
    # assignment failed ('Symbol' object does not support item assignment)
    def fn(x, y, z):
        x += y
        z.mul_(2).add_(x)
        z[0] = -1.0
        y.zero_()
        return x * 1, z + 0

    compiled = ember.jit(fn, dynamic=dynamic)
    rng = np.random.default_rng(0)
    for n in (3, 3, 4):
        arrays = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]
        eager_args, args = [ember.tensor(a) for a in arrays], [ember.tensor(a) for a in arrays]
        for got, expected in zip(compiled(*args), fn(*eager_args)):
            np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)
        for got, expected in zip(args, eager_args):
            np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError, match="a leaf tensor that requires grad is used in an in-place operation"):
        compiled(ember.ones(3, requires_grad=True), ember.ones(3), ember.ones(3))


@pytest.mark.parametrize("dynamic", [None, True])
def test_copy_into_an_argument_casts_between_any_dtypes_as_eager_mode(dynamic):
    # copy_ casts as PyTorch's does (eagerly too), but a traced one refused a float source for an int64 or bool
    # argument ('result type float32 cannot be cast to the tensor's dtype int64 in place')
    def fn(x, y, b):
        x.copy_(y * 1.7)
        b.copy_(y)
        return x + 1

    compiled = ember.jit(fn, dynamic=dynamic)
    for _ in range(3):
        results = []
        for run in (fn, compiled):
            x, b = ember.tensor(np.array([1, 2, 3])), ember.zeros(3, dtype=ember.bool)
            out = run(x, ember.tensor(np.array([-1.5, 0.0, 2.5], np.float32)), b)
            results.append([out.numpy(), x.numpy(), b.numpy()])
        for got, expected in zip(*results):
            np.testing.assert_array_equal(got, expected)
            assert got.dtype == expected.dtype
        assert results[1][1].tolist() == [-2, 0, 4] and results[1][2].tolist() == [True, False, True]


@pytest.mark.parametrize("dynamic", [None, True])
def test_an_argument_returned_is_the_callers_tensor_as_eager_mode(dynamic):
    # return x.mul_(2) gave a copy of x as the first call left it: writing x later (or the result) left the other as
    # it was ([2, 2, 2] where eager's result, x itself, reads [14, 14, 14] after x.add_(10))
    def fn(x, y):
        return x.mul_(2), (y, y + 1)

    compiled = ember.jit(fn, dynamic=dynamic)
    for _ in range(3):  # the trace, the general call and the steady-state call
        results = []
        for run in (fn, compiled):
            x, y = ember.ones(3), ember.ones(3, requires_grad=True)
            scaled, (same, plus) = run(x, y)
            assert scaled is x and same is y
            x.add_(10)
            scaled.add_(1)
            results.append([x.numpy().copy(), scaled.numpy().copy(), plus.detach().numpy()])
        for got, expected in zip(*results):
            np.testing.assert_array_equal(got, expected)
        assert results[1][0].tolist() == [13.0] * 3


@pytest.mark.parametrize("dynamic", [None, True])
def test_contiguous_copies_a_strided_view_and_keeps_a_row_major_one_as_eager_mode(dynamic):
    # contiguous() of a traced value returned the value itself: x.T.contiguous() came back as a view of the caller's
    # x, which x.add_ (in the call or after it) changed, [1, 3, 2, 4] where eager mode's copy reads [0, 2, 1, 3]
    def fn(x, y):
        copied, same = x.T.contiguous(), y.contiguous()
        x.add_(1)
        y.add_(1)
        return copied, same, (x[0].expand(2, 2).contiguous() * y).sum(), x.T.contiguous().view(-1)

    compiled = ember.jit(fn, dynamic=dynamic)
    for _ in range(3):
        results = []
        for run in (fn, compiled):
            x, y = ember.arange(4.0).reshape(2, 2), ember.arange(4.0).reshape(2, 2)
            out = run(x, y)
            out[0].add_(10)  # a copy: leaves x
            results.append([t.numpy().copy() for t in (*out, x, y)])
        for got, expected in zip(*results):
            np.testing.assert_array_equal(got, expected)
        assert results[1][0].tolist() == [[10.0, 12.0], [11.0, 13.0]] and results[1][1].tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize("write", ["add_", "setitem", "through a view"])
def test_a_captured_tensor_written_in_place_after_tracing_is_read_anew(write):
    # a Tensor captured from outside was frozen: x + c * 2 kept the traced c (folded) after c.add_(1), [2, 2, 2] on
    # every call where eager gives [4, 4, 4], [6, 6, 6], ... (while x + c, not folded, followed it)
    base = ember.ones(4)
    c = base[:3] if write == "through a view" else ember.ones(3)

    def fn(x):
        return x + c * 2

    compiled = ember.jit(fn)
    x = ember.zeros(3)
    for i in range(5):
        np.testing.assert_array_equal(compiled(x).numpy(), fn(x).numpy())
        with ember.no_grad():
            if write == "add_":
                c.add_(1)
            elif write == "setitem":
                c[i % 3] = float(i + 5)
            else:
                base.mul_(2)
    np.testing.assert_array_equal(compiled(x).numpy(), fn(x).numpy())
    assert compiled.traces == 2  # the second trace reads c on every call


def test_a_python_number_argument_keeps_its_sign_of_zero_and_nan_finds_its_trace():
    # -0.0 == 0.0 as Python numbers: a call with -0.0 reused the trace made for 0.0 (1 / (x * -0.0) gave inf, not
    # -inf), in a tuple too; NaN, unequal to itself, traced again on every call
    scaled = ember.jit(lambda x, k: 1 / (x * k))
    pairs = ember.jit(lambda x, k: 1 / (x * k[0]))
    x = np.ones(2, np.float32)
    with np.errstate(divide="ignore"):
        for k in (0.0, -0.0, np.float32(-0.0), 0.0):
            np.testing.assert_array_equal(scaled(ember.tensor(x), k).numpy(), 1 / (x * k))
            np.testing.assert_array_equal(pairs(ember.tensor(x), (k,)).numpy(), 1 / (x * k))
    assert scaled.traces == 3
    shifted = ember.jit(lambda x, k: x + k)
    for _ in range(3):
        assert np.isnan(shifted(ember.tensor(x), float("nan")).numpy()).all()
    assert shifted.traces == 1


def test_a_tuple_argument_of_equal_numbers_of_other_types_traces_again():
    # (2,) == (2.0,) == (True,)-like tuples: a call with (2.0,) reused the trace made for (2,), and x * s[0] of an
    # int64 x stayed int64 where eager gives float32
    scaled = ember.jit(lambda x, s: x * s[0])
    x = ember.tensor([1, 2])
    for s in [(2,), (2.0,), (np.float32(2),), (1,), (True,), (2,)]:
        got, expected = scaled(x, s), x * s[0]
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    assert scaled.traces == 5


def test_memory_queries_on_a_traced_value_are_a_clear_error():
    # stride(), storage_offset() and data_ptr() failed inside ('Symbol' object has no attribute 'strides')
    for query, name in [(lambda t: t.stride(), "stride()"), (lambda t: t[1:].storage_offset(), "storage_offset()"),
                        (lambda t: t.data_ptr(), "data_ptr()")]:
        with pytest.raises(TypeError, match=rf"{name[:-2]}\(\): %\d+ \(float32\[\d, 4\]\) is a symbolic graph value"):
            ember.jit(lambda x, query=query: (query(x), x)[1])(ember.ones(3, 4))


def test_a_module_setting_changed_after_tracing_traces_again():
    # bn.eps = 10 or a new negative_slope after the first call changed nothing in the compiled function
    ember.manual_seed(0)
    bn, act = ember.nn.BatchNorm1d(3).eval(), ember.nn.LeakyReLU(0.1)
    net = ember.nn.Sequential(ember.nn.Linear(3, 3), bn, act)
    fast = ember.jit(lambda x: net(x))
    x = ember.randn(8, 3)
    for _ in range(3):
        fast(x)
    bn.eps, act.negative_slope = 10.0, 0.5
    for _ in range(2):
        np.testing.assert_allclose(fast(x).detach().numpy(), net(x).detach().numpy(), rtol=1e-6)
    assert fast.traces == 2
    bn.eps = 10.0  # the same value: nothing to trace again
    fast(x)
    assert fast.traces == 2


def test_a_module_function_or_class_default_replaced_after_tracing_traces_again():
    # net.forward replaced on the instance, a function held as an attribute (self.act = ...) or a class default
    # overridden on the instance (m.scale = 5.0 over the class's 2.0) ran the stale trace
    class Net(ember.nn.Module):
        scale = 2.0

        def __init__(self):
            super().__init__()
            self.lin, self.act = ember.nn.Linear(3, 2), ember.relu

        def forward(self, x):
            return self.act(self.lin(x)) * self.scale

    ember.manual_seed(0)
    net = Net()
    fast = ember.jit(lambda x: net(x))
    x = ember.randn(5, 3)
    changes = [lambda: setattr(net, "act", ember.tanh), lambda: setattr(net, "scale", 5.0),
               lambda: setattr(net, "forward", lambda x: net.lin(x) - 1)]
    for change in changes:
        fast(x), fast(x)
        change()
        for _ in range(2):
            np.testing.assert_allclose(fast(x).detach().numpy(), net(x).detach().numpy(), rtol=1e-6)
    assert fast.traces == 4


def test_jit_of_a_module_method_follows_the_module_as_a_called_one():
    # ember.jit(net.forward) and @ember.jit on forward do not call the module itself, so a submodule replaced or a
    # setting changed after tracing was not seen: the stale trace ran (every element off eager's)
    class Scaled(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.scale = ember.nn.Linear(3, 2), 2.0

        @ember.jit
        def forward(self, x):
            return self.lin(x) * self.scale

    ember.manual_seed(0)
    net = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.Linear(4, 2))
    scaled, fast = Scaled(), ember.jit(net.forward)
    x = ember.randn(5, 3)
    for _ in range(3):
        fast(x), scaled(x)
    net[1], scaled.scale = ember.nn.Linear(4, 2), 3.0
    for _ in range(2):
        np.testing.assert_allclose(fast(x).numpy(), net(x).detach().numpy(), rtol=1e-6)
        np.testing.assert_allclose(scaled(x).numpy(), (scaled.lin(x) * 3).detach().numpy(), rtol=1e-6)
    assert fast.traces == 2 and scaled.forward.traces == 2


def test_a_counter_a_forward_keeps_does_not_make_every_call_trace_again():
    class Counting(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def forward(self, x):
            self.calls += 1  # Python state: counted while tracing only, as torch.compile's
            return x * 2

    counting = Counting()
    fast = ember.jit(lambda x: counting(x))
    for _ in range(4):
        fast(ember.ones(2))
    assert fast.traces == 1 and counting.calls == 1
