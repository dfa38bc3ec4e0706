"""The HTTP side: TensorFlow Serving's REST API over a ``VersionWatcher`` and a ``Batcher``.

- ``POST /v1/models/NAME:predict`` (also ``/v1/models/NAME/versions/N:predict``, 404 unless N is the version
  served, and ``/v1/models/NAME/labels/LABEL:predict`` where ``ServeOptions.version_labels`` (``ember serve
  --version-label stable=1``) names LABEL's version, as TF Serving's ``version_labels``; an unknown label is a 400)
  with ``{"instances": [...]}`` answers ``{"predictions": [...]}``; with ``{"inputs": [...]}`` it answers
  ``{"outputs": [...]}``. A model of several outputs answers, as TF Serving, a dict of them by name for
  each instance (``predictions``), or a dict of the outputs' lists (``outputs``). Named inputs
  (``{"instances": [{"input0": ...}, ...]}``, ``{"inputs": {"input0": ...}}``) must use the model's input name;
  ``signature_name``, where given, must be ``serving_default``. A model of several inputs takes each instance as
  an object of them all (``{"instances": [{"a": ..., "b": ...}]}``) or ``{"inputs": {"a": ..., "b": ...}}``.
- ``GET /v1/models/NAME`` (or ``NAME/versions/N``, ``NAME/labels/LABEL``): the status of the versions (of N); ``GET
  /v1/models/NAME[/versions/N]/metadata``: the served version's signature, as TF Serving's GetModelMetadata;
  ``/healthz``, ``/readyz``, ``/metrics`` (Prometheus text).
Every bad request gets a 4xx with a message: unknown model (404), oversized body (413), not JSON, missing
field, ragged or non-numeric instances, wrong shape (400); a full queue or a stopping server 503, a passed deadline
504.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field

import ml_dtypes
import numpy as np
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ember.serve.batching import Batcher, DeadlineExceeded, Overloaded, Stopped
from ember.serve.versions import VersionWatcher


@dataclass
class ServeOptions:
    """Knobs of ``ember serve``, with their command-line defaults."""

    model_name: str
    max_batch_size: int = 64
    batch_timeout_ms: float = 2.0
    max_queue: int = 256
    deadline_ms: float = 1000.0
    max_body_bytes: int = 10 * 2**20
    poll_interval: float = 2.0
    version_labels: dict[str, int] = field(default_factory=dict)  # label ("stable", "canary") -> version number


SIGNATURE = "serving_default"  # the one signature a served ONNX model has (TF Serving's default name)


class BadRequest(Exception):
    """A client error: answered with ``status`` and the message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class _Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("ember_serve_requests", "predict requests by HTTP status", ["code"],
                                registry=self.registry)
        self.latency = Histogram("ember_serve_request_seconds", "predict latency", registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.batch = Histogram("ember_serve_batch_size", "instances per model call", registry=self.registry,
                               buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
        self.queue = Gauge("ember_serve_queue_depth", "requests waiting for a batch", registry=self.registry)
        self.version = Gauge("ember_serve_model_version", "the version being served", registry=self.registry)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"the body is {declared} bytes; the limit is {limit}", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"the body is over the {limit}-byte limit", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_instances(body: bytes, instance_shape: tuple, dtype: np.dtype, batch: int | None = None,
                    input_name: str | None = None) -> tuple[np.ndarray, str]:
    """The request's instances as one array, and the answer's key; BadRequest saying what is wrong. ``batch``: the
    number of instances a model of a fixed batch size takes; ``input_name``: the name named inputs must use (the row
    format's ``{"instances": [{NAME: ...}, ...]}`` and the columnar ``{"inputs": {NAME: ...}}``), None for any."""
    return parse_inputs(body, ((input_name, instance_shape, dtype),), batch)


def parse_inputs(body: bytes, specs: tuple, batch: int | None = None) -> tuple[np.ndarray | dict, str]:
    """``parse_instances`` for a model of the inputs ``specs`` ((name, instance_shape, dtype) each): one input's
    array, or several inputs' dict of arrays by name (each instance an object of them all, or ``"inputs"`` one)."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not JSON ({exc})") from None
    except RecursionError:  # json's parser recurses once per nesting level
        raise BadRequest("the body's JSON is nested too deeply") from None
    if not isinstance(payload, dict):
        raise BadRequest("the body must be a JSON object with \"instances\" or \"inputs\"")
    signature = payload.get("signature_name") or SIGNATURE  # absent or "": the default, as TF Serving
    if signature != SIGNATURE:
        raise BadRequest(f"unknown signature_name {signature!r}; this model has one, {SIGNATURE!r}")
    if "instances" in payload and "inputs" in payload:
        raise BadRequest("the body has both \"instances\" and \"inputs\"; send one of them")
    names = [name for name, _, _ in specs]
    if "instances" in payload:
        data, key, field = payload["instances"], "predictions", "instances"
        if isinstance(data, list) and data and (len(specs) > 1 or any(isinstance(row, dict) for row in data)):
            rows = [_named(row, names, f"instance {i}") for i, row in enumerate(data)]
            data = {name: [row[name] for row in rows] for name in rows[0]}
    elif "inputs" in payload:
        data, key, field = payload["inputs"], "outputs", "inputs"
        if isinstance(data, dict) or len(specs) > 1:
            data = _named(data, names, "\"inputs\"")
    else:
        raise BadRequest("missing field: the body needs \"instances\" (or \"inputs\")")
    if len(specs) == 1:
        (_, instance_shape, dtype), = specs
        value = next(iter(data.values())) if isinstance(data, dict) else data
        return _array(value, instance_shape, dtype, batch, field, ""), key
    arrays = {name: _array(data[name], shape, dtype, batch, field, f"input {name!r}: ") for name, shape, dtype in specs}
    counts = {name: len(a) for name, a in arrays.items()}
    if len(set(counts.values())) > 1:
        raise BadRequest(f"the inputs hold different numbers of instances {counts}; each instance needs them all")
    return arrays, key


def _array(data, instance_shape: tuple, dtype: np.dtype, batch: int | None, field: str, where: str) -> np.ndarray:
    """One input's instances as an array of ``dtype``; BadRequest (starting with ``where``) saying what is wrong."""
    if not isinstance(data, list) or not data:
        raise BadRequest(f"{where}\"{field}\" must be a non-empty list (of instances), got {json.dumps(data)[:40]}")
    try:
        array = np.array(data)
    except ValueError as exc:
        raise BadRequest(f"{where}the instances are ragged ({exc})") from None
    if array.dtype.kind not in "biuf":
        raise BadRequest(f"{where}the instances must be numbers of the model's dtype {dtype}, got "
                         f"{array.dtype.kind!r} data (strings, nulls or ragged lists)")
    if dtype.kind in "iu" and array.dtype.kind == "f":
        raise BadRequest(f"{where}the model takes integers ({dtype}); the instances hold fractions")
    shape = array.shape[1:]
    if len(shape) != len(instance_shape) or any(e is not None and e != g for e, g in zip(instance_shape, shape)):
        expected = ["?" if d is None else d for d in instance_shape]
        raise BadRequest(f"{where}each instance must have shape {expected}, got {list(shape)}")
    if batch is not None and len(array) != batch:
        raise BadRequest(f"{where}this model version takes {batch} instance(s) per request (its input's first axis "
                         f"is fixed), got {len(array)}")
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if array.size and (array.min() < info.min or array.max() > info.max):
            raise BadRequest(f"{where}instance values beyond the range of {dtype}")
    if dtype.kind == "b" and not np.isin(array, (0, 1)).all():  # bool() would make 2 or 0.5 True
        raise BadRequest(f"{where}the model takes booleans ({dtype}); the instances hold values other than 0/1 and "
                         "true/false")
    with np.errstate(over="ignore"):
        converted = array.astype(dtype)
    # 1e6 in float16 became inf (also in bfloat16, whose kind is "V", and complex64)
    if dtype.kind not in "biu" and np.isinf(converted).sum() != np.isinf(array).sum():
        largest = ml_dtypes.finfo(dtype).max
        raise BadRequest(f"{where}instance values beyond the range of {dtype} (largest {largest:g}); they would be "
                         "infinite")
    return np.ascontiguousarray(converted)


def _named(inputs, names: list, where: str) -> dict:
    """A named-inputs object checked against the model's input ``names`` (one name None: any one name);
    BadRequest where it names others or lacks some."""
    if not isinstance(inputs, dict):
        what = "an object of named inputs" + (f" (this model takes {len(names)}: {names})" if len(names) > 1 else "")
        raise BadRequest(f"{where} is not {what}")
    given = list(inputs)
    if len(names) == 1:
        (name,) = names
        if len(given) != 1:
            raise BadRequest(f"{where} names {len(given)} inputs {given}; this model takes one"
                             + (f", {name!r}" if name is not None else ""))
        if name is not None and given[0] != name:
            raise BadRequest(f"{where} names the input {given[0]!r}; this model's input is {name!r}")
        return inputs
    unknown, missing = [n for n in given if n not in names], [n for n in names if n not in inputs]
    if unknown or missing:
        raise BadRequest(f"{where} names the inputs {given}; this model's inputs are {names}"
                         + (f" (unknown: {unknown})" if unknown else "")
                         + (f" (missing: {missing})" if missing else ""))
    return inputs


def _answer(outputs, key: str):
    """The answer's value, as TF Serving writes it: one output as a list of rows; several (a dict by name) as a dict
    for each instance ("predictions") or a list for each output ("outputs")."""
    if not isinstance(outputs, dict):
        return outputs.tolist()
    if key == "outputs":
        return {name: value.tolist() for name, value in outputs.items()}
    columns = {name: value.tolist() for name, value in outputs.items()}
    return [{name: rows[i] for name, rows in columns.items()} for i in range(len(next(iter(outputs.values()))))]


_TF_DTYPES = {"float16": "DT_HALF", "float32": "DT_FLOAT", "float64": "DT_DOUBLE", "int8": "DT_INT8",
              "int16": "DT_INT16", "int32": "DT_INT32", "int64": "DT_INT64", "uint8": "DT_UINT8", "uint16": "DT_UINT16",
              "uint32": "DT_UINT32", "uint64": "DT_UINT64", "bool": "DT_BOOL", "complex64": "DT_COMPLEX64",
              "complex128": "DT_COMPLEX128", "bfloat16": "DT_BFLOAT16"}


def _tensor_info(name: str, dtype: np.dtype, dims: tuple) -> dict:
    """TensorFlow's TensorInfo as JSON: -1 where a dimension takes any size."""
    return {"dtype": _TF_DTYPES.get(np.dtype(dtype).name, "DT_INVALID"), "name": name,
            "tensor_shape": {"dim": [{"size": str(-1 if d is None else d), "name": ""} for d in dims],
                             "unknown_rank": False}}


def _metadata(name: str, model) -> dict:
    """TF Serving's GetModelMetadataResponse: the served version's one signature (``serving_default``)."""
    inputs = [(name or "input0", shape, dtype) for name, shape, dtype in model.input_specs]
    signature = {
        "inputs": {name: _tensor_info(name, dtype, (model.batch,) + tuple(shape)) for name, shape, dtype in inputs},
        "outputs": {out: _tensor_info(out, dtype, dims) for out, dtype, dims in model.outputs},
        "method_name": "tensorflow/serving/predict",
    }
    return {"model_spec": {"name": name, "signature_name": "", "version": str(model.version)},
            "metadata": {"signature_def": {"signature_def": {SIGNATURE: signature}}}}


def create_app(model_dir: str, options: ServeOptions) -> Starlette:
    """The ASGI application serving ``model_dir``'s versions under ``options.model_name``."""
    labels = dict(options.version_labels)
    for label, number in labels.items():
        if not isinstance(label, str) or not label or "/" in label or ":" in label:
            raise ValueError(f"version_labels: a label must be a non-empty string without '/' or ':', got {label!r}")
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"version_labels: label {label!r} must name a version number >= 0, got {number!r}")
    watcher = VersionWatcher(model_dir, options.poll_interval)
    metrics = _Metrics()

    def run(batch: np.ndarray):
        model = watcher.current  # read once: the whole batch runs on one version
        return model(batch), model.version

    batcher = Batcher(run, options.max_batch_size, options.batch_timeout_ms / 1000, options.max_queue,
                      options.deadline_ms / 1000, on_batch=metrics.batch.observe)

    def check_name(name: str) -> None:
        if name != options.model_name:
            raise BadRequest(f"no model named {name!r} (this server has {options.model_name!r})", 404)

    def asked_version(kind: str, value: str) -> int:
        """The version that ``/versions/N`` or ``/labels/LABEL`` names; BadRequest where it names none."""
        if kind == "labels":
            if value not in labels:  # TF Serving's INVALID_ARGUMENT: a 400
                known = f"this server's labels: {sorted(labels)}" if labels else "this server has no version labels"
                raise BadRequest(f"Unrecognized servable version label: {value!r} ({known})")
            return labels[value]
        if not (value.isascii() and value.isdigit()):
            raise BadRequest(f"the version must be a number, got {value!r}", 404)
        return int(value)

    def described(kind: str, value: str, version: int) -> str:
        return f"version {version}" + (f" (label {value!r})" if kind == "labels" else "")

    async def predict(request: Request) -> Response:
        start = time.perf_counter()
        status = 200
        try:
            spec = request.path_params["spec"]
            if not spec.endswith(":predict"):
                raise BadRequest(f"unknown method in {spec!r}; use NAME:predict", 404)
            name, slash, rest = spec[: -len(":predict")].partition("/")
            check_name(name)
            asked = None
            if slash:
                kind, slash, value = rest.partition("/")
                if kind not in ("versions", "labels") or not slash:
                    raise BadRequest(f"unknown path {request.url.path!r}; use /v1/models/NAME[/versions/N|"
                                     "/labels/LABEL]:predict", 404)
                asked = asked_version(kind, value)  # "versions/:predict" names none
            model = watcher.current
            if model is None:
                raise BadRequest("no model version is loaded", 503)
            if asked is not None and asked != model.version:
                raise BadRequest(f"{described(kind, value, asked)} of {name!r} is not served (version "
                                 f"{model.version} is)", 404)
            body = await _read_body(request, options.max_body_bytes)
            instances, key = parse_inputs(body, model.input_specs, model.batch)
            metrics.queue.set(batcher.depth())
            try:
                outputs, version = await batcher.submit(instances)
            except (Overloaded, Stopped) as exc:
                raise BadRequest(str(exc), 503) from None
            except DeadlineExceeded as exc:
                raise BadRequest(str(exc), 504) from None
            except (ValueError, TypeError, IndexError) as exc:  # the model refused these values
                raise BadRequest(f"the model cannot take these instances: {exc}") from None
            if asked is not None and asked != version:  # a newer version was swapped in while this request waited
                raise BadRequest(f"{described(kind, value, asked)} of {name!r} is no longer served (version "
                                 f"{version} is)", 404)
            # NaN and infinities as TF Serving writes them (JSONResponse refuses them: a 500)
            body = json.dumps({key: _answer(outputs, key)}, separators=(",", ":")).encode()
            return Response(body, media_type="application/json", headers={"X-Model-Version": str(version)})
        except BadRequest as exc:
            status = exc.status
            return _error(exc.status, str(exc))
        finally:
            metrics.requests.labels(code=str(status)).inc()
            metrics.latency.observe(time.perf_counter() - start)

    def version_status(version: int, state: str, code: str = "OK", message: str = "") -> dict:
        return {"version": str(version), "state": state, "status": {"error_code": code, "error_message": message}}

    async def model_get(request: Request) -> Response:
        """``NAME[/versions/N][/metadata]``: the status of the versions (or of N), or the served version's
        signature."""
        try:
            name, *rest = request.path_params["spec"].split("/")
            check_name(name)
            metadata = rest[-1:] == ["metadata"]
            rest = rest[:-1] if metadata else rest
            asked = None
            if rest:
                if len(rest) != 2 or rest[0] not in ("versions", "labels"):
                    raise BadRequest(f"unknown path {request.url.path!r}; use /v1/models/NAME[/versions/N|"
                                     "/labels/LABEL][/metadata]", 404)
                kind, value = rest
                asked = asked_version(kind, value)
            model = watcher.current
            refused = list(watcher.refused.items())
            if metadata:
                if model is None:
                    raise BadRequest("no model version is loaded", 503)
                if asked is not None and asked != model.version:
                    raise BadRequest(f"{described(kind, value, asked)} of {name!r} is not served (version "
                                     f"{model.version} is)", 404)
                return JSONResponse(_metadata(name, model))
            states = {v: version_status(v, "END") for v in tuple(watcher.ended)}  # a copy: the poller may change it
            states.update((v, version_status(v, "END", "INVALID_ARGUMENT", reason)) for v, (_, reason) in refused)
            if model is not None:
                states[model.version] = version_status(model.version, "AVAILABLE")
            versions = [states[v] for v in sorted(states, reverse=True)]  # newest first, as TF Serving
            if asked is not None:
                versions = [v for v in versions if v["version"] == str(asked)]
                if not versions:
                    raise BadRequest(f"{described(kind, value, asked)} of {name!r} is not loaded or known", 404)
            return JSONResponse({"model_version_status": versions})
        except BadRequest as exc:
            return _error(exc.status, str(exc))

    async def models(request: Request) -> Response:
        # one route for both methods, so that a wrong method's 405 lists them both
        return await (predict(request) if request.method == "POST" else model_get(request))

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        return PlainTextResponse("ready") if watcher.current else PlainTextResponse("no model loaded", 503)

    async def metrics_text(request: Request) -> Response:
        metrics.queue.set(batcher.depth())
        if watcher.current is not None:
            metrics.version.set(watcher.current.version)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        watcher.refresh()
        watcher.start()
        await batcher.start()
        try:
            yield
        finally:
            watcher.stop()
            await batcher.stop()

    routes = [
        Route("/v1/models/{spec:path}", models, methods=["GET", "POST"]),
        Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics_text),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: _http_error})
    app.state.watcher, app.state.batcher = watcher, batcher
    return app


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """An unknown path or a wrong method answered as every other error: ``{"error": ...}``."""
    allowed = ", ".join(sorted((exc.headers or {}).get("Allow", "").split(", ")))  # Starlette's is in set order
    message = f"{request.method} {request.url.path}: {exc.detail}" + (f" (allowed: {allowed})" if allowed else "")
    return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


def serve(model_dir: str, options: ServeOptions, host: str = "127.0.0.1", port: int = 8501) -> None:
    """Run the server until interrupted (uvicorn)."""
    import uvicorn

    uvicorn.run(create_app(model_dir, options), host=host, port=port, log_level="warning")
