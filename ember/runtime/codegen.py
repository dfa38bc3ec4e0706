"""Code generation: one straight-line Python function per graph, calling NumPy directly for the hot ops
and each op's own forward for the rest. The reference it is tested against is ``ember.graph.interpret``.

A graph whose every value holds one floating-point element (linear regression at batch 1) is generated on
NumPy scalars instead of arrays: the same float32/float64 arithmetic, without array-call overhead.

Two passes shape the code: a ``fused`` node (``fuse_elementwise``) becomes one numexpr call
(``ember.runtime.kernels``), and the graph's memory plan (``plan_memory``) becomes arrays allocated once per
compiled function and passed as ``out=``.
"""

from __future__ import annotations

import functools
import itertools
import threading

import numpy as np

from ember.backend.devices import CPU
from ember.backend.dtypes import FLOATING, bfloat16
from ember.graph.ir import Graph
from ember.ops.kernels import (
    BLAS_FLOATS,
    dot_pays,
    is_blas_matrix_product,
    reduces_short_last_axis,
    sum_channels,
    sum_ones,
    sums_channels,
    sums_columns,
    sums_rows,
)
from ember.optim.functional import sgd_update
from ember.runtime.bias_fold import element_offset, fold_biases
from ember.runtime.kernels import numexpr_kernel

_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "eq": "==", "ne": "!=", "lt": "<",
          "le": "<=", "gt": ">", "ge": ">="}
_UFUNCS = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh, "abs": np.abs, "neg": np.negative,
           "maximum": np.maximum, "minimum": np.minimum, "where": np.where, "log1p": np.log1p, "sin": np.sin,
           "cos": np.cos, "sign": np.sign}
_INFIX_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide, "pow": np.power,
                 "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
                 "ge": np.greater_equal}
_COMPARISONS = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})
_ALIASES = frozenset({"reshape", "broadcast_to", "sum"})  # on one element these move no data
_SCALAR_OPS = frozenset({"add", "sub", "mul", "div", "neg", "const", "update", "cast", "relu"} | _ALIASES
                        | {"exp", "log", "sqrt", "tanh", "abs", "maximum", "minimum"})
_counter = itertools.count()


class CompiledGraph:
    """A graph turned into Python: ``compiled(*arrays)`` returns the outputs' arrays as a tuple."""

    __slots__ = ("fn", "source", "graph")

    def __init__(self, fn, source: str, graph: Graph):
        self.fn, self.source, self.graph = fn, source, graph

    def __call__(self, *args):
        return self.fn(*args)


class _Env:
    """Objects the generated code reads, bound as default arguments (the fastest reads Python has)."""

    def __init__(self):
        self.objects: dict = {"np": np}
        self.live: dict = {}  # id(hyper getter) -> the local name its result is read into
        self.scratches: dict = {}

    def bind(self, obj, prefix: str) -> str:
        name = f"{prefix}{len(self.objects)}"
        self.objects[name] = obj
        return name

    def scratch(self, shape: tuple, dtype) -> str:
        """A view of ``shape`` on one scratch array per dtype (sized by ``reserve``), for a step's temporary."""
        flat = self.scratches[np.dtype(dtype)]
        return self.bind(flat[:int(np.prod(shape))].reshape(shape), "s")

    def reserve(self, sizes: dict) -> None:
        """Allocate the scratch arrays: dtype -> the most elements one temporary needs."""
        self.scratches = {dtype: np.empty(size, dtype) for dtype, size in sizes.items()}


def _plain_sgd(attrs: dict) -> bool:
    hyper = attrs["hyper"]
    return attrs["rule"] is sgd_update and not any(v for k, v in hyper.items() if k != "lr")


def _momentum_sgd(attrs: dict) -> bool:
    hyper = attrs["hyper"]
    return (attrs["rule"] is sgd_update and bool(hyper.get("momentum"))
            and not any(v for k, v in hyper.items() if k not in ("lr", "momentum")))


