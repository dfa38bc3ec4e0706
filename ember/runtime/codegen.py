"""Code generation: one straight-line Python function per graph, calling NumPy directly for the hot ops
and each op's own forward for the rest. The reference it is tested against is ``ember.graph.interpret``.

A graph whose every value holds one floating-point element (linear regression at batch 1) is generated on
NumPy scalars instead of arrays: the same float32/float64 arithmetic, without array-call overhead.

What the generator knows of an op is read from its record (``ember.ops.registry.Op``): its own emitter
(``lower``, for the kernel choices it shares with eager mode), else its ``ufunc`` / ``infix`` form, else a call
of its forward (with ``out=`` for an op that ``writes_out``); ``view`` for views made once of arrays fixed into
the code.

Two passes shape the code: a ``fused`` node (``fuse_elementwise``) becomes one numexpr call
(``ember.runtime.kernels``), and the graph's memory plan (``plan_memory``) becomes arrays allocated once per
compiled function and passed as ``out=``.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
import sys
import threading

import numpy as np

from ember.backend import blas_threads, openblas
from ember.backend.devices import CPU
from ember.backend.dtypes import bfloat16
from ember.graph.ir import ASSIGN, CONST, SPARSE_UPDATE, UPDATE, Graph
from ember.ops.indexing import EMBEDDING
from ember.ops.join import CONCAT
from ember.ops.kernels import BLAS_FLOATS, dot_pays, large_product, large_product_pays
from ember.ops.lowering import Call
from ember.ops.shape import TRANSPOSE
from ember.passes.fuse_elementwise import FUSED
from ember.runtime import parallel
from ember.runtime.arena import ALIGN_BYTES, aligned_empty, laid_out_like
from ember.runtime.bias_fold import BiasFolds, element_offset, fold_biases
from ember.runtime.kernels import numexpr_kernel
from ember.runtime.rotation import Rotation
from ember.runtime.sized import SizedObjects, has_unknown_dims

_getrefcount = sys.getrefcount

_counter = itertools.count()


class CompiledGraph:
    """A graph turned into Python: ``compiled(*arrays)`` returns the outputs' arrays as a tuple. ``sized``: for a
    graph with unknown dimensions, the per-size objects its code reads (``ember.runtime.sized``), else None."""

    __slots__ = ("fn", "source", "graph", "sized")

    def __init__(self, fn, source: str, graph: Graph, sized: SizedObjects | None = None):
        self.fn, self.source, self.graph, self.sized = fn, source, graph, sized

    def __call__(self, *args):
        return self.fn(*args)


class _Env:
    """Objects the generated code reads, bound as default arguments (the fastest reads Python has)."""

    def __init__(self):
        self.objects: dict = {"np": np}
        self.owned_results: set = set()  # names of returned arrays the call made anew (_fresh_results)
        self.live: dict = {}  # id(hyper getter) -> the local name its result is read into
        self.prologue: list = []  # lines run first (reading those getters)
        self.scratches: dict = {}
        self.rotating: list = []  # flat gradient arrays whose views the function returns (``rotation``)
        self.handed: set = set()  # names of arrays taken from a Rotation on every call
        self.threaded = False  # whether the code splits work over the runtime's threads (parallel.py)
        self.joins: dict = {}  # id of a node (None: the end) -> lines finishing work started earlier on threads
        self.pending: list = []  # names of the batches those lines finish

    def bind(self, obj, prefix: str) -> str:
        name = f"{prefix}{len(self.objects)}"
        self.objects[name] = obj
        return name

    def scratch(self, shape: tuple, dtype, column_major: bool = False) -> str:
        """A view of ``shape`` on one scratch array per dtype (sized by ``reserve``), for a step's temporary;
        ``column_major``: laid out column by column, as a matrix it is computed with is."""
        flat = self.scratches[np.dtype(dtype)][:int(np.prod(shape))]
        return self.bind(flat.reshape(shape[::-1]).T if column_major else flat.reshape(shape), "s")

    def reserve(self, sizes: dict) -> None:
        """Allocate the scratch arrays: dtype -> the most elements one temporary needs."""
        self.scratches = {dtype: aligned_empty(size, dtype) for dtype, size in sizes.items()}


def _sgd_form(attrs: dict):
    """The rule's ``SgdForm`` (``ember.ops.effects``), or None when it declares none."""
    return getattr(attrs["rule"], "sgd_form", None)


def _plain_sgd(attrs: dict) -> bool:
    hyper = attrs["hyper"]
    return _sgd_form(attrs) is not None and not any(v for k, v in hyper.items() if k != "lr")


def _momentum_sgd(attrs: dict) -> bool:
    hyper = attrs["hyper"]
    return (_sgd_form(attrs) is not None and bool(hyper.get("momentum"))
            and not any(v for k, v in hyper.items() if k not in ("lr", "momentum")))


def _inlines(node) -> bool:
    """Whether an update's SGD lines may be written inline: float32/float64 variables only. A float16/bfloat16
    product ``lr * step`` rounded into its own dtype before the subtraction would round twice; ``sgd_update``
    rounds once, so those updates call it."""
    return node.inputs[0].array.dtype in BLAS_FLOATS


def compile_graph(graph: Graph, bound: dict | None = None, layout: list | None = None,
                  scalars: dict | None = None, numbers: bool = False) -> CompiledGraph:
    """Generate the function for ``graph``. ``bound`` maps input value ids to arrays fixed into the code
    (variables, updated in place); the other inputs are the function's arguments, in order. ``layout``
    lists, per returned item, an index into ``graph.outputs`` or None (returned as None). ``scalars`` maps
    ids of inputs of shape () that arrive as numbers rather than 0-d arrays to their class: ``float`` (a
    Python float, rounded to the input's dtype) or the NumPy scalar type of the input's dtype. ``numbers``:
    every 0-d result is returned as a NumPy scalar (as TF-1's Session.run gives it), not only those of
    one-element graphs.

    The function reuses the buffers of the graph's memory plan on every call (returned arrays are never such
    buffers), so its body holds a lock of its own: threads calling one compiled function take turns. Code
    that shares no buffer between calls (one-element graphs on NumPy scalars) takes no lock."""
    off_cpu = next((v for v in graph.inputs + [o for n in graph.nodes for o in n.outputs] if v.array.device != CPU),
                   None)
    if off_cpu is not None:
        raise RuntimeError(f"compile_graph: %{off_cpu.id} is {off_cpu.array!r}; the generated code calls NumPy, "
                           "and a runtime for GPU graphs is not built yet (run the model eagerly on the GPU)")
    bound = bound or {}
    scalars = scalars or {}
    wrong = [v for v in graph.inputs if v.id in scalars and (v.id in bound or tuple(v.array.shape) != ())]
    if wrong:
        raise ValueError(f"compile_graph: only unbound inputs of shape () arrive as numbers, not %{wrong[0].id} "
                         f"({wrong[0].array!r})")
    env = _Env()
    params = [f"x{v.id}" for v in graph.inputs if v.id not in bound]
    sized = None
    if _scalar_graph(graph, bound) and not has_unknown_dims(graph):
        lines, returned = _scalar_lines(graph, bound, env, scalars)
        lines = env.prologue + lines
        indent = "    "
    else:
        lines = [f"x{vid} = np.asarray(x{vid}, {env.bind(v.array.dtype, 'dt')})"
                 for v in graph.inputs if (vid := v.id) in scalars]
        if has_unknown_dims(graph):  # one function for every size of those dimensions
            hint = max(2, graph.dim_hint)
            sized = SizedObjects(graph, bound, (hint, 2 if hint >= 1024 else 4099))
        more, returned = _array_lines(graph, bound, env, sized)
        if numbers:  # (a scalar is immutable: no copy of a bound array needed)
            returned = [f"{name.removesuffix('.copy()')}[()]" if v.array.ndim == 0 and name != "None" else name
                        for v, name in zip(graph.outputs, returned)]
        if sized is not None and sized.needed():  # resolved per size even with no names: it checks the code holds
            sizes = sized.key_expression({i: f"x{v.id}" for i, v in enumerate(graph.inputs)})
            target = f"{', '.join(sized.names)}, = " if sized.names else ""
            more.insert(0, f"{target}{env.bind(sized.resolve, 'resolve')}({sizes})")
        lines += env.prologue + more
        indent = "        "
    if layout is not None:
        returned = ["None" if k is None else returned[k] for k in layout]
    body = "\n".join(indent + line for line in lines)
    func = f"graph_{next(_counter)}"
    returns = f"return ({', '.join(returned)}{',' if returned else ''})"
    if indent == "    ":  # nothing shared between calls: no lock to take
        source = f"def {func}({', '.join(params)}):\n{body + chr(10) if body else ''}    {returns}\n"
    else:
        lock = env.bind(threading.Lock(), "lock")
        if env.threaded:  # BLAS keeps to the calling thread in the whole step (blas_threads)
            lock += f", {env.bind(blas_threads.single_threaded(), 'blas')}"
        if env.pending:  # a failing step waits for the work it started on threads before it raises
            names = ", ".join(env.pending)
            settle = env.bind(parallel.settle_pieces, "settle")
            body = "\n".join(["        " + f"{n} = None" for n in env.pending] + ["        try:"]
                             + ["    " + line for line in body.splitlines()]
                             + [f"            {returns}", "        except BaseException:",
                                f"            {settle}({names})", "            raise"])
            returns = ""
        source = (f"def {func}({', '.join(params)}):\n    with {lock}:\n{body + chr(10) if body else ''}"
                  + (f"        {returns}\n" if returns else ""))
    defaults = ", ".join(f"{k}={k}" for k in env.objects)
    indented = "\n".join("    " + line for line in source.splitlines())
    wrapper = f"def make({defaults}):\n{indented}\n    return {func}\n"
    namespace: dict = {}
    exec(compile(wrapper, f"<ember graph {func}>", "exec"), dict(env.objects), namespace)
    fn = namespace["make"]()
    # Returned items that are copies made by the call itself: nothing else holds them (ember.jit hands them
    # out as gradients without copying again).
    fn.owned = frozenset(i for i, name in enumerate(returned)
                         if (name.endswith(".copy()") or name in env.handed or name in env.owned_results)
                         and returned.count(name) == 1)
    return CompiledGraph(fn, source, graph, sized)


