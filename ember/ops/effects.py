"""Side effects as ops: a variable write, an optimizer rule applied in place, a random draw, and what backward
and ``zero_grad`` do to a parameter's ``.grad`` (``accumulate_grad``, ``drop_grad``).

Each is a registry primitive that names the inputs it writes in place (``writes``): eager mode runs its
forward at once, and while a graph is built the same call appends a node, so tracing needs no special case.
Passes never fold, merge or reorder an effect node. ``assign``, ``update``, ``accumulate_grad`` and
``drop_grad`` define no value (their ``infer`` returns None and the call returns None); ``random`` defines its
samples.

>>> counter = ember.zeros((), dtype="int64")
>>> ember.ops.assign(counter, counter + 1)
>>> int(counter)
1
"""

from __future__ import annotations

import math
from typing import NamedTuple

import ml_dtypes
import numpy as np

from ember import random as _random
from ember.backend.dtypes import FLOATING
from ember.ops import dispatch
from ember.ops.convert import as_tensor, cast
from ember.ops.dispatch import TensorLike
from ember.ops.gamma_grad import STANDARD_GAMMA_GRAD
from ember.ops.infer import check_sizes, fits
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, Cost, Spec, defop, format_shape, shape_error
from ember.ops.shape import unbroadcast_with

__all__ = ["SgdForm", "accumulate_grad", "assign", "drop_grad", "random_draw", "random_sample", "sparse_update",
           "update", "update_rule"]


def _same_type(name: str, target, value) -> None:
    if not fits(tuple(target.shape), tuple(value.shape)) or target.dtype != value.dtype:
        raise shape_error(name, (target, value), "the value must have the variable's shape and dtype")


def _write_cost(out, target, value, **attrs) -> Cost:
    return Cost(0, 2 * (target.nbytes or 0))


# --- assign: target[...] = value ------------------------------------------------------------------------


def _assign_forward(xp, target, value):
    target[...] = value


def _assign_infer(target, value):
    _same_type("assign", target, value)


ASSIGN = defop("assign", forward=_assign_forward, infer=_assign_infer, vjp=NON_DIFFERENTIABLE, cost=_write_cost,
               onnx=NO_ONNX, writes=(0,))


def assign(target: TensorLike, value) -> None:
    """Write ``value`` (cast and broadcast to ``target``'s dtype and shape) into ``target`` in place: a
    buffer such as a running mean, or a variable. Not recorded for backward."""
    value = as_tensor(value, target)
    if value.dtype != target.dtype:
        value = cast(value, target.dtype)
    if not fits(tuple(value.shape), tuple(target.shape)):
        from ember.ops.shape import broadcast_to

        value = broadcast_to(value, target.shape)
    dispatch.apply(ASSIGN, (target, value))


# --- update: an optimizer rule applied in place ---------------------------------------------------------


def _update_forward(xp, param, grad, *, rule, hyper, state, live=None):
    rule(param, grad, state, **hyper)


def _update_infer(param, grad, **attrs):
    _same_type("update", param, grad)


UPDATE = defop("update", forward=_update_forward, infer=_update_infer, vjp=NON_DIFFERENTIABLE, cost=_write_cost,
               onnx=NO_ONNX, writes=(0,))


class SgdForm(NamedTuple):
    """What a rule declares (as its ``sgd_form``) when, with only ``lr`` and ``momentum`` set, it computes
    ``param -= lr * grad``, or with momentum ``buffer = momentum * buffer + grad; param -= lr * buffer``,
    the buffer kept in ``state[buffer_key]``. The code generator then emits those lines itself, or one
    update over many variables that lie side by side, without knowing the optimizer."""

    buffer_key: str