def compile_graph(graph: Graph, bound: dict | None = None, layout: list | None = None) -> CompiledGraph:
    """Generate the function for ``graph``. ``bound`` maps input value ids to arrays fixed into the code
    (variables, updated in place); the other inputs are the function's arguments, in order. ``layout``
    lists, per returned item, an index into ``graph.outputs`` or None (returned as None).

    The function reuses the buffers of the graph's memory plan on every call (returned arrays are never such
    buffers), so its body holds a lock of its own: threads calling one compiled function take turns."""
    off_cpu = next((v for v in graph.inputs + [o for n in graph.nodes for o in n.outputs] if v.data.device != CPU),
                   None)
    if off_cpu is not None:
        raise RuntimeError(f"compile_graph: %{off_cpu.id} is {off_cpu.data!r}; the generated code calls NumPy, "
                           "and a runtime for GPU graphs is not built yet (run the model eagerly on the GPU)")
    bound = bound or {}
    env = _Env()
    params = [f"x{v.id}" for v in graph.inputs if v.id not in bound]
    scalar = _scalar_graph(graph, bound)
    lines, returned = (_scalar_lines if scalar else _array_lines)(graph, bound, env)
    if layout is not None:
        returned = ["None" if k is None else returned[k] for k in layout]
    lock = env.bind(threading.Lock(), "lock")
    body = "\n".join("        " + line for line in lines)
    func = f"graph_{next(_counter)}"
    returns = f"return ({', '.join(returned)}{',' if returned else ''})"
    source = f"def {func}({', '.join(params)}):\n    with {lock}:\n{body + chr(10) if body else ''}        {returns}\n"
    defaults = ", ".join(f"{k}={k}" for k in env.objects)
    indented = "\n".join("    " + line for line in source.splitlines())
    wrapper = f"def make({defaults}):\n{indented}\n    return {func}\n"
    namespace: dict = {}
    exec(compile(wrapper, f"<ember graph {func}>", "exec"), dict(env.objects), namespace)
    return CompiledGraph(namespace["make"](), source, graph)


def _array_lines(graph: Graph, bound: dict, env: _Env):
    names: dict = {}
    lines = []
    into, over = _buffers(graph, env)
    for v in graph.inputs:
        names[v.id] = env.bind(bound[v.id], "var") if v.id in bound else f"x{v.id}"
    fixed = {names[vid] for vid in bound if vid in names}  # names of arrays that are the same on every call
    fetched_vars = {v.id for v in graph.outputs if v.id in bound}
    for vid in fetched_vars:  # a fetched variable is copied before any update changes it
        lines.append(f"v{vid} = {names[vid]}.copy()")
    flat_grads, flat_lines = _flat_updates(graph, bound, env)
    folds = fold_biases(graph, bound, env.bind, env.objects, flat_grads)
    lines += folds.copies
    sizes: dict = {}
    for node in graph.nodes:
        if node.op.name == "update" and id(node) not in flat_lines:
            param = node.inputs[0].data
            sizes[param.dtype] = max(sizes.get(param.dtype, 0), int(np.prod(param.shape)))
    env.reserve(sizes)
    for node in graph.nodes:
        name, attrs = node.op.name, node.attrs
        args = [names[v.id] for v in node.inputs]
        if name == "const":
            names[node.outputs[0].id] = env.bind(attrs["value"], "c")
        elif name == "update":
            grouped = flat_lines.get(id(node))
            lines += _update_lines(node, args, env) if grouped is None else grouped
        elif name == "assign":
            lines.append(f"{args[0]}[...] = {args[1]}")
        elif id(node) in folds.skip:  # a folded layer's call computes this value
            out = node.outputs[0].id
            names[out] = flat_grads.get(out) or into.get(out) or "None"
        elif name in ("transpose", "reshape") and args[0] in fixed and \
                (view := _view_of(node, env.objects[args[0]])) is not None:
            # A view of an array that is the same object on every call: made once, here.
            names[node.outputs[0].id] = name_ = env.bind(view, "c")
            fixed.add(name_)
        else:
            out = node.outputs[0].id
            dest = flat_grads.get(out) or into.get(out) or \
                (names[over[out]] if out in over and names[over[out]] != "None" else None)
            target = names[out] = f"v{out}"
            if id(node) in folds.forward:  # [h, 1] @ [W; b]
                buffer, stacked = folds.forward[id(node)]
                expression, more = _product(env, buffer, stacked, dest), []
            elif id(node) in folds.backward:  # [gW; gb] = [h, 1].T @ delta, into the flat gradient array
                transposed, stacked = folds.backward[id(node)]
                expression, more, dest = _product(env, transposed, args[1], stacked), [], flat_grads[out]
            else:
                expression, *more = _softmax_lines(node, args, env, dest) or [_expression(node, args, env, dest)]
            lines.append(f"{target} = {expression}")
            wrote = dest is not None and (f"out={dest}" in expression or f", {dest}, " in expression
                                          or id(node) in folds.backward)
            if wrote and dest in env.objects:  # the result is that preallocated array itself
                names[out] = dest
                lines[-1] = expression
                fixed.add(dest)
            lines += more
            if out in flat_grads and not wrote:
                lines.append(f"{env.bind(np.copyto, 'f')}({dest}, {target})")  # no out= form: copy it in
            if out in folds.copy_after:  # a folded layer's input, into its [h, 1] buffer
                lines.append(f"{env.bind(np.copyto, 'f')}({folds.copy_after[out]}, {names[out]})")
    return lines, [f"v{v.id}" if v.id in fetched_vars else names[v.id] for v in graph.outputs]