def _array_lines(graph: Graph, bound: dict, env: _Env, sized: SizedObjects | None = None):
    names: dict = {}
    lines = []
    into, over = _buffers(graph, env, sized)
    per_size = set(into.values()) if sized is not None else set()  # names of arrays resolved per call size
    for v in graph.inputs:
        names[v.id] = env.bind(bound[v.id], "var") if v.id in bound else f"x{v.id}"
    fixed = {names[vid] for vid in bound if vid in names}  # names of arrays that are the same on every call
    fetched_vars = {v.id for v in graph.outputs if v.id in bound}
    for vid in fetched_vars:  # a fetched variable is copied before any update changes it
        lines.append(f"v{vid} = {names[vid]}.copy()")
    flat_grads, flat_lines = _flat_updates(graph, bound, env)
    sparse_lines = _sparse_runs(graph, env, bound)
    # folding a bias into a product needs a [h, 1] buffer of known rows
    folds = fold_biases(graph, bound, env.bind, env.objects, flat_grads) if sized is None else BiasFolds()
    if sized is None:
        sparse_lines.update(_lookup_runs(graph, bound, env, set(flat_grads) | set(folds.copy_after), folds.copy_after))
    lines += folds.copies
    sizes: dict = {}
    for node in graph.nodes:
        if node.op is UPDATE and id(node) not in flat_lines:
            param = node.inputs[0].array
            sizes[param.dtype] = max(sizes.get(param.dtype, 0), int(np.prod(param.shape)))
    env.reserve(sizes)
    joints = _joint_pairs(graph, set(flat_grads) | set(folds.copy_after))
    update_pieces = _update_pieces(graph, bound, env, flat_lines)
    into_transposed = _into_transposed_gradients(graph, flat_grads, env)
    wrote_transposed = set()  # ids of values computed straight into a flat gradient's transpose
    joined = {id(second) for second in joints.values()}
    after = _AfterProduct(graph, names, env) if sized is None else None
    for node in graph.nodes:
        if after is not None:
            after.close(lines)
        if id(node) in env.joins:  # pieces started on the runtime's threads (_sparse_runs) end here
            lines += env.joins.pop(id(node))
        if after is not None:
            after.open(node, lines)
        op, attrs = node.op, node.attrs
        if id(node) in joined:  # computed with its partner, earlier
            continue
        args = [names[v.id] for v in node.inputs]
        if id(node) in joints:
            lines.append(_joint_line(node, joints[id(node)], names, env, graph))
            continue
        if op is CONST:
            names[node.outputs[0].id] = env.bind(attrs["value"], "c")
        elif op is UPDATE:
            grouped = flat_lines.get(id(node))
            if id(node) in update_pieces:
                lines += update_pieces[id(node)](names)
            else:
                lines += _update_lines(node, args, env) if grouped is None else grouped
        elif op is ASSIGN:
            lines.append(f"{args[0]}[...] = {args[1]}")
        elif id(node) in sparse_lines:
            lines += sparse_lines[id(node)](names)
        elif not node.outputs:  # any other effect: the op's forward, writing its inputs in place
            lines += _expression(node, args, env)
        elif id(node) in folds.skip:  # a folded layer's call computes this value
            out = node.outputs[0].id
            names[out] = flat_grads.get(out) or into.get(out) or "None"
        elif op is TRANSPOSE and node.inputs[0].id in wrote_transposed:  # the flat gradient holds it already
            names[node.outputs[0].id] = flat_grads[node.outputs[0].id]
        elif op.view is not None and args[0] in fixed and node.outputs[0].id not in flat_grads \
                and node.outputs[0].id not in folds.copy_after \
                and (view := _view_of(node, env.objects[args[0]])) is not None:
            # A view of an array that is the same object on every call: made once, here.
            names[node.outputs[0].id] = name_ = env.bind(view, "c")
            fixed.add(name_)
        else:
            out = node.outputs[0].id
            dest = flat_grads.get(out) or into_transposed.get(out) or into.get(out) or \
                (names[over[out]] if out in over and names[over[out]] != "None" else None)
            target = names[out] = f"v{out}"
            if id(node) in folds.forward:  # [h, 1] @ [W; b]
                buffer, stacked = folds.forward[id(node)]
                expression, more = _product(env, buffer, stacked, dest), []
            elif id(node) in folds.backward:  # [gW; gb] = [h, 1].T @ delta, into the flat gradient array
                transposed, stacked, delta = folds.backward[id(node)]
                expression, more, dest = _product(env, transposed, names[delta], stacked), [], flat_grads[out]
            else:
                # a column-major flat gradient view (a folding layer's weight) is copied in below: out= takes
                # C-ordered arrays
                into_dest = None if out in flat_grads and not env.objects[dest].flags.c_contiguous else dest
                if sized is not None and _unknown_dims(node):
                    code, static = sized.emit(node, args, into_dest, _expression, _forward_call)
                    env.objects.update(static)
                    expression, *more = code
                else:
                    expression, *more = _expression(node, args, env, into_dest)
            lines.append(f"{target} = {expression}")
            split = _thread_product(node, expression, env)
            # (a positional destination, as ``np.add.reduce(x, axis, None, out, keepdims)``; a dying input written
            # over is one of the arguments, which an emitter without out= only reads: pow of integers)
            wrote = dest is not None and (f"out={dest}" in expression or id(node) in folds.backward
                                          or f", {dest}, " in expression and dest not in args)
            if wrote and out in into_transposed:
                wrote_transposed.add(out)
            if wrote and (dest in env.objects or dest in per_size):  # the result is that preallocated array
                names[out] = dest
                lines[-1] = expression
                if dest in env.objects:
                    fixed.add(dest)
                if split and after is not None and expression.endswith(f", out={dest})"):
                    after.product(node, len(lines) - 1, dest)
            lines += more
            if out in flat_grads and not wrote:
                lines.append(f"{env.bind(np.copyto, 'f')}({dest}, {target})")  # no out= form: copy it in
            if out in folds.copy_after:  # a folded layer's input, into its [h, 1] buffer
                lines.append(f"{env.bind(np.copyto, 'f')}({folds.copy_after[out]}, {names[out]})")
    if after is not None:
        after.close(lines)
    for finishing in env.joins.values():
        lines += finishing
    _rotate(env)
    returned = []
    fresh = _fresh_results(graph, bound, into, over, names)
    for v in graph.outputs:
        name = f"v{v.id}" if v.id in fetched_vars else names[v.id]
        if env.objects.get(name).__class__ is np.ndarray:  # an array made once (a flat gradient's view)
            name = f"{name}.copy()"  # the caller keeps what it gets
        elif v.id in fresh:
            env.owned_results.add(name)
        returned.append(name)
    return lines, returned


