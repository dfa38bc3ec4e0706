"""A compiled trace's steady-state call, generated as straight-line code.

Once ``ember.jit`` has run a trace for a signature, a later call with that signature needs only checks that the
trace still fits, the generated step itself, and new Tensors for the results and the ``.grad`` attributes. The
checks are the general path's: the arguments' shapes, dtypes and requires_grad (the signature), what
``Trace.matches`` compares (autocast, grad mode, which ``.grad`` exist, optimizer state dicts and hyper-parameters), and
that no parameter the code updates in place had its array replaced. ``steady_call`` writes all of it as one
function with every object bound by name, so a call builds no signature tuple and runs no loop over lists.
Once the checks pass, the ``.grad`` attributes the call replaces are let go before the step runs (as the
traced ``zero_grad()`` would), so the step may compute into the same memory again (``runtime.rotation``).
The function returns ``MISS`` where anything differs, before it runs the step: the caller then takes its
general path, which decides what to do (retrace, bind again, pick another trace) as it always has.

>>> call = steady_call(key, compiled, jit_module)
>>> out = call(args)            # MISS, or what the general path would have returned
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ember import grad_mode
from ember.grad_mode import thread_mode
from ember.ops import autocast
from ember.runtime.sized import SizeSpecificCode
from ember.sparse import RowSparse
from ember.tensor import Tensor
from ember.tracing import hyper_form

__all__ = ["MISS", "steady_call"]

MISS = object()


class _Source:
    """Lines of the function and the objects its names stand for."""

    def __init__(self):
        self.lines: list[str] = []
        self.names: dict = {"MISS": MISS, "Tensor": Tensor, "new": object.__new__, "asarray": np.asarray,
                            "autocast_state": autocast.state, "SizeSpecificCode": SizeSpecificCode}

    def bind(self, prefix: str, obj) -> str:
        name = f"{prefix}{len(self.names)}"
        self.names[name] = obj
        return name

    def add(self, line: str, depth: int = 1) -> None:
        self.lines.append("    " * depth + line)

    def miss_unless(self, conditions: list[str]) -> None:
        """Return MISS when any of ``conditions`` (each true when the call differs) holds."""
        for start in range(0, len(conditions), 4):  # a few per statement: short lines, same work
            self.add(f"if {' or '.join(conditions[start:start + 4])}:")
            self.add("return MISS", 2)


def steady_call(key: tuple, compiled, module) -> Callable | None:
    """The steady-state call for signature ``key`` of ``compiled`` (an ``ember.jit`` trace), taking the call's
    argument tuple; None where every call needs the general path (a non-Tensor argument, gradients that must be
    copied, are row-sparse or are set on an argument). ``module`` is ``ember.jit``, whose ``profile_hook`` is read
    on every call."""
    if any(k[0] == "frozen" for k in key) or (compiled.writeback and compiled.fresh is None):
        return None
    src = _Source()
    n = len(key)
    src.add(f"if len(args) != {n}:")
    src.add("return MISS", 2)
    if n:
        src.add(f"{', '.join(f'a{i}' for i in range(n))}, = args")
        src.miss_unless([f"(a{i}.__class__ is not Tensor and (not isinstance(a{i}, Tensor) or a{i}.symbolic))"
                        for i in range(n)])  # a graph Value: called in another trace
        for i in range(n):
            src.add(f"x{i} = a{i}.array")
        checks = []
        for i, (shape, dtype, requires_grad) in enumerate(key):
            checks += [f"x{i}.shape != {src.bind('S', shape)}", f"x{i}.dtype != {src.bind('D', dtype)}",
                       f"a{i}.requires_grad != {requires_grad!r}"]
        checks += [f"not getattr(x{i}.flags, 'writeable', True)" for i in compiled.written_args]  # (the general
        src.miss_unless(checks)  # path refuses a read-only argument the call writes)
    trace = compiled.trace
    src.miss_unless([f"autocast_state() != {src.bind('AC', trace.autocast)}",
                     f"{src.bind('TM', thread_mode)}.grad_enabled != {bool(trace.grad_enabled)!r}"])
    if trace.constants:  # a Tensor it froze was written in place since
        tr = src.bind('TR', trace)
        src.miss_unless([f"({tr}.constants_seen != {src.bind('GM', grad_mode)}.last_write and not "
                         f"{tr}.constants_unwritten())"])
    if trace.arg_hooks:  # an argument's gradient hooks are ops of the trace
        src.miss_unless([f"{src.bind('TR', trace)}.arguments_rehooked(args)"])
    src.miss_unless([f"({src.bind('P', p)}.grad is None) is not {bool(was_none)!r}" for p, was_none in trace.assumed])
    states, hypers = trace.checks()
    for optimizer, params, expected in states:  # load_state_dict made new state dicts
        src.add(f"state = {src.bind('O', optimizer)}.state")
        src.miss_unless([f"state.get({src.bind('P', p)}) is not {src.bind('T', s)}" for p, s in zip(params, expected)])
    if hypers:  # the code reads the values live; it depends on their forms (a number's zero-ness)
        src.add("try:")
        form = src.bind("HF", hyper_form)
        for group, read_values, fixed, keys in hypers:
            if group is None:
                src.add(f"hyper = {src.bind('R', read_values)}()", 2)
                src.add('hyper.pop("lr", None)', 2)
                fixed_form = src.bind("FF", hyper_form(tuple(fixed.items())))
                src.add(f"if hyper != {src.bind('F', fixed)} and {form}(tuple(hyper.items())) != {fixed_form}:", 2)
            else:
                g = src.bind("G", group)
                src.add(f"values = ({', '.join(f'{g}[{k!r}]' for k in keys)},)", 2)
                fixed_form = src.bind("FF", hyper_form(fixed))
                src.add(f"if values != {src.bind('F', fixed)} and {form}(values) != {fixed_form}:", 2)
            src.add("return MISS", 3)
        src.add("except KeyError:")  # a hyper-parameter is gone
        src.add("return MISS", 2)
    src.miss_unless([f"{src.bind('P', t)}.array is not {src.bind('A', array)}" for t, array in compiled.pinned])
    src.miss_unless([f"{src.bind('M', module)}.profile_hook is not None"])
    inputs = [f"x{i}" for i in range(n)] + [f"{src.bind('C', t)}.array" for t in compiled.captured] + \
        [f"{src.bind('P', p)}.grad.array" for p in compiled.grad_params]
    read = {id(p) for p in compiled.grad_params}
    for param, _ in compiled.fresh or ():  # replaced below: let go first, so the code may reuse their memory
        if id(param) not in read:
            src.add(f"{src.bind('P', param)}._grad = None")
    src.add("try:")
    src.add(f"results = {src.bind('FN', compiled.fn)}({', '.join(inputs)})", 2)
    src.add("except SizeSpecificCode:")  # raised before the code runs anything: the general path handles it
    src.add("return MISS", 2)
    for param, index in compiled.fresh or ():  # each gradient is the call's own copy: wrapped as it is
        if index.__class__ is tuple:  # a row-sparse gradient: (indices, values, shape, copy the indices?)
            _wrap(src, f"results[{index[1]}]")
            rows = f"results[{index[0]}]" + (".copy()" if index[3] else "")
            src.add(f"{src.bind('P', param)}.grad = {src.bind('RS', RowSparse)}({rows}, t, {src.bind('S', index[2])})")
            continue
        _wrap(src, f"results[{index}]")
        src.add(f"{src.bind('P', param)}.grad = t")
    if compiled.single_output is not None:
        _wrap(src, f"asarray(results[{compiled.single_output}])")
        src.add("return t")
    else:
        src.add(f"return {src.bind('REBUILD', compiled.rebuild)}(results, args)")
    source = "def steady(args):\n" + "\n".join(src.lines) + "\n"
    namespace = dict(src.names)
    exec(compile(source, "<ember.jit steady call>", "exec"), namespace)
    steady = namespace["steady"]
    steady.source = source
    return steady


def _wrap(src: _Source, array: str) -> None:
    """``t = Tensor._make(array, None)``, inlined."""
    src.add("t = new(Tensor)")
    src.add(f"t.array = {array}")
    src.add("t.node = None")
    src.add("t.requires_grad = False")
    src.add("t._grad = None")
    src.add("t._hooks = None")