def _product(env: _Env, a: str, b: str, out: str | None) -> str:
    """``a @ b`` of two bound matrices, by the call the op's forward would choose for their shapes."""
    rows, inner = env.objects[a].shape
    cols = env.objects[out if out in env.objects else b].shape[-1]  # b may be computed; then out is bound
    fn = np.dot if dot_pays(rows, inner, cols) else np.matmul
    return f"{env.bind(fn, 'f')}({a}, {b}{'' if out is None else f', out={out}'})"


def _softmax_lines(node, args: list, env: _Env, out: str | None) -> list | None:
    """A softmax into the array named ``out`` as three lines (the op's forward, one allocation fewer and no
    call into it), when its reductions take NumPy's own path there; else None."""
    if node.op.name != "softmax" or out is None:
        return None
    x, axis = node.inputs[0].data, node.attrs["axis"]
    if x.dtype not in BLAS_FLOATS or reduces_short_last_axis(x.shape, x.dtype, axis):
        return None
    bind = env.bind
    row_max = f"{bind(np.maximum.reduce, 'f')}({args[0]}, {axis!r}, None, None, True)"
    if sums_rows(x.shape, x.dtype, axis):  # as the op's forward sums
        total = f"{bind(np.dot, 'f')}({out}, {bind(sum_ones(x.shape[-1], x.dtype, 'column'), 'c')})"
    else:
        total = f"{bind(np.add.reduce, 'f')}({out}, {axis!r}, None, None, True)"
    return [f"{bind(np.subtract, 'f')}({args[0]}, {row_max}, out={out})", f"{bind(np.exp, 'f')}({out}, out={out})",
            f"{bind(np.divide, 'f')}({out}, {total}, out={out})"]


def _view_of(node, array):
    """What a transpose or reshape node computes from ``array``, when that is a view of it; else None (a
    reshape of strided memory copies, and a copy made once would go stale)."""
    if node.op.name == "transpose":
        result = array.transpose(tuple(node.attrs["axes"]))
    else:
        result = array.reshape(tuple(node.outputs[0].data.shape))
    return result if array.size and np.shares_memory(result, array) else None


_ALIGN_BYTES = 64  # how ember.compat.tf lays variables out in one array (see its _arena)


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
        if node.op.name != "update" or node.attrs.get("live") is not None:
            continue
        param, grad = node.inputs
        kind = "plain" if _plain_sgd(node.attrs) else "momentum" if _momentum_sgd(node.attrs) else None
        array = bound.get(param.id)
        if (kind is None or array is None or grad.id in outputs or len(users.get(grad.id, ())) != 1
                or grad.id not in producers or producers[grad.id].op.name == "const"):
            continue
        base = array.base
        if base is None or base.ndim != 1 or not array.flags.c_contiguous or array.size == 0:
            continue
        offset = element_offset(array, base)
        key = (id(base), kind, tuple(sorted((k, repr(v)) for k, v in node.attrs["hyper"].items())))
        runs.setdefault(key, (base, kind, []))[2].append((offset, node, array))
    flat_grads, flat_lines = {}, {}
    for base, kind, members in runs.values():
        members.sort(key=lambda m: m[0])
        run = [members[0]]
        for member in members[1:] + [None]:
            if member is not None and 0 <= member[0] - (run[-1][0] + run[-1][2].size) < \
                    _ALIGN_BYTES // base.itemsize:
                run.append(member)
                continue
            if len(run) > 1:
                _flatten_run(run, base, kind, graph, producers, position, env, flat_grads, flat_lines)
            run = [member]
    return flat_grads, flat_lines