def _into_transposed_gradients(graph: Graph, flat_grads: dict, env: _Env) -> dict:
    """Value id -> ``"<flat gradient view>.T"`` for a matrix whose one reader transposes it into a flat gradient
    laid out column by column (an ``nn.Linear`` weight's, computed as ``(x.T @ g).T``): its producer writes
    straight into that memory (C-ordered seen transposed) instead of into a new array copied in after. The
    expression is read on every call: the flat gradients' arrays may rotate between calls."""
    users = graph.users()
    outputs = {v.id for v in graph.outputs}
    found = {}
    for node in graph.nodes:
        grad = node.outputs[0].id if node.op is TRANSPOSE else None
        if grad not in flat_grads or tuple(node.attrs["axes"]) != (1, 0):
            continue
        source = node.inputs[0].id
        view = env.objects[flat_grads[grad]]
        if view.ndim == 2 and view.T.flags.c_contiguous and source not in outputs and len(users[source]) == 1:
            found[source] = f"{flat_grads[grad]}.T"
    return found


def _joint_pairs(graph: Graph, placed: set) -> dict:
    """id(first node) -> second node, for the pairs one call computes (the ``joint`` trait of the second's op):
    the first is of the trait's partner op, over the second's shared inputs with the same attributes, and the
    second's other inputs are known by then (computed earlier, or constants). ``placed``: value ids whose
    memory the generator chose already (flat gradients, folded layers' inputs), left alone."""
    produced = {}
    for i, node in enumerate(graph.nodes):
        for v in node.outputs:
            produced[v.id] = (i, node.op is CONST)
    firsts, pairs = {}, {}
    for i, node in enumerate(graph.nodes):
        joint = node.op.joint
        if joint is None:
            if node.outputs:
                firsts.setdefault((node.op, tuple(v.id for v in node.inputs)), (i, node))
            continue
        found = firsts.get((joint.partner, tuple(v.id for v in node.inputs[:joint.shared])))
        if found is None or id(found[1]) in pairs or found[1].attrs != node.attrs:
            continue
        start, first = found
        later = [v for v in node.inputs[joint.shared:] if v.id in produced and produced[v.id][0] >= start
                 and not produced[v.id][1]]
        if later or {first.outputs[0].id, node.outputs[0].id} & placed:
            continue
        pairs[id(first)] = node
    return pairs


def _joint_line(first, second, names: dict, env: _Env, graph: Graph) -> str:
    """One call computing both nodes of a joint pair (see ``_joint_pairs``)."""
    missing = [v for v in second.inputs if v.id not in names]
    if missing:  # constants defined after the first node: bound here already
        producers = graph.producers()
        for v in missing:
            names[v.id] = env.bind(producers[v.id].attrs["value"], "c")
    joint = second.op.joint
    args = ", ".join(names[v.id] for v in second.inputs)
    a, b = first.outputs[0].id, second.outputs[0].id
    names[a], names[b] = f"v{a}", f"v{b}"
    kernel = None if joint.kernel is None else joint.kernel(*(v.array for v in second.inputs), **second.attrs)
    if kernel is not None:  # made for these shapes: its temporaries allocated once
        return f"v{a}, v{b} = {env.bind(kernel.__call__, 'k')}({args})"  # a bound method: the cheaper call
    forward = functools.partial(joint.forward, **second.attrs)
    return f"v{a}, v{b} = {env.bind(forward, 'f')}(np, {args})"


def _rotate(env: _Env) -> None:
    """Each flat gradient array the function returns views of, and every view the code reads of it, becomes
    one set of a ``Rotation``, taken first thing on every call: returned without a copy, never overwritten
    while a caller holds it."""
    for base in env.rotating:
        names = [k for k, o in env.objects.items() if o is base] + \
            [k for k, o in env.objects.items() if o.__class__ is np.ndarray and o.base is base]
        rotation = Rotation(base, [env.objects[k] for k in names[1:]])
        for k in names:
            del env.objects[k]
        env.handed.update(names)
        env.prologue.append(f"{', '.join(names)}, = {env.bind(rotation.__call__, 'rot')}()")


def _fresh_results(graph: Graph, bound: dict, into: dict, over: dict, names: dict) -> set:
    """Ids of returned values whose memory the call makes anew on every call and keeps nowhere: the caller may
    keep them as they are. Such a value is an op's fresh output in a local of the call (not a preallocated,
    bound or overwritten array), or views (a transpose, a reshape, disjoint slices) of one read by nothing
    else (a column-major weight's gradient is the transpose of a fresh product; the rows of several embedding
    tables' gradients are column blocks of one product)."""
    producers, users = graph.producers(), graph.users()
    outputs = {v.id for v in graph.outputs}

    def local(vid: int) -> bool:
        made = producers.get(vid)
        return made is not None and made.op.fresh and vid not in bound and vid not in into and vid not in over \
            and names.get(vid, "") == f"v{vid}"

    found = {vid for vid in outputs if local(vid)}
    views_of: dict = {}
    for v in graph.outputs:
        node = producers.get(v.id)
        if node is not None and node.op.view is not None and node.inputs:
            views_of.setdefault(node.inputs[0].id, []).append((v, node))
    for source_id, views in views_of.items():
        source = views[0][1].inputs[0]
        if local(source_id) and source_id not in outputs and len(users.get(source_id, ())) == len(views) \
                and None not in source.array.shape and _disjoint_views(source.array.shape, views):
            found.update(v.id for v, _ in views)
    return found


def _disjoint_views(shape: tuple, views: list) -> bool:
    """Whether the views, computed from one array of ``shape``, are views of it with no element in common
    that together span at least half of it (a handed-out view keeps its whole base alive)."""
    if len(views) > _MAX_DISJOINT_VIEWS:
        return False
    probe = np.empty(shape, np.uint8)  # overlaps are per element: any dtype shows them
    taken = []
    for v, node in views:
        if None in v.array.shape:
            return False
        view = node.op.view(probe, node.attrs, tuple(v.array.shape))
        if view.size and not np.shares_memory(view, probe):
            return False
        taken.append(view)
    return 2 * sum(view.size for view in taken) >= probe.size \
        and not any(np.shares_memory(a, b) for i, a in enumerate(taken) for b in taken[i + 1:])


_MAX_DISJOINT_VIEWS = 64  # the pairwise check's cost grows with the square


def _product(env: _Env, a: str, b: str, out: str | None) -> str:
    """``a @ b`` of two bound matrices, by the call the op's forward would choose for their shapes."""
    first = env.objects[a]
    rows, inner = first.shape
    cols = env.objects[out if out in env.objects else b].shape[-1]  # b may be computed; then out is bound
    if dot_pays(rows, inner, cols):
        fn = np.dot
    else:
        fn = large_product if large_product_pays(rows, inner, cols, first.dtype) else np.matmul
    return f"{env.bind(fn, 'f')}({a}, {b}{'' if out is None else f', out={out}'})"


def _view_of(node, array):
    """What a view op (its record's ``view``) computes from ``array``, when that is a view of it; else None (a
    reshape of strided memory copies, and a copy made once would go stale)."""
    result = node.op.view(array, node.attrs, tuple(node.outputs[0].array.shape))
    return result if array.size and np.shares_memory(result, array) else None




def _flat_updates(graph: Graph, bound: dict, env: _Env) -> tuple[dict, dict]:
    """Runs of plain or momentum SGD updates over variables that lie side by side in one array: each run
    becomes a few whole-array calls (the gradients are computed straight into one array too), instead of a
    few calls per variable, which is what small models spend their time on.

    Returns (gradient value id -> the view its producer writes into, id(update node) -> the lines replacing
    it: the run's lines for its first node, none for the others).
    """
    users = graph.users()
    outputs = {v.id for v in graph.outputs}
    producers = graph.producers()
    position = {id(node): i for i, node in enumerate(graph.nodes)}
    runs: dict = {}
    for node in graph.nodes:
        if node.op is not UPDATE:
            continue
        param, grad = node.inputs
        kind = "plain" if _plain_sgd(node.attrs) else "momentum" if _momentum_sgd(node.attrs) else None
        array = bound.get(param.id)
        if (kind is None or array is None or not _inlines(node) or len(users.get(grad.id, ())) != 1
                or grad.id not in producers or producers[grad.id].op is CONST):
            continue
        base = array.base
        if base is None or base.ndim != 1 or not (array.flags.c_contiguous or array.flags.f_contiguous) \
                or array.size == 0:
            continue
        offset = element_offset(array, base)
        live = node.attrs.get("live")  # updates reading their hyper-parameters on every run share the reader
        key = (id(base), kind, id(live), tuple(sorted((k, repr(v)) for k, v in node.attrs["hyper"].items())))
        runs.setdefault(key, (base, kind, []))[2].append((offset, node, array))
    flat_grads, flat_lines = {}, {}
    for base, kind, members in runs.values():
        members.sort(key=lambda m: m[0])
        run = [members[0]]
        for member in members[1:] + [None]:
            if member is not None and 0 <= member[0] - (run[-1][0] + run[-1][2].size) < \
                    ALIGN_BYTES // base.itemsize:
                run.append(member)
                continue
            if len(run) > 1:
                returned = any(n.inputs[1].id in outputs for _, n, _ in run)
                _flatten_run(run, base, kind, graph, producers, position, env, flat_grads, flat_lines, returned)
            run = [member]
    return flat_grads, flat_lines