def update_rule(sgd_form: SgdForm | None = None, many=None, row_local: bool = False, foreach=None,
                elementwise: bool = False):
    """Decorator for a pure per-parameter update rule: records ``sgd_form`` and that the rule keeps no
    reference to the gradient array (``keeps_grad = False``), so a memory plan may reuse its buffer.

    ``row_local``, for a row-sparse rule: each row's new value and slots depend only on that row's gradient,
    value and slots and on the scalar state, which advances the same whatever the rows (a step count). The
    rule may then run on a parameter's rows part by part (a hash table's chunks, in place), each part with
    its own copy of the scalar state, and give the bits of one call.

    ``many``, for a row-sparse rule: the same rule over several parameters at once,
    ``many(params, indices, values, states, rows=None, **hyper)`` (lists, one item per parameter, the gradient
    as its indices and values arrays; ``rows``: each parameter's indexed rows as they are now, gathered
    already, or None), with the results of one call per parameter; the code generator emits one call for a
    run of ``sparse_update`` nodes of the rule.

    ``foreach``, for a dense rule: the same rule over several parameters at once,
    ``foreach(params, grads, states, **hyper)`` (lists of arrays and state dicts), with the numbers of one call
    per parameter; an eager ``Optimizer.step()`` makes one such call per param group (PyTorch's
    ``foreach=True``).

    ``elementwise``, for a dense rule: each element's new value and slots depend only on that element's
    gradient, value and slots and on the scalar state, which advances the same whatever the elements; the slots
    it makes are arrays of the parameter's shape. The rule may then run on flat parts of a parameter (the
    parameter, its gradient and its slots cut alike), each part with its own copy of the scalar state, and give
    the bits of one call: an eager ``Optimizer.step()`` runs large parameters so, on the CPU's cores at once
    (``ember.optim.parts``)."""

    def mark(rule):
        rule.sgd_form = sgd_form
        rule.foreach = foreach
        rule.keeps_grad = False
        rule.many = many
        rule.row_local = row_local
        rule.elementwise = elementwise
        return rule

    return mark


def update(param: TensorLike, grad: TensorLike, rule, state: dict, hyper: dict, live=None) -> None:
    """Apply ``rule(param, grad, state, **hyper)`` (a pure per-parameter function of ``ember.optim.functional``)
    to ``param`` in place. ``live``, when given, returns the hyper-parameters afresh: compiled code calls it
    on every run, so a scheduler's new lr applies without rebuilding."""
    attrs = {"rule": rule, "hyper": hyper, "state": state}
    if live is not None:
        attrs["live"] = live
    dispatch.apply(UPDATE, (param, grad), attrs)


# --- sparse_update: an optimizer's row-sparse rule applied in place ---------------------------------------


def _sparse_update_forward(xp, param, indices, values, rows=None, *, rule, hyper, state, live=None):
    if live is not None:  # compiled code: the hyper-parameters as they are now (a scheduler's lr)
        hyper = live()
    rule(param, dispatch.row_sparse(indices, dispatch.wrap(values), param.shape), state, **hyper)


def _sparse_update_infer(param, indices, values, rows=None, **attrs):
    if (param.ndim < 1 or indices.ndim != 1 or indices.dtype.kind not in "iu" or values.dtype != param.dtype
            or not fits(tuple(values.shape), (indices.shape[0],) + tuple(param.shape[1:]))
            or (rows is not None and (rows.dtype != param.dtype or not fits(tuple(rows.shape), tuple(values.shape))))):
        raise shape_error("sparse_update", (param, indices, values) + ((rows,) if rows is not None else ()),
                          "needs a parameter (rows, ...), n integer row indices and values (n, ...) of the "
                          "parameter's row shape and dtype (and optionally the n rows as they are now, alike)")


def _sparse_update_cost(out, param, indices, values, rows=None, **attrs) -> Cost:
    return Cost(0, 4 * (values.nbytes or 0) + (indices.nbytes or 0))


SPARSE_UPDATE = defop("sparse_update", forward=_sparse_update_forward, infer=_sparse_update_infer,
                      vjp=NON_DIFFERENTIABLE, cost=_sparse_update_cost, onnx=NO_ONNX, writes=(0,))


def sparse_update(param: TensorLike, grad, rule, state: dict, hyper: dict, live=None) -> None:
    """Apply a row-sparse rule ``rule(param, grad, state, **hyper)`` (a ``sparse_*`` function of
    ``ember.optim.functional``) to ``param`` in place: only the rows ``grad`` names change. While a graph is
    built (``ember.jit``) the gradient's indices and values are Values and the call appends a node; ``live``
    is read as in ``update``."""
    indices = grad.indices if isinstance(grad.indices, TensorLike) else dispatch.wrap(grad.indices)
    values = grad.values
    # the eager rule would broadcast values of another shape ((n, 1) for (n, 3), or one row for n indices)
    expected = tuple(indices.shape[:1]) + tuple(param.shape[1:])
    if indices.ndim != 1 or not fits(tuple(values.shape), expected):
        raise shape_error("sparse_update", (param, indices, values), f"the gradient's values must have the "
                          f"parameter's row shape {format_shape(param.shape[1:])}, one row per index: "
                          f"{format_shape(expected)}, got {format_shape(values.shape)}")
    attrs = {"rule": rule, "hyper": hyper, "state": state}
    if live is not None:
        attrs["live"] = live
    dispatch.apply(SPARSE_UPDATE, (param, indices, values), attrs)


# --- random: samples from a generator state, which the draw advances ------------------------------------