def _flatten_run(run, base, kind, graph, producers, position, env, flat_grads, flat_lines) -> None:
    nodes = [node for _, node, _ in run]
    first, last = min(position[id(n)] for n in nodes), max(position[id(n)] for n in nodes)
    if any(graph.nodes[i].op.name != "update" for i in range(first, last + 1)):
        return  # something reads the variables between the updates: keep them one by one
    if any(position[id(producers[n.inputs[1].id])] > first for n in nodes):
        return
    start, end = run[0][0], run[-1][0] + run[-1][2].size
    hyper = nodes[0].attrs["hyper"]
    if kind == "momentum":
        states = [n.attrs["state"] for n in nodes]
        buffers = [state.get("momentum_buffer") for state in states]
        if all(b is None for b in buffers):
            flat_buffer = np.zeros(end - start, base.dtype)
            for (offset, _, array), state in zip(run, states):
                state["momentum_buffer"] = flat_buffer[offset - start:offset - start + array.size].reshape(array.shape)
        else:  # another compiled function made them: share its array, or give up
            flat_buffer = buffers[0].base if buffers[0] is not None else None
            if flat_buffer is None or flat_buffer.size != end - start or any(
                    b is None or b.base is not flat_buffer
                    or element_offset(b, flat_buffer) != offset - start for b, (offset, _, _) in zip(buffers, run)):
                return
    grads = np.zeros(end - start, base.dtype)  # the gaps between variables stay zero
    for offset, node, array in run:
        view = grads[offset - start:offset - start + array.size].reshape(array.shape)
        flat_grads[node.inputs[1].id] = env.bind(view, "g")
    params, grad_name, lr = env.bind(base[start:end], "vars"), env.bind(grads, "grads"), repr(float(hyper["lr"]))
    # The flat gradient array is dead once read, so it holds lr * step: no temporary is allocated (a fresh
    # megabyte-sized temporary per step was measured to cost as much as the multiply itself).
    if kind == "plain":
        lines = [f"np.multiply({grad_name}, {lr}, out={grad_name})", f"{params}.__isub__({grad_name})"]
    else:
        buf = env.bind(flat_buffer, "buf")
        lines = [f"{buf}.__imul__({float(hyper['momentum'])!r})", f"{buf}.__iadd__({grad_name})",
                 f"np.multiply({buf}, {lr}, out={grad_name})", f"{params}.__isub__({grad_name})"]
    for node in nodes:
        flat_lines[id(node)] = []
    flat_lines[id(graph.nodes[first])] = lines


def _update_lines(node, args: list, env: _Env) -> list:
    attrs = node.attrs
    hyper, state = attrs["hyper"], attrs["state"]
    param, grad = args
    lines = []
    live = attrs.get("live")
    if live is None:
        lr = repr(float(hyper["lr"]))
    else:  # hyper-parameters read on every run (ember.jit: a scheduler changes lr without a retrace)
        hyper_name = env.live.get(id(live))
        if hyper_name is None:
            hyper_name = env.live[id(live)] = f"h{len(env.live)}"
            lines.append(f"{hyper_name} = {env.bind(live, 'hyper')}()")
        lr = f"{hyper_name}['lr']"
    array = node.inputs[0]
    # lr * step goes into a scratch view: a fresh temporary per step costs as much as the multiply itself
    step = env.scratch(array.data.shape, array.data.dtype) if array.data.ndim else None
    if _plain_sgd(attrs):  # sgd_update's own plain-SGD line, inlined (tests check it equals the call)
        if step is None:
            return lines + [f"{param}.__isub__({grad} * {lr})"]
        return lines + [f"np.multiply({grad}, {lr}, out={step})", f"{param}.__isub__({step})"]
    if _momentum_sgd(attrs) and array.data.ndim:
        # sgd_update with momentum: a zero buffer gives exactly its first step (0 * m + g == g)
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = np.zeros(array.data.shape, array.data.dtype)
        buf = env.bind(state["momentum_buffer"], "buf")
        momentum = repr(float(hyper["momentum"])) if live is None else f"{hyper_name}['momentum']"
        return lines + [f"{buf}.__imul__({momentum})", f"{buf}.__iadd__({grad})",
                        f"np.multiply({buf}, {lr}, out={step})", f"{param}.__isub__({step})"]
    if live is None:
        rule = functools.partial(attrs["rule"], **hyper)
        return [f"{env.bind(rule, 'u')}({param}, {grad}, {env.bind(state, 's')})"]
    return lines + [f"{env.bind(attrs['rule'], 'u')}({param}, {grad}, {env.bind(state, 's')}, **{hyper_name})"]


