"""``ember.func``, PyTorch's ``torch.func``: function transforms over Ember's tape and stateless calls of modules.

``grad``, ``grad_and_value``, ``vjp``, ``jvp``, ``jacrev``, ``jacfwd`` and ``hessian`` return functions; they
nest (``grad(grad(f))``) because an inner transform records its own backward when its inputs take part in an
outer one. ``vmap`` maps a function over a dimension by calling it once per element and stacking the results
(the values and gradients PyTorch's batching rules give, at a per-element cost). ``linearize`` gives a function's
value and its Jacobian-vector product at fixed primals. ``functional_call`` runs a module with parameters and
buffers given in a dict.

>>> params = dict(model.named_parameters())
>>> grads = ember.func.grad(lambda p, x, y: F.mse_loss(functional_call(model, p, (x,)), y))(params, x, y)
>>> per_example = ember.func.vmap(ember.func.grad(loss_of_one), in_dims=(None, 0, 0))(params, xs, ys)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np

from ember import grad_mode, ops
from ember import random as _random
from ember.autograd import enable_grad
from ember.autograd import grad as _autograd_grad
from ember.autograd.functional import _probe_cotangent
from ember.creation import tensor, zeros, zeros_like
from ember.nn.utils.stateless import functional_call, stack_module_state
from ember.tensor import Tensor

__all__ = [
    "functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp", "linearize",
    "stack_module_state", "vjp", "vmap",
]


# --- pytrees: Tensors in nested tuples, lists and dicts ----------------------------------------------------------


def _flatten(tree) -> tuple[list, Callable]:
    """(the leaves of ``tree`` in order, a function rebuilding the tree from new leaves)."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(item) for item in tree]
        sizes = [len(leaves) for leaves, _ in parts]

        def rebuild(leaves, kind=type(tree)):
            out, start = [], 0
            for (_, build), n in zip(parts, sizes):
                out.append(build(leaves[start:start + n]))
                start += n
            return kind(out) if kind in (tuple, list) else kind(*out)  # (named tuples take their fields)

        return [leaf for leaves, _ in parts for leaf in leaves], rebuild
    if isinstance(tree, dict):
        keys = list(tree)
        inner, build = _flatten([tree[k] for k in keys])
        return inner, lambda leaves: dict(zip(keys, build(leaves)))
    return [tree], lambda leaves: leaves[0]


def _structure(tree):
    """``tree``'s nesting, leaves left out: what two trees paired leaf by leaf must share (dict keys in order)."""
    if isinstance(tree, (tuple, list)):
        return tuple(_structure(item) for item in tree)
    if isinstance(tree, dict):
        return ("dict", tuple(tree), tuple(_structure(v) for v in tree.values()))
    return "*"


def _tensors(what: str, leaves: list) -> None:
    for leaf in leaves:
        if not isinstance(leaf, Tensor):
            raise TypeError(f"{what}: expected Tensors (in tuples, lists or dicts), got {type(leaf).__name__}")


