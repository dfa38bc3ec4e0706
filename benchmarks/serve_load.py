"""Load test of `ember serve` on loopback: throughput and latency at 1, 8 and 64 concurrent clients, with
dynamic batching on and off, for the digits CNN and a DeepFM-shaped CTR model (26 sparse fields).

    python benchmarks/serve_load.py                  # 5 s per point
    python benchmarks/serve_load.py --seconds 2 --concurrency 1 64

Each point starts a fresh `ember serve` process; an asyncio client (aiohttp) keeps N requests of one instance in
flight for the given seconds. Server and client share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np


def digits_cnn():
    from ember import nn

    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(),
                         nn.Linear(64, 10)), np.zeros((1, 1, 8, 8), np.float32)


def deepfm(fields: int = 26, vocab: int = 10_000, dim: int = 16):
    import ember
    from ember import nn

    class DeepFM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(fields * vocab, dim)
            self.linear = nn.Embedding(fields * vocab, 1)
            self.offsets = ember.tensor(np.arange(fields, dtype=np.int64) * vocab)
            self.deep = nn.Sequential(nn.Linear(fields * dim, 400), nn.ReLU(), nn.Linear(400, 400), nn.ReLU(),
                                      nn.Linear(400, 1))

        def forward(self, ids):
            ids = ids + self.offsets
            v = self.embedding(ids)  # (n, fields, dim)
            first = self.linear(ids).sum(axis=(1, 2))
            square_of_sum = v.sum(axis=1) ** 2
            sum_of_squares = (v * v).sum(axis=1)
            second = 0.5 * (square_of_sum - sum_of_squares).sum(axis=1)
            deep = self.deep(v.reshape(v.shape[0], -1)).reshape(-1)
            return (first + second + deep).sigmoid()

    return DeepFM(), np.zeros((1, fields), np.int64)


def export(build, folder: str) -> list:
    import ember
    import ember.onnx

    ember.manual_seed(0)
    net, example = build()
    os.makedirs(os.path.join(folder, "1"))
    ember.onnx.export(net, ember.tensor(example), os.path.join(folder, "1", "model.onnx"),
                      dynamic_axes={"input0": {0: "batch"}})
    rng = np.random.default_rng(0)
    if example.dtype.kind == "i":
        return rng.integers(0, 10_000, example.shape).tolist()
    return rng.standard_normal(example.shape).astype(np.float32).tolist()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _load(url: str, instance: list, concurrency: int, seconds: float) -> tuple[int, list, int]:
    import aiohttp

    latencies, failures = [], 0
    stop = time.monotonic() + seconds
    body = json.dumps({"instances": instance}).encode()
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def worker():
            nonlocal failures
            while time.monotonic() < stop:
                start = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as r:
                    await r.read()
                    if r.status == 200:
                        latencies.append(time.perf_counter() - start)
                    else:
                        failures += 1

        await asyncio.gather(*[worker() for _ in range(concurrency)])
    return len(latencies), latencies, failures


def measure(model_dir: str, instance: list, batching: bool, concurrency: int, seconds: float) -> dict:
    port = _port()
    cmd = [sys.executable, "-m", "ember.cli", "serve", model_dir, "--port", str(port), "--model-name", "m",
           "--max-batch-size", "64" if batching else "1", "--max-queue", "1024", "--deadline-ms", "30000"]
    # one BLAS thread: the client needs the other core, and spinning BLAS threads on a busy core cost more
    # than they give at these sizes
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/v1/models/m:predict"
        asyncio.run(_load(url, instance, concurrency, min(1.0, seconds)))  # warm up
        done, latencies, failures = asyncio.run(_load(url, instance, concurrency, seconds))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    lat = np.array(latencies) * 1e3
    return {"rps": done / seconds, "p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99)),
            "failed": failures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per point")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    opts = parser.parse_args()
    print(f"{'model':<8}{'clients':>8}{'batching':>10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'failed':>8}")
    with tempfile.TemporaryDirectory() as root:
        for name, build in (("cnn", digits_cnn), ("deepfm", deepfm)):
            folder = os.path.join(root, name)
            instance = export(build, folder)
            for clients in opts.concurrency:
                rows = {b: measure(folder, instance, b, clients, opts.seconds) for b in (False, True)}
                for b, r in rows.items():
                    print(f"{name:<8}{clients:>8}{'on' if b else 'off':>10}{r['rps']:>10.0f}{r['p50']:>9.1f}"
                          f"{r['p99']:>9.1f}{r['failed']:>8}", flush=True)
                gain = rows[True]["rps"] / rows[False]["rps"]
                print(f"{name:<8}{clients:>8}  batching raises throughput {gain:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
