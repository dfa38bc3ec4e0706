"""``tf.summary``: scalar and histogram summaries and a ``FileWriter`` writing TensorBoard event files.

Writing needs the optional package tensorboardX (``pip install "ember[tensorboard]"``). Running a
summary op in a Session returns the serialized ``Summary`` protobuf, as in TF-1.
"""

from __future__ import annotations

import os
import re
import time

import numpy as np

from ember.compat.tf._core import (
    Tensor,
    add_to_collection,
    as_tf,
    get_collection,
    get_default_graph,
    name_scope,
    tensors_in,
)

__all__ = ["FileWriter", "FileWriterCache", "histogram", "merge", "merge_all", "scalar"]

_INSTALL = 'tf.summary needs tensorboardX: pip install tensorboardX (or "ember[tensorboard]")'


def _tensorboardx():
    try:
        import tensorboardX
        import tensorboardX.event_file_writer
        import tensorboardX.summary
        from tensorboardX.proto import event_pb2, graph_pb2, types_pb2  # noqa: F401  (graph events)
    except ImportError as exc:
        raise ImportError(_INSTALL) from exc
    return tensorboardX


class SummaryOp(Tensor):
    """A summary: fetching it runs ``summary_values`` and serializes them into one ``Summary`` protobuf."""

    kind = "Summary"

    def __init__(self, parts: list, name: str):
        super().__init__(None, name=name)
        self.parts = parts  # (tag, kind, tensor); kind "scalar", "histogram" or a function giving Summary.Values
        self.summary_values = [t for _, _, t in parts]

    def serialize(self, values: list) -> bytes:
        tbx = _tensorboardx()
        merged = tbx.proto.summary_pb2.Summary()
        for (tag, kind, _), value in zip(self.parts, values):
            if callable(kind):  # image, audio, text, tensor summaries: their own Summary.Values
                merged.value.extend(kind(tag, value, tbx))
            elif kind == "scalar":
                merged.value.extend(tbx.summary.scalar(tag, float(value)).value)
            else:
                merged.value.extend(tbx.summary.histogram(tag, value, "auto").value)
        return merged.SerializeToString()


def _clean_tag(name: str | None) -> str | None:
    """TF-1's ``clean_tag``: characters a node name cannot hold become "_", and leading slashes go."""
    return None if name is None else re.sub(r"[^-/\w.]", "_", name).lstrip("/")


def summary_op(name: str, kind, tensor, collections, family) -> SummaryOp:
    """A summary op added to ``collections`` (by default the SUMMARIES collection, ``"summaries"``), named and
    tagged as TF-1's ``summary_scope``: the op is the name scope ``name`` opens (made unique, under the open name
    scopes: ``train/loss``, then ``train/loss_1``) and its tag is that scope's name. With a ``family``, the scope
    is ``family/name`` and the tag ``family/<scope>`` (the family first, so TensorBoard shows it as the tab)."""
    name, family = _clean_tag(name), _clean_tag(family)
    with name_scope(name if family is None else f"{family}/{name}") as scope:
        tag = scope.rstrip("/") if family is None else f"{family}/{scope.rstrip('/')}"
        summary = SummaryOp([(tag, kind, tensor)], name=scope)
    for key in ["summaries"] if collections is None else collections:
        add_to_collection(key, summary)
    return summary


def scalar(name: str, tensor, collections=None, family=None) -> SummaryOp:
    """A scalar summary of ``tensor`` under the tag ``name`` (see ``summary_op`` for ``collections`` and
    ``family``)."""
    return summary_op(name, "scalar", as_tf(tensor), collections, family)


def histogram(name: str, values, collections=None, family=None) -> SummaryOp:
    """A histogram summary of ``values`` under the tag ``name`` (see ``summary_op`` for ``collections`` and
    ``family``)."""
    return summary_op(name, "histogram", as_tf(values), collections, family)


def merge(inputs, collections=None, name: str = "Merge/MergeSummary") -> SummaryOp:
    """One summary holding all of ``inputs``."""
    return SummaryOp([part for summary in inputs for part in summary.parts], name=name)


def merge_all(key: str = "summaries", scope=None, name: str = "Merge/MergeSummary") -> SummaryOp | None:
    """All summaries of the default graph in one (None when there are none, as in TF-1)."""
    summaries = get_collection(key, scope)
    return merge(summaries, name=name) if summaries else None