def _argnums(what: str, argnums, count: int) -> tuple[tuple, bool]:
    single = isinstance(argnums, int)
    picked = (argnums,) if single else tuple(argnums)
    if not picked or any(not isinstance(i, int) for i in picked):
        raise TypeError(f"{what}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    for i in picked:
        if not -count <= i < count:
            raise ValueError(f"{what}: argnums {i} is out of range for a function called with {count} positional "
                             "arguments")
    picked = tuple(i % count for i in picked)
    if len(set(picked)) != len(picked):
        raise ValueError(f"{what}: argnums must name each argument once, got {argnums!r}")
    return picked, single


def _track(leaf: Tensor) -> Tensor:
    """``leaf`` as an input to differentiate against: a fresh leaf, or (inside an outer transform, where it is
    part of a recorded computation already) a recorded copy that keeps that computation connected (a new tensor:
    the function's other uses of ``leaf``, through a closure, must not count as uses of the argument)."""
    if leaf.requires_grad:
        return ops.clone(leaf)
    return leaf.detach().requires_grad_()


def _nested(leaves: list) -> bool:
    return any(leaf.requires_grad for leaf in leaves)


def _reaches_outside(outs: list, own: list) -> bool:
    """Whether the recorded computation of ``outs`` reads a tensor requiring grad other than ``own`` (the fresh
    inputs): a closure over an outer transform's input (or a parameter), whose gradients must stay recorded."""
    own_ids = {id(t) for t in own}
    seen: set = set()
    stack = [o.node for o in outs if isinstance(o, Tensor) and o.node is not None]
    while stack:
        node = stack.pop()
        if node in seen or node.inputs is None:
            continue
        seen.add(node)
        for t, need in zip(node.inputs, node.needs):
            if need and id(t) not in own_ids:
                if t.node is None:
                    return True
                stack.append(t.node)
    return False


def _detached(tree, keep: bool):
    if keep:
        return tree
    leaves, build = _flatten(tree)
    return build([leaf.detach() if isinstance(leaf, Tensor) else leaf for leaf in leaves])


def _regrouped(grads, tracked: list, trees: list, nested: bool) -> list:
    """The flat gradients back in their arguments' structures (detached unless an outer transform records)."""
    results, start = [], 0
    for fresh, (_, build) in zip(tracked, trees):
        results.append(build([g if nested else g.detach() for g in grads[start:start + len(fresh)]]))
        start += len(fresh)
    return results


def _split_aux(what: str, out, has_aux: bool):
    if not has_aux:
        return out, None
    if not isinstance(out, tuple) or len(out) != 2:
        raise TypeError(f"{what}: with has_aux=True the function must return a (output, aux) tuple")
    return out


# --- grad ----------------------------------------------------------------------------------------------------------


def grad_and_value(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning (the gradient of ``func``'s scalar output with respect to the arguments
    ``argnums``, the output); with ``has_aux``, ``func`` returns (output, aux) and the result is
    (gradient, (output, aux)). An argument may be a Tensor or a tuple/list/dict of them (the gradient has
    its structure)."""
    def wrapper(*args, **kwargs):
        picked, single = _argnums("grad", argnums, len(args))
        args = list(args)
        trees = []
        for i in picked:
            leaves, build = _flatten(args[i])
            _tensors("grad", leaves)
            trees.append((leaves, build))
        nested = any(_nested(leaves) for leaves, _ in trees)
        tracked = []
        for i, (leaves, build) in zip(picked, trees):
            fresh = [_track(leaf) for leaf in leaves]
            tracked.append(fresh)
            args[i] = build(fresh)
        with grad_mode.forward_mode(False):  # (no_grad blocks in func stay unrecorded, as in PyTorch's grad)
            out, aux = _split_aux("grad", func(*args, **kwargs), has_aux)
            if not isinstance(out, Tensor) or out.ndim != 0:
                shape = list(out.shape) if isinstance(out, Tensor) else type(out).__name__
                raise ValueError(f"grad: the function must return a scalar Tensor (a 0-d one), got {shape}")
            flat = [leaf for fresh in tracked for leaf in fresh]
            nested = nested or _reaches_outside([out], flat)
            if out.requires_grad:
                grads = _autograd_grad(out, flat, create_graph=nested, allow_unused=True, materialize_grads=True)
            else:
                grads = [zeros_like(leaf) for leaf in flat]
        results = _regrouped(grads, tracked, trees, nested)
        gradient = results[0] if single else tuple(results)
        value = out if nested else out.detach()
        return gradient, ((value, _detached(aux, nested)) if has_aux else value)

    return wrapper


def grad(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """A function returning the gradient of ``func``'s scalar output with respect to the arguments ``argnums``
    (with ``has_aux``: (gradient, aux)). ``grad(grad(f))`` is the second derivative."""
    both = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        gradient, value = both(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient

    return wrapper


# --- vjp, jvp, Jacobians ---------------------------------------------------------------------------------------


def vjp(func: Callable, *primals, has_aux: bool = False):
    """(``func(*primals)``, ``vjp_fn``[, aux]): ``vjp_fn(cotangents)`` gives the vector-Jacobian products, one
    per primal, for cotangents shaped as the output."""
    trees = [_flatten(p) for p in primals]
    for leaves, _ in trees:
        _tensors("vjp", leaves)
    nested = any(_nested(leaves) for leaves, _ in trees)
    tracked = [[_track(leaf) for leaf in leaves] for leaves, _ in trees]
    with grad_mode.forward_mode(False):
        out, aux = _split_aux("vjp", func(*[build(fresh) for fresh, (_, build) in zip(tracked, trees)]), has_aux)
    outs, out_build = _flatten(out)
    _tensors("vjp", outs)
    flat = [leaf for fresh in tracked for leaf in fresh]
    nested = nested or _reaches_outside(outs, flat)

    def vjp_fn(cotangents):
        given, _ = _flatten(cotangents)
        _tensors("vjp_fn", given)
        if _structure(cotangents) != _structure(out):
            raise ValueError(f"vjp_fn: the cotangents must have the output's structure (the same nesting and dict "
                             f"keys, in order): {_structure(cotangents)} for {_structure(out)}")
        recorded = nested or _nested(given)  # (a cotangent an outer transform differentiates against)
        if len(given) != len(outs):
            raise ValueError(f"vjp_fn: expected cotangents for {len(outs)} outputs, got {len(given)}")
        for c, o in zip(given, outs):
            if tuple(c.shape) != tuple(o.shape):
                raise ValueError(f"vjp_fn: a cotangent of shape {list(c.shape)} for an output of shape "
                                 f"{list(o.shape)}")
        live = [(o, c) for o, c in zip(outs, given) if o.requires_grad]
        with enable_grad():
            if live:
                grads = _autograd_grad([o for o, _ in live], flat, [c for _, c in live], retain_graph=True,
                                       create_graph=recorded, allow_unused=True, materialize_grads=True)
            else:
                grads = [zeros_like(leaf) for leaf in flat]
        return tuple(_regrouped(grads, tracked, trees, recorded))

    value = out_build([o if nested else o.detach() for o in outs])
    return (value, vjp_fn, _detached(aux, nested)) if has_aux else (value, vjp_fn)


def _linearized(what: str, func: Callable, primals: tuple, has_aux: bool):
    """``func`` called once at ``primals`` and its vjp taken at a probe cotangent u, recorded: the vjp is linear in
    u, so its own vjp with tangents as cotangents, at any u, is J tangents (``_pushed``). Returns (the output's
    leaves, its rebuild, aux, whether an outer transform records, the vjp's pieces)."""
    trees = [_flatten(p) for p in primals]
    nested = any(_nested(leaves) for leaves, _ in trees)
    tracked = [[_track(leaf) for leaf in leaves] for leaves, _ in trees]
    flat = [leaf for fresh in tracked for leaf in fresh]
    with grad_mode.forward_mode(True):  # (no_grad blocks in func still carry tangents, as in PyTorch)
        out, aux = _split_aux(what, func(*[build(fresh) for fresh, (_, build) in zip(tracked, trees)]), has_aux)
        outs, out_build = _flatten(out)
        _tensors(what, outs)
        nested = nested or _reaches_outside(outs, flat)
        # (an output that does not require grad, an integer one included, has a zero tangent)
        live = [(o, _probe_cotangent(o)) for o in outs if o.requires_grad]
        pulled = []
        if live:
            with grad_mode.tangent_pass():  # (it goes through the no_grad blocks' nodes)
                pulled = _autograd_grad([o for o, _ in live], flat, [u for _, u in live], create_graph=True,
                                        allow_unused=True, materialize_grads=True)
    return outs, out_build, aux, nested, (live, pulled)


def _tangent_leaves(what: str, primals: tuple, tangents: tuple) -> list:
    """The tangents' leaves, checked against the primals (one structure, the same shapes)."""
    p_leaves, _ = _flatten(primals)
    t_leaves, _ = _flatten(tangents)
    _tensors(what, p_leaves)
    _tensors(what, t_leaves)
    if len(p_leaves) != len(t_leaves) or _structure(primals) != _structure(tangents):
        raise ValueError(f"{what}: primals and tangents must have one structure (the same nesting and dict keys, in "
                         f"order), got {len(p_leaves)} primals and {len(t_leaves)} tangents in "
                         f"{_structure(primals)} and {_structure(tangents)}")
    for p, t in zip(p_leaves, t_leaves):
        if tuple(p.shape) != tuple(t.shape):
            raise ValueError(f"{what}: a tangent of shape {list(t.shape)} for a primal of shape {list(p.shape)}")
    return t_leaves


def _pushed(t_leaves: list, outs: list, vjp_parts: tuple, nested: bool, retain: bool) -> list:
    """J tangents for each output leaf: the vjp of ``_linearized``'s recorded vjp with the tangents as
    cotangents (for complex primals too, where a sum of g * t would be a complex scalar)."""
    live, pulled = vjp_parts
    products = [zeros_like(o) for o in outs]
    pairs = [(g, t if t.dtype == g.dtype else t.to(g.dtype)) for g, t in zip(pulled, t_leaves) if g.requires_grad]
    if pairs:
        with grad_mode.forward_mode(True), grad_mode.tangent_pass():
            pushed = iter(_autograd_grad([g for g, _ in pairs], [u for _, u in live], [t for _, t in pairs],
                                         retain_graph=retain or nested, create_graph=nested, allow_unused=True,
                                         materialize_grads=True))
            products = [next(pushed) if o.requires_grad else p for o, p in zip(outs, products)]
    return [p if nested else p.detach() for p in products]


def jvp(func: Callable, primals, tangents, has_aux: bool = False):
    """(``func(*primals)``, the Jacobian-vector product with ``tangents``[, aux]); ``primals`` and ``tangents``
    are tuples of one structure. Computed as the vjp of a vjp (two reverse passes: the vjp is linear in its
    cotangent u, so its own vjp with the tangents as cotangents, at any u, is J tangents)."""
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise TypeError("jvp: primals and tangents must be tuples")
    t_leaves = _tangent_leaves("jvp", primals, tangents)
    outs, out_build, aux, nested, parts = _linearized("jvp", func, primals, has_aux)
    nested = nested or _nested(t_leaves)
    products = out_build(_pushed(t_leaves, outs, parts, nested, retain=False))
    value = out_build([o if nested else o.detach() for o in outs])
    return (value, products, _detached(aux, nested)) if has_aux else (value, products)


def linearize(func: Callable, *primals) -> tuple:
    """(``func(*primals)``, ``jvp_fn``): ``jvp_fn(*tangents)``, tangents shaped as the primals, gives the
    Jacobian-vector product at ``primals`` (``torch.func.linearize``), from the one recorded call of ``func``."""
    _tensors("linearize", _flatten(primals)[0])
    outs, out_build, _, nested, parts = _linearized("linearize", func, primals, False)

    def jvp_fn(*tangents):
        t_leaves = _tangent_leaves("linearize", primals, tangents)
        return out_build(_pushed(t_leaves, outs, parts, nested or _nested(t_leaves), retain=True))

    return out_build([o if nested else o.detach() for o in outs]), jvp_fn


def jacrev(func: Callable, argnums=0, has_aux: bool = False, *, chunk_size=None) -> Callable:
    """A function returning the Jacobian of ``func`` with respect to the arguments ``argnums``: for an output of
    shape S and an argument of shape T, a Tensor of shape S + T (one reverse pass per output element). Arguments
    and outputs may be Tensors or tuples/lists/dicts of them: the result has the output's structure, each output
    Tensor holding the argument's structure of Jacobians (a tuple of them for a tuple ``argnums``), as PyTorch's.
    ``chunk_size`` (PyTorch's bound on the rows computed at once) is checked as there; the rows run one by one."""
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"jacrev: chunk_size must be None or a positive int, got {chunk_size!r}")
    return _jacobian("jacrev", func, argnums, has_aux, forward=False)


def _real(what: str, kind: str, leaves: list) -> None:
    """Refuse complex inputs or outputs of a Jacobian, as PyTorch (a complex function has no real Jacobian)."""
    for i, leaf in enumerate(leaves):
        if leaf.dtype.kind == "c":
            raise RuntimeError(f"{what}: Expected all {kind} to be real but received complex tensor at flattened "
                               f"input idx: {i}")


def _jacobian(what: str, func: Callable, argnums, has_aux: bool, forward: bool) -> Callable:
    """``jacrev``'s and ``jacfwd``'s function: the Jacobians by one reverse pass per output element, each of its
    argument's dtype (a row is a gradient) or, ``forward``, of its output's (a column is a tangent), as PyTorch's."""

    def wrapper(*args, **kwargs):
        picked, single = _argnums(what, argnums, len(args))
        trees = []
        for i in picked:
            leaves, build = _flatten(args[i])
            _tensors(what, leaves)
            trees.append((leaves, build))
        _real(what, "inputs", [leaf for leaves, _ in trees for leaf in leaves])

        def of_picked(*chosen):
            full = list(args)
            for i, value in zip(picked, chosen):
                full[i] = value
            if not forward:
                return func(*full, **kwargs)
            with grad_mode.forward_mode(True):  # (jacfwd's no_grad blocks carry tangents, as PyTorch's)
                return func(*full, **kwargs)

        out, vjp_fn, *aux = vjp(of_picked, *[args[i] for i in picked], has_aux=has_aux)
        out_leaves, out_build = _flatten(out)
        _tensors(f"{what}: the function's output", out_leaves)
        _real(what, "outputs", out_leaves)
        per_output = []
        for m, leaf in enumerate(out_leaves):
            rows = []  # one vjp per element of this output: [argument][leaf] gradients
            for k in range(leaf.numel()):
                seed = np.zeros(leaf.numel(), leaf.dtype)
                seed[k] = 1
                cotangents = [zeros_like(o) for o in out_leaves]
                cotangents[m] = tensor(seed.reshape(leaf.shape))
                with grad_mode.tangent_pass() if forward else contextlib.nullcontext():
                    rows.append([_flatten(g)[0] for g in vjp_fn(out_build(cotangents))])
            per_argument = []
            for j, (leaves, build) in enumerate(trees):
                jacobians = []
                for q, x in enumerate(leaves):
                    stacked = ops.stack([row[j][q] for row in rows]) if rows else \
                        zeros((0,) + tuple(x.shape), dtype=leaf.dtype)
                    if forward and leaf.dtype.kind == "f" and stacked.dtype != leaf.dtype:
                        stacked = stacked.to(leaf.dtype)
                    jacobians.append(stacked.reshape(tuple(leaf.shape) + tuple(x.shape)))
                per_argument.append(build(jacobians))
            per_output.append(per_argument[0] if single else tuple(per_argument))
        result = out_build(per_output)
        return (result, aux[0]) if has_aux else result

    return wrapper


def jacfwd(func: Callable, argnums=0, has_aux: bool = False, *, randomness: str = "error") -> Callable:
    """``torch.func.jacfwd``: the same Jacobian as ``jacrev`` (computed by reverse passes here), each in its
    output's dtype, as PyTorch's. ``randomness='error'`` refuses a function that draws random numbers; 'same' and
    'different' let it draw (once: the Jacobian of one draw)."""
    _check_randomness("jacfwd", randomness)
    if randomness == "error":
        inner = func

        def func(*args, **kwargs):
            with _randomness("error", "jacfwd") as (_, after_each):
                out = inner(*args, **kwargs)
                after_each()
            return out

    return _jacobian("jacfwd", func, argnums, has_aux, forward=True)


def hessian(func: Callable, argnums=0) -> Callable:
    """The Hessian of ``func``'s scalar output with respect to the arguments ``argnums``."""
    return jacfwd(jacrev(func, argnums), argnums)


# --- vmap ------------------------------------------------------------------------------------------------------------


def _check_randomness(what: str, randomness) -> None:
    if randomness not in ("error", "different", "same"):
        raise ValueError(f"{what}: randomness must be 'error', 'different' or 'same', got {randomness!r}")


@contextlib.contextmanager
def _randomness(mode: str, what: str = "vmap"):
    """Per-element calls under ``vmap``'s randomness rule: 'same' restarts the generators (the global one and those
    given as ``generator=``) for each element, 'different' lets them run on, 'error' refuses a function that
    draws."""
    start = _random.get_rng_state()
    with _random.watch_generators() as given:  # generators passed as generator=, with their states before

        def before_each():
            if mode == "same":
                _random.set_rng_state(start)
                for rng, state in given.values():
                    rng.bit_generator.state = state

        def after_each():
            if mode == "error" and (given or _random.get_rng_state() != start):
                raise RuntimeError(f"{what}: the function drew random numbers; pass randomness='different' (a "
                                   "fresh draw per element) or 'same' (one draw for every element)")

        yield before_each, after_each


def vmap(func: Callable, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size=None) -> Callable:
    """``func`` mapped over dimension ``in_dims`` of its positional arguments (an int for all, None for an
    argument passed whole, or a structure matching the arguments), its results stacked along ``out_dims``.
    Keyword arguments are passed whole. ``func`` runs once per element."""
    _check_randomness("vmap", randomness)
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"vmap: chunk_size must be None or a positive int, got {chunk_size!r}")

    def wrapper(*args, **kwargs):
        leaves, build = _flatten(list(args))
        dims = _broadcast_dims(in_dims, args)
        if len(dims) != len(leaves):
            raise ValueError(f"vmap: in_dims {in_dims!r} does not match the structure of the {len(args)} arguments")
        sizes = set()
        for leaf, dim in zip(leaves, dims):
            if dim is None:
                continue
            if not isinstance(leaf, Tensor):
                raise ValueError(f"vmap: an in_dim of {dim} for a {type(leaf).__name__}; use None for non-Tensors")
            if not -leaf.ndim <= dim < leaf.ndim:
                raise ValueError(f"vmap: in_dim {dim} is out of range for a Tensor of shape {list(leaf.shape)}")
            sizes.add(leaf.shape[dim])
        if not sizes:
            raise ValueError("vmap: at least one argument must be mapped (an in_dim that is not None)")
        if len(sizes) > 1:
            raise ValueError(f"vmap: the mapped dimensions have different sizes {sorted(sizes)}")
        (size,) = sizes
        if size == 0:
            raise ValueError("vmap: the mapped dimension has size 0")
        whole = [leaf for leaf, dim in zip(leaves, dims) if dim is None and isinstance(leaf, Tensor)]
        whole += [leaf for leaf in _flatten(list(kwargs.values()))[0] if isinstance(leaf, Tensor)]
        results = []
        with _randomness(randomness) as (before_each, after_each):
            for k in range(size):
                before_each()
                picked = [leaf if dim is None else leaf.select(dim, k) for leaf, dim in zip(leaves, dims)]
                start = grad_mode.last_write
                results.append(func(*build(picked), **kwargs))
                if grad_mode.last_write != start:
                    _refuse_writes(whole, start)
                after_each()
        flat_results = [_flatten(r) for r in results]
        first, out_build = flat_results[0]
        _tensors("vmap", first)
        odims = _broadcast_out_dims(out_dims, results[0])
        stacked = []
        for j, odim in enumerate(odims):
            column = [leaves_k[j] for leaves_k, _ in flat_results]
            _tensors("vmap", column)
            if odim is None:
                if any(not _same_result(c, column[0]) for c in column[1:]):
                    raise ValueError(f"vmap: out_dims None for output {j}, which differs between the mapped "
                                     "elements (it depends on a mapped input); give it an int out_dim")
                stacked.append(column[0])
                continue
            ndim = column[0].ndim + 1
            if not -ndim <= odim < ndim:
                raise ValueError(f"vmap: out_dim {odim} is out of range for results of {ndim - 1} dimensions")
            stacked.append(ops.stack(column, axis=odim % ndim))
        return out_build(stacked)

    return wrapper


def _refuse_writes(whole: list, since: int) -> None:
    """Refuse an in-place write into an argument passed whole: run once per element here, it would repeat for
    each (PyTorch runs an unmapped write once, and refuses one of mapped values)."""
    for leaf in whole:
        if max(int(getattr(leaf, "_written", -1)), grad_mode.memory_written(leaf.array)) > since:
            raise RuntimeError(f"vmap: the function wrote in place into a Tensor of shape {list(leaf.shape)} passed "
                               "whole (in_dim None, or a keyword argument); vmap would repeat the write for every "
                               "element. Map that argument, or compute out of place (b = b + a, not b.add_(a))")


def _same_result(a: Tensor, b: Tensor) -> bool:
    """Whether two per-element results are one value (NaNs included), as an unmapped output's must be."""
    return a is b or (tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype
                      and ops.allclose(a, b, rtol=0.0, atol=0.0, equal_nan=True))


def _dims_over(dims, tree) -> list | None:
    """One dim per leaf of ``tree``, PyTorch's broadcast of in_dims/out_dims: an int or None serves the whole
    subtree, a tuple/list/dict gives one entry per child; None when the structures differ."""
    if dims is None or isinstance(dims, int):
        return [dims] * len(_flatten(tree)[0])
    if isinstance(dims, (tuple, list)) and isinstance(tree, (tuple, list)) or \
            isinstance(dims, dict) and isinstance(tree, dict):
        children = list(dims.values()) if isinstance(dims, dict) else list(dims)
        subtrees = list(tree.values()) if isinstance(tree, dict) else list(tree)
        if len(children) != len(subtrees) or isinstance(dims, dict) and set(dims) != set(tree):
            return None
        flat = []
        for d, t in zip(children, subtrees):
            inner = _dims_over(d, t)
            if inner is None:
                return None
            flat.extend(inner)
        return flat
    return None


def _broadcast_dims(in_dims, args: tuple) -> list:
    """One in_dim per leaf of the arguments."""
    if isinstance(in_dims, int) or in_dims is None:
        return [in_dims] * len(_flatten(list(args))[0])
    if not isinstance(in_dims, (tuple, list)) or len(in_dims) != len(args):
        raise ValueError(f"vmap: in_dims must be an int, None, or a tuple with one entry per positional argument "
                         f"({len(args)}), got {in_dims!r}")
    dims = []
    for arg, dim in zip(args, in_dims):
        inner = _dims_over(dim, arg)
        if inner is None:
            raise ValueError(f"vmap: in_dims entry {dim!r} does not match its argument's structure")
        dims.extend(inner)
    return dims


def _broadcast_out_dims(out_dims, result) -> list:
    """One out_dim per leaf of a per-element result (a one-entry tuple also serves the whole result, as in
    PyTorch)."""
    dims = _dims_over(out_dims, result)
    if dims is None and isinstance(out_dims, tuple) and len(out_dims) == 1:
        dims = _dims_over(out_dims[0], result)
    if dims is None:
        raise ValueError(f"vmap: out_dims {out_dims!r} does not match the structure of the function's output")
    return dims
