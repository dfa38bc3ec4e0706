"""Multi-head attention as a function: PyTorch's ``F.multi_head_attention_forward`` (the functional form behind
``nn.MultiheadAttention``, which runs the same ``attend_heads``), and the masks and scaled dot products that
``scaled_dot_product_attention`` shares.

Inside, the batch leads ((N, heads, L, head_dim) per head): each head's (L, d) matrix then has rows 3E apart rather
than N * 3E, which keeps the attention products' operands in cache (1.5-2x faster than time-major on a 16-sequence
batch). Boolean masks are True where attention is blocked (``scaled_dot_product_attention`` reads them the other
way); float masks are added to the scores.
"""

from __future__ import annotations

import math

import numpy as np

from ember import ops
from ember.backend.dtypes import FLOATING, LOW_PRECISION, float32
from ember.ops.arrange import triangle
from ember.ops.autocast import switched_off
from ember.ops.sized import size_along
from ember.tensor import Tensor

__all__ = ["multi_head_attention_forward"]


def _bool_mask(mask: Tensor, like: Tensor, blocked_when: bool) -> Tensor:
    """An additive mask: -inf where ``mask == blocked_when``, 0 elsewhere, in ``like``'s dtype; a constant unless
    ``mask`` is a traced argument (``ember.jit``), whose values are known only when the graph runs."""
    if mask.symbolic:
        return ops.cast(ops.where(mask, -np.inf, 0.0) if blocked_when else ops.where(mask, 0.0, -np.inf), like.dtype)
    xp = like.xp
    data = mask.array if mask.device == like.device else ops.to_device(mask, like.device).array
    return Tensor._make(xp.where(data == blocked_when, -np.inf, 0.0).astype(like.dtype), None)


def additive_mask(mask, like: Tensor, blocked_when: bool, what: str = "attention: a mask") -> Tensor:
    """A bool or float mask as the float one added to the scores (-inf where a bool one equals ``blocked_when``);
    ``what`` names the op and argument in the error for another dtype."""
    mask = ops.as_tensor(mask, like)
    if mask.dtype == np.bool_:
        return _bool_mask(mask, like, blocked_when)
    if mask.dtype not in FLOATING:  # (bfloat16's NumPy kind is "V")
        raise TypeError(f"{what} must be bool or floating, got {mask.dtype}")
    return ops.cast(mask, like.dtype)


def causal_mask(length, source_length, like: Tensor) -> Tensor:
    """Additive mask blocking position j > i (the upper triangle); a length a graph leaves unknown is given as an
    ``UnknownSize`` read from a graph value (``size_along``), and the mask is then made when the graph runs."""
    blocked = triangle(length, source_length, 1, lower=False)
    if blocked.__class__ is not np.ndarray:
        return _bool_mask(blocked, like, True)
    return _bool_mask(Tensor._make(like.xp.asarray(blocked), None), like, True)


def attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout_p: float, scale: float,
           safe: bool = False):
    """softmax(q k^T * scale + mask) v, with dropout on the weights; returns (output, weights). ``safe``: a query
    whose every key the mask blocks gets weights 0 (and no gradient), not softmax's NaN, as PyTorch's
    scaled_dot_product_attention."""
    scores = ops.matmul(q * scale, ops.swapaxes(k, -1, -2))
    blocked = None
    if mask is not None:
        scores = scores + mask
        if safe:
            blocked = _fully_blocked(mask)
    if blocked is not None:  # those rows' scores made finite first, so neither softmax nor its vjp makes a NaN
        scores = ops.where(blocked, 0.0, scores)
    weights = ops.softmax(scores, axis=-1)
    if blocked is not None:
        weights = ops.where(blocked, 0.0, weights)
    if dropout_p > 0.0:
        weights = ops.dropout(weights, dropout_p, True)
    return ops.matmul(weights, v), weights