_bit_generator = np.random.PCG64(0)  # reloaded from the state input on every draw


def _random_forward(xp, state, *, shape, dtype, kind, a, b):
    """normal / truncated_normal with mean a and stddev b, uniform in [a, b), or dropout's scaled keep mask
    (drop probability a, scale b) in ``dtype``."""
    bits = _random.load_stream(state, _bit_generator)
    if kind == "dropout":
        n = math.prod(shape)
        raw = bits.random_raw((n + 1) // 2).view(np.uint32)[:n].reshape(shape)
        sample = (raw >= _random.keep_threshold(a)).astype(dtype)
        sample *= sample.dtype.type(b)
    else:
        rng = np.random.Generator(bits)
        if kind == "uniform":
            sample = _random.uniform(rng, a, b, shape, dtype)
        else:
            sample = rng.standard_normal(shape)
            if kind == "truncated_normal":
                bad = np.abs(sample) > 2.0
                while bad.any():
                    sample[bad] = rng.standard_normal(int(bad.sum()))
                    bad = np.abs(sample) > 2.0
            sample = (sample * b + a).astype(dtype)
    _random.store_stream(bits, state)
    return sample


_KINDS = ("normal", "truncated_normal", "uniform", "dropout")


def _random_infer(state, *, shape, dtype, kind, a, b):
    if kind not in _KINDS:
        raise ValueError(f"random: kind must be one of {', '.join(_KINDS)}, got {kind!r}")
    if tuple(state.shape) != (4,) or state.dtype != np.uint64:
        raise shape_error("random", (state,), "the generator state must be uint64[4] (ember.random.stream())")
    return Spec(check_sizes("random", shape, "shape", (state,)), np.dtype(dtype))


def _random_cost(out, state, **attrs) -> Cost:
    return Cost(4 * (out.size or 0), out.nbytes or 0)


RANDOM = defop("random", forward=_random_forward, infer=_random_infer, vjp=NON_DIFFERENTIABLE, cost=_random_cost,
               onnx=NO_ONNX, writes=(0,))

_stream: TensorLike | None = None


def generator_state() -> TensorLike:
    """``ember.random.stream()`` as one Tensor (the same object on every call, so a graph captures it once)."""
    global _stream
    if _stream is None:
        _stream = dispatch.wrap(_random.stream())
    return _stream


def random_draw(kind: str, shape, dtype, a: float, b: float, state: TensorLike | None = None) -> TensorLike:
    """Samples of ``kind`` (see ``RANDOM``) from Ember's generator (or from ``state``, a generator state of
    one's own: ``ember.random.seeded_stream``), fresh on every call or graph run."""
    if kind not in _KINDS:
        raise ValueError(f"random: kind must be one of {', '.join(_KINDS)}, got {kind!r}")
    if None in tuple(shape):
        raise ValueError(f"random: the shape {format_shape(shape)} has unknown dimensions; draws need known sizes "
                         "(ember.jit and GraphFunction specialize per input signature)")
    attrs = {"shape": tuple(int(d) for d in shape), "dtype": np.dtype(dtype), "kind": kind, "a": float(a),
             "b": float(b)}
    return dispatch.apply(RANDOM, (generator_state() if state is None else state,), attrs)


# --- random_sample: draws whose parameters are tensors (Gamma, Poisson, binomial), from a generator state as ``random``


def _host(array) -> np.ndarray:
    return np.asarray(array.get() if not isinstance(array, np.ndarray) and hasattr(array, "get") else array,
                      np.float64)


def _random_sample_forward(xp, state, param, *probs, shape, dtype, kind):
    """``shape + param.shape`` draws in ``dtype``: Gamma(param, 1) samples (kept at or above the dtype's smallest
    normal number, as TF-1 and PyTorch keep them, so that a sample has a log density: a concentration of 0 draws
    that number, NaN where one is negative or NaN), Poisson(param) counts, or binomial counts of ``param`` trials
    with success probability ``probs`` (NaN, or refused for an integer dtype, where a rate or count is negative or
    NaN, or a probability outside [0, 1])."""
    host = _host(param)
    bits = _random.load_stream(state, _bit_generator)
    rng = np.random.Generator(bits)
    full = np.broadcast_to(host, tuple(shape) + host.shape)
    if kind == "gamma":
        bad = ~(full >= 0)  # (NumPy's sampler draws 0 for a concentration of 0)
        draw = rng.standard_gamma(np.where(bad, 1.0, full))
        sample = np.where(bad, np.nan, np.maximum(draw.astype(dtype), ml_dtypes.finfo(dtype).tiny))
    else:
        p = np.broadcast_to(_host(probs[0]), full.shape) if kind == "binomial" else None
        bad = ~(full >= 0) if p is None else ~((full >= 0) & (p >= 0) & (p <= 1))
        if bad.any() and np.dtype(dtype).kind != "f":
            what = "Poisson rate is negative or NaN" if p is None else ("binomial count is negative or NaN, or a "
                                                                         "probability outside [0, 1]")
            raise ValueError(f"random_sample: a {what}; the integer dtype {np.dtype(dtype)} cannot hold the NaN it "
                             "draws")
        if bool((full > 1e18).any()):  # NumPy's samplers refuse rates past ~9.2e18, counts past int64
            what = "Poisson rate" if p is None else "binomial count"
            raise ValueError(f"random_sample: a {what} {float(full.max()):g} is too large to draw (over 1e18)")
        safe = np.where(bad, 0.0, full)
        draw = rng.poisson(safe) if p is None else rng.binomial(safe.astype(np.int64), np.where(bad, 0.0, p))
        sample = np.where(bad, np.nan, draw).astype(dtype)
    _random.store_stream(bits, state)
    return xp.asarray(sample.astype(dtype, copy=False))  # (np.where's NaN widens bfloat16)


_SAMPLE_KINDS = ("gamma", "poisson", "binomial")
_ONE_SHAPE = "the binomial counts and probabilities must have one shape"


def _random_sample_infer(state, param, *probs, shape, dtype, kind):
    if kind not in _SAMPLE_KINDS:
        raise ValueError(f"random_sample: kind must be one of {', '.join(_SAMPLE_KINDS)}, got {kind!r}")
    if len(probs) != (kind == "binomial"):
        wanted = "a count and probabilities" if kind == "binomial" else "one parameter"
        raise TypeError(f"random_sample: {kind} draws take {wanted}, got {1 + len(probs)} parameters")
    if tuple(state.shape) != (4,) or state.dtype != np.uint64:
        raise shape_error("random_sample", (state,), "the generator state must be uint64[4] (ember.random.stream())")
    for p in (param, *probs):
        if p.dtype not in FLOATING:
            raise TypeError(f"random_sample: the {kind} parameter must be floating, got {p.dtype}")
    if probs and not fits(tuple(param.shape), tuple(probs[0].shape)):
        raise shape_error("random_sample", (param, probs[0]), _ONE_SHAPE)
    try:
        dtype = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"random_sample: dtype must be a NumPy dtype, got {dtype!r}") from e
    if dtype not in FLOATING and (kind == "gamma" or dtype.kind not in "iu" or dtype.itemsize < 2):
        raise TypeError(f"random_sample: {kind} draws in a float{' or integer' if kind != 'gamma' else ''} dtype, "
                        f"got {dtype}")
    sizes = check_sizes("random_sample", shape, "shape", (state, param, *probs))
    return Spec(tuple(sizes) + tuple(param.shape), dtype)