def _gathered_buffers(run, states, key: str, buffers: list, start: int, end: int):
    """Momentum buffers that are one array each (eager steps made them, ``load_state_dict`` restored them) copied
    side by side into one new array, each state then holding its view, as for buffers made here; None where one
    may be held elsewhere (the code of another compiled function binds the buffers it updates)."""
    dtype = run[0][2].dtype
    for i, (_, _, array) in enumerate(run):
        b = buffers[i]
        if b is None or b.__class__ is not np.ndarray or b.shape != array.shape or b.dtype != dtype \
                or not b.flags.owndata or _getrefcount(buffers[i]) > 4:  # the state, the list, ``b``, the argument
            return None
    flat_buffer = aligned_empty(end - start, dtype, zeroed=True)
    for (offset, _, array), state, b in zip(run, states, buffers):
        view = laid_out_like(flat_buffer[offset - start:offset - start + array.size], array)
        view[...] = b
        state[key] = view
    return flat_buffer


def _hyper(env: _Env, node, name: str) -> str:
    """The expression reading hyper-parameter ``name`` of an update: a literal, or (for an update whose
    hyper-parameters are read on every run, as ``ember.jit`` makes them) an item of the dict read once, first
    thing in the function, so that a scheduler's new lr applies without a retrace."""
    live = node.attrs.get("live")
    if live is None:
        return repr(float(node.attrs["hyper"][name]))
    hyper_name = env.live.get(id(live))
    if hyper_name is None:
        hyper_name = env.live[id(live)] = f"h{len(env.live)}"
        env.prologue.append(f"{hyper_name} = {env.bind(live, 'hyper')}()")
    return f"{hyper_name}[{name!r}]"


def _sgd_hyper(env: _Env, node, name: str) -> str:
    """``_hyper`` for the SGD lines the generator writes itself: a value that is the param group's own entry
    (``lr``, ``momentum`` of ``ember.optim.SGD``) is read there, without making the reader's dict."""
    live = node.attrs.get("live")
    group = getattr(live, "group", None)
    if isinstance(group, dict) and name in group and group[name] is live()[name]:
        key = ("group", id(group))
        if key not in env.live:
            env.live[key] = env.bind(group, "group")
        return f"{env.live[key]}[{name!r}]"
    return _hyper(env, node, name)


# A run this large updates through OpenBLAS's axpby: its addresses are written into the code, so the call costs
# less than NumPy's passes from a few thousand elements (openblas.AXPBY_MIN_SIZE is for calls that find them).
_FLAT_AXPBY_MIN_SIZE = 2048


def _flatten_run(run, base, kind, graph, producers, position, env, flat_grads, flat_lines, returned) -> None:
    nodes = [node for _, node, _ in run]
    first, last = min(position[id(n)] for n in nodes), max(position[id(n)] for n in nodes)
    if any(graph.nodes[i].op is not UPDATE for i in range(first, last + 1)):
        return  # something reads the variables between the updates: keep them one by one
    if any(position[id(producers[n.inputs[1].id])] > first for n in nodes):
        return
    start, end = run[0][0], run[-1][0] + run[-1][2].size
    if kind == "momentum":
        states = [n.attrs["state"] for n in nodes]
        key = _sgd_form(nodes[0].attrs).buffer_key
        buffers = [state.get(key) for state in states]
        if all(b is None for b in buffers):
            flat_buffer = aligned_empty(end - start, base.dtype, zeroed=True)
            for (offset, _, array), state in zip(run, states):
                state[key] = laid_out_like(flat_buffer[offset - start:offset - start + array.size], array)
        else:  # another compiled function made them: share its array; or gather them; or give up
            flat_buffer = buffers[0].base if buffers[0] is not None else None
            if flat_buffer is None or flat_buffer.size != end - start or any(
                    b is None or b.base is not flat_buffer
                    or element_offset(b, flat_buffer) != offset - start for b, (offset, _, _) in zip(buffers, run)):
                flat_buffer = _gathered_buffers(run, states, key, buffers, start, end)
                if flat_buffer is None:
                    return
    grads = aligned_empty(end - start, base.dtype, zeroed=True)  # the gaps between variables stay zero
    for offset, node, array in run:
        view = laid_out_like(grads[offset - start:offset - start + array.size], array)
        flat_grads[node.inputs[1].id] = env.bind(view, "g")
    params, grad_name = env.bind(base[start:end], "vars"), env.bind(grads, "grads")
    lr = _sgd_hyper(env, nodes[0], "lr")
    if returned:  # handed out: a caller may keep them (``_rotate``)
        env.rotating.append(grads)
    axpby = openblas.axpby_routine(base.dtype) if end - start >= _FLAT_AXPBY_MIN_SIZE else None
    if axpby is not None:  # one pass per line, no temporary; a rotating gradient array is read where it is now
        call = f"{env.bind(axpby, 'axpby')}({end - start}, "
        grads_at = f"{grad_name}.ctypes.data" if returned else str(grads.ctypes.data)
        params_at, step = base[start:end].ctypes.data, f"-float({lr})"
        if kind == "plain":
            lines = [f"{call}{step}, {grads_at}, 1, 1.0, {params_at}, 1)"]
        else:
            env.bind(flat_buffer, "buf")  # kept alive by the function that writes it by address
            buf_at = flat_buffer.ctypes.data
            momentum = f"float({_sgd_hyper(env, nodes[0], 'momentum')})"
            lines = [f"{call}1.0, {grads_at}, 1, {momentum}, {buf_at}, 1)",
                     f"{call}{step}, {buf_at}, 1, 1.0, {params_at}, 1)"]
        for node in nodes:
            flat_lines[id(node)] = []
        flat_lines[id(graph.nodes[first])] = lines
        return
    # The flat gradient array is dead once read, so it holds lr * step: no temporary is allocated (a fresh
    # megabyte-sized temporary per step was measured to cost as much as the multiply itself). Gradients the
    # function returns (ember.jit sets .grad) are kept: the step goes into an array of its own.
    step = env.bind(aligned_empty(end - start, base.dtype), "s") if returned else grad_name
    if kind == "plain":
        lines = [f"np.multiply({grad_name}, {lr}, out={step})", f"{params}.__isub__({step})"]
    else:
        buf = env.bind(flat_buffer, "buf")
        lines = [f"{buf}.__imul__({_sgd_hyper(env, nodes[0], 'momentum')})", f"{buf}.__iadd__({grad_name})",
                 f"np.multiply({buf}, {lr}, out={step})", f"{params}.__isub__({step})"]
    for node in nodes:
        flat_lines[id(node)] = []
    flat_lines[id(graph.nodes[first])] = lines


def _batched_sparse(node) -> bool:
    return node.op is SPARSE_UPDATE and getattr(node.attrs["rule"], "many", None) is not None


def _joins(run: list, node) -> bool:
    """Whether a ``sparse_update`` node may join a run: the same rule and hyper-parameters, another parameter."""
    head = run[0].attrs
    return (node.attrs["rule"] is head["rule"] and node.attrs.get("live") is head.get("live")
            and (head.get("live") is not None or node.attrs["hyper"] == head["hyper"])
            and all(n.inputs[0].id != node.inputs[0].id for n in run))


