"""Attention with PyTorch's names and semantics: ``scaled_dot_product_attention``, ``MultiheadAttention``
(in_proj_weight / in_proj_bias / out_proj), ``TransformerEncoderLayer`` and ``TransformerEncoder``.

Mask conventions follow PyTorch, which differ between the two entry points: in
``scaled_dot_product_attention`` a boolean ``attn_mask`` is True where attention is *allowed*; in
``MultiheadAttention`` boolean masks are True where attention is *blocked*. Float masks are added to
the attention scores in both.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np

from ember import ops
from ember.backend.dtypes import FLOATING
from ember.creation import empty
from ember.nn import init
from ember.nn.layers.dropout import Dropout
from ember.nn.layers.dtype_check import check_input_dtype
from ember.nn.layers.linear import Linear
from ember.nn.layers.normalization import LayerNorm
from ember.nn.module import Module, ModuleList
from ember.nn.parameter import Parameter
from ember.tensor import Tensor


def _bool_mask(mask: Tensor, like: Tensor, blocked_when: bool) -> Tensor:
    """A constant additive mask: -inf where ``mask == blocked_when``, 0 elsewhere, in ``like``'s dtype."""
    xp = like.xp
    data = mask.array if mask.device == like.device else ops.to_device(mask, like.device).array
    return Tensor._make(xp.where(data == blocked_when, -np.inf, 0.0).astype(like.dtype), None)


def _additive(mask, like: Tensor, blocked_when: bool) -> Tensor:
    mask = ops.as_tensor(mask, like)
    if mask.dtype == np.bool_:
        return _bool_mask(mask, like, blocked_when)
    if mask.dtype not in FLOATING:  # (bfloat16's NumPy kind is "V")
        raise TypeError(f"attention: masks must be bool or floating, got {mask.dtype}")
    return ops.cast(mask, like.dtype)


def _causal_mask(length: int, source_length: int, like: Tensor) -> Tensor:
    """Additive mask blocking position j > i (the upper triangle)."""
    blocked = np.triu(np.ones((length, source_length), dtype=bool), k=1)
    return _bool_mask(Tensor._make(like.xp.asarray(blocked), None), like, True)


def _attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout_p: float, scale: float):
    """softmax(q k^T * scale + mask) v, with dropout on the weights; returns (output, weights)."""
    scores = ops.matmul(q * scale, ops.swapaxes(k, -1, -2))
    if mask is not None:
        scores = scores + mask
    weights = ops.softmax(scores, axis=-1)
    if dropout_p > 0.0:
        weights = ops.dropout(weights, dropout_p, True)
    return ops.matmul(weights, v), weights


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """``softmax(query @ key^T / sqrt(E) + mask) @ value`` over the last two axes, like
    ``torch.nn.functional.scaled_dot_product_attention``: query (..., L, E), key (..., S, E),
    value (..., S, Ev). A bool ``attn_mask`` is True where attention is allowed; a float one is added.
    Dropout with ``dropout_p`` is always applied (pass 0 in evaluation).

    >>> q = ember.randn(2, 4, 5, 8)
    >>> ember.nn.scaled_dot_product_attention(q, q, q, is_causal=True).shape
    (2, 4, 5, 8)
    """
    query, key, value = ops.to_float(query), ops.to_float(key), ops.to_float(value)
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2 or query.shape[-1] != key.shape[-1] \
            or key.shape[-2] != value.shape[-2]:
        raise ValueError(
            "scaled_dot_product_attention: need query (..., L, E), key (..., S, E) and value (..., S, Ev), got "
            f"{list(query.shape)}, {list(key.shape)} and {list(value.shape)}"
        )
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
    mask = None
    if is_causal:
        mask = _causal_mask(query.shape[-2], key.shape[-2], query)
    elif attn_mask is not None:
        mask = _additive(attn_mask, query, blocked_when=False)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    return _attend(query, key, value, mask, dropout_p, scale)[0]


