"""The inference server: TF Serving's REST API, dynamic batching, overload, bad requests, hot reload."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

import ember  # noqa: E402
import ember.onnx  # noqa: E402
from ember import nn  # noqa: E402
from ember.serve import ServeOptions, create_app, parse_instances  # noqa: E402
from ember.serve.versions import LoadedModel  # noqa: E402

X = np.random.default_rng(0).standard_normal((5, 1, 8, 8)).astype(np.float32)


def cnn(shift: float = 0.0):
    ember.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    with ember.no_grad():
        net[3].bias.array[...] += shift
    return net


def write_version(model_dir, version: int, shift: float = 0.0):
    folder = os.path.join(model_dir, str(version))
    os.makedirs(folder, exist_ok=True)
    net = cnn(shift)
    tmp = os.path.join(folder, "model.onnx.tmp")
    ember.onnx.export(net, ember.randn(1, 1, 8, 8), tmp, dynamic_axes={"input0": {0: "batch"}})
    os.replace(tmp, os.path.join(folder, "model.onnx"))  # a version appears whole
    with ember.no_grad():
        return net(ember.tensor(X)).numpy()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, model_dir, **options):
        self.app = create_app(str(model_dir), ServeOptions("cnn", **options))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def predict(self, body, **kw):
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.post(f"{self.url}/v1/models/cnn:predict", content=content, timeout=30, **kw)


@pytest.fixture
def model_dir(tmp_path):
    expected = write_version(tmp_path, 1)
    return tmp_path, expected


def test_predict_status_health_and_metrics(model_dir):
    path, expected = model_dir
    with Server(path) as s:
        r = s.predict({"instances": X.tolist()})
        assert r.status_code == 200 and r.headers["x-model-version"] == "1"
        np.testing.assert_allclose(r.json()["predictions"], expected, rtol=1e-5, atol=1e-6)
        r = s.predict({"inputs": {"input0": X[:2].tolist()}})
        np.testing.assert_allclose(r.json()["outputs"], expected[:2], rtol=1e-5, atol=1e-6)
        assert httpx.get(f"{s.url}/v1/models/cnn").json() == {"model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
        assert httpx.get(f"{s.url}/healthz").status_code == 200
        assert httpx.get(f"{s.url}/readyz").status_code == 200
        metrics = httpx.get(f"{s.url}/metrics").text
        assert 'ember_serve_requests_total{code="200"} 2.0' in metrics
        assert "ember_serve_model_version 1.0" in metrics and "ember_serve_batch_size_bucket" in metrics


def test_a_request_for_a_version_runs_on_that_version_or_gets_404(model_dir):
    path, _ = model_dir
    expected = write_version(path, 2, shift=5.0)
    with Server(path) as s:
        r = httpx.post(f"{s.url}/v1/models/cnn/versions/2:predict", json={"instances": X.tolist()})
        assert r.status_code == 200 and r.headers["x-model-version"] == "2"
        np.testing.assert_allclose(r.json()["predictions"], expected, rtol=1e-5, atol=1e-6)
        for version, words in (("1", "version 1 of 'cnn' is not served (version 2 is)"),
                               ("x", "the version must be a number, got 'x'"),
                               ("", "the version must be a number, got ''"),  # served the current version
                               ("³", "the version must be a number, got '³'")):  # a digit, not a number: was a 500
            r = httpx.post(f"{s.url}/v1/models/cnn/versions/{version}:predict", json={"instances": X.tolist()})
            assert r.status_code == 404 and r.json()["error"] == words, r.text


def test_non_finite_predictions_are_written_as_tf_serving_does(model_dir):
    path, expected = model_dir
    x = X[:2].copy()
    x[0, 0, 0, 0] = np.nan  # Python's JSON, as TF Serving's, reads and writes NaN
    with Server(path) as s:
        r = s.predict(json.dumps({"instances": x.tolist()}).encode())
        assert r.status_code == 200, r.text
        assert r.text.startswith('{"predictions":[[NaN,NaN,NaN],')
        np.testing.assert_allclose(r.json()["predictions"][1], expected[1], rtol=1e-5, atol=1e-6)


def test_concurrent_requests_are_batched(model_dir):
    path, expected = model_dir
    with Server(path, max_batch_size=64, batch_timeout_ms=20) as s:
        async def fire():
            async with httpx.AsyncClient(timeout=30) as client:
                return await asyncio.gather(*[client.post(f"{s.url}/v1/models/cnn:predict",
                                                          json={"instances": X[i % 5 : i % 5 + 1].tolist()})
                                              for i in range(40)])

        replies = asyncio.run(fire())
        for i, r in enumerate(replies):
            assert r.status_code == 200
            np.testing.assert_allclose(r.json()["predictions"], expected[i % 5 : i % 5 + 1], rtol=1e-5, atol=1e-6)
        count = float(httpx.get(f"{s.url}/metrics").text.split("ember_serve_batch_size_count ")[1].split()[0])
        assert count < 40  # fewer model calls than requests


BAD = [
    (b"not json", 400, "not JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (b'{"rows": []}', 400, "missing field"),
    (b'{"instances": []}', 400, "non-empty list"),
    (b'{"instances": [[1, 2]]}', 400, "shape [1, 8, 8], got [2]"),
    (b'{"instances": [[[[1]]], [[[1, 2]]]]}', 400, "ragged"),
    (b'{"instances": [["a"]]}', 400, "numbers"),
    (b'{"instances": [null]}', 400, "numbers"),
    (b'{"inputs": {"a": [1], "b": [2]}}', 400, "2 inputs"),
    (b"\xff\xfe", 400, "not JSON"),
]


def test_bad_requests_get_4xx_with_a_message(model_dir):
    path, _ = model_dir
    with Server(path, max_body_bytes=10_000) as s:
        for body, status, words in BAD:
            r = s.predict(body)
            assert r.status_code == status and words in r.json()["error"], (body, r.text)
        r = s.predict(b'{"instances": [' + b"1," * 10_000 + b"1]}")
        assert r.status_code == 413
        assert httpx.post(f"{s.url}/v1/models/other:predict", json={"instances": [1]}).status_code == 404
        assert httpx.post(f"{s.url}/v1/models/cnn:classify", json={"instances": [1]}).status_code == 404
        assert httpx.get(f"{s.url}/v1/models/other").status_code == 404


def test_fuzzed_requests_get_only_4xx_and_memory_stays_flat(model_dir):
    """1,000 malformed bodies: random bytes, JSON of wrong structure, wrong shapes and types."""
    import resource

    path, _ = model_dir
    rng = np.random.default_rng(1)
    pieces = [b"{", b"}", b"[", b"]", b'"instances"', b":", b",", b"1", b"-2.5e3", b"null", b'"x"', b"true", b" "]

    def body(i):
        kind = i % 4
        if kind == 0:
            return bytes(rng.integers(0, 256, rng.integers(0, 64), dtype=np.uint8))
        if kind == 1:
            return b"".join(pieces[j] for j in rng.integers(0, len(pieces), rng.integers(1, 30)))
        if kind == 2:
            shape = tuple(rng.integers(1, 4, rng.integers(1, 4)))
            return json.dumps({"instances": rng.standard_normal(shape).tolist()}).encode()
        return json.dumps({"instances": [[["x"] * int(rng.integers(1, 3))]]}).encode()

    with Server(path) as s, httpx.Client(timeout=30) as client:
        url = f"{s.url}/v1/models/cnn:predict"
        for i in range(200):
            client.post(url, content=body(i))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        codes = [client.post(url, content=body(i)).status_code for i in range(200, 1200)]
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert set(codes) <= {400, 404, 413}, sorted(set(codes))
    assert grown_mb < 30


class _Slow:
    """A model that takes 50 ms a call, to fill the queue."""

    def __init__(self, model):
        self.model = model

    def __call__(self, batch):
        time.sleep(0.05)
        return self.model(batch)


def test_overload_gets_503_at_once_and_the_server_keeps_serving(model_dir):
    path, _ = model_dir
    with Server(path, max_batch_size=1, max_queue=4, deadline_ms=2000) as s:
        loaded = s.app.state.watcher.current
        s.app.state.watcher.current = LoadedModel(loaded.version, _Slow(loaded.module), loaded.instance_shape,
                                                  loaded.dtype)

        async def fire():
            async with httpx.AsyncClient(timeout=30) as client:
                async def one():
                    start = time.monotonic()
                    r = await client.post(f"{s.url}/v1/models/cnn:predict", json={"instances": X[:1].tolist()})
                    return r.status_code, time.monotonic() - start

                return await asyncio.gather(*[one() for _ in range(40)])  # 10x the queue

        replies = asyncio.run(fire())
        refused = [t for code, t in replies if code == 503]
        assert refused and all(code in (200, 503, 504) for code, _ in replies)
        assert max(refused) < 2.0  # answered at once, not after waiting
        assert s.predict({"instances": X[:1].tolist()}).status_code == 200


def test_a_version_refused_while_its_folder_was_empty_serves_once_written(model_dir):
    from ember.serve.versions import VersionWatcher

    path, _ = model_dir
    watcher = VersionWatcher(str(path), poll_interval=0)
    assert watcher.refresh().version == 1
    os.makedirs(path / "2")  # the folder appears before its model file
    assert watcher.refresh().version == 1 and 2 in watcher.refused
    write_version(path, 2, shift=5.0)
    assert watcher.refresh().version == 2 and watcher.refused == {}  # not reported as refused any more


def test_a_version_folder_named_with_leading_zeros_serves_as_its_number(model_dir):
    # TF Serving reads a folder's name as a number: 0002 is version 2 (it was refused as "2/model.onnx: missing")
    from ember.serve.versions import VersionWatcher

    path, _ = model_dir
    expected = write_version(path, 2, shift=5.0)
    os.rename(path / "2", path / "0002")
    os.makedirs(path / "³")  # a digit that is not a number: not a version, and no crash
    watcher = VersionWatcher(str(path), poll_interval=0)
    loaded = watcher.refresh()
    assert loaded.version == 2 and watcher.refused == {}
    np.testing.assert_allclose(loaded(X), expected, rtol=1e-5, atol=1e-6)


def test_hot_reload_under_load_and_a_corrupt_version_is_refused(model_dir):
    path, first = model_dir
    with Server(path, poll_interval=0.05) as s:
        stop = threading.Event()
        seen = []

        def load():
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    r = client.post(f"{s.url}/v1/models/cnn:predict", json={"instances": X.tolist()})
                    seen.append((r.status_code, r.headers.get("x-model-version"), r.json().get("predictions")))

        workers = [threading.Thread(target=load) for _ in range(3)]
        for w in workers:
            w.start()

        def wait_for(condition):  # a loaded machine may take a while: wait for what is asserted, not a fixed time
            deadline = time.monotonic() + 20
            while not condition():
                assert time.monotonic() < deadline
                time.sleep(0.05)

        wait_for(lambda: any(version == "1" for _, version, _ in list(seen)))
        second = write_version(path, 2, shift=5.0)
        wait_for(lambda: s.app.state.watcher.current.version == 2)
        wait_for(lambda: any(version == "2" for _, version, _ in list(seen)))
        os.makedirs(path / "3")
        (path / "3" / "model.onnx").write_bytes(b"this is not a model")
        wait_for(lambda: [v["state"] for v in httpx.get(f"{s.url}/v1/models/cnn").json()["model_version_status"]]
                 == ["END", "AVAILABLE", "END"])  # 3 refused, 2 served, 1 replaced: newest first, as TF Serving
        stop.set()
        for w in workers:
            w.join()
        assert s.app.state.watcher.current.version == 2
        status = httpx.get(f"{s.url}/v1/models/cnn").json()["model_version_status"]
        assert [(v["version"], v["state"], v["status"]["error_code"]) for v in status] == [
            ("3", "END", "INVALID_ARGUMENT"), ("2", "AVAILABLE", "OK"), ("1", "END", "OK")]
        assert s.predict({"instances": X.tolist()}).status_code == 200
    assert {code for code, _, _ in seen} == {200}
    versions = {v for _, v, _ in seen}
    assert versions == {"1", "2"}
    for _, version, predictions in seen:  # every answer wholly from one version
        np.testing.assert_allclose(predictions, first if version == "1" else second, rtol=1e-5, atol=1e-5)


def test_parse_instances_checks_integer_ranges():
    with pytest.raises(Exception, match="beyond the range of int32"):
        parse_instances(b'{"instances": [[3000000000]]}', (1,), np.dtype(np.int32))
    with pytest.raises(Exception, match="hold fractions"):
        parse_instances(b'{"instances": [[1.5]]}', (1,), np.dtype(np.int64))
    array, key = parse_instances(b'{"instances": [[1], [2]]}', (None,), np.dtype(np.int64))
    assert array.dtype == np.int64 and array.shape == (2, 1) and key == "predictions"


def test_parse_instances_refuses_values_the_dtype_turns_into_others():
    # a float16 model was handed inf for 1e6, a bool model True for 2 and 0.5
    with pytest.raises(Exception, match="beyond the range of float16"):
        parse_instances(b'{"instances": [[1e6, 1.0]]}', (2,), np.dtype(np.float16))
    with pytest.raises(Exception, match="beyond the range of float32"):
        parse_instances(b'{"instances": [[-1e39]]}', (1,), np.dtype(np.float32))
    for values in (b"[[2]]", b"[[0.5]]"):
        with pytest.raises(Exception, match="takes booleans"):
            parse_instances(b'{"instances": ' + values + b"}", (1,), np.dtype(np.bool_))
    array, _ = parse_instances(b'{"instances": [[65504, Infinity, NaN]]}', (3,), np.dtype(np.float16))
    assert array[0, 0] == 65504 and np.isinf(array[0, 1]) and np.isnan(array[0, 2])
    array, _ = parse_instances(b'{"instances": [[true, 0], [1, false]]}', (2,), np.dtype(np.bool_))
    assert array.tolist() == [[True, False], [True, False]]


def test_parse_instances_refuses_values_a_bfloat16_or_complex64_model_would_get_as_inf():
    import ml_dtypes

    for dtype, name in ((ml_dtypes.bfloat16, "bfloat16"), (np.complex64, "complex64")):
        with pytest.raises(Exception, match=f"beyond the range of {name}"):  # inf was handed on
            parse_instances(b'{"instances": [[1e39, 1.0]]}', (2,), np.dtype(dtype))
        array, _ = parse_instances(b'{"instances": [[3e38, -Infinity]]}', (2,), np.dtype(dtype))
        assert array.dtype == dtype and np.isfinite(array[0, 0]) and np.isinf(array[0, 1])


def test_command_line_serves_a_model_directory(model_dir):
    path, expected = model_dir
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ember.cli", "serve", str(path), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=os.path.dirname(os.path.dirname(
                                os.path.abspath(__file__))))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read()
            time.sleep(0.1)
        name = os.path.basename(str(path))
        r = httpx.post(f"http://127.0.0.1:{port}/v1/models/{name}:predict", json={"instances": X.tolist()})
        np.testing.assert_allclose(r.json()["predictions"], expected, rtol=1e-5, atol=1e-6)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    bad = subprocess.run([sys.executable, "-m", "ember.cli", "serve", str(path / "missing")], capture_output=True,
                         text=True)
    assert bad.returncode == 1 and "ember serve: error: model directory" in bad.stderr


@pytest.mark.parametrize("fn, shape", [(lambda x: x.sum(), []), (lambda x: x.T, [4, 2])])
def test_a_version_whose_output_has_no_batch_axis_first_is_refused(tmp_path, fn, shape):
    # each request's answer is its rows of the batch's output: a sum over the batch, or the batch on another axis,
    # would hand requests other requests' numbers
    from ember.serve.versions import load_version

    os.makedirs(tmp_path / "1")
    ember.onnx.export(fn, np.zeros((1, 4), np.float32), str(tmp_path / "1" / "model.onnx"),
                      dynamic_axes={"input0": {0: "batch"}})
    with pytest.raises(ValueError, match=rf"first axis must be the batch; 2 instances give an output of shape "
                                         rf"\{shape}"):
        load_version(str(tmp_path), 1)



def test_a_version_of_a_fixed_batch_size_runs_each_call_on_that_many_instances(tmp_path):
    # exported at batch 1 (no dynamic axes), x - mean over the batch is 0: two requests batched together, or one of
    # two instances, were answered from a mean over both (the imported model computes on any size; ONNX Runtime
    # refuses it)
    os.makedirs(tmp_path / "1")
    ember.onnx.export(lambda x: x - x.mean(0, keepdim=True) + x * 2, np.zeros((1, 3), np.float32),
                      str(tmp_path / "1" / "model.onnx"))
    rows = np.arange(6, dtype=np.float32).reshape(2, 3)
    with Server(tmp_path, batch_timeout_ms=200) as s:
        async def fire():
            async with httpx.AsyncClient(timeout=30) as client:
                return await asyncio.gather(*[client.post(f"{s.url}/v1/models/cnn:predict",
                                                          json={"instances": row[None].tolist()}) for row in rows])

        for row, r in zip(rows, asyncio.run(fire())):
            assert r.status_code == 200, r.text
            np.testing.assert_allclose(r.json()["predictions"], [row * 2])
        r = s.predict({"instances": rows.tolist()})
        assert r.status_code == 400 and "takes 1 instance(s) per request" in r.json()["error"]
        assert "ember_serve_batch_size_count 1.0" in httpx.get(f"{s.url}/metrics").text  # the two ran as one batch


def test_a_model_of_two_outputs_answers_both_by_name_as_tf_serving(tmp_path):
    # only the first output was answered (a list of its rows), the second dropped without a word
    os.makedirs(tmp_path / "1")
    ember.onnx.export(lambda x: (x * 2, x.sum(1)), np.zeros((1, 3), np.float32), str(tmp_path / "1" / "model.onnx"),
                      output_names=["double", "total"], dynamic_axes={"input0": {0: "batch"}, "double": {0: "batch"},
                                                                      "total": {0: "batch"}})
    rows = np.arange(6, dtype=np.float32).reshape(2, 3)
    with Server(tmp_path) as s:
        r = s.predict({"instances": rows.tolist()})
        assert r.status_code == 200, r.text
        assert r.json() == {"predictions": [{"double": (row * 2).tolist(), "total": float(row.sum())} for row in rows]}
        r = s.predict({"inputs": rows.tolist()})
        assert r.json() == {"outputs": {"double": (rows * 2).tolist(), "total": rows.sum(1).tolist()}}


def test_a_batch_whose_output_has_no_rows_per_instance_fails_its_requests_and_the_batcher_goes_on():
    from ember.serve.batching import Batcher

    def run(batch):
        return (batch.sum() if len(batch) > 1 else batch * 2), 1

    async def go():
        batcher = Batcher(run, max_batch_size=8, batch_timeout=0.05)
        await batcher.start()
        try:
            first = await asyncio.wait_for(asyncio.gather(*[batcher.submit(np.ones((1, 2))) for _ in range(2)],
                                                          return_exceptions=True), 5)
            alone = await asyncio.wait_for(batcher.submit(np.ones((1, 2))), 5)
        finally:
            await batcher.stop()
        return first, alone

    first, (alone, _) = asyncio.run(go())
    assert all(isinstance(e, ValueError) and "no first axis of the batch's 2 instances" in str(e) for e in first)
    np.testing.assert_array_equal(alone, [[2.0, 2.0]])


def test_json_nested_past_the_parsers_recursion_limit_is_a_400():
    body = b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"  # was a RecursionError: a 500
    with pytest.raises(Exception, match="nested too deeply") as info:
        parse_instances(body, (4,), np.dtype(np.float32))
    assert info.value.status == 400


def test_a_failing_request_whose_caller_gave_up_does_not_stop_the_batcher():
    from ember.serve.batching import Batcher

    started, release = threading.Event(), threading.Event()

    def run(batch):
        if batch[0, 0] < 0:
            started.set()
            release.wait(5)
            raise ValueError("negative")
        return batch * 2, 1

    async def go():
        batcher = Batcher(run, max_batch_size=4, batch_timeout=0.001)
        await batcher.start()
        try:
            doomed = asyncio.ensure_future(batcher.submit(np.array([[-1.0]])))
            await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
            doomed.cancel()  # the client gave up while its batch ran; the model then failed on it
            await asyncio.sleep(0.01)
            release.set()
            return await asyncio.wait_for(batcher.submit(np.array([[3.0]])), 5)  # hung: the loop had died
        finally:
            await batcher.stop()

    out, version = asyncio.run(go())
    np.testing.assert_array_equal(out, [[6.0]])


def test_stop_fails_the_requests_not_yet_answered_instead_of_leaving_them_waiting():
    # the loop task was cancelled and queued (or running) requests' futures never resolved: their callers hung
    from ember.serve import Stopped
    from ember.serve.batching import Batcher

    started, release = threading.Event(), threading.Event()

    def run(batch):
        started.set()
        release.wait(5)
        return batch * 2, 1

    async def go():
        batcher = Batcher(run, max_batch_size=1, max_queue=8)
        await batcher.start()
        running = asyncio.ensure_future(batcher.submit(np.ones((1, 2))))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        queued = [asyncio.ensure_future(batcher.submit(np.ones((1, 2)))) for _ in range(3)]
        await asyncio.sleep(0.01)
        await batcher.stop()
        release.set()
        results = await asyncio.wait_for(asyncio.gather(running, *queued, return_exceptions=True), 5)
        with pytest.raises(Stopped, match="not running"):
            await batcher.submit(np.ones((1, 2)))
        return results

    results = asyncio.run(go())
    assert len(results) == 4 and all(isinstance(r, Stopped) and "stopped before" in str(r) for r in results)


def test_deleting_the_served_version_falls_back_to_the_newest_remaining_one(model_dir):
    # as TF Serving's latest-version policy: version 2 kept serving after its folder was deleted (and a deleted
    # refused version stayed in the status as END forever)
    import shutil

    from ember.serve.versions import VersionWatcher

    path, first = model_dir
    write_version(path, 2, shift=5.0)
    os.makedirs(path / "3")
    watcher = VersionWatcher(str(path), poll_interval=0)
    assert watcher.refresh().version == 2 and 3 in watcher.refused
    shutil.rmtree(path / "3")
    shutil.rmtree(path / "2")
    loaded = watcher.refresh()
    assert loaded.version == 1 and watcher.refused == {}
    np.testing.assert_allclose(loaded(X), first, rtol=1e-5, atol=1e-6)
    second = write_version(path, 2, shift=5.0)  # put back: the newest serves again
    np.testing.assert_allclose(watcher.refresh()(X), second, rtol=1e-5, atol=1e-6)
    shutil.rmtree(path / "1")
    shutil.rmtree(path / "2")
    assert watcher.refresh() is None  # nothing left to serve: unloaded, as TF Serving


def test_named_inputs_must_name_the_models_input_as_tf_serving(model_dir):
    # {"inputs": {"wrong_name": ...}} was answered from whatever the name; named instances ({"instances":
    # [{"input0": ...}]}, TF Serving's row format) were refused as "not numbers"; signature_name was ignored and
    # "instances" silently won over "inputs"
    path, expected = model_dir
    rows = [{"input0": x.tolist()} for x in X[:2]]
    with Server(path) as s:
        r = s.predict({"instances": rows})
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(r.json()["predictions"], expected[:2], rtol=1e-5, atol=1e-6)
        r = s.predict({"signature_name": "serving_default", "inputs": {"input0": X[:2].tolist()}})
        np.testing.assert_allclose(r.json()["outputs"], expected[:2], rtol=1e-5, atol=1e-6)
        for body, words in (
                ({"inputs": {"wrong_name": X[:2].tolist()}}, "\"inputs\" names the input 'wrong_name'; this "
                                                             "model's input is 'input0'"),
                ({"instances": [{"x": X[0].tolist()}]}, "instance 0 names the input 'x'; this model's input is "
                                                        "'input0'"),
                ({"instances": [rows[0], X[1].tolist()]}, "instance 1 is not an object of named inputs"),
                ({"instances": [{"input0": X[0].tolist(), "input1": [1]}]}, "instance 0 names 2 inputs"),
                ({"instances": X[:1].tolist(), "inputs": X[:1].tolist()}, "both \"instances\" and \"inputs\""),
                ({"signature_name": "predict", "instances": X[:1].tolist()}, "unknown signature_name 'predict'")):
            r = s.predict(body)
            assert r.status_code == 400 and words in r.json()["error"], r.text


def test_status_of_one_version_and_metadata_as_tf_serving(model_dir):
    # GET /v1/models/NAME/versions/N and .../metadata were 405 (only POST matched the longer paths)
    path, _ = model_dir
    write_version(path, 2, shift=5.0)
    os.makedirs(path / "3")  # refused: no model file
    with Server(path) as s:
        def get(tail):
            return httpx.get(f"{s.url}/v1/models/cnn{tail}")

        assert get("/versions/2").json() == {"model_version_status": [
            {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
        (refused,) = get("/versions/3").json()["model_version_status"]
        assert refused["state"] == "END" and "missing" in refused["status"]["error_message"]
        meta = get("/metadata").json()
        assert meta["model_spec"] == {"name": "cnn", "signature_name": "", "version": "2"}
        signature = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
        assert signature["method_name"] == "tensorflow/serving/predict"
        (name, spec), = signature["inputs"].items()
        assert name == "input0" and spec["dtype"] == "DT_FLOAT"
        assert [d["size"] for d in spec["tensor_shape"]["dim"]] == ["-1", "1", "8", "8"]
        (out,) = signature["outputs"].values()
        assert out["dtype"] == "DT_FLOAT" and out["tensor_shape"]["dim"][1]["size"] == "3"
        assert get("/versions/2/metadata").json() == meta
        for tail, status, words in (("/versions/1", 404, "version 1 of 'cnn' is not loaded or known"),
                                    ("/versions/x", 404, "the version must be a number, got 'x'"),
                                    ("/versions/1/metadata", 404, "version 1 of 'cnn' is not served (version 2 is)"),
                                    ("/labels/stable", 400, "Unrecognized servable version label: 'stable' (this "
                                                            "server has no version labels)"),
                                    ("/signatures", 404, "unknown path")):
            r = get(tail)
            assert r.status_code == status and words in r.json()["error"], (tail, r.text)
        assert httpx.get(f"{s.url}/v1/models/other/metadata").status_code == 404


def test_unknown_paths_and_wrong_methods_get_a_json_error(model_dir):
    # Starlette's plain-text "Not Found" / "Method Not Allowed" were the only answers not {"error": ...}; a columnar
    # {"inputs": 5} was told "instances" must be a list
    path, _ = model_dir
    with Server(path) as s:
        for method, tail, status, words in (("PUT", "/v1/models/cnn", 405, "PUT /v1/models/cnn: Method Not Allowed"),
                                            ("DELETE", "/v1/models/cnn:predict", 405, "allowed: GET, HEAD, POST"),
                                            ("GET", "/v2/models/cnn", 404, "GET /v2/models/cnn: Not Found"),
                                            ("POST", "/healthz", 405, "Method Not Allowed")):
            r = httpx.request(method, s.url + tail)
            assert r.status_code == status and words in r.json()["error"], (method, tail, r.text)
        r = s.predict({"inputs": 5})
        assert r.status_code == 400 and r.json()["error"].startswith("\"inputs\" must be a non-empty list")


def test_a_model_of_two_inputs_takes_named_instances_or_columns_as_tf_serving(tmp_path):
    # a version of two inputs was refused ("serving needs a model with one input"): TF Serving's named row format
    # {"instances": [{"a": ..., "b": ...}]} and columnar {"inputs": {"a": ..., "b": ...}} could not be served
    os.makedirs(tmp_path / "1")
    ember.onnx.export(lambda a, b: a * 2 + b.sum(1, keepdim=True), (np.zeros((1, 3), np.float32),
                                                                   np.zeros((1, 2), np.float32)),
                      str(tmp_path / "1" / "model.onnx"), input_names=["a", "b"],
                      dynamic_axes={"a": {0: "n"}, "b": {0: "n"}, "output0": {0: "n"}})
    a = np.arange(12, dtype=np.float32).reshape(4, 3)
    b = np.arange(8, dtype=np.float32).reshape(4, 2) / 4
    expected = a * 2 + b.sum(1, keepdims=True)
    with Server(tmp_path, batch_timeout_ms=50) as s:
        r = s.predict({"instances": [{"a": x.tolist(), "b": y.tolist()} for x, y in zip(a, b)]})
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(r.json()["predictions"], expected, rtol=1e-6)
        r = s.predict({"inputs": {"b": b[:2].tolist(), "a": a[:2].tolist()}})
        np.testing.assert_allclose(r.json()["outputs"], expected[:2], rtol=1e-6)

        async def fire():  # requests batched together keep each input's rows with their own request
            async with httpx.AsyncClient(timeout=30) as client:
                return await asyncio.gather(*[client.post(f"{s.url}/v1/models/cnn:predict", json={
                    "instances": [{"a": a[i].tolist(), "b": b[i].tolist()}]}) for i in range(4)])

        for i, r in enumerate(asyncio.run(fire())):
            np.testing.assert_allclose(r.json()["predictions"], expected[i : i + 1], rtol=1e-6)
        for body, words in (({"inputs": {"a": a.tolist()}}, "this model's inputs are ['a', 'b'] (missing: ['b'])"),
                            ({"instances": [{"a": a[0].tolist(), "c": [1, 2]}]}, "(unknown: ['c'])"),
                            ({"instances": a.tolist()}, "instance 0 is not an object of named inputs (this model "
                                                        "takes 2: ['a', 'b'])"),
                            ({"inputs": {"a": a.tolist(), "b": b[:1].tolist()}}, "different numbers of instances"),
                            ({"inputs": {"a": a.tolist(), "b": a.tolist()}}, "input 'b': each instance must have "
                                                                             "shape [2], got [3]")):
            r = s.predict(body)
            assert r.status_code == 400 and words in r.json()["error"], r.text
        signature = httpx.get(f"{s.url}/v1/models/cnn/metadata").json()["metadata"]["signature_def"]
        assert list(signature["signature_def"]["serving_default"]["inputs"]) == ["a", "b"]


def test_a_version_replaced_or_deleted_is_listed_as_end_as_tf_serving(model_dir):
    # a version once served vanished from GET /v1/models/NAME (and /versions/1 was a 404) once a newer one replaced
    # it; TF Serving lists it with state END, newest version first
    import shutil

    path, _ = model_dir
    with Server(path, poll_interval=0) as s:
        def status(tail=""):
            r = httpx.get(f"{s.url}/v1/models/cnn{tail}")
            assert r.status_code == 200, r.text
            return [(v["version"], v["state"], v["status"]["error_code"]) for v in r.json()["model_version_status"]]

        write_version(path, 2, shift=5.0)
        s.app.state.watcher.refresh()
        assert status() == [("2", "AVAILABLE", "OK"), ("1", "END", "OK")]
        assert status("/versions/1") == [("1", "END", "OK")]
        shutil.rmtree(path / "2")  # the newest remaining version serves again; the deleted one has ended
        s.app.state.watcher.refresh()
        assert status() == [("2", "END", "OK"), ("1", "AVAILABLE", "OK")]
        os.makedirs(path / "3")  # refused: END with its error
        s.app.state.watcher.refresh()
        assert status() == [("3", "END", "INVALID_ARGUMENT"), ("2", "END", "OK"), ("1", "AVAILABLE", "OK")]
        r = httpx.post(f"{s.url}/v1/models/cnn/versions/2:predict", json={"instances": X[:1].tolist()})
        assert r.status_code == 404 and "not served (version 1 is)" in r.json()["error"]


def test_version_labels_serve_the_version_they_name_as_tf_serving(model_dir):
    # /v1/models/NAME/labels/LABEL was always a 404 ("this server has no version labels") and there was no way to
    # give labels; now ServeOptions.version_labels (--version-label LABEL=N), an unknown label a 400 as TF Serving's
    from ember.cli import _version_label

    path, _ = model_dir
    second = write_version(path, 2, shift=5.0)
    with Server(path, version_labels={"canary": 2, "stable": 1}) as s:
        r = httpx.post(f"{s.url}/v1/models/cnn/labels/canary:predict", json={"instances": X.tolist()})
        assert r.status_code == 200 and r.headers["x-model-version"] == "2", r.text
        np.testing.assert_allclose(r.json()["predictions"], second, rtol=1e-5, atol=1e-6)
        assert httpx.get(f"{s.url}/v1/models/cnn/labels/canary").json()["model_version_status"][0]["version"] == "2"
        assert httpx.get(f"{s.url}/v1/models/cnn/labels/canary/metadata").json()["model_spec"]["version"] == "2"
        for method, tail, status, words in (
                ("POST", "/labels/stable:predict", 404, "version 1 (label 'stable') of 'cnn' is not served "
                                                        "(version 2 is)"),
                ("POST", "/labels/nope:predict", 400, "Unrecognized servable version label: 'nope' (this server's "
                                                      "labels: ['canary', 'stable'])"),
                ("POST", "/label/canary:predict", 404, "unknown path"),
                ("GET", "/labels/nope", 400, "Unrecognized servable version label: 'nope'"),
                ("GET", "/labels/stable/metadata", 404, "version 1 (label 'stable') of 'cnn' is not served")):
            r = httpx.request(method, f"{s.url}/v1/models/cnn{tail}", json={"instances": X[:1].tolist()})
            assert r.status_code == status and words in r.json()["error"], (tail, r.text)
    for labels, words in (({"a/b": 1}, "without '/' or ':'"), ({"x": -1}, "version number >= 0, got -1")):
        with pytest.raises(ValueError, match=words):
            create_app(str(path), ServeOptions("cnn", version_labels=labels))
    assert _version_label("stable=1") == ("stable", 1)
    with pytest.raises(Exception, match="expected LABEL=N"):
        _version_label("stable")


def test_a_missing_model_folder_keeps_the_loaded_version_serving_as_tf_serving(model_dir, caplog):
    # TF Serving emits no version list for a missing base path (an unmounted volume must not unload the model); each
    # scan logged a full traceback
    import logging
    import shutil

    path, expected = model_dir
    with Server(path, poll_interval=0.05) as s:
        with caplog.at_level(logging.ERROR, logger="ember.serve"):
            shutil.rmtree(path)
            time.sleep(0.3)
        r = s.predict({"instances": X.tolist()})
        assert r.status_code == 200 and r.headers["x-model-version"] == "1"
        np.testing.assert_allclose(r.json()["predictions"], expected, rtol=1e-5, atol=1e-6)
    failures = [rec for rec in caplog.records if "version scan failed" in rec.getMessage()]
    assert failures and all(rec.exc_info is None and "does not exist" in rec.getMessage() for rec in failures)