def _sparse_runs(graph: Graph, env: _Env, bound: dict) -> dict:
    """Runs of neighbouring ``sparse_update`` nodes of one rule that has a ``many`` form (``ops.effects.
    update_rule``), the same hyper-parameters and distinct parameters: one call of ``many`` for the run (the
    rule over all the parameters' rows at once). Returns node id -> a function of the value names giving its
    lines: the run's call for its first node, none for the others."""
    runs, run = [], []
    for node in graph.nodes:
        if _batched_sparse(node) and run and _joins(run, node):
            run.append(node)
            continue
        runs.append(run)
        run = [node] if _batched_sparse(node) else []
    runs = [r for r in runs + [run] if len(r) > 1]
    lines = {}
    for run in runs:
        attrs = run[0].attrs
        if attrs.get("live") is not None:
            _hyper(env, run[0], "lr")
            hyper = env.live[id(attrs["live"])]
        else:
            hyper = env.bind(attrs["hyper"], "hyper")
        many = attrs["rule"].many
        shapes = [n.inputs[2].array.shape for n in run]  # the gradients' rows
        parts = [(0, len(run))] if any(None in shape for shape in shapes) else \
            _parallel_parts([math.prod(shape) for shape in shapes])
        if len(parts) > 1:  # the tables' updates touch disjoint memory: a part of them per thread
            many = _ManyInParts(many, parts)
            env.threaded = True
        many, states = env.bind(many, "many"), env.bind([n.attrs["state"] for n in run], "s")
        join = _beside_run(graph, run, bound)
        if join is not False:  # the work that follows runs while the sparse update does (parallel.py)
            env.threaded = True
            pending = f"pending{len(env.objects)}"
            env.pending.append(pending)
            env.joins.setdefault(join, []).append(f"{env.bind(parallel.finish_pieces, 'finish')}({pending})")

        def call(names, run=run, many=many, states=states, hyper=hyper, join=join) -> list:
            args = ["[" + ", ".join(names[n.inputs[k].id] for n in run) + "]" for k in range(3)] + [states]
            if all(len(n.inputs) == 4 for n in run):  # the rows the lookups gathered (passes.sparse_rows)
                args.append("rows=[" + ", ".join(names[n.inputs[3].id] for n in run) + "]")
            if join is not False:
                start, partial = env.bind(parallel.start_pieces, "start"), env.bind(functools.partial, "partial")
                return [f"{pending} = {start}(({partial}({many}, {', '.join(args)}, **{hyper}),))"]
            return [f"{many}({', '.join(args)}, **{hyper})"]

        for node in run:
            lines[id(node)] = lambda names: []
        lines[id(run[0])] = call
    return lines


def _beside_run(graph: Graph, run: list, bound: dict):
    """Whether the nodes right after a run of sparse updates may run while it does (on another thread): when the
    step has threads and one node at least qualifies. Then the id of the first node after those, where the run
    must have finished (None: the end of the step); else False.

    The run reads its own inputs and writes its tables and their accumulators. A dense ``update`` after it
    qualifies when its variable's memory is no table's (it reads its gradient and writes its variable, its state
    and the step's scratch arrays); a pure node when it reads no table and its result goes to no buffer of the
    memory plan that holds one of the run's inputs (nor over one of them, in place)."""
    if parallel.num_threads() < 2:
        return False
    at = next(i for i, node in enumerate(graph.nodes) if node is run[-1]) + 1
    tables = [bound.get(n.inputs[0].id) for n in run]
    written = {n.inputs[i].id for n in run for i in n.op.writes}
    read = {v.id for n in run for v in n.inputs}
    plan = graph.memory_plan
    slots = plan.slots if plan is not None and plan.matches(graph) else {}
    inplace = plan.inplace if slots else {}
    taken = {slots[vid] for vid in read if vid in slots}
    updated, first = [], at
    while at < len(graph.nodes):
        node = graph.nodes[at]
        if node.op is UPDATE:
            if node.inputs[0].id not in bound or node.inputs[0].id in written:
                break
            updated.append(bound[node.inputs[0].id])
        elif node.op.effect or any(v.id in written for v in node.inputs) \
                or any(slots.get(v.id) in taken or inplace.get(v.id) in read for v in node.outputs):
            break
        at += 1
    if at == first or not _disjoint(tables + updated):
        return False
    return id(graph.nodes[at]) if at < len(graph.nodes) else None


