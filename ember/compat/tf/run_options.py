"""``tf.RunOptions`` and ``tf.RunMetadata``: what ``Session.run(..., options=, run_metadata=)`` takes.

With ``trace_level`` SOFTWARE_TRACE or above (FULL_TRACE), the run goes node by node through the ops'
forwards of the compiled graph, each timed, and ``run_metadata.step_stats.dev_stats[0].node_stats`` lists one
``NodeExecStats`` per node: ``node_name`` is the node's Ember op (``matmul``, ``fused(add,relu)`` after the
passes fused it), not a TF-1 op name, with its start and end in microseconds as TF-1's fields. Without
options (or with NO_TRACE) a Session runs its compiled code as always.
"""

from __future__ import annotations

import threading
import time

from ember.runtime.stepwise import node_name, run_node_by_node

DEVICE = "/job:localhost/replica:0/task:0/device:CPU:0"


class RunOptions:
    """``tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)``. The other fields are accepted at their defaults
    only: Ember's Session.run has no timeout and no partition graphs."""

    NO_TRACE, SOFTWARE_TRACE, HARDWARE_TRACE, FULL_TRACE = 0, 1, 2, 3
    TraceLevel = type("TraceLevel", (), {"NO_TRACE": 0, "SOFTWARE_TRACE": 1, "HARDWARE_TRACE": 2, "FULL_TRACE": 3})

    def __init__(self, trace_level: int = 0, timeout_in_ms: int = 0, inter_op_thread_pool: int = 0,
                 output_partition_graphs: bool = False, debug_options=None,
                 report_tensor_allocations_upon_oom: bool = False):
        if trace_level not in (0, 1, 2, 3):
            raise ValueError(f"tf.RunOptions: trace_level must be NO_TRACE, SOFTWARE_TRACE, HARDWARE_TRACE or "
                             f"FULL_TRACE (0-3), got {trace_level!r}")
        refused = {"timeout_in_ms": timeout_in_ms, "inter_op_thread_pool": inter_op_thread_pool,
                   "output_partition_graphs": output_partition_graphs, "debug_options": debug_options,
                   "report_tensor_allocations_upon_oom": report_tensor_allocations_upon_oom}
        for key, value in refused.items():
            if value:
                raise ValueError(f"tf.RunOptions: {key}={value!r} is not supported (Ember's Session.run takes "
                                 "trace_level only)")
        self.trace_level = int(trace_level)

    def __repr__(self) -> str:
        return f"RunOptions(trace_level={self.trace_level})"


class NodeExecStats:
    """One node's run: ``node_name``, ``timeline_label``, ``all_start_micros`` (since the epoch) and
    ``op_start_rel_micros`` / ``op_end_rel_micros`` / ``all_end_rel_micros`` (from that start), as TF-1's."""

    def __init__(self, node_name: str, start_ns: int, end_ns: int):
        self.node_name = node_name
        self.timeline_label = node_name
        self.all_start_nanos = start_ns
        self.all_start_micros = start_ns // 1000
        self.op_start_rel_micros = 0
        self.op_end_rel_micros = self.all_end_rel_micros = (end_ns - start_ns) // 1000
        self.op_end_rel_nanos = self.all_end_rel_nanos = end_ns - start_ns

    def __repr__(self) -> str:
        return f"NodeExecStats(node_name={self.node_name!r}, all_end_rel_micros={self.all_end_rel_micros})"


class DeviceStepStats:
    """The nodes one device ran: ``device`` and ``node_stats``."""

    def __init__(self, device: str = DEVICE):
        self.device = device
        self.node_stats: list[NodeExecStats] = []


class StepStats:
    """``dev_stats``: one ``DeviceStepStats`` per device that ran nodes (none when nothing was traced)."""

    def __init__(self):
        self.dev_stats: list[DeviceStepStats] = []


class RunMetadata:
    """What a traced ``Session.run`` fills: ``step_stats`` (per-node timings). ``partition_graphs`` stays empty
    (Ember runs one graph)."""

    def __init__(self):
        self.step_stats = StepStats()
        self.partition_graphs: list = []

    def Clear(self) -> None:  # noqa: N802  (protobuf's name)
        """Empty it, as a protobuf's ``Clear``."""
        self.__init__()

    def __repr__(self) -> str:
        count = sum(len(d.node_stats) for d in self.step_stats.dev_stats)
        return f"RunMetadata(step_stats: {count} node stats)"


class Tracer:
    """A ``profile_hook`` for one traced Session.run: runs each compiled graph node by node, timing each into
    ``stats``. A run on another thread meanwhile goes to the hook that was there before (or, with none, runs
    node by node untimed)."""

    def __init__(self, stats: DeviceStepStats, previous):
        self.stats = stats
        self.previous = previous
        self.thread = threading.get_ident()

    def __call__(self, graph, bound, layout, arrays) -> tuple:
        if threading.get_ident() != self.thread and self.previous is not None:
            return self.previous(graph, bound, layout, arrays)
        record = self.stats.node_stats.append if threading.get_ident() == self.thread else None

        def on_node(node, inputs, attrs, out, start: int, end: int) -> None:
            if record is not None:
                record(NodeExecStats(node_name(node), start, end))

        return run_node_by_node(graph, bound, layout, arrays, on_node, clock=time.time_ns)
