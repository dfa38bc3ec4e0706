"""Model versions on disk: ``MODEL_DIR/<n>/model.onnx``, the highest valid one served, new ones hot-loaded.

A version is loaded, checked (a batch axis on each input, a test call on a zero batch) and only then swapped in, by one
reference assignment: a request reads ``watcher.current`` once, so it runs wholly on the old or the new
version. A version that fails to load is logged and refused (until its files change); the old one keeps
serving. As TF Serving's default policy, when the served version's folder is deleted the newest remaining version
that loads serves instead (none where no version remains); where the model folder itself is missing (unmounted,
say), the scan fails and what was loaded keeps serving, as TF Serving emits no version list for a missing base
path. A version once served and then replaced or deleted is kept in ``ended`` (TF Serving's state END in the model's
status).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import NamedTuple

import numpy as np

log = logging.getLogger("ember.serve")
MODEL_FILE = "model.onnx"


class LoadedModel(NamedTuple):
    """One loaded version: the callable, and the per-instance shape and dtype its input takes (its first input's,
    where it has several: ``inputs`` then holds each one's (name, instance shape, dtype), and a batch is a dict of
    arrays by input name)."""

    version: int
    module: object
    instance_shape: tuple  # dimensions after the batch axis; None where the model takes any size
    dtype: np.dtype
    batch: int | None = None  # the input's fixed first size (instances per call); None where it takes any number
    input_name: str | None = None  # the input's name, which named requests must use; None: any one name
    outputs: tuple = ()  # (name, dtype, dims) of each output, dims None where any size
    inputs: tuple = ()  # (name, instance_shape, dtype) of each input where there are several

    @property
    def input_specs(self) -> tuple:
        """(name, instance_shape, dtype) of each input."""
        return self.inputs or ((self.input_name, self.instance_shape, self.dtype),)

    def __call__(self, batch: np.ndarray | dict) -> np.ndarray | dict:
        """The output for ``batch``; a dict of the outputs by name where the model has several (TF Serving answers
        each of them). A model of a fixed batch size runs on each ``self.batch`` rows in turn (the imported model
        would compute on other sizes: a mean over its batch axis would mix requests)."""
        rows = batch_rows(batch)
        if self.batch is not None and rows != self.batch:
            if rows % self.batch:
                raise ValueError(f"version {self.version} takes {self.batch} instances per call, got {rows}")
            parts = [self(slice_rows(batch, i, i + self.batch)) for i in range(0, rows, self.batch)]
            return concat_rows(parts)
        import ember

        arrays = [batch[name] for name, _, _ in self.inputs] if self.inputs else [batch]
        with ember.no_grad():
            out = self.module(*[ember.from_numpy(a) for a in arrays])
        if isinstance(out, (tuple, list)):
            names = list(getattr(self.module, "output_names", None) or [f"output{i}" for i in range(len(out))])
            return {name: np.asarray(o.numpy()) for name, o in zip(names, out)}
        return np.asarray(out.numpy())


def batch_rows(batch: np.ndarray | dict) -> int:
    """The number of instances of a batch (an array, or a dict of arrays by input or output name)."""
    return len(next(iter(batch.values()))) if isinstance(batch, dict) else len(batch)


def slice_rows(batch: np.ndarray | dict, start: int, stop: int) -> np.ndarray | dict:
    """Instances ``start:stop`` of a batch."""
    if isinstance(batch, dict):
        return {name: value[start:stop] for name, value in batch.items()}
    return batch[start:stop]


def concat_rows(parts: list) -> np.ndarray | dict:
    """The batches ``parts`` as one."""
    if isinstance(parts[0], dict):
        return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    return np.concatenate(parts)


def _version_folders(model_dir: str) -> dict[int, str]:
    """Version number -> folder name; as TF Serving, a folder's name is read as a number, so ``0002`` is version 2
    (where ``2`` and ``0002`` both exist, ``2``)."""
    try:
        names = os.listdir(model_dir)
    except FileNotFoundError:
        raise ValueError(f"model directory {model_dir!r} does not exist") from None
    folders: dict[int, str] = {}
    for name in sorted(names):  # "2" sorts after "0002", so it is seen last and kept
        if name.isascii() and name.isdigit() and os.path.isdir(os.path.join(model_dir, name)):
            folders[int(name)] = name
    return folders


def version_numbers(model_dir: str) -> list[int]:
    """The numbered version folders of ``model_dir``, ascending."""
    return sorted(_version_folders(model_dir))


def version_path(model_dir: str, version: int) -> str:
    """The model file of ``version`` (its folder may be named with leading zeros)."""
    folder = _version_folders(model_dir).get(version, str(version))
    return os.path.join(model_dir, folder, MODEL_FILE)


def load_version(model_dir: str, version: int) -> LoadedModel:
    """Load and check ``model_dir/<version>/model.onnx``; raises ValueError saying what is wrong."""
    import onnx

    import ember.onnx

    path = version_path(model_dir, version)
    if not os.path.exists(path):
        raise ValueError(f"{path}: missing")
    try:
        proto = onnx.load(path)
        onnx.checker.check_model(proto)
        module = ember.onnx.load(proto)
    except Exception as exc:  # a corrupt file can fail in many ways; all mean "refuse this version"
        raise ValueError(f"{path}: not a loadable ONNX model ({type(exc).__name__}: {exc})") from exc
    initializers = {i.name for i in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in initializers]
    if not inputs:
        raise ValueError(f"{path}: serving needs a model with an input, this one has none")
    specs, firsts = [], set()
    for i in inputs:
        tensor_type = i.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
        if not dims:
            raise ValueError(f"{path}: the input {i.name!r} must have a batch axis")
        firsts.add(dims[0] or None)
        specs.append((i.name, tuple(dims[1:]), np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type))))
    if len(firsts) != 1:  # the batch axis is one, shared
        raise ValueError(f"{path}: the inputs' first axes (the batch) differ: {sorted(firsts, key=str)}")
    fixed = firsts.pop()
    outputs = tuple((o.name, np.dtype(onnx.helper.tensor_dtype_to_np_dtype(o.type.tensor_type.elem_type)),
                     tuple(d.dim_value if d.HasField("dim_value") else None for d in o.type.tensor_type.shape.dim))
                    for o in proto.graph.output)
    name, instance_shape, dtype = specs[0]
    loaded = LoadedModel(version, module, instance_shape, dtype, fixed, name, outputs,
                         tuple(specs) if len(specs) > 1 else ())
    batch = fixed or 2  # two instances where the model takes any number: a first axis of 1 may not be the batch
    zeros = {n: np.zeros((batch,) + tuple(d or 1 for d in shape), dt) for n, shape, dt in specs}
    zeros = zeros if len(specs) > 1 else zeros[name]
    try:
        out = loaded(zeros)
    except Exception as exc:
        raise ValueError(f"{path}: the model fails on a zero batch ({type(exc).__name__}: {exc})") from exc
    for name, value in (out.items() if isinstance(out, dict) else [("", out)]):
        if value.ndim == 0 or value.shape[0] != batch:  # each request's rows are cut from the batch's output
            raise ValueError(f"{path}: the output{f' {name!r}' if name else ''}'s first axis must be the batch; "
                             f"{batch} instances give an output of shape {list(value.shape)}")
    return loaded


class VersionWatcher:
    """Serves the highest loadable version of ``model_dir`` and polls for newer ones in the background."""

    def __init__(self, model_dir: str, poll_interval: float = 2.0):
        self.model_dir = model_dir
        self.poll_interval = poll_interval
        self.current: LoadedModel | None = None
        self.refused: dict = {}  # version -> (mtime when refused, reason)
        self.ended: set[int] = set()  # versions served, then replaced or deleted: TF Serving's state END
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _stamp(self, version: int) -> float:
        path = version_path(self.model_dir, version)
        return os.path.getmtime(path) if os.path.exists(path) else -1.0

    def refresh(self) -> LoadedModel | None:
        """Load the newest version above the current one that loads (any version where the current one's folder
        was deleted); returns what now serves."""
        with self._lock:
            numbers = version_numbers(self.model_dir)
            self.refused = {v: r for v, r in self.refused.items() if v in numbers}  # deleted: no longer reported
            deleted = self.current is not None and self.current.version not in numbers
            # a deleted version is unloaded as TF Serving does: the newest remaining one that loads takes over (the
            # deleted one answers until then, so no request sees no version in between)
            serving = self.current.version if self.current is not None and not deleted else -1
            previous = self.current
            for version in reversed(numbers):
                if version <= serving:
                    break
                stamp = self._stamp(version)
                if version in self.refused and self.refused[version][0] == stamp:
                    continue
                try:
                    loaded = load_version(self.model_dir, version)
                except ValueError as exc:
                    self.refused[version] = (stamp, str(exc))
                    self.ended.discard(version)
                    log.error("refused version %d: %s", version, exc)
                    continue
                self.refused.pop(version, None)  # refused while still being written, say: it serves now
                self.current = loaded  # one assignment: requests see the old or the new version, whole
                log.info("serving version %d", version)
                break
            if deleted and self.current.version not in numbers:
                log.warning("version %d was deleted and no other version loads; serving none", self.current.version)
                self.current = None
            if previous is not None and self.current is not previous:
                self.ended.add(previous.version)
            if self.current is not None:
                self.ended.discard(self.current.version)  # served again (put back, say)
            return self.current

    def start(self) -> None:
        """Poll every ``poll_interval`` seconds in a daemon thread."""
        if self._thread is None and self.poll_interval > 0:
            self._thread = threading.Thread(target=self._poll, name="ember-serve-versions", daemon=True)
            self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.refresh()
            except ValueError as exc:  # the model folder itself is gone: one line a scan, no traceback
                log.error("version scan failed: %s; still serving what was loaded", exc)
            except Exception:  # the watcher must outlive a broken folder
                log.exception("version scan failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
