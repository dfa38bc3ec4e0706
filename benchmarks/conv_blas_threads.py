"""Does OpenBLAS's second thread help Ember's NumPy convolution kernels, or hurt them?

Times the two kernels of a stride-1 ``conv_transpose2d`` (a convolution's input gradient) that Ember has on
NumPy, each with OpenBLAS on all its threads and held at one (``blas_threads.single_threaded``), in one process:

- "rows": ``_col2im_by_rows``, one product per input row into wide rows, then kh * kw long adds;
- "general": one whole product into columns, then ``_col2im``'s kh * kw strided adds;

beside PyTorch's ``conv_transpose2d`` on all its threads and on one (``torch.set_num_threads``), when installed.

Shapes are (gradient, weight, padding) of layers that reduce channels (the ones where these kernels run rather
than the flipped convolution). Prints milliseconds per call (best of ``--rounds``) and, per kernel, the time on
all threads over the time on one (above 1, the second thread slows the kernel down), then the best Ember kernel
over PyTorch, both on all threads.

    python benchmarks/conv_blas_threads.py [--rounds 5]

On an AMD EPYC with 2 vCPUs (AVX-512, OpenBLAS 0.3.31 SkylakeX), two runs (PyTorch in the second): the second
thread changed Ember's kernels by 0.77-1.11x and PyTorch's by 0.51-0.65x. Ember's best kernel took 0.12-1.7x
PyTorch's time on one thread and 0.21-2.2x on two. On small images (8x8, 4x4 inputs) "general" beat "rows" by
3-13% on two threads and lost by 5-16% on one; one run gave "rows" on the 14x14 layer 1.78x its one-thread time
(0.78x in the other), so single runs of these small kernels are not a basis for a choice.
"""

from __future__ import annotations

import argparse

import numpy as np
from harness import best_ms, machine_line

from ember.backend import blas_threads
from ember.ops import conv

CASES = [  # (gradient shape N, C_in, H, W), (weight shape C_in, C_out, kh, kw), padding
    ((64, 6, 24, 24), (6, 1, 5, 5), (0, 0)),  # LeNet-5's first layer
    ((64, 16, 8, 8), (16, 6, 5, 5), (0, 0)),  # LeNet-5's second layer
    ((64, 32, 16, 16), (32, 8, 3, 3), (1, 1)),
    ((32, 64, 8, 8), (64, 16, 3, 3), (1, 1)),
    ((128, 16, 14, 14), (16, 3, 5, 5), (2, 2)),
    ((64, 8, 28, 28), (8, 1, 3, 3), (1, 1)),
    ((128, 32, 4, 4), (32, 8, 3, 3), (1, 1)),
]


def _kernels(g, w, padding) -> dict:
    n, c_in, in_h, in_w = g.shape
    _, c_out, kh, kw = w.shape
    shape = (n, c_out, in_h + kh - 1 - 2 * padding[0], in_w + kw - 1 - 2 * padding[1])
    taps = w.reshape(1, c_in, -1).transpose(0, 2, 1)

    def rows():
        xt = conv._batch_last(np, g).reshape(1, c_in, -1)
        return conv._col2im_by_rows(taps, xt, shape, (kh, kw), padding, (1, 1), in_h, in_w)

    def general():
        xt = conv._batch_last(np, g).reshape(1, c_in, -1)
        cols = conv.matrix_rows(np, c_out * kh * kw, xt.shape[2], xt.dtype)
        np.matmul(taps, xt, out=cols.reshape(1, -1, xt.shape[2]))
        return conv._col2im(np, cols, shape, (kh, kw), (1, 1), padding, (1, 1), in_h, in_w)

    return {"rows": rows, "general": general}


def _torch_kernel(g, w, padding):
    try:
        import torch
    except ImportError:
        return None
    tg, tw = torch.from_numpy(g), torch.from_numpy(w)
    return lambda: torch.nn.functional.conv_transpose2d(tg, tw, padding=padding).numpy()


class _TorchThreads:
    """PyTorch on one thread inside (a no-op without PyTorch)."""

    def __enter__(self):
        try:
            import torch
        except ImportError:
            return self
        self.torch, self.saved = torch, torch.get_num_threads()
        torch.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        if hasattr(self, "torch"):
            self.torch.set_num_threads(self.saved)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not blas_threads.available():
        raise SystemExit("NumPy's OpenBLAS was not found: its thread count cannot be set")
    print(f"# {machine_line()}")
    print(f"OpenBLAS threads: {blas_threads.threads()}; ms per call (best of {args.rounds}), all threads / one")
    print(f"{'gradient':>20} {'weight':>16}  {'rows':>22}  {'general':>22}  {'torch':>22}  {'ember/torch':>11}")
    rng = np.random.default_rng(0)
    for g_shape, w_shape, padding in CASES:
        g = rng.standard_normal(g_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        kernels = _kernels(g, w, padding)
        np.testing.assert_allclose(kernels["rows"](), kernels["general"](), rtol=1e-4, atol=1e-4)
        torch_kernel = _torch_kernel(g, w, padding)
        if torch_kernel is not None:
            np.testing.assert_allclose(torch_kernel(), kernels["rows"](), rtol=1e-4, atol=1e-4)
            kernels["torch"] = torch_kernel
        cells, many_ms = [], {}
        for name, fn in kernels.items():
            many_ms[name] = best_ms(fn, args.rounds)
            with blas_threads.single_threaded(), _TorchThreads():
                one = best_ms(fn, args.rounds)
            cells.append(f"{many_ms[name]:6.3f} / {one:6.3f} {many_ms[name] / one:6.2f}")
        ratio = f"{min(many_ms['rows'], many_ms['general']) / many_ms['torch']:11.2f}" if "torch" in many_ms else ""
        print(f"{str(g_shape):>20} {str(w_shape):>16}  " + "  ".join(cells) + f"  {ratio}")

if __name__ == "__main__":
    main()
