"""``tf.summary``: scalar and histogram summaries and a ``FileWriter`` writing TensorBoard event files.

Writing needs the optional package tensorboardX (``pip install "ember[tensorboard]"``). Running a
summary op in a Session returns the serialized ``Summary`` protobuf, as in TF-1.
"""

from __future__ import annotations

from ember.compat.tf._core import Tensor, add_to_collection, as_tf, get_collection, get_default_graph

__all__ = ["FileWriter", "histogram", "merge", "merge_all", "scalar"]

_INSTALL = 'tf.summary needs tensorboardX: pip install tensorboardX (or "ember[tensorboard]")'


def _tensorboardx():
    try:
        import tensorboardX
        import tensorboardX.summary
        import tensorboardX.writer
    except ImportError as exc:
        raise ImportError(_INSTALL) from exc
    return tensorboardX


class SummaryOp(Tensor):
    """A summary: fetching it runs ``summary_values`` and serializes them into one ``Summary`` protobuf."""

    kind = "Summary"

    def __init__(self, parts: list, name: str):
        super().__init__(None, name=name)
        self.parts = parts  # (tag, kind, tensor)
        self.summary_values = [t for _, _, t in parts]

    def serialize(self, values: list) -> bytes:
        tbx = _tensorboardx()
        merged = tbx.proto.summary_pb2.Summary()
        for (tag, kind, _), value in zip(self.parts, values):
            if kind == "scalar":
                merged.value.extend(tbx.summary.scalar(tag, float(value)).value)
            else:
                merged.value.extend(tbx.summary.histogram(tag, value, "auto").value)
        return merged.SerializeToString()


def scalar(name: str, tensor, collections=None, family=None) -> SummaryOp:
    """A scalar summary of ``tensor`` under the tag ``name``."""
    summary = SummaryOp([(name, "scalar", as_tf(tensor))], name=name)
    add_to_collection("summaries", summary)
    return summary


def histogram(name: str, values, collections=None, family=None) -> SummaryOp:
    """A histogram summary of ``values`` under the tag ``name``."""
    summary = SummaryOp([(name, "histogram", as_tf(values))], name=name)
    add_to_collection("summaries", summary)
    return summary


def merge(inputs, collections=None, name: str = "Merge/MergeSummary") -> SummaryOp:
    """One summary holding all of ``inputs``."""
    return SummaryOp([part for summary in inputs for part in summary.parts], name=name)


def merge_all(key: str = "summaries", scope=None, name: str = "Merge/MergeSummary") -> SummaryOp | None:
    """All summaries of the default graph in one (None when there are none, as in TF-1)."""
    summaries = get_collection(key, scope)
    return merge(summaries, name=name) if summaries else None


class FileWriter:
    """Writes summaries to a TensorBoard event file in ``logdir``."""

    def __init__(self, logdir: str, graph=None, max_queue: int = 10, flush_secs: int = 120, filename_suffix: str = "",
                 session=None):
        self.writer = _tensorboardx().writer.FileWriter(logdir, max_queue, flush_secs, filename_suffix)
        self.logdir = logdir
        self.graph = graph if graph is not None else get_default_graph()

    def add_summary(self, summary, global_step=None, walltime=None) -> None:
        """Write a summary (the bytes a Session returned for a summary op, or a ``Summary`` protobuf)."""
        if isinstance(summary, bytes):
            proto = _tensorboardx().proto.summary_pb2.Summary()
            proto.ParseFromString(summary)
            summary = proto
        self.writer.add_summary(summary, None if global_step is None else int(global_step), walltime)
        self.writer.flush()  # (TF-1 scripts often never close their writer)

    def add_graph(self, graph, global_step=None) -> None:
        """Accepted for compatibility; Ember does not write the graph definition."""

    def get_logdir(self) -> str:
        return self.logdir

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def __getattr__(name: str):
    from ember.compat.tf._missing import missing

    raise missing(__name__, name, globals())
