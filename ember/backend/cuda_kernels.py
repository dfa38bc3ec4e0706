"""CUDA kernels for eager GPU steps that CuPy would run as several launches.

Each CuPy call costs about 10-15 us of Python and driver time on the lent GPU, more than the arithmetic of a
small layer, so a rule of four array operations is four times slower than one kernel doing the same. Every
operation rounds on its own (``__fmul_rn``...), as NumPy does, so results equal the CPU's bit for bit.
Kernels are compiled on first use (about 0.2 s each).
"""

from __future__ import annotations

import functools

from ember.backend.devices import cupy_module

_ROUNDED = r"""
__device__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ double sub_rn(double a, double b) { return __dsub_rn(a, b); }
"""


@functools.cache
def momentum_sgd():
    """``kernel(grad, momentum, lr, buf, param)``: ``buf = buf * momentum + grad; param -= buf * lr`` in place,
    in one launch (float32 or float64 arrays of one shape)."""
    return cupy_module().ElementwiseKernel(
        "T grad, T momentum, T lr", "T buf, T param",
        "buf = add_rn(mul_rn(buf, momentum), grad); param = sub_rn(param, mul_rn(buf, lr));",
        "ember_momentum_sgd", preamble=_ROUNDED,
    )
