"""Do compiled direct convolutions (oneDNN, numba) beat Ember's im2col + BLAS kernels, or PyTorch's, on LeNet-5?

Times, per op and in milliseconds, LeNet-5's two convolutions (batch 64: 1x28x28 under 6@5x5, 6x12x12
under 16@5x5) five ways: Ember's NumPy kernels (``ember.ops.conv``), the same kernels on the batch split
over the runtime's threads ("split"), Ember's ops on oneDNN (the ``onednn`` extra), direct numba kernels
(prange over batch x channels, the output row the vector axis, no im2col), and PyTorch's ``conv2d`` and its
two gradients. Each library runs in its own
process with 1 or 2 threads: libraries that spin their worker threads after a parallel region slow each
other down when they share a process on few cores.

    python benchmarks/conv_kernels.py [--threads 1 2] [--rounds 5]

Measured at one thread (best of 7, ms; Ember / numba / PyTorch): conv1 forward 0.31 / 0.46 / 0.46,
weight gradient 0.39 / 0.96 / 0.40; conv2 forward 0.39 / 1.54 / 0.22, input gradient 0.55 / 1.63 / 0.57,
weight gradient 0.41 / 4.10 / 0.41. The five convolutions of a LeNet step: Ember 2.0, PyTorch 2.1, numba 8.7.
A batch-last numba forward (the batch the vector axis) reaches 0.29 (conv1) and 0.50 (conv2) before its two
transposes, 0.57 and 0.54 with them. So direct numba kernels do not beat Ember's products here even with
perfect scaling over two threads, and Ember's kernels already match PyTorch's at one thread: the eager
step's gap to PyTorch at two threads lies in how each uses the second core, not in the convolutions.

Splitting Ember's kernels over the batch does not give them the second core either (two threads, ms, Ember /
split / PyTorch): conv1 forward 0.31 / 0.31 / 0.26, weight gradient 0.38 / 0.27 / 0.26; conv2 forward 0.30 /
0.40 / 0.15, input gradient 0.63 / 0.73 / 0.37, weight gradient 0.40 / 0.48 / 0.42. Each part is a dozen or
more NumPy calls (transposes, window copies, products, adds) whose handovers of the interpreter lock cost
about what the second core saves, and the window copies are bound by memory bandwidth, which the two cores
share; only the conv1 weight gradient (two large calls a part) gains.

On two threads oneDNN's kernels ran 1.3-2.7x faster than the NumPy ones at their best (conv2 forward 0.11 against
0.30, input gradient 0.27 against 0.55; conv1's input gradient, over one image channel, stays on NumPy), level with
or ahead of PyTorch's, which run on the same library.

Needs numba and torch (the ``bench`` extra) and the ``onednn`` extra. The first numba call compiles (about 2-3 s
a kernel) or, with ``cache=True``, loads the cached machine code (about 20 ms a kernel).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time

import numpy as np
from harness import best_ms

SHAPES = {"conv1": (64, 1, 28, 6), "conv2": (64, 6, 12, 16)}  # batch, channels, image side, output channels
KERNEL = 5
prange = range  # the parallel loop: numba.prange once compiled
LIBRARIES = ("ember", "split", "onednn", "numba", "torch")
OPS = ("forward", "input_grad", "weight_grad")


# --- direct kernels (compiled by numba in ``_numba_ops``; stride 1, no padding, float32/float64) ----------

def _forward(x, w, y):
    n_batch, channels = x.shape[0], x.shape[1]
    outs, _, kh, kw = w.shape
    out_h, out_w = y.shape[2], y.shape[3]
    for t in prange(n_batch * outs):
        n, o = t // outs, t % outs
        y[n, o] = 0
        for c in range(channels):
            for i in range(kh):
                for j in range(kw):
                    tap = w[o, c, i, j]
                    for oh in range(out_h):
                        for ow in range(out_w):
                            y[n, o, oh, ow] += tap * x[n, c, oh + i, ow + j]


def _input_grad(gy, w, gx):
    n_batch, outs, out_h, out_w = gy.shape
    channels, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    for t in prange(n_batch * channels):
        n, c = t // channels, t % channels
        gx[n, c] = 0
        for o in range(outs):
            for i in range(kh):
                for j in range(kw):
                    tap = w[o, c, i, j]
                    for oh in range(out_h):
                        for ow in range(out_w):
                            gx[n, c, oh + i, ow + j] += tap * gy[n, o, oh, ow]


def _weight_grad(x, gy, gw):
    n_batch, channels = x.shape[0], x.shape[1]
    outs, out_h, out_w = gy.shape[1], gy.shape[2], gy.shape[3]
    kh, kw = gw.shape[2], gw.shape[3]
    for t in prange(outs * channels):
        o, c = t // channels, t % channels
        for i in range(kh):
            for j in range(kw):
                # A vector of partial sums along the row: without fastmath a scalar sum would not vectorize.
                partial = np.zeros(out_w, gw.dtype)
                for n in range(n_batch):
                    for oh in range(out_h):
                        for ow in range(out_w):
                            partial[ow] += gy[n, o, oh, ow] * x[n, c, oh + i, ow + j]
                gw[o, c, i, j] = partial.sum()


@functools.cache
def _compiled() -> dict:
    import numba

    compiled = {}
    for name, fn in (("forward", _forward), ("input_grad", _input_grad), ("weight_grad", _weight_grad)):
        fn = type(fn)(fn.__code__, {**fn.__globals__, "prange": numba.prange}, fn.__name__)
        compiled[name] = numba.njit(parallel=True, fastmath=False)(fn)
    return compiled


def _numba_ops(x, w, gy) -> tuple:
    compiled = _compiled()
    y = np.empty((x.shape[0], w.shape[0], x.shape[2] - KERNEL + 1, x.shape[3] - KERNEL + 1), x.dtype)
    gx, gw = np.empty_like(x), np.empty_like(w)
    first = {}
    ops = {
        "forward": lambda: compiled["forward"](x, w, y) or y,
        "input_grad": lambda: compiled["input_grad"](gy, w, gx) or gx,
        "weight_grad": lambda: compiled["weight_grad"](x, gy, gw) or gw,
    }
    for name, op in ops.items():
        start = time.perf_counter()
        op()
        first[name] = time.perf_counter() - start
    return ops, first


def _ember_ops(x, w, gy) -> dict:
    from ember.ops import conv

    attrs = dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1)
    return {
        "forward": lambda: conv._conv2d_forward(np, x, w, **attrs),
        "input_grad": lambda: conv._conv_transpose2d_forward(np, gy, w, output_padding=(0, 0), **attrs),
        "weight_grad": lambda: conv._weight_grad_forward(np, x, gy, kernel_size=(KERNEL, KERNEL), **attrs),
    }


def _split_ops(x, w, gy, threads: int) -> dict:
    """Ember's kernels on the batch cut into one part per thread, the parts run at once on the runtime's threads
    (``ember.runtime.parallel``) with OpenBLAS held at one thread each: outputs written into one result, weight
    gradients summed."""
    from ember.backend import blas_threads
    from ember.runtime import parallel

    ops = _ember_ops(x, w, gy)
    bounds = [len(x) * k // threads for k in range(threads + 1)]
    parts = [slice(start, stop) for start, stop in zip(bounds, bounds[1:])]
    per_part = [_ember_ops(x[part], w, gy[part]) for part in parts]

    def batched(op: str, out_shape: tuple):
        def run():
            out = np.empty(out_shape, np.float32)

            def piece(k: int) -> None:
                out[parts[k]] = per_part[k][op]()
            with blas_threads.single_threaded():
                parallel.run_pieces([functools.partial(piece, k) for k in range(threads)], threads)
            return out
        return run

    def weight_grad():
        sums = [None] * threads

        def piece(k: int) -> None:
            sums[k] = per_part[k]["weight_grad"]()
        with blas_threads.single_threaded():
            parallel.run_pieces([functools.partial(piece, k) for k in range(threads)], threads)
        return functools.reduce(np.add, sums)

    return {"forward": batched("forward", ops["forward"]().shape), "input_grad": batched("input_grad", x.shape),
            "weight_grad": weight_grad}


def _torch_ops(x, w, gy) -> dict:
    import torch

    tx, tw, tgy = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(gy)
    return {
        "forward": lambda: torch.nn.functional.conv2d(tx, tw).numpy(),
        "input_grad": lambda: torch.nn.grad.conv2d_input(x.shape, tw, tgy).numpy(),
        "weight_grad": lambda: torch.nn.grad.conv2d_weight(tx, w.shape, tgy).numpy(),
    }


def _measure(library: str, threads: int, rounds: int) -> dict:
    """One library's per-op times in this process; also checks its results against Ember's."""
    if library == "torch":
        import torch

        torch.set_num_threads(threads)
    from ember.backend import onednn

    onednn.set_enabled(library == "onednn")  # "ember" and "split": the NumPy kernels
    if library == "onednn" and not onednn.available():
        raise SystemExit(f"onednn: {onednn.unavailable_reason()}")
    rng = np.random.default_rng(0)
    result = {}
    for layer, (n, c, side, o) in SHAPES.items():
        x = rng.standard_normal((n, c, side, side)).astype(np.float32)
        w = rng.standard_normal((o, c, KERNEL, KERNEL)).astype(np.float32)
        gy = rng.standard_normal((n, o, side - KERNEL + 1, side - KERNEL + 1)).astype(np.float32)
        first = {}
        if library == "numba":
            ops, first = _numba_ops(x, w, gy)
        else:
            ops = _split_ops(x, w, gy, threads) if library == "split" else \
                {"ember": _ember_ops, "onednn": _ember_ops, "torch": _torch_ops}[library](x, w, gy)
        reference = _ember_ops(x.astype(np.float64), w.astype(np.float64), gy.astype(np.float64))
        for op in OPS:
            expected = reference[op]()
            error = np.abs(ops[op]() - expected).max() / np.abs(expected).max()
            if error > 1e-4:
                raise AssertionError(f"{library} {layer} {op}: relative error {error:.1e}")
            result[f"{layer} {op}"] = best_ms(ops[op], rounds)
        result.update({f"{layer} {op} first call": seconds * 1e3 for op, seconds in first.items()})
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child, args.threads[0], args.rounds)))
        return
    for threads in args.threads:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                   NUMBA_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                   # A training process soon raises glibc's thresholds past its temporaries (no page faults
                   # in a LeNet step); a fresh process maps and faults each one in again, which made Ember's
                   # first layer look 7-10x slower here (4 ms against 0.4 ms, ~1000 page faults a call).
                   MALLOC_MMAP_THRESHOLD_="67108864", MALLOC_TRIM_THRESHOLD_="268435456")
        times = {}
        for library in LIBRARIES:
            command = [sys.executable, __file__, "--child", library, "--threads", str(threads),
                       "--rounds", str(args.rounds)]
            times[library] = json.loads(subprocess.run(command, env=env, check=True, capture_output=True,
                                                       text=True).stdout)
        header = "  ".join(f"{lib:>7}" for lib in LIBRARIES)
        print(f"{threads} thread(s), ms per op (best of {args.rounds}):   {header}")
        for key in times["ember"]:
            print(f"  {key:<24}" + "  ".join(f"{times[lib][key]:7.3f}" for lib in LIBRARIES))
        for key, ms in times["numba"].items():
            if key.endswith("first call"):
                print(f"  numba {key}: {ms:.0f} ms (compiles on the first shape)")


if __name__ == "__main__":
    main()