def attend_rounded_once(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout_p: float, scale: float) -> Tensor:
    """``attend``'s output with ``safe``, as PyTorch's scaled_dot_product_attention (math backend) gives it: float16
    and bfloat16 computed in float32 and rounded once."""
    if q.dtype not in LOW_PRECISION:
        return attend(q, k, v, mask, dropout_p, scale, safe=True)[0]
    with switched_off(q):  # (autocast would lower the products again)
        wide = (None if t is None else ops.cast(t, float32) for t in (q, k, v, mask))
        return ops.cast(attend(*wide, dropout_p, scale, safe=True)[0], q.dtype)


def _fully_blocked(mask: Tensor) -> Tensor | None:
    """The rows (keepdims) of an additive mask that are -inf throughout; None when an eager mask has none."""
    blocked = ops.all(mask == -np.inf, axis=-1, keepdims=True)
    if not blocked.symbolic and not bool(blocked.xp.any(blocked.array)):
        return None
    return blocked


def _append_positions(t: Tensor, axis: int, count: int) -> Tensor:
    """``t`` with ``count`` zeros appended along ``axis``: a mask's columns for the bias_k and zero-attention keys
    (attended), or the zero-attention key and value."""
    return ops.pad(t, [(0, count if a == axis % t.ndim else 0) for a in range(t.ndim)]) if count else t


def _static(name: str, t: Tensor | None, batch: int, heads: int, head_dim: int) -> Tensor | None:
    """A (N * heads, S, head_dim) ``static_k``/``static_v`` as (N, heads, S, head_dim)."""
    if t is None:
        return None
    if t.ndim != 3 or t.shape[0] != batch * heads or t.shape[2] != head_dim:
        raise ValueError(f"multi_head_attention_forward: {name} must be (N * num_heads, S, head_dim) = "
                         f"({batch * heads}, S, {head_dim}), got {list(t.shape)}")
    return ops.reshape(t, (batch, heads, t.shape[1], head_dim))