def _random_sample_rule(run, ctx, g):
    """Gamma: implicit reparameterization (d sample / d alpha at a fixed CDF value, ``standard_gamma_grad``),
    summed over the drawn leading axes; Poisson and binomial counts have no gradient."""
    if ctx.attrs["kind"] != "gamma":
        return (None,) * len(ctx.inputs)
    state, alpha = ctx.inputs
    out = ctx.output
    slope = run(STANDARD_GAMMA_GRAD, alpha, out)
    return None, unbroadcast_with(run, g * slope, tuple(alpha.shape))


def _random_sample_cost(out, state, param, *probs, **attrs) -> Cost:
    return Cost(40 * (out.size or 0), out.nbytes or 0)


RANDOM_SAMPLE = defop("random_sample", forward=_random_sample_forward, infer=_random_sample_infer,
                      vjp=vjp_rule(_random_sample_rule), cost=_random_sample_cost, onnx=NO_ONNX, writes=(0,),
                      saves_output=True)


def random_sample(kind: str, shape, param: TensorLike, dtype=None, state: TensorLike | None = None,
                  probs: TensorLike | None = None) -> TensorLike:
    """Draws of ``shape + param.shape`` from Ember's generator state (or ``state``): ``"gamma"`` samples of
    concentration ``param`` and rate 1 (differentiable in ``param`` by implicit reparameterization), ``"poisson"``
    counts of rate ``param``, or ``"binomial"`` counts of ``param`` trials (truncated to whole numbers) with success
    probabilities ``probs`` of its shape; in ``dtype`` (``param``'s by default), fresh on every call or run."""
    if kind not in _SAMPLE_KINDS:
        raise ValueError(f"random_sample: kind must be one of {', '.join(_SAMPLE_KINDS)}, got {kind!r}")
    if (probs is None) == (kind == "binomial"):
        raise TypeError(f"random_sample: probs= is for binomial draws (and needed there), got kind {kind!r} with "
                        f"probs={'None' if probs is None else 'a tensor'}")
    if None in tuple(shape):
        raise ValueError(f"random_sample: the shape {format_shape(shape)} has unknown dimensions; draws need known "
                         "sizes")
    params = (as_tensor(param),) if probs is None else (as_tensor(param), as_tensor(probs))
    for p in params:
        if p.dtype not in FLOATING:
            raise TypeError(f"random_sample: the {kind} parameter must be floating, got {p.dtype}")
    if probs is not None and not fits(tuple(params[0].shape), tuple(params[1].shape)):  # (eager mode infers nothing)
        raise shape_error("random_sample", params, _ONE_SHAPE)
    attrs = {"shape": tuple(int(d) for d in shape), "dtype": np.dtype(params[0].dtype if dtype is None else dtype),
             "kind": kind}
    return dispatch.apply(RANDOM_SAMPLE, (generator_state() if state is None else state, *params), attrs)


