"""Hostile attributes, across the whole registry and the public functions built on it.

Every registry op is driven (at its shape rule and its forward) with a call recorded from the op table, its
attributes replaced by hostile values: out-of-range, negative, repeated or mistyped axes, shapes, strides,
paddings and sizes. ``infer`` must either refuse with a ShapeError/ValueError/TypeError naming the op, or
accept and then agree with what the forward computes; never an IndexError from deep inside NumPy. The public
functions that take axes are checked against NumPy: where NumPy refuses, Ember refuses naming the function,
and where NumPy accepts, the results are equal (an axis never wraps silently)."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from op_cases import CASES

import ember
from ember.autograd import run_eager
from ember.backend.dtypes import FLOATING
from ember.ops import REGISTRY, ShapeError, Spec

ALL_CASES = list(CASES)
if (Path(__file__).parent / "op_cases_conv.py").exists():
    from op_cases_conv import CASES as CONV_CASES

    ALL_CASES += CONV_CASES

SETTINGS = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
REFUSALS = (ShapeError, ValueError, TypeError)


# --- one recorded call per registry op --------------------------------------------------------------------------


def _record_calls() -> dict:
    """name -> (input arrays, attributes) of one call of each registry op, recorded from the op table's rows
    (forward and backward, so the gradient ops are recorded too)."""
    calls: dict = {}
    saved = {}
    for op in REGISTRY.values():
        saved[op] = forward, residuals = op.forward, op.residuals

        def recorded(xp, *arrays, _op=op, _forward=forward, **attrs):
            if _op.name not in calls and all(isinstance(a, np.ndarray) for a in arrays):
                # an eager forward's saved values (``residuals=``) are arrays of one call, not attributes
                calls[_op.name] = ([a.copy() for a in arrays], {k: v for k, v in attrs.items() if k != "residuals"})
            return _forward(xp, *arrays, **attrs)

        def recorded_residuals(xp, *arrays, _op=op, _residuals=residuals, **attrs):  # the forward eager mode records
            if _op.name not in calls and all(isinstance(a, np.ndarray) for a in arrays):
                calls[_op.name] = ([a.copy() for a in arrays], dict(attrs))
            return _residuals(xp, *arrays, **attrs)

        op.forward = recorded
        if residuals is not None:
            op.residuals = recorded_residuals
    try:
        for case in ALL_CASES:
            if set(case.covers) <= set(calls):
                continue
            rng = np.random.default_rng(zlib.crc32(case.name.encode()))
            arrays = [np.asarray(a) for a in case.inputs(rng)]
            wrt = range(len(arrays)) if case.grad_inputs is None else case.grad_inputs  # zeta: q alone
            leaves = [ember.tensor(a, requires_grad=case.grad and a.dtype in FLOATING and i in wrt)
                      for i, a in enumerate(arrays)]
            out = case.fn(*leaves)
            outs = [o for o in (out if isinstance(out, (list, tuple)) else [out]) if o.requires_grad]
            targets = [t for t in leaves if t.requires_grad]
            if outs and targets:  # to second order: some ops run only in a gradient's gradient
                grads = ember.grad([o.sum() for o in outs], targets, create_graph=True, allow_unused=True)
                live = [(g * g).sum() for g in grads if g is not None and g.requires_grad]
                if live:
                    try:
                        ember.grad(live, targets, allow_unused=True)
                    except RuntimeError:  # an op without a second derivative (ctc_loss's gradient) refuses one
                        if case.double_grad:
                            raise
    finally:
        for op, (forward, residuals) in saved.items():
            op.forward, op.residuals = forward, residuals
    return calls


CALLS = _record_calls()
# Attributes that are neither axes, shapes, strides nor paddings: flags, numbers and dtypes, whose mistyped
# values are the public functions' to refuse.
NOT_STRUCTURAL = {"keepdims", "eps", "value", "sparse", "total", "ceil_mode", "count_include_pad", "normalize",
                  "negate", "dtype", "device", "ignore_index", "min", "max", "beta", "threshold", "momentum", "rule",
                  "hyper", "state", "kind", "a", "b", "blank",
                  "fn", "out_shape", "name"}  # (host_call: what the Python function returns is checked when it runs)
MAX_OUTPUT_BYTES = 1 << 20  # a legal but huge result (one_hot with 2**31 classes) is checked by infer alone


def test_every_registry_op_was_recorded():
    single_process = {name for name, op in REGISTRY.items() if not getattr(op, "collective", False)}
    assert not sorted(single_process - set(CALLS)), "registry ops the op table never ran (collectives: under MPI)"


def _structural(name: str) -> list:
    return sorted(k for k in CALLS[name][1] if k not in NOT_STRUCTURAL)


FUZZED = sorted(name for name in CALLS if _structural(name))


def _hostile_int():
    return st.one_of(st.integers(-8, 8), st.sampled_from([2**31, -2**63, 10**20]), st.just(None), st.just(1.5),
                     st.just(True), st.just("1"))


def _hostile_ints(length: int):
    lengths = st.integers(0, length + 2)
    entries = st.one_of(st.integers(-8, 8), st.sampled_from([2**40, None, 0.5, -1]))
    return st.one_of(lengths.flatmap(lambda n: st.lists(entries, min_size=n, max_size=n).map(tuple)),
                     st.integers(-8, 8), st.just(None), st.just("ab"))


def _hostile_index(shape: tuple):
    dims = max(len(shape), 1)
    item = st.one_of(
        st.integers(-6, 6), st.slices(6), st.just(None), st.just(Ellipsis),
        st.integers(1, 6).flatmap(lambda n: st.lists(st.booleans(), min_size=n, max_size=n).map(np.array)),
        st.lists(st.integers(-6, 6), min_size=0, max_size=3).map(lambda v: np.array(v, np.int64)),
    )
    return st.lists(item, min_size=0, max_size=dims + 1).map(tuple)


def _hostile(name: str, key: str, value, arrays):
    if key == "index":
        return _hostile_index(arrays[0].shape)
    if isinstance(value, tuple) and all(isinstance(v, tuple) for v in value):  # pad_width: pairs
        pair = st.tuples(st.integers(-3, 3), st.integers(-3, 3))
        return st.lists(pair, min_size=0, max_size=len(value) + 1).map(tuple)
    if isinstance(value, (tuple, list)):
        return _hostile_ints(len(value))
    return _hostile_int()


def _agrees(op, arrays, attrs):
    """The property: refused by ``infer`` naming the op, or accepted and computed as ``infer`` said."""
    specs = [Spec(tuple(a.shape), a.dtype) for a in arrays]
    try:
        inferred = op.infer(*specs, **attrs)
    except REFUSALS as exc:
        assert op.name in str(exc), f"{op.name} refused {attrs} without naming itself: {exc!r}"
        return
    if inferred is None:  # an effect with no result (an update in place): its attributes are not structural
        return
    inferred = inferred if isinstance(inferred, tuple) and not isinstance(inferred, Spec) else (inferred,)
    for spec in inferred:
        assert all(isinstance(d, int) and d >= 0 for d in spec.shape), f"{op.name} with {attrs}: infer says {spec}"
        if spec.nbytes > MAX_OUTPUT_BYTES or any(d > MAX_OUTPUT_BYTES for d in spec.shape):
            return
    try:
        out = op.forward(np, *arrays, **attrs)
    except MemoryError:  # valid attributes whose work does not fit in memory (a padding of 2**40): PyTorch's OOM
        return
    except IndexError as exc:  # indices out of range for the data: only the data can tell, eager mode names the op
        assert any(a.dtype.kind in "iu" for a in arrays), f"{op.name}: infer accepted {attrs}, forward: {exc!r}"
        with pytest.raises(IndexError, match=f"^{op.name}"):
            run_eager(op, tuple(ember.tensor(a) for a in arrays), attrs)
        return
    outs = out if isinstance(out, tuple) else (out,)
    for o, spec in zip(outs, inferred):
        o = np.asarray(o)
        assert (tuple(spec.shape), spec.dtype) == (o.shape, o.dtype), (
            f"{op.name} with {attrs}: infer says {spec}, forward gave {o.dtype}{list(o.shape)}")


@pytest.mark.parametrize("name", FUZZED)
@SETTINGS
@given(data=st.data())
def test_registry_op_refuses_or_agrees_on_hostile_attributes(name, data):
    arrays, attrs = CALLS[name]
    op = REGISTRY[name]
    keys = _structural(name)
    chosen = data.draw(st.lists(st.sampled_from(keys), min_size=1, max_size=len(keys), unique=True))
    hostile = dict(attrs)
    for key in chosen:
        hostile[key] = data.draw(_hostile(name, key, attrs[key], arrays), label=key)
    _agrees(op, arrays, hostile)


# random_sample's kinds take different parameters (binomial: a count and probabilities of one shape); the recorded
# call is one kind's, so each kind meets hostile shapes, kinds and parameter lists here
SAMPLE_PARAMS = st.sampled_from([
    [np.array([3.0, 5.0])], [np.array([3.0, 5.0]), np.array([0.5, 0.25])], [np.array([3.0, 5.0]), np.array([0.5])],
    [np.array([3.0, 5.0]), np.array([1, 2])], [np.array([3.0, 5.0]), np.array([0.5, 0.25]), np.array([0.5, 0.25])],
])


@SETTINGS
@given(shape=_hostile_ints(2), kind=st.sampled_from(["gamma", "poisson", "binomial", "beta", None]),
       params=SAMPLE_PARAMS)
def test_random_sample_refuses_or_agrees_for_each_kind(shape, kind, params):
    arrays = [ember.random.seeded_stream(1), *params]
    _agrees(REGISTRY["random_sample"], arrays, {"shape": shape, "dtype": np.dtype(np.float64), "kind": kind})


# --- the public functions against NumPy ---------------------------------------------------------------------------


def _flatten_ref(a, start, end):
    ndim = max(a.ndim, 1)
    if not (-ndim <= start < ndim and -ndim <= end < ndim):
        raise IndexError("axis out of range")
    start, end = start % ndim, end % ndim
    if start > end:
        raise ValueError("start after end")
    if a.ndim == 0:
        return a.reshape(1)
    return a.reshape(a.shape[:start] + (-1,) + a.shape[end + 1:])


def _split_ref(a, sections, axis):
    if isinstance(sections, list):
        if any(s < 0 for s in sections) or sum(sections) != a.shape[axis]:
            raise ValueError("sizes")
        return np.split(a, np.cumsum(sections)[:-1], axis=axis)
    if sections <= 0:  # torch.split: an int is the part size, the last part may be smaller
        raise ValueError("split size")
    return np.split(a, range(sections, a.shape[axis], sections), axis=axis)


def _chunk_ref(a, chunks, axis):
    if chunks <= 0:
        raise ValueError("chunks")
    length = a.shape[axis]
    size = -(-length // chunks) if length else 1
    return np.split(a, range(size, length, size), axis=axis) if length else [a]


# name -> (Ember call, NumPy reference, strategy of the hostile arguments)
AXIS = st.one_of(st.integers(-5, 5), st.just(None), st.just(1.5), st.just(True))
INT_AXIS = st.integers(-5, 5)
PUBLIC = {
    "stack": (lambda ts, axis: ember.stack(ts, axis), lambda arrays, axis: np.stack(arrays, axis), AXIS),
    "concat": (lambda ts, axis: ember.concat(ts, axis), lambda arrays, axis: np.concatenate(arrays, axis), AXIS),
    "transpose": (lambda ts, axes: ember.transpose(ts[0], axes), lambda arrays, axes: np.transpose(arrays[0], axes),
                  st.lists(INT_AXIS, max_size=4).map(tuple)),
    "permute": (lambda ts, axes: ts[0].permute(*axes), lambda arrays, axes: np.transpose(arrays[0], axes),
                st.lists(INT_AXIS, max_size=4).map(tuple)),
    "swapaxes": (lambda ts, ab: ember.swapaxes(ts[0], *ab), lambda arrays, ab: np.swapaxes(arrays[0], *ab),
                 st.tuples(INT_AXIS, INT_AXIS)),
    "moveaxis": (lambda ts, ab: ember.moveaxis(ts[0], *ab), lambda arrays, ab: np.moveaxis(arrays[0], *ab),
                 st.tuples(INT_AXIS, INT_AXIS)),
    "flatten": (lambda ts, se: ember.flatten(ts[0], *se), lambda arrays, se: _flatten_ref(arrays[0], *se),
                st.tuples(INT_AXIS, INT_AXIS)),
    "unsqueeze": (lambda ts, axis: ember.unsqueeze(ts[0], axis), lambda arrays, axis: np.expand_dims(arrays[0], axis),
                  INT_AXIS),
    "split": (lambda ts, sa: ember.split(ts[0], *sa), lambda arrays, sa: _split_ref(arrays[0], *sa),
              st.tuples(st.one_of(st.integers(-1, 4), st.lists(st.integers(-1, 3), max_size=3)), INT_AXIS)),
    "chunk": (lambda ts, ca: ember.chunk(ts[0], *ca), lambda arrays, ca: _chunk_ref(arrays[0], *ca),
              st.tuples(st.integers(-1, 4), INT_AXIS)),
    "sum": (lambda ts, axis: ember.sum(ts[0], axis), lambda arrays, axis: np.sum(arrays[0], axis), AXIS),
    "softmax": (lambda ts, axis: ember.softmax(ts[0], axis), lambda arrays, axis: np.exp(arrays[0]) / np.sum(
        np.exp(arrays[0]), axis, keepdims=True), INT_AXIS),
    "argmax": (lambda ts, axis: ember.argmax(ts[0], axis), lambda arrays, axis: np.argmax(arrays[0], axis), AXIS),
    "take": (lambda ts, axis: ember.take(ts[0], ember.tensor([0]), axis),
             lambda arrays, axis: np.take(arrays[0], [0], axis), INT_AXIS),
    "repeat": (lambda ts, axis: ember.repeat(ts[0], 2, axis), lambda arrays, axis: np.repeat(arrays[0], 2, axis),
               AXIS),
    "getitem": (lambda ts, mask: ts[0][mask], lambda arrays, mask: arrays[0][mask],
                st.integers(0, 5).flatmap(lambda n: st.lists(st.booleans(), min_size=n, max_size=n)).map(
                    lambda v: np.array(v, np.bool_))),
}


def _is_bool(value) -> bool:
    return isinstance(value, bool) or (isinstance(value, tuple) and any(isinstance(v, bool) for v in value))


@pytest.mark.parametrize("name", sorted(PUBLIC))
@SETTINGS
@given(data=st.data())
def test_public_function_refuses_or_matches_numpy(name, data):
    call, reference, arguments = PUBLIC[name]
    shape = tuple(data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3), label="shape"))
    count = 2 if name in ("stack", "concat") else 1
    arrays = [np.random.default_rng(i).standard_normal(shape) for i in range(count)]
    argument = data.draw(arguments, label="argument")
    try:
        expected = reference(arrays, argument)
        if _is_bool(argument) or isinstance(argument, float) or (name == "concat" and argument is None):
            expected = TypeError  # NumPy reads True as 1 and None as "flattened": PyTorch refuses both
    except (ValueError, TypeError, IndexError) as exc:  # (AxisError is both a ValueError and an IndexError)
        expected = exc
    if isinstance(expected, (Exception, type)):
        with pytest.raises(REFUSALS) as caught:
            call([ember.tensor(a) for a in arrays], argument)
        named = ("permute", "transpose") if name == "permute" else (name,)  # permute is transpose's alias
        assert any(n in str(caught.value) for n in named), f"{name}{argument!r}: not named in: {caught.value}"
        return
    got = call([ember.tensor(a) for a in arrays], argument)
    got = list(got) if isinstance(got, (list, tuple)) else [got]  # (chunk and split give tuples, as PyTorch)
    expected = expected if isinstance(expected, list) else [expected]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-12, atol=1e-12)


# --- the examples, one by one -------------------------------------------------------------------------------


def _f(*shape):
    return ember.zeros(*shape)


@pytest.mark.parametrize("call, fragments", [
    (lambda: ember.stack([_f(2, 3), _f(2, 3)], axis=5), ["stack", "axis 5"]),
    (lambda: ember.split(_f(4, 2), 2, axis=3), ["split", "axis 3"]),
    (lambda: ember.transpose(_f(2, 3), (0, 2)), ["transpose", "axis 2"]),
    (lambda: _f(2, 3).permute(1, 2), ["transpose", "axis 2"]),
    (lambda: ember.flatten(_f(2, 3, 4), 1, 4), ["flatten", "axis 4"]),
    (lambda: ember.flatten(_f(2, 3, 4), 2, 1), ["flatten", "start_axis 2"]),
    (lambda: _f(3, 2)[np.array([True, False, True, False])], ["getitem", "[3, 2]"]),
    (lambda: ember.concat([_f(2, 3), _f(2, 3)], axis=None), ["concat", "None"]),
    (lambda: ember.ops.embedding(ember.tensor([0, 1]), _f(5)), ["embedding", "2-D", "[5]"]),
    (lambda: ember.ops.embedding(ember.tensor([0, 1]), _f(5, 2, 3)), ["embedding", "2-D", "[5, 2, 3]"]),
    (lambda: ember.sum(_f(2, 3), axis=1.0), ["sum", "axis", "1.0"]),
    (lambda: ember.softmax(_f(2, 3), axis=True), ["softmax", "axis", "True"]),
    (lambda: ember.conv2d(_f(1, 1, 4, 4), _f(1, 1, 3, 3), stride=0), ["conv2d", "stride"]),
    (lambda: _f(4, 3).reshape(-2, 6), ["reshape", "[-2, 6]"]),  # NumPy reads -2 as -1
    (lambda: ember.pad(_f(4, 3), 1.5), ["pad", "1.5"]),  # was truncated to 1
    (lambda: ember.argmax(_f(4, 3), (0, 1)), ["argmax", "(0, 1)"]),  # was the first axis only
    (lambda: ember.logsumexp(_f(4, 3), 1.5), ["logsumexp", "1.5"]),
    (lambda: ember.one_hot(ember.tensor([0, 1]), 2.5), ["one_hot", "2.5"]),  # was truncated to 2
    (lambda: ember.std(_f(4, 3), (0, 0)), ["std", "repeats"]),
])
def test_attribute_mistakes_are_refused_naming_the_op(call, fragments):
    with pytest.raises(REFUSALS) as caught:
        call()
    for fragment in fragments:
        assert fragment in str(caught.value), f"{fragment!r} not in {caught.value}"


def test_graph_building_checks_attributes_before_running():
    graph = ember.graph.Graph()
    x = graph.input("x", (None, 3), "float32")
    with graph.building(), pytest.raises(ShapeError, match="stack"):
        ember.stack([x, x], axis=3)
    with graph.building(), pytest.raises(REFUSALS, match="concat"):
        ember.concat([x, x], axis=None)


def test_an_index_whose_result_would_not_fit_in_memory_is_refused_by_infer():
    # found by the fuzzing above: NumPy allocated the (3, 2**40) result before it checked the indices' bounds
    op = REGISTRY["getitem_grad"]
    index = (Ellipsis, np.array([0, 1, 2]), np.array([1, 2, 3]))
    with pytest.raises(REFUSALS, match="getitem_grad.*would not fit in memory"):
        op.infer(Spec((3,), np.float64), shape=(2**40, 0, 0), index=index)