def _buffers(graph: Graph, env: _Env) -> tuple:
    """From the graph's memory plan: value id -> name of the preallocated array it is computed into (one
    allocation per buffer, one view per value), and value id -> id of the dying input it overwrites. Both
    empty without a plan or when the graph changed since it was made."""
    plan = graph.memory_plan
    if plan is None or not plan.matches(graph):
        return {}, {}
    memory = [np.empty(n, np.uint8) for n in plan.buffers]
    specs = {v.id: v.data for node in graph.nodes for v in node.outputs}
    names: dict = {}  # (slot, shape, dtype) -> one view: NumPy checks an exact in-place overlap by identity
    views = {}
    for vid, slot in plan.slots.items():
        spec = specs[vid]
        key = (slot, spec.shape, spec.dtype)
        if key not in names:
            names[key] = env.bind(memory[slot][:spec.nbytes].view(spec.dtype).reshape(spec.shape), "o")
        views[vid] = names[key]
    return views, plan.inplace


def _same_types(node) -> bool:
    """Whether NumPy computes ``node`` in its output dtype, so ``out=`` changes nothing but the memory."""
    dtypes = {v.data.dtype for v in node.inputs}
    if node.op.name in _COMPARISONS:
        return len(dtypes) == 1
    return dtypes == {node.outputs[0].data.dtype}


def _expression(node, args: list, env: _Env, out: str | None = None) -> str:
    """The right-hand side computing ``node``; into the array named ``out`` where NumPy has an ``out=``."""
    name, attrs = node.op.name, node.attrs
    dtypes = [v.data.dtype for v in node.inputs]
    plain = all(d != bfloat16 for d in dtypes)
    dest = f", out={out}" if out is not None and plain and (name == "fused" or _same_types(node)) else ""
    if name in _INFIX and plain and (name != "div" or all(d in FLOATING for d in dtypes)):
        if dest:
            return f"{env.bind(_INFIX_UFUNCS[name], 'f')}({args[0]}, {args[1]}{dest})"
        return f"{args[0]} {_INFIX[name]} {args[1]}"
    if name in _UFUNCS and plain:
        return f"{env.bind(_UFUNCS[name], 'f')}({', '.join(args)}{dest if name != 'where' else ''})"
    if name == "relu" and plain:
        return f"{env.bind(np.maximum, 'f')}({args[0]}, {env.bind(dtypes[0].type(0), 'c')}{dest})"
    if name == "matmul" and plain:
        a, b = (v.data for v in node.inputs)
        if is_blas_matrix_product(a, b):  # what the op's forward calls for these shapes (bit-identical)
            return f"{env.bind(np.dot, 'f')}({args[0]}, {args[1]}{dest})"
        return f"{env.bind(np.matmul, 'f')}({args[0]}, {args[1]}{dest})" if dest else f"{args[0]} @ {args[1]}"
    if name == "sum" and dtypes[0] in BLAS_FLOATS:  # float16/bfloat16 sums accumulate in float32: the op's call
        x = node.inputs[0].data
        keepdims = attrs["keepdims"]
        if sums_columns(x.shape, x.dtype, attrs["axis"]):  # the op's forward makes these calls too
            ones = env.bind(sum_ones(x.shape[0], x.dtype, "row" if keepdims else "vector"), "c")
            return f"{env.bind(np.dot, 'f')}({ones}, {args[0]}{dest})"
        if sums_rows(x.shape, x.dtype, attrs["axis"]):
            ones = env.bind(sum_ones(x.shape[-1], x.dtype, "column" if keepdims else "vector"), "c")
            return f"{env.bind(np.dot, 'f')}({args[0]}, {ones}{dest})"
        if sums_channels(x.shape, x.dtype, attrs["axis"]):
            return f"{env.bind(sum_channels, 'f')}({args[0]}, {keepdims!r})"
        # ndarray.sum is np.add.reduce, called more directly
        reduce, target = env.bind(np.add.reduce, "f"), out if dest else None
        return f"{reduce}({args[0]}, {attrs['axis']!r}, None, {target}, {keepdims!r})"
    if name == "fused":
        kernel = numexpr_kernel(attrs["body"], dtypes)
        if kernel is not None:  # one numexpr call; without numexpr the body's forwards run below
            inputs = args + [env.bind(c, "c") for c in kernel.constants]
            return f"{env.bind(kernel.fn, 'k')}({', '.join(inputs)}{dest}, ex_uses_vml={kernel.uses_vml})"
    if name == "reshape":
        return f"{args[0]}.reshape({tuple(node.outputs[0].data.shape)!r})"
    if name == "transpose":
        return f"{args[0]}.transpose({tuple(attrs['axes'])!r})"
    if name == "broadcast_to":
        return f"{env.bind(np.broadcast_to, 'f')}({args[0]}, {tuple(attrs['shape'])!r})"
    if name == "cast":
        return f"{args[0]}.astype({env.bind(attrs['dtype'], 'c')})"
    forward = functools.partial(node.op.forward, **attrs) if attrs else node.op.forward
    return f"{env.bind(forward, 'f')}(np{''.join(', ' + a for a in args)})"


