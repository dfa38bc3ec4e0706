"""TF-1's checkpoint utilities over the files ``tf.train.Saver`` writes: ``list_variables``, ``load_variable``,
``init_from_checkpoint`` (variables start from a checkpoint's values) and ``write_graph``."""

from __future__ import annotations

import os

import numpy as np

import ember
from ember.compat.tf._core import Graph, constant, get_default_graph
from ember.compat.tf.errors import NotFoundError
from ember.compat.tf.variables import Variable

__all__ = ["init_from_checkpoint", "list_variables", "load_checkpoint", "load_variable", "write_graph"]


def _checkpoint_file(where: str, ckpt_dir_or_file: str) -> str:
    """The checkpoint file ``ckpt_dir_or_file`` names: a file, or a directory's latest checkpoint."""
    from ember.compat.tf.train import latest_checkpoint

    path = os.fspath(ckpt_dir_or_file)
    if os.path.isdir(path):
        latest = latest_checkpoint(path)
        if latest is None:
            raise ValueError(f"{where}: couldn't find 'checkpoint' file or checkpoints in the directory {path!r}")
        path = latest
    if not os.path.isfile(path):
        raise NotFoundError(message=f"{where}: no checkpoint at {path!r} (a file tf.train.Saver.save wrote, or "
                                    "its directory)")
    return path


def _read(where: str, ckpt_dir_or_file: str) -> dict:
    path = _checkpoint_file(where, ckpt_dir_or_file)
    saved = ember.load(path)
    if not isinstance(saved, dict):
        raise ValueError(f"{where}: {path!r} is not a checkpoint of named variables")
    return {name: np.asarray(value.numpy() if isinstance(value, ember.Tensor) else value)
            for name, value in saved.items()}


class CheckpointReader:
    """``tf.train.load_checkpoint``'s reader: the checkpoint's names, shapes, dtypes and values."""

    def __init__(self, values: dict):
        self._values = values

    def get_variable_to_shape_map(self) -> dict:
        return {name: list(value.shape) for name, value in self._values.items()}

    def get_variable_to_dtype_map(self) -> dict:
        return {name: value.dtype for name, value in self._values.items()}

    def has_tensor(self, name: str) -> bool:
        return name in self._values

    def get_tensor(self, name: str) -> np.ndarray:
        if name not in self._values:
            raise NotFoundError(message=f"Key {name} not found in checkpoint")
        return self._values[name].copy()


def load_checkpoint(ckpt_dir_or_file: str) -> CheckpointReader:
    """A reader of the checkpoint ``ckpt_dir_or_file`` names (a file, or a directory's latest checkpoint)."""
    return CheckpointReader(_read("tf.train.load_checkpoint", ckpt_dir_or_file))


def list_variables(ckpt_dir_or_file: str) -> list:
    """[(name, shape)] of the variables in the checkpoint, sorted by name, as TF-1 lists them."""
    values = _read("tf.train.list_variables", ckpt_dir_or_file)
    return [(name, list(values[name].shape)) for name in sorted(values)]


def load_variable(ckpt_dir_or_file: str, name: str) -> np.ndarray:
    """The value saved for the variable ``name`` (a trailing ``:0`` is dropped, as TF-1 does)."""
    values = _read("tf.train.load_variable", ckpt_dir_or_file)
    name = name.removesuffix(":0")
    if name not in values:
        raise NotFoundError(message=f"tf.train.load_variable: Key {name} not found in checkpoint "
                                    f"{ckpt_dir_or_file!r} (it has {sorted(values)})")
    return values[name].copy()


def _start_from(var: Variable, value: np.ndarray, ckpt_name: str, where: str) -> None:
    """Make ``var``'s initializer give the checkpoint's ``value`` (saved as ``ckpt_name``)."""
    if tuple(value.shape) != tuple(var.shape):
        raise ValueError(f"{where}: shape of variable {var.name} ({list(var.shape)}) doesn't match with shape of "
                         f"tensor {ckpt_name} ({list(value.shape)}) from the checkpoint")
    if value.dtype != var.dtype:
        raise ValueError(f"{where}: dtype of variable {var.name} ({var.dtype}) doesn't match with dtype of tensor "
                         f"{ckpt_name} ({value.dtype}) from the checkpoint")
    with var.graph.as_default():
        var.initial_value = constant(value, name=f"{var.op.name}/checkpoint_initializer")


def init_from_checkpoint(ckpt_dir_or_file: str, assignment_map: dict) -> None:
    """Make variables start from a checkpoint's values: their initializers (``global_variables_initializer``)
    load them instead. ``assignment_map`` maps checkpoint names to variables, as TF-1's:
    ``{"old/w": "new/w"}`` or ``{"old/w": variable}`` one variable; ``{"old/": "new/"}`` every variable made by
    ``get_variable`` under ``new/`` from the checkpoint's name under ``old/`` with the same rest; ``"/"`` on
    the left is the checkpoint's top level. Names are those of ``tf.get_variable`` (a ``tf.Variable`` is named
    by giving the object)."""
    where = "tf.train.init_from_checkpoint"
    if not isinstance(assignment_map, dict):
        raise TypeError(f"{where}: assignment_map must be a dict, got {type(assignment_map).__name__}")
    values = _read(where, ckpt_dir_or_file)
    store = get_default_graph().named  # get_variable's variables by name
    for ckpt_name, current in sorted(assignment_map.items(), key=lambda item: item[0]):
        var = current if isinstance(current, Variable) else store.get(current)
        if var is not None:
            if ckpt_name not in values:
                raise ValueError(f"{where}: tensor {ckpt_name} is not found in checkpoint {ckpt_dir_or_file!r} "
                                 f"(it has {sorted(values)})")
            _start_from(var, values[ckpt_name], ckpt_name, where)
            continue
        if not isinstance(current, str):
            raise TypeError(f"{where}: the values of assignment_map must be variable names, scopes or "
                            f"tf.Variables, got {type(current).__name__}")
        scope = current[:current.rindex("/")] if "/" in current else ""
        if not ckpt_name.endswith("/"):
            raise ValueError(f"{where}: {current!r} is no variable of the graph; a scope maps only from a scope: "
                             f"'scope/': 'other_scope/', got {ckpt_name!r}")
        names = sorted(name for name in store if not scope or name.startswith(scope + "/"))
        for name in names:
            rest = name[len(scope):]
            if current != "/":
                rest = rest[1:]
            full = rest if ckpt_name == "/" else ckpt_name + rest
            if full not in values:
                raise ValueError(f"{where}: tensor {full} ({rest.lstrip('/')} in {ckpt_name}) is not found in "
                                 f"checkpoint {ckpt_dir_or_file!r}")
            _start_from(store[name], values[full], full, where)


def write_graph(graph_or_graph_def, logdir: str, name: str, as_text: bool = True) -> str:
    """Write the graph's ``GraphDef`` (a tf.Graph, or the protobuf) to ``logdir/name``, in protobuf text form
    with ``as_text``, else binary; the path written."""
    from google.protobuf import text_format

    from ember.compat.tf.summary import graph_def_of

    proto = graph_def_of(graph_or_graph_def) if isinstance(graph_or_graph_def, Graph) else graph_or_graph_def
    if not hasattr(proto, "SerializeToString"):
        raise TypeError(f"tf.train.write_graph: expected a tf.Graph or a GraphDef, got "
                        f"{type(graph_or_graph_def).__name__}")
    os.makedirs(logdir, exist_ok=True)
    path = os.path.join(logdir, name)
    data = text_format.MessageToString(proto).encode() if as_text else proto.SerializeToString()
    with open(path, "wb") as f:
        f.write(data)
    return path