# --- gradients: backward's accumulation into .grad, and zero_grad's drop -------------------------------


def _accumulate_forward(xp, total, g):
    xp.add(total, g, out=total)


def _accumulate_infer(total, g):
    _same_type("accumulate_grad", total, g)


def _accumulate_cost(out, total, g) -> Cost:
    return Cost(total.size or 0, 3 * (total.nbytes or 0))


ACCUMULATE_GRAD = defop("accumulate_grad", forward=_accumulate_forward, infer=_accumulate_infer,
                        vjp=NON_DIFFERENTIABLE, cost=_accumulate_cost, onnx=NO_ONNX, writes=(0,))


def _in_place(total, g) -> bool:
    """``total += g`` computes what ``total + g`` would (dense arrays of one type, neither on a tape or a graph)."""
    if not (isinstance(total, TensorLike) and isinstance(g, TensorLike)):
        return False  # a row-sparse gradient
    if total.symbolic or g.symbolic or total.requires_grad or g.requires_grad:
        return False  # a graph's values are SSA; a recorded sum (create_graph) stays differentiable
    data = total.array
    if data.shape != g.array.shape or data.dtype != g.array.dtype or type(data) is not type(g.array):
        return False
    return getattr(data.flags, "writeable", True)


def accumulate_grad(param: TensorLike, g) -> None:
    """Add the gradient ``g`` (a Tensor or a row-sparse gradient) into ``param.grad``: what backward does for
    each leaf, and a traced backward for each parameter. The first gradient is stored as it is; a later one is
    added in place (an ``accumulate_grad`` node) as PyTorch's AccumulateGrad adds it, so a tensor that holds the
    gradient (``g = p.grad``, a view of it, a buffer assigned to ``.grad``) sees the sum; a row-sparse one, a
    recorded one (``create_graph``) or one of another shape or dtype makes a new value.

    >>> w = ember.zeros(2, requires_grad=True)
    >>> ember.ops.accumulate_grad(w, ember.ones(2)); ember.ops.accumulate_grad(w, ember.ones(2))
    >>> w.grad.tolist()
    [2.0, 2.0]
    """
    try:
        total = param._grad  # (not .grad: backward(inputs=) fills non-leaves too, whose .grad read warns)
    except AttributeError:  # (any other holder of a .grad)
        total = param.grad
    if total is None:
        param.grad = g
    elif _in_place(total, g):
        dispatch.apply(ACCUMULATE_GRAD, (total, g))
    elif not isinstance(total, TensorLike):
        param.grad = total.add(g)  # sparse + sparse stays sparse; sparse + dense is dense
    elif not isinstance(g, TensorLike):
        param.grad = g.add(total)
    else:
        param.grad = total + g


def _drop_forward(xp, param, *, owner):
    owner._grad = None


def _drop_infer(param, *, owner):
    return None


DROP_GRAD = defop("drop_grad", forward=_drop_forward, infer=_drop_infer, vjp=NON_DIFFERENTIABLE,
                  cost=lambda out, param, **attrs: Cost(0, 0), onnx=NO_ONNX, writes=(0,))


def drop_grad(param: TensorLike) -> None:
    """Set ``param.grad`` to None (``zero_grad()``). While ``ember.jit`` traces, this is a node of the traced
    call, so the compiled call drops the gradient on every run."""
    dispatch.apply(DROP_GRAD, (param,), {"owner": param})