# --- one-element graphs on NumPy scalars -------------------------------------------------------------


def _scalar_graph(graph: Graph, bound: dict) -> bool:
    """Whether every value has one float32/float64 element and every node has a scalar form."""
    ok = (np.dtype(np.float32), np.dtype(np.float64))
    for v in graph.inputs:
        if v.data.size != 1 or v.data.dtype not in ok:
            return False
    for node in graph.nodes:
        if node.op.name not in _SCALAR_OPS or (node.op.name == "update" and not _plain_sgd(node.attrs)):
            return False
        for v in node.outputs:
            if v.data.size != 1 or v.data.dtype not in ok:
                return False
    return True


def _element(name: str, ndim: int) -> str:
    return f"{name}[{', '.join(['0'] * ndim) if ndim else '()'}]"


def _scalar_lines(graph: Graph, bound: dict, env: _Env):
    names: dict = {}
    arrays: dict = {}
    lines = []
    for v in graph.inputs:
        array = env.bind(bound[v.id], "var") if v.id in bound else f"x{v.id}"
        arrays[v.id] = array
        names[v.id] = f"v{v.id}"
        lines.append(f"v{v.id} = {_element(array, v.data.ndim)}")  # a NumPy scalar, read before any update
    for node in graph.nodes:
        name, attrs = node.op.name, node.attrs
        args = [names[v.id] for v in node.inputs]
        if name == "update":
            param = node.inputs[0]
            lines.append(f"{_element(arrays[param.id], param.data.ndim)} = {args[0]} - {args[1]} * "
                         f"{float(attrs['hyper']['lr'])!r}")
            continue
        out = node.outputs[0]
        if name == "const":
            names[out.id] = env.bind(np.asarray(attrs["value"]).reshape(())[()], "c")
            continue
        if name in _ALIASES:
            names[out.id] = args[0]
            continue
        if name in _INFIX:
            expression = f"{args[0]} {_INFIX[name]} {args[1]}"
        elif name == "neg":
            expression = f"-{args[0]}"
        elif name == "cast":
            expression = f"{env.bind(out.data.dtype.type, 'f')}({args[0]})"
        elif name == "relu":
            expression = f"{env.bind(np.maximum, 'f')}({args[0]}, {env.bind(out.data.dtype.type(0), 'c')})"
        else:
            expression = f"{env.bind(_UFUNCS[name], 'f')}({', '.join(args)})"
        names[out.id] = f"v{out.id}"
        lines.append(f"v{out.id} = {expression}")
    returned = []
    for v in graph.outputs:  # back to arrays of the declared shapes (0-d results stay NumPy scalars)
        shape = tuple(v.data.shape)
        returned.append(names[v.id] if not shape else f"np.full({shape!r}, {names[v.id]})")
    return lines, returned