class MultiheadAttention(Module):
    """Multi-head attention like ``torch.nn.MultiheadAttention``: ``forward(query, key, value)`` returns
    ``(attn_output, attn_weights)``, the weights averaged over heads unless ``average_attn_weights=False``
    and None when ``need_weights=False``. Inputs are (L, N, E), (N, L, E) with ``batch_first``, or
    unbatched (L, E). Boolean masks are True where attention is blocked; float masks are added.

    >>> mha = ember.nn.MultiheadAttention(16, 4, batch_first=True)
    >>> x = ember.randn(2, 5, 16)
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape
    ((2, 5, 16), (2, 5, 5))
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be a positive multiple of "
                             f"num_heads ({num_heads})")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, dtype=dtype, device=device))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, dtype=dtype, device=device))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, dtype=dtype, device=device))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, dtype=dtype, device=device))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, dtype=dtype, device=device))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # PyTorch's: Xavier-uniform projections, zero biases; out_proj.weight keeps Linear's default.
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, " \
               f"batch_first={self.batch_first}"

    def _project(self, query: Tensor, key: Tensor, value: Tensor, self_attention: bool):
        b = self.in_proj_bias
        # self-attention too projects by three products of the weight's thirds, not one product and a split of
        # its result: the backward then joins three small weight gradients rather than three (N, L, 3E) arrays
        if self._qkv_same_embed_dim:
            weights = ops.chunk(self.in_proj_weight, 3, axis=0)
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        biases = ops.chunk(b, 3, axis=0) if b is not None else (None, None, None)
        sources = (query, query, query) if self_attention else (query, key, value)
        return [ops.linear(x, w, bias) for x, w, bias in zip(sources, weights, biases)]

    def _mask(self, attn_mask, key_padding_mask, like: Tensor, batch: int, length: int, source: int,
              is_causal: bool) -> Tensor | None:
        """One additive mask broadcastable to (N, heads, L, S)."""
        h = self.num_heads
        mask = None
        if attn_mask is not None:
            m = _additive(attn_mask, like, blocked_when=True)
            if m.ndim == 2 and tuple(m.shape) == (length, source):
                mask = m
            elif m.ndim == 3 and tuple(m.shape) == (batch * h, length, source):
                mask = ops.reshape(m, (batch, h, length, source))
            else:
                raise ValueError(f"MultiheadAttention: attn_mask must be ({length}, {source}) or "
                                 f"({batch * h}, {length}, {source}), got {list(m.shape)}")
        elif is_causal:
            mask = _causal_mask(length, source, like)
        if key_padding_mask is not None:
            m = _additive(key_padding_mask, like, blocked_when=True)
            if tuple(m.shape) != (batch, source):
                raise ValueError(f"MultiheadAttention: key_padding_mask must be ({batch}, {source}), "
                                 f"got {list(m.shape)}")
            m = ops.reshape(m, (batch, 1, 1, source))
            mask = m if mask is None else mask + m
        return mask

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        self_attention = query is key and key is value
        for what, t in (("query", query), ("key", key), ("value", value)):
            check_input_dtype(self, t, self.out_proj.weight.dtype, what)
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError("MultiheadAttention: query, key and value must all be 3-D (batched) or 2-D, got "
                             f"{list(query.shape)}, {list(key.shape)} and {list(value.shape)}")
        batched = query.ndim == 3
        # batch-major inside: each head's (L, d) matrix then has rows 3E apart rather than N * 3E, which keeps the
        # attention products' operands in cache (1.5-2x faster than time-major on a 16-sequence batch)
        if not batched:
            query, key, value = (ops.unsqueeze(t, 0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = ops.unsqueeze(ops.as_tensor(key_padding_mask), 0)
        elif not self.batch_first:
            query, key, value = (ops.swapaxes(t, 0, 1) for t in (query, key, value))
        batch, length, e = query.shape
        source = key.shape[1]
        if e != self.embed_dim or key.shape[2] != self.kdim or value.shape[2] != self.vdim \
                or key.shape[:2] != value.shape[:2] or key.shape[0] != batch:
            raise ValueError(
                f"MultiheadAttention: expected query (L, N, {self.embed_dim}), key (S, N, {self.kdim}) and value "
                f"(S, N, {self.vdim}) ((N, L, E) with batch_first), got {list(query.shape)}, {list(key.shape)}, "
                f"{list(value.shape)} as (N, L, E)"
            )
        q, k, v = self._project(query, key, value, self_attention)
        h, d = self.num_heads, self.head_dim
        q = ops.transpose(ops.reshape(q, (batch, length, h, d)), (0, 2, 1, 3))
        k = ops.transpose(ops.reshape(k, (batch, source, h, d)), (0, 2, 1, 3))
        v = ops.transpose(ops.reshape(v, (batch, source, h, d)), (0, 2, 1, 3))
        mask = self._mask(attn_mask, key_padding_mask, q, batch, length, source, is_causal)
        p = self.dropout if self.training else 0.0
        out, weights = _attend(q, k, v, mask, p, 1.0 / math.sqrt(d))
        out = self.out_proj(ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (batch, length, self.embed_dim)))
        if not batched:
            out = ops.squeeze(out, 0)
        elif not self.batch_first:
            out = ops.swapaxes(out, 0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = ops.mean(weights, axis=1)
        return out, weights if batched else ops.squeeze(weights, 0)


def _activation(activation: str | Callable) -> Callable:
    if activation == "relu":
        return ops.relu
    if activation == "gelu":
        return ops.gelu
    if callable(activation):
        return activation
    raise ValueError(f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a callable, got {activation!r}")


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with a residual connection, dropout and layer norm
    (after the residual by default, before it with ``norm_first=True``), like PyTorch's.

    >>> layer = ember.nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, batch_first=True)
    >>> layer(ember.randn(2, 10, 32)).shape
    (2, 10, 32)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            device=device, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, device=device, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, device=device, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` applied in turn, then an optional final ``norm``.

    >>> layer = ember.nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64)
    >>> encoder = ember.nn.TransformerEncoder(layer, num_layers=2)
    >>> encoder(ember.randn(10, 2, 32)).shape
    (10, 2, 32)
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"TransformerEncoder: num_layers must be a positive integer, got {num_layers!r}")
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src: Tensor, mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)
