"""Attention with PyTorch's names and semantics: ``scaled_dot_product_attention``, ``MultiheadAttention``
(in_proj_weight / in_proj_bias / out_proj), ``TransformerEncoderLayer`` and ``TransformerEncoder``.

Mask conventions follow PyTorch, which differ between the two entry points: in
``scaled_dot_product_attention`` a boolean ``attn_mask`` is True where attention is *allowed*; in
``MultiheadAttention`` boolean masks are True where attention is *blocked*. Float masks are added to
the attention scores in both. ``MultiheadAttention`` runs ``attention_heads.attend_heads``, as
``F.multi_head_attention_forward`` does.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

from ember import ops
from ember.creation import empty
from ember.nn import init
from ember.nn.layers.attention_heads import additive_mask, attend_heads, attend_rounded_once, causal_mask
from ember.nn.layers.dropout import Dropout
from ember.nn.layers.dtype_check import check_input_dtype
from ember.nn.layers.linear import Linear
from ember.nn.layers.normalization import LayerNorm
from ember.nn.module import Module, ModuleList
from ember.nn.parameter import Parameter
from ember.ops.autocast import active, lowered
from ember.ops.sized import size_along
from ember.tensor import Tensor


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """``softmax(query @ key^T / sqrt(E) + mask) @ value`` over the last two axes, like
    ``torch.nn.functional.scaled_dot_product_attention``: query (..., L, E), key (..., S, E),
    value (..., S, Ev). A bool ``attn_mask`` is True where attention is allowed; a float one is added; a query
    the mask blocks from every key gets zeros.
    Dropout with ``dropout_p`` is always applied (pass 0 in evaluation). ``enable_gqa``: key and value may have
    fewer heads (axis -3) than query, a divisor of its count; each serves that many query heads in turn.

    >>> q = ember.randn(2, 4, 5, 8)
    >>> ember.nn.scaled_dot_product_attention(q, q, q, is_causal=True).shape
    (2, 4, 5, 8)
    """
    dtypes = [getattr(t, "dtype", None) for t in (query, key, value)]
    if len(set(dtypes)) > 1 and not active():  # (autocast casts them to one dtype, as PyTorch's)
        raise TypeError(f"scaled_dot_product_attention: query, key and value must have one dtype, got "
                        f"{dtypes[0]}, {dtypes[1]} and {dtypes[2]}")
    query, key, value = lowered(ops.to_float(query), ops.to_float(key), ops.to_float(value))  # (as PyTorch's autocast)
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2 or query.shape[-1] != key.shape[-1] \
            or key.shape[-2] != value.shape[-2]:
        raise ValueError(
            "scaled_dot_product_attention: need query (..., L, E), key (..., S, E) and value (..., S, Ev), got "
            f"{list(query.shape)}, {list(key.shape)} and {list(value.shape)}"
        )
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        key, value = _shared_heads(query, key, value)
    mask = None
    if is_causal:
        mask = causal_mask(size_along(query, -2), size_along(key, -2), query)
    elif attn_mask is not None:
        mask = additive_mask(attn_mask, query, blocked_when=False, what="scaled_dot_product_attention: attn_mask")
        _refuse_a_growing_mask(tuple(mask.shape), tuple(query.shape), tuple(key.shape))
    if scale is None:  # (PyTorch's 1 / sqrt(E); E = 0 leaves no scores to scale: each query averages the values)
        scale = 1.0 / math.sqrt(query.shape[-1]) if query.shape[-1] else math.inf
    return attend_rounded_once(query, key, value, mask, dropout_p, scale)


def _refuse_a_growing_mask(mask: tuple, query: tuple, key: tuple) -> None:
    """Refuse a mask that broadcasts to the scores (..., L, S) only by adding to their dims (a (3, 2, L, S) mask
    for a batch of 2): the sum would give a larger output, where PyTorch adds the mask into the scores in place."""
    q_lead, k_lead = query[:-2], key[:-2]
    lead = [max(a, b) if a is not None and b is not None else None
            for a, b in zip((1,) * (len(k_lead) - len(q_lead)) + q_lead, (1,) * (len(q_lead) - len(k_lead)) + k_lead)]
    scores = tuple(lead) + (query[-2], key[-2])
    if len(mask) > len(scores) or any(m != 1 and m is not None and s is not None and m != s
                                      for m, s in zip(mask[::-1], scores[::-1])):
        raise ValueError(f"scaled_dot_product_attention: attn_mask of shape {list(mask)} must broadcast to the "
                         f"attention scores' shape {list(scores)}")


def _shared_heads(query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
    """Grouped-query attention: each key and value head repeated for the query heads it serves (PyTorch's
    ``repeat_interleave`` along the head axis)."""
    heads, kv_heads = query.shape[-3], key.shape[-3]
    if value.ndim < 3 or value.shape[-3] != kv_heads or heads % kv_heads:
        raise ValueError(f"scaled_dot_product_attention: with enable_gqa the query's heads (axis -3) must be a "
                         f"multiple of the key's and value's, got query {list(query.shape)}, key {list(key.shape)} "
                         f"and value {list(value.shape)}")
    group = heads // kv_heads
    return ops.repeat_interleave(key, group, axis=-3), ops.repeat_interleave(value, group, axis=-3)


class MultiheadAttention(Module):
    """Multi-head attention like ``torch.nn.MultiheadAttention``: ``forward(query, key, value)`` returns
    ``(attn_output, attn_weights)``, the weights averaged over heads unless ``average_attn_weights=False``
    and None when ``need_weights=False``. Inputs are (L, N, E), (N, L, E) with ``batch_first``, or
    unbatched (L, E). Boolean masks are True where attention is blocked; float masks are added. ``add_bias_kv``
    adds a learned key and value (``bias_k``, ``bias_v``), ``add_zero_attn`` a zero one, as PyTorch's.
    ``is_causal`` is PyTorch's hint that ``attn_mask`` is causal, read as ``F.multi_head_attention_forward`` reads it;
    without an ``attn_mask`` it blocks the future keys itself (where PyTorch asks for the mask).

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
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
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
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, dtype=dtype, device=device))
            self.bias_v = Parameter(empty(1, 1, embed_dim, dtype=dtype, device=device))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
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
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, " \
               f"batch_first={self.batch_first}"

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
        if e != self.embed_dim or key.shape[2] != self.kdim or value.shape[2] != self.vdim \
                or key.shape[:2] != value.shape[:2] or key.shape[0] != batch:
            raise ValueError(
                f"MultiheadAttention: expected query (L, N, {self.embed_dim}), key (S, N, {self.kdim}) and value "
                f"(S, N, {self.vdim}) ((N, L, E) with batch_first), got {list(query.shape)}, {list(key.shape)}, "
                f"{list(value.shape)} as (N, L, E)"
            )
        if self._qkv_same_embed_dim:
            weights = ops.chunk(self.in_proj_weight, 3, axis=0)
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        biases = ops.chunk(b, 3, axis=0) if b is not None else (None, None, None)
        # as F.multi_head_attention_forward: with neither padding nor weights the hint's causal mask, over every key
        # (bias_k's and the zero one too), stands in for attn_mask
        causal = is_causal and (attn_mask is None or (key_padding_mask is None and not need_weights))
        out, weights = attend_heads(
            "MultiheadAttention", query, key, value, self.num_heads, weights, biases, self_attention=self_attention,
            bias_k=self.bias_k, bias_v=self.bias_v, add_zero_attn=self.add_zero_attn,
            attn_mask=None if causal else attn_mask, key_padding_mask=key_padding_mask, causal=causal,
            dropout_p=self.dropout if self.training else 0.0, need_weights=need_weights,
            average_attn_weights=average_attn_weights)
        out = self.out_proj(out)
        if not batched:
            out = ops.squeeze(out, 0)
        elif not self.batch_first:
            out = ops.swapaxes(out, 0, 1)
        return out, weights if weights is None or batched else ops.squeeze(weights, 0)


def _activation(activation: str | Callable, layer: str) -> Callable:
    if activation == "relu":
        return ops.relu
    if activation == "gelu":
        return ops.gelu
    if callable(activation):
        return activation
    raise ValueError(f"{layer}: activation must be 'relu', 'gelu' or a callable, got {activation!r}")


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
        self.activation = _activation(activation, "TransformerEncoderLayer")

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

    ``enable_nested_tensor`` and ``mask_check`` are taken for PyTorch's signature and kept as attributes, but change
    nothing: every position is computed. PyTorch's nested-tensor path (evaluation without gradients, ``batch_first``,
    a ``src_key_padding_mask`` and no ``mask``) gives zeros at the padded positions before ``norm``; here they hold
    what attention over the unpadded keys gives, as PyTorch's own path with gradients does. The unpadded positions
    agree either way.

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
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src: Tensor, mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)
