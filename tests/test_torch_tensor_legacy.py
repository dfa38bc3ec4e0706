"""``Tensor.resize_``/``resize_as_`` (PyTorch's storage semantics on a leaf without grad) and ``apply_``/``map_``/
``map2_`` (Python callables, elementwise) against PyTorch: values, shapes, strides, errors."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _both(fn):
    """(Ember's, PyTorch's) outcome of ``fn(lib)``: the value, or the error's type and message."""
    out = []
    for lib in (ember, torch):
        try:
            out.append(fn(lib))
        except (RuntimeError, TypeError) as exc:
            out.append((type(exc), str(exc)))
    return out


def _values(t):
    return (t.tolist(), tuple(t.shape), tuple(t.stride()))


@pytest.mark.parametrize("steps", [
    [(2,)], [(2, 3)], [(6,)], [(3, 2)], [(2,), (6,)], [(2,), (1, 3)], [(2, 2), (2, 3)], [((),)], [(0,)],
    [(1, 1, 6)], [()],
])
def test_resize_reads_the_memory_as_pytorch(steps):
    def run(lib):
        x = lib.arange(6.0)
        for shape in steps:
            x.resize_(*shape)
        return _values(x)

    ours, theirs = _both(run)
    if steps == [()]:  # no size at all: a TypeError in both
        assert ours[0] is theirs[0] is TypeError
    else:
        assert ours == theirs


def test_resize_of_views_follows_the_memory_from_the_first_element():
    def offset_view(lib):
        base = lib.arange(8.0)
        view = base[2:6]
        view.resize_(2, 3)
        base[7] = 70.0  # the view still shares the memory it read
        return _values(view)

    def transposed(lib):
        y = lib.arange(6.0).reshape(2, 3).t()
        same = _values(y.resize_(3, 2))
        return same, _values(y.resize_(2, 3))

    for fn in (offset_view, transposed):
        ours, theirs = _both(fn)
        assert ours == theirs


def test_resize_growth_keeps_the_old_elements_and_zeros_the_rest():
    x = ember.arange(4.0)
    x.resize_(2, 3)
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]]
    t = torch.arange(4.0)
    t.resize_(2, 3)
    assert t.flatten()[:4].tolist() == x.reshape(-1)[:4].tolist()  # PyTorch's tail is uninitialized memory
    ours = ember.arange(3, dtype="int64").resize_as_(ember.ones(2, 2))
    assert ours.shape == (2, 2) and ours.dtype == np.int64 and ours.tolist() == [[0, 1], [2, 0]]


def test_resize_errors_as_pytorch():
    for fn in (lambda lib: lib.ones(2, requires_grad=True).resize_(3),
               lambda lib: (lib.ones(2, requires_grad=True) * 2).resize_(3)):
        assert _both(fn)[0] == _both(fn)[1]
    with pytest.raises(RuntimeError, match="negative dimension"):
        ember.ones(2).resize_(-1)
    with pytest.raises(TypeError, match="resize_as_: 'the_template' must be a Tensor"):
        ember.ones(2).resize_as_((2, 2))
    with pytest.raises(TypeError, match="resize_: sizes must be ints"):
        ember.ones(2).resize_(2.0)


def test_resize_is_seen_by_a_backward_through_an_earlier_node():
    for lib in (ember, torch):
        a = lib.ones(3)
        w = lib.ones(3, requires_grad=True)
        y = (w * a).sum()
        a.resize_(2)
        with pytest.raises(RuntimeError):
            y.backward()


@pytest.mark.parametrize("dtype, fn", [
    ("float32", lambda v: v * 2 + 0.5), ("float64", lambda v: v ** 2), ("int64", lambda v: v * 2 + 0.5),
    ("int32", lambda v: -v), ("bool", lambda v: not v), ("uint8", lambda v: v + 1),
])
def test_apply_as_pytorch(dtype, fn):
    def run(lib):
        x = lib.arange(6).reshape(2, 3).to(getattr(lib, dtype)) if lib is torch else \
            ember.arange(6).reshape(2, 3).astype(dtype)
        y = x.t()  # non-contiguous: each element in place all the same
        assert y.apply_(fn) is y
        return x.tolist()

    ours, theirs = _both(run)
    assert ours == theirs


def test_map_and_map2_as_pytorch():
    a, b, c = np.arange(6.0).reshape(2, 3), np.array([1.0, -2.0, 3.0]), np.array([[2.0], [0.5]])

    def run(lib):
        x = lib.tensor(a)
        x.map_(lib.tensor(b), lambda p, q: p * q - 1)
        x.map2_(lib.tensor(b), lib.tensor(c), lambda p, q, r: p + q * r)
        return x.tolist()

    ours, theirs = _both(run)
    assert ours == theirs
    seen = []
    ember.tensor([1, 2]).map_(ember.tensor([3, 4]), lambda p, q: seen.append((type(p), type(q))) or p)
    assert seen == [(int, int), (int, int)]


def test_callable_methods_errors_as_pytorch():
    cases = [
        lambda lib: lib.ones(2, requires_grad=True).apply_(lambda v: v),
        lambda lib: lib.ones(3).map_(lib.ones(2, 3), lambda p, q: p),
    ]
    for fn in cases:
        ours, theirs = _both(fn)
        assert ours[0] is theirs[0]
    ours, theirs = _both(lambda lib: lib.ones(2, requires_grad=True).apply_(lambda v: v))
    assert ours == theirs
    for lib in (ember, torch):
        with pytest.raises(TypeError):
            lib.arange(3.0).map_(lib.arange(3), lambda p, q: p)
        with pytest.raises(TypeError):
            lib.arange(3.0).map_([1.0, 2.0, 3.0], lambda p, q: p)
        with pytest.raises(TypeError):
            lib.arange(3).apply_(lambda v: "a")
        with pytest.raises(TypeError):
            lib.arange(3.0).apply_(lambda v: None)
    with pytest.raises(TypeError, match=r"map_: expected float32 for 'other' \(got int64\)"):
        ember.arange(3.0).map_(ember.arange(3), lambda p, q: p)


def test_legacy_methods_refuse_graph_values():
    g = ember.graph.Graph()
    with g.building():
        v = g.input("v", (3,), "float32")
        for call in (lambda: v.resize_(2), lambda: v.apply_(abs), lambda: v.map_(v, max)):
            with pytest.raises(TypeError, match="graph value"):
                call()