def attend_heads(name: str, query: Tensor, key: Tensor, value: Tensor, num_heads: int, weights: tuple, biases: tuple,
                 *, self_attention: bool = False, bias_k: Tensor | None = None, bias_v: Tensor | None = None,
                 add_zero_attn: bool = False, static_k: Tensor | None = None, static_v: Tensor | None = None,
                 attn_mask=None, key_padding_mask=None, causal: bool = False, dropout_p: float = 0.0,
                 need_weights: bool = True, average_attn_weights: bool = True):
    """Multi-head attention of batch-major (N, L, E) query and (N, S, kdim/vdim) key and value, before the output
    projection: ``(output (N, L, E), weights)``, the weights (N, L, S) averaged over heads, (N, heads, L, S) with
    ``average_attn_weights=False``, None without ``need_weights``. ``weights``/``biases``: the q, k, v
    projections (a bias may be None); ``self_attention`` projects ``query`` thrice. ``attn_mask`` is (L, S) or
    (N * heads, L, S), ``key_padding_mask`` (N, S), bool (True: blocked) or float (added); ``causal`` blocks
    the upper triangle where no ``attn_mask`` is given. ``bias_k``/``bias_v`` (1, 1, E) add a key and value,
    ``add_zero_attn`` a zero one, ``static_k``/``static_v`` (N * heads, S, head_dim) replace the projected keys
    and values."""
    batch, length, embed = query.shape
    heads, head_dim = num_heads, embed // num_heads
    # self-attention too projects by three products of the weight's thirds, not one product and a split of its
    # result: the backward then joins three small weight gradients rather than three (N, L, 3E) arrays
    sources = (query, query, query) if self_attention else (query, key, value)
    q, k, v = (ops.linear(x, w, b) for x, w, b in zip(sources, weights, biases))
    if (bias_k is None) != (bias_v is None):
        raise ValueError(f"{name}: give both bias_k and bias_v or neither")
    if bias_k is not None:
        if static_k is not None or static_v is not None:
            raise ValueError(f"{name}: bias_k and bias_v cannot be added to static_k and static_v")
        k, v = (ops.concat([t, ops.broadcast_to(ops.reshape(b, (1, 1, embed)), (batch, 1, embed))], axis=1)
                for t, b in ((k, bias_k), (v, bias_v)))

    def split(t: Tensor) -> Tensor:  # (N, S, E) -> (N, heads, S, head_dim)
        return ops.transpose(ops.reshape(t, (batch, t.shape[1], heads, head_dim)), (0, 2, 1, 3))

    q = split(q)
    k = _static("static_k", static_k, batch, heads, head_dim) if static_k is not None else split(k)
    v = _static("static_v", static_v, batch, heads, head_dim) if static_v is not None else split(v)
    if add_zero_attn:
        k, v = (_append_positions(t, 2, 1) for t in (k, v))
    source = k.shape[2]
    if k.shape[:3] != v.shape[:3]:
        raise ValueError(f"{name}: keys and values must match in batch, heads and length, got "
                         f"{list(k.shape)} and {list(v.shape)} as (N, heads, S, head_dim)")
    # positions each mask is missing: the bias_k key and the zero key, appended after the given mask's
    added = (bias_k is not None) + bool(add_zero_attn)
    given = None if source is None else source - added  # (None: a size a traced graph leaves unknown)
    rows = None if batch is None else batch * heads
    mask = None
    if attn_mask is not None:
        mask = additive_mask(attn_mask, q, blocked_when=True, what=f"{name}: attn_mask")
        if mask.ndim == 2 and tuple(mask.shape) == (length, given):
            pass
        elif mask.ndim == 3 and tuple(mask.shape) == (rows, length, given):
            mask = ops.reshape(mask, (-1, heads, length, given))
        else:
            raise ValueError(f"{name}: attn_mask must be ({length}, {given}) or ({rows}, {length}, "
                             f"{given}), got {list(mask.shape)}")
        mask = _append_positions(mask, -1, added)
    elif causal:
        mask = causal_mask(size_along(q, 2), size_along(k, 2), q)
    if key_padding_mask is not None:
        padding = additive_mask(key_padding_mask, q, blocked_when=True, what=f"{name}: key_padding_mask")
        if tuple(padding.shape) != (batch, given):
            raise ValueError(f"{name}: key_padding_mask must be ({batch}, {given}), got "
                             f"{list(padding.shape)}")
        padding = _append_positions(padding, -1, added)
        padding = ops.reshape(padding, (batch, 1, 1, source))
        mask = padding if mask is None else mask + padding
    # PyTorch computes the weights it returns with a plain softmax, and otherwise calls scaled_dot_product_attention
    scale = 1.0 / math.sqrt(head_dim)
    if not need_weights:
        out = attend_rounded_once(q, k, v, mask, dropout_p, scale)
        return ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (batch, length, embed)), None
    out, attention = attend(q, k, v, mask, dropout_p, scale)
    out = ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (batch, length, embed))
    return out, ops.mean(attention, axis=1) if average_attn_weights else attention


