"""CUDA kernels for eager GPU steps that CuPy would run as several launches.

Each CuPy call costs about 10-15 us of Python and driver time (measured on an H200), more than the arithmetic of a
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
__device__ float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ double div_rn(double a, double b) { return __ddiv_rn(a, b); }
__device__ float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ double sqrt_rn(double a) { return __dsqrt_rn(a); }
"""


@functools.cache
def plain_sgd():
    """``kernel(grad, lr, param)``: ``param -= grad * lr`` in place, in one launch."""
    return cupy_module().ElementwiseKernel(
        "T grad, T lr", "T param", "param = sub_rn(param, mul_rn(grad, lr));", "ember_plain_sgd", preamble=_ROUNDED)


@functools.cache
def relu_grad():
    """``kernel(out, g)``: ``g * (out > 0)``, relu's gradient from its output, in one launch."""
    return cupy_module().ElementwiseKernel("T out, T g", "T gx", "gx = g * (T)(out > 0);", "ember_relu_grad")


@functools.cache
def momentum_sgd():
    """``kernel(grad, momentum, lr, buf, param)``: ``buf = buf * momentum + grad; param -= buf * lr`` in place,
    in one launch (float32 or float64 arrays of one shape)."""
    return cupy_module().ElementwiseKernel(
        "T grad, T momentum, T lr", "T buf, T param",
        "buf = add_rn(mul_rn(buf, momentum), grad); param = sub_rn(param, mul_rn(buf, lr));",
        "ember_momentum_sgd", preamble=_ROUNDED,
    )


@functools.cache
def adam():
    """``kernel(grad, weight, low, beta2, one_minus_beta2, bias2_sqrt, eps, step_size, exp_avg, exp_avg_sq,
    param)``: one Adam step in place, in one launch, with ``ember.optim.functional.adam_update``'s operations
    in its order (``low``: the lerp formula for a weight below 0.5, as torch picks)."""
    return cupy_module().ElementwiseKernel(
        "T grad, T weight, bool low, T beta2, T one_minus_beta2, T bias2_sqrt, T eps, T step_size",
        "T exp_avg, T exp_avg_sq, T param",
        """
        T d = sub_rn(grad, exp_avg);
        if (low) { exp_avg = add_rn(exp_avg, mul_rn(d, weight)); }
        else { exp_avg = sub_rn(grad, mul_rn(d, weight)); }
        exp_avg_sq = add_rn(mul_rn(exp_avg_sq, beta2), mul_rn(mul_rn(grad, one_minus_beta2), grad));
        T denom = add_rn(div_rn(sqrt_rn(exp_avg_sq), bias2_sqrt), eps);
        param = add_rn(param, div_rn(mul_rn(exp_avg, step_size), denom));
        """,
        "ember_adam", preamble=_ROUNDED,
    )


@functools.cache
def dropout_mask():
    """``kernel(seed, threshold, scale, mask)``: dropout's scaled keep mask, written into ``mask`` in one launch.

    Element ``i`` is kept (``scale``, else 0) when the high 32 bits of splitmix64's output for counter
    ``seed + (i + 1) * golden`` reach ``threshold``. Counter-based, the kernel keeps no generator state on the
    GPU: each call takes a fresh seed from Ember's global generator, so ``manual_seed`` and the generator state
    saved in checkpoints decide GPU masks too, and nothing random crosses from the host but that seed.
    """
    return cupy_module().ElementwiseKernel(
        "uint64 seed, uint32 threshold, T scale", "T mask",
        """
        unsigned long long z = seed + (unsigned long long)(i + 1) * 0x9E3779B97F4A7C15ULL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        mask = (unsigned int)(z >> 32) >= threshold ? scale : (T)0;
        """,
        "ember_dropout_mask",
    )


@functools.cache
def col2im():
    """``kernel(cols, C, H, W, N, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW, out, size=N*C*H*W)``: the adjoint of
    im2col in one launch. ``cols`` is (C, KH, KW, OH, OW, N) contiguous, ``out`` (N, C, H, W) without the
    padding. Each output element gathers the columns that cover it, kernel rows then kernel columns: the
    order in which the CPU's strided adds accumulate, so the sums are the same (threads run batch-fastest,
    so their reads of ``cols`` are contiguous)."""
    return cupy_module().ElementwiseKernel(
        "raw T cols, int32 C, int32 H, int32 W, int32 N, int32 KH, int32 KW, int32 OH, int32 OW, int32 SH, "
        "int32 SW, int32 PH, int32 PW, int32 DH, int32 DW",
        "raw T out",
        """
        int n = i % N; int t = i / N; int w = t % W; t /= W; int h = t % H; int c = t / H;
        int y = h + PH, x = w + PW;
        T acc = 0;
        for (int ki = 0; ki < KH; ++ki) {
            int ry = y - ki * DH;
            if (ry < 0 || ry % SH != 0 || ry / SH >= OH) continue;
            for (int kj = 0; kj < KW; ++kj) {
                int rx = x - kj * DW;
                if (rx < 0 || rx % SW != 0 || rx / SW >= OW) continue;
                acc += cols[((((long long)(c * KH + ki) * KW + kj) * OH + ry / SH) * OW + rx / SW) * N + n];
            }
        }
        out[(((long long)n * C + c) * H + h) * W + w] = acc;
        """,
        "ember_col2im",
    )


# --- batch norm on a GPU: per-channel statistics and the elementwise passes as single launches -------------------