class FileWriter:
    """Writes summaries to a TensorBoard event file in ``logdir``; a ``graph`` given is written too, for
    TensorBoard's graph view (as TF-1). Each event is on disk when its ``add_*`` returns (``max_queue`` and
    ``flush_secs``, which bound TF's queue of pending events, have nothing to bound)."""

    def __init__(self, logdir: str, graph=None, max_queue: int = 10, flush_secs: int = 120, filename_suffix: str = "",
                 session=None, graph_def=None):
        events_writer = _tensorboardx().event_file_writer.EventsWriter
        os.makedirs(logdir, exist_ok=True)
        # written here rather than through tensorboardX's queue, whose flush() left the last events unwritten
        self.writer = events_writer(os.path.join(str(logdir), "events"), filename_suffix)
        self.logdir, self._closed = logdir, False
        self.graph = graph if graph is not None else get_default_graph()
        if graph is not None or graph_def is not None:
            self.add_graph(graph, graph_def=graph_def)

    def add_summary(self, summary, global_step=None, walltime=None) -> None:
        """Write a summary (the bytes a Session returned for a summary op, or a ``Summary`` protobuf)."""
        if isinstance(summary, bytes):
            proto = _tensorboardx().proto.summary_pb2.Summary()
            proto.ParseFromString(summary)
            summary = proto
        self._add_event(_tensorboardx().proto.event_pb2.Event(summary=summary), global_step, walltime)

    def add_session_log(self, session_log, global_step=None) -> None:
        """Write a ``SessionLog`` protobuf (START, STOP or CHECKPOINT) at ``global_step``."""
        self._add_event(_tensorboardx().proto.event_pb2.Event(session_log=session_log), global_step)

    def add_graph(self, graph, global_step=None, graph_def=None) -> None:
        """Write ``graph`` (a tf.Graph, or a ``GraphDef`` protobuf as ``graph_def``) for TensorBoard's graph view:
        a node per op, named, typed and linked to its inputs as TF-1 names them."""
        proto = graph_def if graph_def is not None else graph_def_of(graph)
        self._add_event(_tensorboardx().proto.event_pb2.Event(graph_def=proto.SerializeToString()), global_step)

    def add_event(self, event, global_step=None, walltime=None) -> None:
        """Write an ``Event`` protobuf."""
        self._add_event(event, global_step, walltime)

    def _add_event(self, event, global_step=None, walltime=None) -> None:
        if self._closed:  # (as TF-1's: what comes after close() is dropped)
            return
        event.wall_time = time.time() if walltime is None else walltime
        if global_step is not None:
            event.step = int(global_step)
        self.writer.write_event(event)
        self.writer.flush()  # (TF-1 scripts often never close their writer)

    def get_logdir(self) -> str:
        return self.logdir

    def flush(self) -> None:
        if not self._closed:
            self.writer.flush()

    def close(self) -> None:
        if not self._closed:
            self.writer.close()
            self._closed = True

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FileWriterCache:
    """``tf.summary.FileWriterCache``: one FileWriter per log directory (with the default graph), shared by whoever
    writes there, so the session hooks write into one event file."""

    _writers: dict[str, FileWriter] = {}

    @staticmethod
    def get(logdir: str) -> FileWriter:
        logdir = str(logdir)
        if logdir not in FileWriterCache._writers:
            FileWriterCache._writers[logdir] = FileWriter(logdir, graph=get_default_graph())
        return FileWriterCache._writers[logdir]

    @staticmethod
    def clear() -> None:
        """Close and forget every cached writer."""
        for writer in FileWriterCache._writers.values():
            writer.close()
        FileWriterCache._writers.clear()


def scalar_proto(tag: str, value: float) -> object:
    """A ``Summary`` protobuf of one scalar (what hooks write without running a summary op)."""
    summary_pb2 = _tensorboardx().proto.summary_pb2
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(value))])


def session_log_proto(status: str) -> object:
    """A ``SessionLog`` protobuf of ``status`` ("START", "STOP" or "CHECKPOINT")."""
    event_pb2 = _tensorboardx().proto.event_pb2
    return event_pb2.SessionLog(status=event_pb2.SessionLog.SessionStatus.Value(status))


def graph_def_of(graph) -> object:
    """A ``GraphDef`` protobuf of ``graph``'s ops, in the order they were made: each node's name, op type, inputs
    (``"op"`` for an op's first output, ``"op:i"`` for others) and, where known, its dtype and shape."""
    graph_pb2 = _tensorboardx().proto.graph_pb2
    proto = graph_pb2.GraphDef()
    for t in graph.by_name.values():
        node = proto.node.add(name=t.op.name, op=_op_type(t))
        for source in tensors_in((t.args, t.kwargs)):
            name = source.name
            node.input.append(name[:-2] if name.endswith(":0") else name)
        dtype = getattr(t, "dtype", None)
        if dtype is not None:
            node.attr["dtype"].type = _data_type(np.dtype(dtype))
        shape = getattr(t, "_shape", None)
        if shape is not None:
            dims = node.attr["_output_shapes"].list.shape.add().dim
            for size in shape:
                dims.add(size=-1 if size is None else int(size))
    return proto


def _op_type(t: Tensor) -> str:
    """``t``'s op type, or for an op computed by an Ember function the function's name (``matmul``)."""
    kind = t.op.type
    name = getattr(t.fn, "__name__", "")
    return name if kind == "Op" and name.isidentifier() else kind


def _data_type(dtype: np.dtype) -> int:
    """TF's ``DataType`` number for ``dtype`` (0, DT_INVALID, for one TF has none for)."""
    types_pb2 = _tensorboardx().proto.types_pb2
    name = {"float32": "DT_FLOAT", "float64": "DT_DOUBLE", "float16": "DT_HALF", "bool": "DT_BOOL",
            "object": "DT_STRING"}.get(dtype.name, f"DT_{dtype.name.upper()}")
    return types_pb2.DataType.Value(name) if name in types_pb2.DataType.keys() else 0


def __getattr__(name: str):
    from ember.compat.tf._missing import missing

    raise missing(__name__, name, globals())