def _check_tensors(name: str, **tensors) -> None:
    for what, t in tensors.items():
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{name}: {what} must be a Tensor or None, got {type(t).__name__}")


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """``torch.nn.functional.multi_head_attention_forward``: multi-head attention of time-major query (L, N, E) and
    key, value (S, N, kdim/vdim), or unbatched (L, E) and (S, E), projected by ``in_proj_weight`` (3E, E) or, with
    ``use_separate_proj_weight``, ``q/k/v_proj_weight``, and by ``out_proj_weight``; ``(output (L, N, E),
    weights)``, the weights (N, L, S) averaged over heads, (N, heads, L, S) with ``average_attn_weights=False``,
    None without ``need_weights``. Masks: ``attn_mask`` (L, S) or (N * heads, L, S), ``key_padding_mask`` (N, S),
    bool (True: blocked) or float (added). ``is_causal`` is PyTorch's hint: it needs ``attn_mask``, and applies a
    causal mask instead of it when there is no ``key_padding_mask`` and no weights are asked for.
    ``dropout_p`` drops attention weights while ``training``.

    >>> E, x = 8, ember.randn(5, 2, 8)
    >>> out, w = ember.nn.functional.multi_head_attention_forward(
    ...     x, x, x, E, 2, ember.randn(3 * E, E), ember.zeros(3 * E), None, None, False, 0.0, ember.randn(E, E), None)
    >>> out.shape, w.shape
    ((5, 2, 8), (2, 5, 5))
    """
    name = "multi_head_attention_forward"
    _check_tensors(name, query=query, key=key, value=value, in_proj_weight=in_proj_weight, in_proj_bias=in_proj_bias,
                   bias_k=bias_k, bias_v=bias_v, out_proj_weight=out_proj_weight, out_proj_bias=out_proj_bias,
                   q_proj_weight=q_proj_weight, k_proj_weight=k_proj_weight, v_proj_weight=v_proj_weight,
                   static_k=static_k, static_v=static_v)
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(f"{name}: query, key and value must all be 3-D (L, N, E) or 2-D (L, E), got "
                         f"{list(query.shape)}, {list(key.shape)} and {list(value.shape)}")
    batched = query.ndim == 3
    embed = query.shape[-1]
    if embed != embed_dim_to_check:
        raise ValueError(f"{name}: query's embedding size {embed} is not embed_dim_to_check {embed_dim_to_check}")
    if num_heads <= 0 or embed % num_heads:
        raise ValueError(f"{name}: embed_dim ({embed}) must be a positive multiple of num_heads ({num_heads})")
    if tuple(key.shape[:-1]) != tuple(value.shape[:-1]) or (batched and key.shape[1] != query.shape[1]) or \
            (not use_separate_proj_weight and tuple(key.shape) != tuple(value.shape)):
        raise ValueError(f"{name}: key and value must be (S, N, E) of one (S, N) as query's N"
                         f"{'' if use_separate_proj_weight else ' and one shape'}, got query {list(query.shape)}, "
                         f"key {list(key.shape)}, value {list(value.shape)}")
    if is_causal and attn_mask is None:
        raise RuntimeError(f"{name}: is_causal is a hint that needs attn_mask; pass the causal attn_mask too")
    causal = is_causal and key_padding_mask is None and not need_weights
    if causal:  # as PyTorch: scaled_dot_product_attention's causal mask stands in for attn_mask
        attn_mask = None
    if use_separate_proj_weight:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise ValueError(f"{name}: use_separate_proj_weight=True needs q_proj_weight, k_proj_weight and "
                             "v_proj_weight")
        weights = (q_proj_weight, k_proj_weight, v_proj_weight)
    else:
        if in_proj_weight is None or tuple(in_proj_weight.shape) != (3 * embed, embed):
            raise ValueError(f"{name}: in_proj_weight must be (3 * E, E) = ({3 * embed}, {embed}), got "
                             f"{None if in_proj_weight is None else list(in_proj_weight.shape)}")
        weights = ops.chunk(in_proj_weight, 3, axis=0)
    if in_proj_bias is not None and tuple(in_proj_bias.shape) != (3 * embed,):
        raise ValueError(f"{name}: in_proj_bias must be ({3 * embed},), got {list(in_proj_bias.shape)}")
    biases = ops.chunk(in_proj_bias, 3, axis=0) if in_proj_bias is not None else (None, None, None)
    self_attention = not use_separate_proj_weight and query is key and key is value
    if batched:
        query, key, value = (ops.swapaxes(t, 0, 1) for t in (query, key, value))
    else:
        query, key, value = (ops.unsqueeze(t, 0) for t in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = ops.unsqueeze(ops.as_tensor(key_padding_mask), 0)
    out, weights = attend_heads(
        name, query, key, value, num_heads, weights, biases, self_attention=self_attention, bias_k=bias_k,
        bias_v=bias_v, add_zero_attn=add_zero_attn, static_k=static_k, static_v=static_v, attn_mask=attn_mask,
        key_padding_mask=key_padding_mask, causal=causal, dropout_p=dropout_p if training else 0.0,
        need_weights=need_weights, average_attn_weights=average_attn_weights)
    out = ops.linear(out, out_proj_weight, out_proj_bias)
    if not batched:
        return ops.squeeze(out, 0), None if weights is None else ops.squeeze(weights, 0)
    return ops.swapaxes(out, 0, 1), weights
