"""The pass manager: named passes ``Graph -> Graph`` run in one visible pipeline.

A pipeline entry is a pass's name, or ``(name, options)`` for a pass that takes keyword options
(``("mixed_precision", {"dtype": "float16"})``). ``EMBER_DUMP_IR=1`` prints the IR after each pass;
``verify=True`` (the tests) runs the verifier after each.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from ember.graph.ir import Graph
from ember.passes.autodiff import autodiff
from ember.passes.cse import cse
from ember.passes.data_parallel import data_parallel, data_parallel_job
from ember.passes.fold_constants import fold_constants
from ember.passes.fuse_elementwise import fuse_elementwise
from ember.passes.mixed_precision import low_precision_dtype, mixed_precision
from ember.passes.plan_memory import plan_memory
from ember.passes.prune import prune
from ember.passes.simplify import simplify
from ember.passes.sparse_first import sparse_first
from ember.passes.sparse_rows import sparse_rows

PASSES: dict[str, Callable[[Graph], Graph]] = {
    "autodiff": autodiff,
    "prune": prune,
    "fold_constants": fold_constants,
    "cse": cse,
    "simplify": simplify,
    "fuse_elementwise": fuse_elementwise,
    "plan_memory": plan_memory,
    "data_parallel": data_parallel,
    "sparse_rows": sparse_rows,
    "sparse_first": sparse_first,
    "mixed_precision": mixed_precision,
}
DEFAULT_PIPELINE = ("autodiff", "prune", "fold_constants", "simplify", "cse", "prune", "sparse_rows",
                    "sparse_first", "fuse_elementwise", "plan_memory")


def pipeline(mixed_precision=None) -> tuple:
    """The passes a front end runs: ``DEFAULT_PIPELINE``, with ``data_parallel`` after ``autodiff`` in a job whose
    ``ember.distributed`` process group has more than one rank and no parameter servers, unless switched off
    with ``dist.compiled_data_parallel(False)`` (read from ``sys.modules``: passes do not import the
    distributed layer), and with ``mixed_precision`` first when a dtype (bfloat16 or float16) is given, so that
    ``autodiff`` builds the backward from the rewritten forward."""
    names = DEFAULT_PIPELINE
    if data_parallel_job():
        at = names.index("autodiff") + 1
        names = names[:at] + ("data_parallel",) + names[at:]
    if mixed_precision is not None:
        names = (("mixed_precision", {"dtype": low_precision_dtype(mixed_precision)}),) + names
    return names


def _entry(entry) -> tuple:
    """A pipeline entry as (name, options)."""
    return (entry, {}) if isinstance(entry, str) else (entry[0], dict(entry[1]))


class PassManager:
    """Runs passes by name, in order.

    >>> PassManager(["prune", "cse"]).run(graph)
    """

    def __init__(self, names=DEFAULT_PIPELINE, verify: bool = False):
        entries = [_entry(n) for n in names]
        unknown = [n for n, _ in entries if n not in PASSES]
        if unknown:
            raise ValueError(f"PassManager: unknown pass {unknown[0]!r}; known: {', '.join(sorted(PASSES))}")
        self.names = tuple(names)
        self.entries = entries
        self.verify = verify

    def run(self, graph: Graph) -> Graph:
        """Apply the pipeline to ``graph`` (passes may change it in place) and return the result."""
        dump = os.environ.get("EMBER_DUMP_IR", "") not in ("", "0")
        if self.verify:
            graph.verify()
        for name, options in self.entries:
            graph = PASSES[name](graph, **options)
            if self.verify:
                graph.verify()
            if dump:
                print(f"// after {name}\n{graph.dump()}", file=sys.stderr)
        return graph


def run_passes(graph: Graph, names=None, verify: bool = False) -> Graph:
    """``PassManager(names, verify).run(graph)``; ``names`` defaults to ``pipeline()``."""
    return PassManager(pipeline() if names is None else names, verify).run(graph)