@functools.cache
def squared_deviation_sum():
    """``kernel(x, mean, axis=..., keepdims=True)``: sum((x - mean)^2) over ``axis`` (``mean`` broadcast)."""
    return cupy_module().ReductionKernel(
        "T x, T mean", "T total", "(x - mean) * (x - mean)", "a + b", "total = a", "0", "ember_squared_deviation_sum")


@functools.cache
def product_deviation_sum():
    """``kernel(g, x, mean, axis=..., keepdims=True)``: sum(g * (x - mean)) over ``axis``."""
    return cupy_module().ReductionKernel(
        "T g, T x, T mean", "T total", "g * (x - mean)", "a + b", "total = a", "0", "ember_product_deviation_sum")


@functools.cache
def reciprocal_std():
    """``kernel(total, inv_count, eps)``: 1 / sqrt(total * inv_count + eps), from a sum of squared deviations."""
    return cupy_module().ElementwiseKernel(
        "T total, T inv_count, T eps", "T rstd", "rstd = 1 / sqrt(total * inv_count + eps)", "ember_reciprocal_std")


@functools.cache
def batch_norm_apply():
    """``kernel(x, mean, scale, shift)``: (x - mean) * scale + shift, per-channel values broadcast."""
    return cupy_module().ElementwiseKernel(
        "T x, T mean, T scale, T shift", "T y", "y = (x - mean) * scale + shift", "ember_batch_norm_apply")


@functools.cache
def batch_norm_input_grad():
    """``kernel(x, g, mean, rstd, weight_rstd, g_bias, g_weight, inv_count)``: batch norm's input gradient,
    weight * rstd * (g - (g_bias + xhat * g_weight) / count) with xhat = (x - mean) * rstd."""
    return cupy_module().ElementwiseKernel(
        "T x, T g, T mean, T rstd, T weight_rstd, T g_bias, T g_weight, T inv_count", "T gx",
        "T xhat = (x - mean) * rstd; gx = weight_rstd * (g - (g_bias + xhat * g_weight) * inv_count);",
        "ember_batch_norm_input_grad")


# --- max pooling on a GPU: one launch each way, the CPU's choices -------------------------------------------------
# A window's maximum is taken in row-major order as np.maximum takes it (NaN wins; of equal values the earlier
# stays), outside positions count as -inf (the CPU's padding), and the gradient goes to the first position
# equal to that maximum (none when it is NaN). The gradient gathers, for each input element, the windows
# whose first maximum it is, in kernel-position order: the CPU's order of adds, so the same sums.

_WINDOW_MAX = r"""
template <typename T>
__device__ T window_value(const T* plane, int H, int W, int y, int x, T lowest) {
    return (y >= 0 && y < H && x >= 0 && x < W) ? plane[(long long)y * W + x] : lowest;
}

template <typename T>
__device__ int first_max(const T* plane, int H, int W, int top, int left, int KH, int KW, int DH, int DW,
                         T lowest, T* best_out) {
    T best = window_value(plane, H, W, top, left, lowest);
    for (int k = 1; k < KH * KW; ++k) {
        T v = window_value(plane, H, W, top + (k / KW) * DH, left + (k % KW) * DW, lowest);
        if (!(best >= v || isnan(best))) best = v;
    }
    *best_out = best;
    for (int k = 0; k < KH * KW; ++k) {
        if (window_value(plane, H, W, top + (k / KW) * DH, left + (k % KW) * DW, lowest) == best) return k;
    }
    return -1;
}
"""


@functools.cache
def max_pool2d():
    """``kernel(x, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, lowest, y)``: max pooling of (N, C, H, W)
    ``x`` into (N, C, OH, OW) ``y``, one thread per output (``lowest``: -inf, what outside positions hold)."""
    return cupy_module().ElementwiseKernel(
        "raw T x, int32 H, int32 W, int32 OH, int32 OW, int32 KH, int32 KW, int32 SH, int32 SW, int32 PH, "
        "int32 PW, int32 DH, int32 DW, T lowest",
        "T y",
        """
        int ow = i % OW; int t = i / OW; int oh = t % OH; t /= OH;
        T best;
        first_max(&x[(long long)t * H * W], H, W, oh * SH - PH, ow * SW - PW, KH, KW, DH, DW, lowest, &best);
        y = best;
        """,
        "ember_max_pool2d", preamble=_WINDOW_MAX,
    )


@functools.cache
def max_pool2d_grad():
    """``kernel(x, g, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, lowest, gx)``: max pooling's input
    gradient, one thread per input element of (N, C, H, W)."""
    return cupy_module().ElementwiseKernel(
        "raw T x, raw T g, int32 H, int32 W, int32 OH, int32 OW, int32 KH, int32 KW, int32 SH, int32 SW, "
        "int32 PH, int32 PW, int32 DH, int32 DW, T lowest",
        "T gx",
        """
        int xx = i % W; int t = i / W; int yy = t % H; t /= H;
        const T* plane = &x[(long long)t * H * W];
        T acc = 0, best;
        for (int k = 0; k < KH * KW; ++k) {
            int ry = yy + PH - (k / KW) * DH, rx = xx + PW - (k % KW) * DW;
            if (ry < 0 || rx < 0 || ry % SH != 0 || rx % SW != 0 || ry / SH >= OH || rx / SW >= OW) continue;
            int oh = ry / SH, ow = rx / SW;
            if (first_max(plane, H, W, oh * SH - PH, ow * SW - PW, KH, KW, DH, DW, lowest, &best) == k) {
                acc += g[((long long)t * OH + oh) * OW + ow];
            }
        }
        gx = acc;
        """,
        "ember_max_pool2d_grad", preamble=_WINDOW_MAX,
    )