def _lookup_runs(graph: Graph, bound: dict, env: _Env, keep: set, copy_after: dict | None = None) -> dict:
    """Embedding lookups of tables that lie side by side in one array (``ember.jit``'s sparse arena), with ids of
    one shape: one gather serves a run of them (``TableRows``), emitted where the run's last lookup stands (a
    run ends where a node reads a lookup's rows, or an effect stands, before the next lookup). ``keep``: value
    ids whose producers must stay as they are. Returns node id -> a function of the value names giving its
    lines (none but for the run's last lookup, whose line names all the run's rows).

    When a concatenation along the last axis takes a run's rows side by side, in the run's order (a CTR model's
    embeddings joined for its first layer), the gather writes each id's rows of all the tables next to each
    other: those inputs of the concatenation are then one block, copied once, into the folded layer's input
    buffer (``copy_after``: value id -> that buffer's view) when it has one."""
    users = graph.users()
    position = {id(node): i for i, node in enumerate(graph.nodes)}
    groups: dict = {}  # (base id, row shape, dtype, ids shape) -> the lookups
    for node in graph.nodes:
        if node.op is not EMBEDDING or node.outputs[0].id in keep:
            continue
        table, ids = node.inputs
        array = bound.get(table.id)
        if array is None or array.ndim != 2 or not array.flags.c_contiguous or array.base is None \
                or array.base.ndim != 1 or array.dtype == bfloat16 or None in ids.array.shape:
            continue
        key = (id(array.base), array.shape[1], array.dtype, tuple(ids.array.shape))
        groups.setdefault(key, []).append(node)
    effects = [i for i, node in enumerate(graph.nodes) if node.op.effect]
    runs = []
    for group in groups.values():
        # a run ends where a lookup's rows are read, or an effect may write a table, before the next lookup
        run, barrier = [], len(graph.nodes)
        for node in group:
            at = position[id(node)]
            if run and barrier < at:
                runs.append(run)
                run, barrier = [], len(graph.nodes)
            run.append(node)
            next_effect = effects[bisect.bisect(effects, at)] if effects and effects[-1] > at else barrier
            barrier = min([barrier, next_effect] + [position[id(u)] for u in users.get(node.outputs[0].id, ())])
        runs.append(run)
    lines: dict = {}
    outputs = {v.id for v in graph.outputs}
    for run in runs:
        if len(run) < 2:
            continue
        joined = _joining_concat(run, users, keep - set(copy_after or ()))
        sizes = [math.prod(n.outputs[0].array.shape) for n in run]
        if joined is None:
            parts = _parallel_parts(sizes, _GATHER_PART_ELEMENTS)
        else:  # parts of the ids' first axis: each part's rows of every table
            ids_shape = run[0].inputs[1].array.shape
            parts = _even_parts(ids_shape[0] if ids_shape else 1, sum(sizes) // _GATHER_PART_ELEMENTS)
        rows = TableRows.of([bound[n.inputs[0].id] for n in run], [functools.partial(n.op.forward, **n.attrs)
                                                                   for n in run], parts, joined is not None)
        if rows is None:
            continue
        gather = env.bind(rows, "rows")
        env.threaded = env.threaded or len(parts) > 1
        block = None if joined is None else f"joined{joined[0].outputs[0].id}"

        def call(names, run=run, gather=gather, block=block) -> list:
            for n in run:
                names[n.outputs[0].id] = f"v{n.outputs[0].id}"
            targets = ", ".join(([block] if block else []) + [f"v{n.outputs[0].id}" for n in run])
            return [f"{targets}, = {gather}({', '.join(names[n.inputs[1].id] for n in run)})"]

        for node in run:
            lines[id(node)] = lambda names: []
        lines[id(run[-1])] = call
        if joined is not None:
            concat, start = joined
            into = None if concat.outputs[0].id in outputs else (copy_after or {}).get(concat.outputs[0].id)
            lines[id(concat)] = functools.partial(_joined_lines, env, concat, start, len(run), block, into,
                                                  (copy_after or {}).get(concat.outputs[0].id))
    return lines


def _joining_concat(run: list, users: dict, keep: set):
    """``(concat node, index of the run's first rows among its inputs)`` for a concatenation along the last axis
    that takes the run's rows as neighbouring inputs in the run's order, each once; else None."""
    rows = [n.outputs[0].id for n in run]
    for node in users.get(rows[0], ()):
        if node.op is not CONCAT or node.outputs[0].id in keep:
            continue
        ndim = len(node.outputs[0].array.shape)
        inputs = [v.id for v in node.inputs]
        if node.attrs["axis"] % ndim != ndim - 1 or any(inputs.count(r) != 1 for r in rows):
            continue
        start = inputs.index(rows[0])
        if inputs[start:start + len(rows)] == rows:
            return node, start
    return None


def _joined_lines(env: _Env, concat, start: int, count: int, block: str, into: str | None, copied: str | None,
                  names: dict) -> list:
    """A concatenation whose inputs ``start`` to ``start + count`` are the joined rows ``block`` of a gather:
    the block and the other inputs copied once, into ``into`` (a folded layer's input buffer) when given. The
    result is never the gather's own memory, which the lookups' rows are views of. ``copied``: the buffer a
    folded layer copies the result into (when the result is returned, it is made apart and copied in)."""
    pieces = [names[v.id] for v in concat.inputs[:start]] + [block] \
        + [names[v.id] for v in concat.inputs[start + count:]]
    out = concat.outputs[0].id
    join = env.bind(np.concatenate, "f")
    if into is not None:
        names[out] = into
        return [f"{join}(({', '.join(pieces)},), axis=-1, out={into})"]
    names[out] = target = f"v{out}"
    joined = f"{block}.copy()" if len(pieces) == 1 else f"{join}(({', '.join(pieces)},), axis=-1)"
    lines = [f"{target} = {joined}"]
    if copied is not None:
        lines.append(f"{env.bind(np.copyto, 'f')}({copied}, {target})")
    return lines


_CHECKED = "clip"  # np.take's mode (not the op) for keys checked to lie in bounds: no second check, no buffering


class TableRows:
    """Rows of several tables that lie side by side in one array, gathered by one ``take``: ``rows(*ids)`` gives
    each table's ``table[ids]``, as the lookups' own forward would (its checks and errors: a table whose ids
    fall outside it is looked up by that forward, which raises).

    ``joined``: each id's rows of all the tables are gathered next to each other, and ``rows(*ids)`` gives first
    that block, the tables' rows concatenated along the last axis, then each table's rows (views of it)."""

    __slots__ = ("blocks", "offsets", "sizes", "lookups", "tables", "parts", "joined")

    def __init__(self, blocks, offsets, sizes, lookups: list, tables: list, parts: list, joined: bool = False):
        self.blocks, self.offsets, self.sizes, self.lookups, self.tables = blocks, offsets, sizes, lookups, tables
        self.parts, self.joined = parts, joined

    @classmethod
    def of(cls, tables: list, lookups: list, parts: list | None = None, joined: bool = False):
        """For 2-d C-contiguous ``tables`` of one row width and dtype in one 1-d array, each starting on a whole
        row of it; else None. ``lookups``: each table's lookup function ``(np, table, ids)``; ``parts``: ranges
        gathered on threads at once (default: all in one), of the tables, or ``joined``, of the ids' first
        axis."""
        base, width = tables[0].base, tables[0].shape[1]
        if width == 0 or any(t.base is not base or t.shape[1] != width or t.dtype != base.dtype for t in tables):
            return None
        starts = [element_offset(t, base) for t in tables]
        if any(start % width or start < 0 for start in starts):
            return None
        blocks = base[:base.size // width * width].reshape(-1, width)
        offsets = np.array([start // width for start in starts])
        sizes = np.array([t.shape[0] for t in tables])
        return cls(blocks, offsets, sizes, lookups, tables, parts or [(0, len(tables))], joined)

    def __call__(self, *ids):
        if self.joined:  # (*ids shape, tables): an id's keys of all the tables next to each other
            keys = np.stack(ids, axis=-1).astype(np.intp, copy=False)
            checked = keys.reshape(-1, len(ids)).T
        else:
            keys = checked = np.stack(ids).reshape(len(ids), -1).astype(np.intp, copy=False)  # (tables, ids)
        if checked.shape[1]:
            low, high = checked.min(axis=1), checked.max(axis=1)
            bad = np.flatnonzero((low < 0) | (high >= self.sizes))
            if bad.size:
                i = int(bad[0])
                self.lookups[i](np, self.tables[i], ids[i])  # raises the lookup's own error
        keys += self.offsets if self.joined else self.offsets[:, None]
        blocks = self.blocks
        rows = np.empty(keys.shape + blocks.shape[1:], blocks.dtype)
        if len(self.parts) == 1 or keys.ndim < 2:
            np.take(blocks, keys, axis=0, out=rows, mode=_CHECKED)
        else:
            parallel.run_pieces([functools.partial(np.take, blocks, keys[a:b], axis=0, out=rows[a:b], mode=_CHECKED)
                                 for a, b in self.parts])
        if self.joined:
            return (rows.reshape(ids[0].shape + (len(ids) * blocks.shape[1],)),) \
                + tuple(rows[..., t, :] for t in range(len(ids)))
        return rows.reshape((len(ids),) + ids[0].shape + blocks.shape[1:])


# The least elements a part of the sparse work gets a thread for. W5s's update (213k elements: 26 tables' rows
# of a 512 batch) measured 4% slower in two parts than in one call on 2 CPUs, so parts start well above it.
_PART_ELEMENTS = 1 << 20
# The least elements a part of a gather gets a thread for: W5s's lookups (213k elements, 0.45 ms on one core)
# gain from two parts.
_GATHER_PART_ELEMENTS = 1 << 16


def _parallel_parts(sizes: list, least: int | None = None) -> list:
    """``[(start, stop), ...]``: items of these sizes (elements each moves) in contiguous parts of about equal
    size, one per thread, each of at least ``_PART_ELEMENTS``; one part when the threads are one or the
    elements few."""
    count = min(parallel.num_threads(), len(sizes), sum(sizes) // (least or _PART_ELEMENTS))
    if count < 2:
        return [(0, len(sizes))]
    bounds, total, done = [0], sum(sizes), 0
    for i, size in enumerate(sizes[:-1]):
        done += size
        if len(bounds) < count and done * count >= total * len(bounds):
            bounds.append(i + 1)
    return list(zip(bounds, bounds[1:] + [len(sizes)]))


def _even_parts(length: int, most: int) -> list:
    """``[(start, stop), ...]``: ``range(length)`` in contiguous parts of about equal size, one per thread but at
    most ``most``; one part when the threads are one."""
    count = min(parallel.num_threads(), length, most)
    if count < 2:
        return [(0, length)]
    bounds = [length * k // count for k in range(count + 1)]
    return list(zip(bounds, bounds[1:]))


# The least floating-point operations a part of a matrix product gets a thread for (about 0.1 ms on one core):
# W5s's products (170 MFLOP) take 0.85 ms in two halves on 2 CPUs, as OpenBLAS's own 2 threads do. Parts this
# large also keep clear of OpenBLAS's kernel for small products, which rounds differently.
_PART_FLOPS = 1 << 23


def _thread_product(node, expression: str, env: _Env) -> bool:
    """In a step that runs work on the runtime's threads (sparse parts; BLAS on one thread throughout, so
    that OpenBLAS's spinning threads do not fight them for the cores): when ``expression`` starts with a BLAS
    product call (``np.dot`` / ``np.matmul`` / ``large_product``) for a node of at least two parts of
    ``_PART_FLOPS``, rebind that call to one computing the rows in parts on those threads
    (``parallel.RowsInParts``). Returns whether it did."""
    if not env.threaded:  # a step of dense layers alone: the BLAS library's own threads are faster on an idle machine
        return False
    name = expression.split("(", 1)[0]
    product = env.objects.get(name)
    if product is not np.dot and product is not np.matmul and product is not large_product:
        return False
    threads = parallel.num_threads()
    if threads < 2 or not blas_threads.available():
        return False
    out = node.outputs[0].array
    if len(out.shape) != 2 or _unknown_dims(node):
        return False
    flops = node.op.cost(out, *(v.array for v in node.inputs), **node.attrs).flops
    parts = min(threads, flops // _PART_FLOPS, out.shape[0] // 8)
    if parts < 2:
        return False
    env.objects[name] = parallel.RowsInParts(product, parts)
    env.threaded = True
    return True


_CALL = re.compile(r"(?:(v\d+) = )?\w+\(([\w\s,=]*)\)")
_NAME = re.compile(r"\b[A-Za-z_]\w*\b")


class _AfterProduct:
    """An elementwise node right after a product whose rows are computed in parts (``parallel.RowsInParts``) runs
    on each part's rows as soon as they are computed, on that part's thread (``then``): its pass over the
    product's rows is split too, and reads them while they are in the core's cache. Elementwise, so the numbers
    are those of the node run whole. Applies where the node's lines are plain calls whose arrays are the
    product's rows, arrays of their shape (cut alike) or rows broadcast over them."""

    def __init__(self, graph: Graph, names: dict, env: _Env):
        self.names, self.env = names, env
        self.shapes = {v.id: tuple(v.array.shape) for node in graph.nodes for v in node.inputs + node.outputs}
        self.next = {id(a): b for a, b in zip(graph.nodes, graph.nodes[1:])}
        self.waiting = None  # (the product node, its line's index, its out array's name)
        self.open_node = None  # (that, the node after it, its first line's index)
        self.count = 0

    def product(self, node, at: int, out: str) -> None:
        self.waiting = (node, at, out)

    def open(self, node, lines: list) -> None:
        waiting, self.waiting = self.waiting, None
        if waiting is None or self.next.get(id(waiting[0])) is not node or not self._elementwise(node, waiting[0]):
            return
        self.open_node = (waiting, node, len(lines))

    def close(self, lines: list) -> None:
        if self.open_node is None:
            return
        (product, at, out), node, start = self.open_node
        self.open_node = None
        body = lines[start:]
        if start != at + 1 or not body:  # only the node's own lines may follow the product's
            return
        shape = self.shapes[product.outputs[0].id]
        rows = {name for vid, name in self.names.items() if self.shapes.get(vid) == shape}
        rows |= {name for name, obj in self.env.objects.items()
                 if obj.__class__ is np.ndarray and obj.shape == shape}

        def cut(text: str) -> str:
            return _NAME.sub(lambda m: f"{m.group(0)}[_start:_stop]" if m.group(0) in rows else m.group(0), text)

        fresh, edited = [], []
        for line in body:
            match = _CALL.fullmatch(line)
            if match is None:
                return
            target = match.group(1)
            if target is None:
                edited.append(cut(line))
            elif target in rows:
                fresh.append(target)
                edited.append(f"{target}[_start:_stop] = {cut(line.split(' = ', 1)[1])}")
            else:
                return
        self.count += 1
        name = f"then{self.count}"
        made = []
        if fresh:
            dtype = self.env.bind(node.outputs[0].array.dtype, "dt")
            made = [f"{target} = np.empty({shape}, {dtype})" for target in fresh]
        lines[at:] = made + [f"def {name}(_start, _stop):"] + ["    " + line for line in edited] \
            + [lines[at][:-1] + f", then={name})"]

    def _elementwise(self, node, product) -> bool:
        """Whether ``node`` is elementwise over the product's result, its other inputs of that shape or rows of
        one broadcast over it."""
        if node.op.fusion is None or len(node.outputs) != 1 or node.op.effect:
            return False
        shape = self.shapes[product.outputs[0].id]
        if self.shapes[node.outputs[0].id] != shape or product.outputs[0].id not in {v.id for v in node.inputs}:
            return False
        return all(self.shapes[v.id] == shape or len(self.shapes[v.id]) < 2 or self.shapes[v.id][0] == 1
                   for v in node.inputs)


class _ManyInParts:
    """A sparse rule's ``many`` form over a run's parameters in parts, the parts on threads at once
    (``ember.runtime.parallel``): parameters whose memory does not overlap are updated by each part alone, so
    the results are those of one call over them all (parameters that overlap get that one call)."""

    __slots__ = ("many", "parts", "apart")

    def __init__(self, many, parts: list):
        self.many, self.parts = many, parts
        self.apart: tuple = ((), False)  # (the parameters last seen, whether their memory is disjoint)

    def __call__(self, params: list, indices: list, values: list, states: list, rows: list | None = None,
                 **hyper) -> None:
        many = self.many
        seen = self.apart[0]
        if len(seen) != len(params) or any(a is not b for a, b in zip(seen, params)):
            self.apart = (tuple(params), _disjoint(params))
        if not self.apart[1]:
            many(params, indices, values, states, rows=rows, **hyper)
            return
        parallel.run_pieces([functools.partial(many, params[a:b], indices[a:b], values[a:b], states[a:b],
                                               rows=None if rows is None else rows[a:b], **hyper)
                             for a, b in self.parts])


def _disjoint(arrays: list) -> bool:
    """Whether the NumPy arrays' memory ranges do not overlap."""
    if any(a.__class__ is not np.ndarray for a in arrays):
        return False
    spans = sorted(np.lib.array_utils.byte_bounds(a) for a in arrays if a.size)
    return all(end <= start for (_, end), (start, _) in zip(spans, spans[1:]))


def _update_lines(node, args: list, env: _Env) -> list:
    attrs = node.attrs
    state = attrs["state"]
    param, grad = args
    lines = []
    lr = _sgd_hyper(env, node, "lr") if _sgd_form(attrs) is not None else None
    array = node.inputs[0]
    # a weight stored column by column (nn.Linear's) keeps its state and temporaries in that order: elementwise
    # work between arrays of two orders walks one of them across its rows
    column_major = getattr(array.array, "column_major", False)
    # lr * step goes into a scratch view: a fresh temporary per step costs as much as the multiply itself
    step = env.scratch(array.array.shape, array.array.dtype, column_major) if array.array.ndim else None
    if not _inlines(node):
        callee, arguments = _rule_call(node, args, env)
        return lines + [f"{callee}({arguments})"]
    if _plain_sgd(attrs):  # sgd_update's own plain-SGD line, inlined (tests check it equals the call)
        if step is None:
            return lines + [f"{param}.__isub__({grad} * {lr})"]
        return lines + [f"np.multiply({grad}, {lr}, out={step})", f"{param}.__isub__({step})"]
    if _momentum_sgd(attrs) and array.array.ndim:
        # sgd_update with momentum: a zero buffer gives exactly its first step (0 * m + g == g)
        key = _sgd_form(attrs).buffer_key
        if key not in state:
            state[key] = np.zeros(array.array.shape, array.array.dtype, order="F" if column_major else "C")
        buf = env.bind(state[key], "buf")
        momentum = _sgd_hyper(env, node, "momentum")
        return lines + [f"{buf}.__imul__({momentum})", f"{buf}.__iadd__({grad})",
                        f"np.multiply({buf}, {lr}, out={step})", f"{param}.__isub__({step})"]
    callee, arguments = _rule_call(node, args, env)
    return lines + [f"{callee}({arguments})"]


def _called(node) -> bool:
    """Whether ``_update_lines`` emits the update as one call of its rule (not as inlined SGD lines)."""
    return not _inlines(node) or not _plain_sgd(node.attrs) and not (_momentum_sgd(node.attrs)
                                                                     and node.inputs[0].array.ndim)


def _rule_call(node, args: list, env: _Env) -> tuple:
    """The callee and the arguments of an update emitted as one call of its rule."""
    attrs, (param, grad) = node.attrs, args
    live = attrs.get("live")
    if live is None:
        return env.bind(functools.partial(attrs["rule"], **attrs["hyper"]), "u"), \
            f"{param}, {grad}, {env.bind(attrs['state'], 's')}"
    _hyper(env, node, "lr")
    return env.bind(attrs["rule"], "u"), f"{param}, {grad}, {env.bind(attrs['state'], 's')}, **{env.live[id(live)]}"


# The least elements of the second-largest update of a run of dense updates for the run to be shared by the
# runtime's threads (W5s's two hidden layers' Adagrad updates: 160k elements, 0.25-0.3 ms each).
_UPDATE_PIECE_ELEMENTS = 1 << 16


def _update_pieces(graph: Graph, bound: dict, env: _Env, flat_lines: dict) -> dict:
    """In a step that works on the runtime's threads already: runs of neighbouring dense ``update`` nodes, each
    emitted as one call of its rule, become one ``parallel.run_pieces`` call, an update per piece (the largest
    first), taken by whichever thread is free (the other may still be running a sparse update, or a part of a
    product). The rule must be a declared per-parameter one (``update_rule``) and the parameters' and their
    states' memory must not overlap: each piece then writes memory of its own, and the results are the
    sequential ones. Returns node id -> a function of the value names giving the run's line (none for all but
    the run's first node)."""
    if not env.threaded or parallel.num_threads() < 2:
        return {}
    runs, run = [], []
    for node in graph.nodes:
        if node.op is UPDATE and id(node) not in flat_lines and node.inputs[0].id in bound and _called(node) \
                and getattr(node.attrs["rule"], "sgd_form", False) is not False:
            run.append(node)
            continue
        runs.append(run)
        run = []
    runs.append(run)
    pieces: dict = {}
    for run in runs:
        sizes = sorted(bound[n.inputs[0].id].size for n in run)
        if len(run) < 2 or sizes[-2] < _UPDATE_PIECE_ELEMENTS:
            continue
        arrays = [bound[n.inputs[0].id] for n in run] \
            + [a for n in run for a in n.attrs["state"].values() if a.__class__ is np.ndarray]
        if not _disjoint(arrays):
            continue
        largest_first = sorted(run, key=lambda n: -bound[n.inputs[0].id].size)

        def line(names, largest_first=largest_first) -> list:
            partial = env.bind(functools.partial, "partial")
            calls = [_rule_call(n, [names[v.id] for v in n.inputs], env) for n in largest_first]
            return [f"{env.bind(parallel.run_pieces, 'run')}([{', '.join(f'{partial}({c}, {a})' for c, a in calls)}])"]

        for node in run:
            pieces[id(node)] = lambda names: []
        pieces[id(run[0])] = line
    return pieces


def _buffers(graph: Graph, env: _Env, sized: SizedObjects | None = None) -> tuple:
    """From the graph's memory plan: value id -> name of the preallocated array it is computed into (one
    allocation per buffer, one view per value), and value id -> id of the dying input it overwrites. Both
    empty without a plan or when the graph changed since it was made. With ``sized`` (a graph with unknown
    dimensions) the views are made per call size, from buffers that grow to the largest size seen."""
    plan = graph.memory_plan
    if plan is None or not plan.matches(graph):
        return {}, {}
    specs = {v.id: v.array for node in graph.nodes for v in node.outputs}
    if sized is not None:
        groups: dict = {}
        for vid, slot in plan.slots.items():
            groups.setdefault((slot, specs[vid].shape, specs[vid].dtype), []).append(vid)
        views = {}
        for (slot, _, dtype), vids in groups.items():
            name = sized.buffer_view(slot, vids, dtype)
            views.update(dict.fromkeys(vids, name))
        return views, plan.inplace
    memory = [aligned_empty(n, np.uint8) for n in plan.buffers]
    names: dict = {}  # (slot, shape, dtype) -> one view: NumPy checks an exact in-place overlap by identity
    views = {}
    for vid, slot in plan.slots.items():
        spec = specs[vid]
        key = (slot, spec.shape, spec.dtype)
        if key not in names:
            names[key] = env.bind(memory[slot][:spec.nbytes].view(spec.dtype).reshape(spec.shape), "o")
        views[vid] = names[key]
    return views, plan.inplace


def _unknown_dims(node) -> bool:
    return any(None in v.array.shape for v in node.outputs) or any(None in v.array.shape for v in node.inputs)


def _forward_call(node, args: list, env: _Env, out: str | None = None) -> list:
    """The op's own forward on the arrays: the choices eager mode makes, made on each call's sizes."""
    forward = functools.partial(node.op.forward, **node.attrs) if node.attrs else node.op.forward
    return [f"{env.bind(forward, 'f')}(np{''.join(', ' + a for a in args)})"]


def _same_types(node) -> bool:
    """Whether NumPy computes ``node`` in its output dtype, so ``out=`` changes nothing but the memory (a
    comparison: its operands share a dtype)."""
    dtypes = {v.array.dtype for v in node.inputs}
    out = node.outputs[0].array.dtype
    if out == np.bool_ and out not in dtypes:
        return len(dtypes) == 1
    return dtypes == {out}


def _call(node, args: list, env: _Env, out: str | None, scalar: bool = False) -> Call:
    return Call([v.array for v in node.inputs], node.outputs[0].array, node.attrs, args, out, env.bind, scalar)


def _expression(node, args: list, env: _Env, out: str | None = None) -> list:
    """The right-hand side computing ``node``, then any lines to run after it; into the array named ``out``
    where the op can write into one (``writes_out``) and NumPy computes it in the output's dtype."""
    op = node.op
    dtypes = [v.array.dtype for v in node.inputs]
    plain = all(d != bfloat16 for d in dtypes)
    dest = out if out is not None and plain and op.writes_out and (op is FUSED or _same_types(node)) else None
    if op is FUSED:
        kernel = numexpr_kernel(node.attrs["body"], dtypes)
        if kernel is not None:  # one numexpr call; without numexpr the body's forwards run below
            inputs = args + [env.bind(c, "c") for c in kernel.constants]
            target = "" if dest is None else f", out={dest}"
            return [f"{env.bind(kernel.fn, 'k')}({', '.join(inputs)}{target}, ex_uses_vml={kernel.uses_vml})"]
    if op.lower is not None:
        code = op.lower(_call(node, args, env, dest))
        if code is not None:
            return code if isinstance(code, list) else [code]
    if op.ufunc is not None and plain:
        if dest is None and op.infix is not None:
            return [f"{args[0]} {op.infix} {args[1]}" if len(args) == 2 else f"{op.infix}{args[0]}"]
        return [f"{env.bind(op.ufunc, 'f')}({', '.join(args)}{'' if dest is None else f', out={dest}'})"]
    forward = functools.partial(op.forward, **node.attrs) if node.attrs else op.forward
    takes_out = dest is not None and op.lower is None and op.ufunc is None and op is not FUSED
    into = f", out={dest}" if takes_out else ""
    return [f"{env.bind(forward, 'f')}(np{''.join(', ' + a for a in args)}{into})"]


# --- one-element graphs on NumPy scalars -------------------------------------------------------------


def _scalar_graph(graph: Graph, bound: dict) -> bool:
    """Whether every value has one float32/float64 element and every node has a scalar form."""
    ok = (np.dtype(np.float32), np.dtype(np.float64))
    for v in graph.inputs:
        if v.array.size != 1 or v.array.dtype not in ok:
            return False
    for node in graph.nodes:
        if not _has_scalar_form(node):
            return False
        for v in node.outputs:
            if v.array.size != 1 or v.array.dtype not in ok:
                return False
    return True


def _has_scalar_form(node) -> bool:
    op = node.op
    if op is UPDATE:
        return _plain_sgd(node.attrs)
    return op is CONST or op.scalar_alias or (op.ufunc is not None and op.scalar_exact) \
        or getattr(op.lower, "scalar", False)


def _element(name: str, ndim: int) -> str:
    return f"{name}[{', '.join(['0'] * ndim) if ndim else '()'}]"


_WEAK_EXACT = frozenset("+-*/")  # NumPy scalar (op) Python float: the float is first rounded to the dtype


def _scalar_lines(graph: Graph, bound: dict, env: _Env, scalars: dict):
    names: dict = {}
    arrays: dict = {}
    lines = []
    weak: dict = {}  # value id -> id of the Python float argument it still is (not yet rounded to its dtype)
    for v in graph.inputs:
        kind = scalars.get(v.id)
        if kind is float:
            names[v.id] = f"x{v.id}"
            weak[v.id] = v.id
            continue
        if kind is not None:  # a NumPy scalar: of the input's dtype, already what the code computes on
            names[v.id] = f"x{v.id}"
            if kind is not v.array.dtype.type:
                lines.append(f"x{v.id} = {env.bind(v.array.dtype.type, 'dt')}(x{v.id})")
            continue
        array = env.bind(bound[v.id], "var") if v.id in bound else f"x{v.id}"
        arrays[v.id] = array
        names[v.id] = f"v{v.id}"
        lines.append(f"v{v.id} = {_element(array, v.array.ndim)}")  # a NumPy scalar, read before any update
    dtypes = {v.id: v.array.dtype for v in graph.inputs}
    fetched = dict(names)  # a fetched variable is its value before any update
    last_read = {v.id: at for at, node in enumerate(graph.nodes) for v in node.inputs}

    def rounded(vid: int) -> None:
        """A Python float argument becomes a NumPy scalar of its dtype, from here on."""
        arg = weak[vid]
        lines.append(f"x{arg} = {env.bind(dtypes[arg].type, 'dt')}(x{arg})")
        for other in [k for k, a in weak.items() if a == arg]:
            del weak[other]

    for at, node in enumerate(graph.nodes):
        op, attrs = node.op, node.attrs
        if weak:
            ids = [v.id for v in node.inputs]
            # A float beside a NumPy scalar of its dtype is rounded to it by NumPy itself (NEP 50 weak scalars),
            # exactly as a conversion would; anywhere else it is converted first.
            exact = op.infix in _WEAK_EXACT and len(ids) == 2 and op is not UPDATE and \
                sum(i in weak for i in ids) == 1 and \
                all(v.array.dtype == node.outputs[0].array.dtype for v in node.inputs)
            if (not exact or op.lower is not None) and not op.scalar_alias:
                for i in ids:
                    if i in weak:
                        rounded(i)
        args = [names[v.id] for v in node.inputs]
        if op is UPDATE:
            param = node.inputs[0]
            element = _element(arrays[param.id], param.array.ndim)
            lines.append(f"{element} = {args[0]} - {args[1]} * {_hyper(env, node, 'lr')}")
            if last_read.get(param.id, -1) > at:  # a later node reads the updated value
                names[param.id] = f"v{param.id}_{at}"
                lines.append(f"{names[param.id]} = {element}")
            continue
        out = node.outputs[0]
        if op is CONST:
            names[out.id] = env.bind(np.asarray(attrs["value"]).reshape(())[()], "c")
            continue
        if op.scalar_alias:
            names[out.id] = args[0]
            if node.inputs[0].id in weak:
                weak[out.id] = weak[node.inputs[0].id]
            continue
        expression = None if op.lower is None else op.lower(_call(node, args, env, None, scalar=True))
        if expression is None and op.infix is not None:
            expression = f"{args[0]} {op.infix} {args[1]}" if len(args) == 2 else f"{op.infix}{args[0]}"
        elif expression is None:
            expression = f"{env.bind(op.ufunc, 'f')}({', '.join(args)})"
        names[out.id] = f"v{out.id}"
        lines.append(f"v{out.id} = {expression}")
    for v in graph.outputs:
        if v.id in weak:
            rounded(v.id)
    returned = []
    for v in graph.outputs:  # back to arrays of the declared shapes (0-d results stay NumPy scalars)
        shape = tuple(v.array.shape)
        name = fetched.get(v.id, names[v.id])
        returned.append(name if not shape else f"np.full({shape!r}, {name})")
    return lines, returned
