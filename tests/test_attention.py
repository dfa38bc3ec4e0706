"""MultiheadAttention, TransformerEncoderLayer/TransformerEncoder and scaled_dot_product_attention:
parity with PyTorch (outputs, attention weights, input and parameter gradients, masks), state_dict names,
dropout modes, errors, and a small training run."""

from __future__ import annotations

import numpy as np
import pytest
from parity_helpers import adam as _adam
from parity_helpers import close as _close
from parity_helpers import copy_to_torch as _copy_to_torch

import ember
from ember import nn

E, HEADS, L, S, N = 8, 2, 5, 6, 3


def _masks(rng, which: str, batch: int = N, length: int = L, source: int = S) -> dict:
    """Attention masks in MultiheadAttention's convention (True / -inf = blocked), no fully blocked row."""
    blocked = rng.random((length, source)) < 0.3
    blocked[:, 0] = False
    padding = np.zeros((batch, source), bool)
    padding[0, -2:] = True
    return {
        "none": {},
        "bool_attn": {"attn_mask": blocked},
        "float_attn": {"attn_mask": rng.standard_normal((length, source)).astype(np.float32)},
        "padding": {"key_padding_mask": padding},
        "both": {"attn_mask": blocked, "key_padding_mask": padding},
        "per_head": {"attn_mask": rng.standard_normal((batch * HEADS, length, source)).astype(np.float32)},
    }[which]


def _convert(masks: dict, to) -> dict:
    return {k: to(v) for k, v in masks.items()}


@pytest.mark.parametrize("masks", ["none", "bool_attn", "float_attn", "padding", "both", "per_head"])
@pytest.mark.parametrize("config", [{}, {"batch_first": True}, {"bias": False}, {"kdim": 4, "vdim": 3}],
                         ids=["default", "batch_first", "no_bias", "kdim_vdim"])
@pytest.mark.parametrize("average", [True, False])
def test_multihead_attention_matches_torch(config, masks, average):
    torch = pytest.importorskip("torch")
    ember.manual_seed(0)
    mha = nn.MultiheadAttention(E, HEADS, **config)
    ref = torch.nn.MultiheadAttention(E, HEADS, **config)
    _copy_to_torch(mha, ref)
    rng = np.random.default_rng(0)

    def shape(length, dim):
        return (N, length, dim) if config.get("batch_first") else (length, N, dim)

    arrays = [rng.standard_normal(shape(L, E)), rng.standard_normal(shape(S, config.get("kdim", E))),
              rng.standard_normal(shape(S, config.get("vdim", E)))]
    arrays = [a.astype(np.float32) for a in arrays]
    mask_arrays = _masks(rng, masks)
    qkv_e = [ember.tensor(a, requires_grad=True) for a in arrays]
    qkv_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    out_e, w_e = mha(*qkv_e, average_attn_weights=average, **_convert(mask_arrays, ember.tensor))
    out_t, w_t = ref(*qkv_t, average_attn_weights=average, **_convert(mask_arrays, torch.tensor))
    _close(out_e, out_t)
    _close(w_e, w_t)
    g = rng.standard_normal(out_t.shape).astype(np.float32)
    ((out_e * ember.tensor(g)).sum() + (w_e * w_e).sum()).backward()
    ((out_t * torch.tensor(g)).sum() + (w_t * w_t).sum()).backward()
    for a, b in zip(qkv_e, qkv_t):
        _close(a.grad, b.grad)
    torch_params = dict(ref.named_parameters())
    for name, p in mha.named_parameters():
        _close(p.grad, torch_params[name].grad)


def test_self_attention_unbatched_and_need_weights_false():
    torch = pytest.importorskip("torch")
    mha = nn.MultiheadAttention(E, HEADS)
    ref = torch.nn.MultiheadAttention(E, HEADS)
    _copy_to_torch(mha, ref)
    x = np.random.default_rng(1).standard_normal((L, E)).astype(np.float32)
    padding = np.array([False] * (L - 1) + [True])
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_e, w_e = mha(xe, xe, xe, key_padding_mask=ember.tensor(padding))
    out_t, w_t = ref(xt, xt, xt, key_padding_mask=torch.tensor(padding))
    assert w_e.shape == (L, L)
    _close(out_e, out_t)
    _close(w_e, w_t)
    out_e.sum().backward()
    out_t.sum().backward()
    _close(xe.grad, xt.grad)
    out, weights = mha(xe, xe, xe, need_weights=False)
    assert weights is None and out.shape == (L, E)


def test_is_causal_builds_the_causal_mask():
    mha = nn.MultiheadAttention(E, HEADS).eval()
    x = ember.randn(L, N, E)
    causal = ember.tensor(np.triu(np.ones((L, L), bool), k=1))
    with ember.no_grad():
        out_a, w_a = mha(x, x, x, attn_mask=causal)
        out_b, w_b = mha(x, x, x, is_causal=True)
    np.testing.assert_allclose(out_a.numpy(), out_b.numpy(), atol=1e-6)
    assert np.all(np.triu(w_b.numpy()[0], k=1) == 0)


def test_state_dict_names_match_torch():
    torch = pytest.importorskip("torch")
    ref_mha = torch.nn.MultiheadAttention(E, HEADS)
    assert list(nn.MultiheadAttention(E, HEADS).state_dict()) == list(ref_mha.state_dict())
    layer = nn.TransformerEncoderLayer(E, HEADS, 16)
    ref = torch.nn.TransformerEncoderLayer(E, HEADS, 16)
    assert list(layer.state_dict()) == list(ref.state_dict())
    encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E))
    ref_encoder = torch.nn.TransformerEncoder(ref, 2, norm=torch.nn.LayerNorm(E), enable_nested_tensor=False)
    assert list(encoder.state_dict()) == list(ref_encoder.state_dict())


def test_multihead_attention_initialisation():
    ember.manual_seed(0)
    mha = nn.MultiheadAttention(64, 4)
    bound = np.sqrt(6 / (64 + 3 * 64))  # xavier_uniform_ on the (3E, E) in_proj_weight
    w = mha.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and w.std() > bound / 3
    assert not mha.in_proj_bias.detach().numpy().any() and not mha.out_proj.bias.detach().numpy().any()


@pytest.mark.parametrize("config", [
    {},
    {"norm_first": True, "activation": "gelu", "batch_first": True},
    {"activation": "gelu", "bias": False},
], ids=["post_norm_relu", "pre_norm_gelu_batch_first", "no_bias"])
def test_transformer_encoder_matches_torch(config):
    torch = pytest.importorskip("torch")
    ember.manual_seed(0)
    # Dropout 0 and training mode keep PyTorch on its reference (non-fused) path.
    layer = nn.TransformerEncoderLayer(E, HEADS, 16, dropout=0.0, **config)
    encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E))
    ref = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, HEADS, 16, dropout=0.0, **config), 2,
                                      norm=torch.nn.LayerNorm(E), enable_nested_tensor=False)
    _copy_to_torch(encoder, ref)
    rng = np.random.default_rng(2)
    shape = (N, L, E) if config.get("batch_first") else (L, N, E)
    x = rng.standard_normal(shape).astype(np.float32)
    padding = np.zeros((N, L), np.float32)
    padding[1, -2:] = -np.inf
    causal = np.triu(np.full((L, L), -np.inf, np.float32), k=1)
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_e = encoder(xe, mask=ember.tensor(causal), src_key_padding_mask=ember.tensor(padding))
    out_t = ref(xt, mask=torch.tensor(causal), src_key_padding_mask=torch.tensor(padding))
    _close(out_e, out_t)
    g = rng.standard_normal(out_t.shape).astype(np.float32)
    (out_e * ember.tensor(g)).sum().backward()
    (out_t * torch.tensor(g)).sum().backward()
    _close(xe.grad, xt.grad)
    torch_params = dict(ref.named_parameters())
    for name, p in encoder.named_parameters():
        _close(p.grad, torch_params[name].grad)



@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
def test_transformer_encoder_nested_tensor_flag_keeps_every_position():
    # enable_nested_tensor and mask_check were taken and dropped (no attributes); they are kept and change nothing:
    # PyTorch's nested path gives the unpadded positions, its path with gradients the padded ones too
    torch = pytest.importorskip("torch")
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, HEADS, 16, dropout=0.0, batch_first=True), 2,
                                    enable_nested_tensor=False, mask_check=False).eval()
    assert (encoder.enable_nested_tensor, encoder.mask_check) == (False, False)
    ref = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, HEADS, 16, dropout=0.0, batch_first=True),
                                      2).eval()
    assert ref.enable_nested_tensor and ref.mask_check
    _copy_to_torch(encoder, ref)
    x = np.random.default_rng(9).standard_normal((N, L, E)).astype(np.float32)
    padding = np.zeros((N, L), bool)
    padding[:, -2:] = True
    got = encoder(ember.tensor(x), src_key_padding_mask=ember.tensor(padding)).detach().numpy()
    with torch.no_grad():
        nested = ref(torch.tensor(x), src_key_padding_mask=torch.tensor(padding)).numpy()
    with_grad = ref(torch.tensor(x, requires_grad=True), src_key_padding_mask=torch.tensor(padding)).detach().numpy()
    assert not nested[padding].any()
    np.testing.assert_allclose(got[~padding], nested[~padding], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, with_grad, rtol=1e-5, atol=1e-5)

def test_dropout_active_only_in_training():
    ember.manual_seed(0)
    layer = nn.TransformerEncoderLayer(E, HEADS, 16, dropout=0.5)
    x = ember.randn(L, N, E)
    with ember.no_grad():
        layer.eval()
        a, b = layer(x), layer(x)
        layer.train()
        c = layer(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), c.numpy())


@pytest.mark.parametrize("case", ["plain", "bool_mask", "float_mask", "causal", "scale", "unbatched"])
def test_scaled_dot_product_attention_matches_torch(case):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    lead = () if case == "unbatched" else (2, 3)
    q, k, v = (rng.standard_normal(lead + shape).astype(np.float32) for shape in ((L, 4), (S, 4), (S, 7)))
    allowed = rng.random((L, S)) < 0.7
    allowed[:, 0] = True
    kwargs = {
        "plain": {}, "unbatched": {}, "causal": {"is_causal": True}, "scale": {"scale": 0.3},
        "bool_mask": {"attn_mask": allowed},
        "float_mask": {"attn_mask": rng.standard_normal((L, S)).astype(np.float32)},
    }[case]

    def convert(kw, to):
        return {key: to(value) if isinstance(value, np.ndarray) else value for key, value in kw.items()}

    ins_e = [ember.tensor(a, requires_grad=True) for a in (q, k, v)]
    ins_t = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    out_e = nn.scaled_dot_product_attention(*ins_e, **convert(kwargs, ember.tensor))
    out_t = torch.nn.functional.scaled_dot_product_attention(*ins_t, **convert(kwargs, torch.tensor))
    _close(out_e, out_t)
    (out_e * out_e).sum().backward()
    (out_t * out_t).sum().backward()
    for a, b in zip(ins_e, ins_t):
        _close(a.grad, b.grad)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_scaled_dot_product_attention_low_precision_rounds_once_as_torch(dtype):
    # float16 / bfloat16 scores, weights and products were each rounded to the dtype: 46% of the outputs off the
    # math backend's (which computes in float32 and rounds once), a 1.5x larger mean error
    torch = pytest.importorskip("torch")
    from torch.nn.attention import SDPBackend, sdpa_kernel

    rng = np.random.default_rng(9)
    arrays = [rng.standard_normal((2, 3, 16, 32)).astype(np.float32) for _ in range(3)]
    ins_t = [torch.tensor(a).to(getattr(torch, dtype)).requires_grad_() for a in arrays]
    ins_e = [ember.tensor(a).to(dtype).requires_grad_() for a in arrays]
    with sdpa_kernel(SDPBackend.MATH):
        out_t = torch.nn.functional.scaled_dot_product_attention(*ins_t, is_causal=True)
    out_e = nn.scaled_dot_product_attention(*ins_e, is_causal=True)
    assert out_e.dtype == dtype
    grad = rng.standard_normal(out_e.shape).astype(np.float32)
    out_t.backward(torch.tensor(grad).to(out_t.dtype))
    out_e.backward(ember.tensor(grad).to(dtype))
    for got, want in [(out_e, out_t)] + [(a.grad, b.grad) for a, b in zip(ins_e, ins_t)]:
        got, want = got.detach().float().numpy(), want.detach().float().numpy()
        assert np.mean(got != want) < 0.005
        np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-2)
    with torch.autocast("cpu", dtype=torch.bfloat16), sdpa_kernel(SDPBackend.MATH):
        out_t = torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, arrays), is_causal=True)
    with ember.autocast("cpu", dtype=ember.bfloat16):
        out_e = nn.scaled_dot_product_attention(*map(ember.tensor, arrays), is_causal=True)
    assert np.mean(out_e.float().numpy() != out_t.float().numpy()) < 0.005  # (autocast: bfloat16 inputs alike)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_multihead_attention_without_weights_low_precision_as_torch(dtype):
    # need_weights=False is PyTorch's scaled_dot_product_attention, float32 inside: the attention was rounded to
    # float16 / bfloat16 at each step, 54% (57%) of the outputs off the math backend's
    torch = pytest.importorskip("torch")
    from torch.nn.attention import SDPBackend, sdpa_kernel

    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(64, 4, batch_first=True).to(getattr(torch, dtype))
    ours = nn.MultiheadAttention(64, 4, batch_first=True, dtype=dtype)
    ours.load_state_dict({k: ember.tensor(v.float().numpy()).to(dtype) for k, v in theirs.state_dict().items()})
    x = torch.randn(2, 16, 64).to(theirs.in_proj_weight.dtype)
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        want = theirs(x, x, x, need_weights=False)[0].float().numpy()
    x = ember.tensor(x.float().numpy()).to(dtype)
    got = ours(x, x, x, need_weights=False)[0].detach().float().numpy()
    assert np.mean(got != want) < 0.002


def test_bool_masks_passed_to_jit_are_applied():
    # a bool mask given as a traced argument was read as a 0-d constant: SDPA ignored it (1.2 off the eager
    # result), MultiheadAttention refused its key_padding_mask's shape as []
    rng = np.random.default_rng(8)
    q, k, v = (ember.tensor(rng.standard_normal((2, length, 4))) for length in (L, S, S))
    sdpa = ember.jit(lambda q, k, v, m: nn.scaled_dot_product_attention(q, k, v, attn_mask=m))
    mha = nn.MultiheadAttention(E, HEADS, batch_first=True)
    x = ember.tensor(rng.standard_normal((N, L, E)).astype(np.float32))
    attend = ember.jit(lambda x, m, p: mha(x, x, x, attn_mask=m, key_padding_mask=p))
    for _ in range(2):
        allowed = ember.tensor(rng.random((L, S)) < 0.5)
        np.testing.assert_allclose(sdpa(q, k, v, allowed).numpy(),
                                   nn.scaled_dot_product_attention(q, k, v, attn_mask=allowed).numpy(), rtol=1e-12)
        blocked, padding = _masks(rng, "both", length=L, source=L).values()
        blocked, padding = ember.tensor(blocked), ember.tensor(padding)
        for got, want in zip(attend(x, blocked, padding), mha(x, x, x, attn_mask=blocked, key_padding_mask=padding)):
            np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_scaled_dot_product_attention_of_empty_embeddings_averages_values():
    # E = 0 raised ZeroDivisionError computing the default scale; PyTorch's scores are all 0
    torch = pytest.importorskip("torch")
    q, k, v = np.zeros((2, 4, 0), np.float32), np.zeros((2, 5, 0), np.float32), np.ones((2, 5, 3), np.float32)
    v[:, 1] = 6
    out = nn.scaled_dot_product_attention(ember.tensor(q), ember.tensor(k), ember.tensor(v), is_causal=True)
    want = torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, (q, k, v)), is_causal=True)
    _close(out, want)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="multiple of"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(E, HEADS)
    x = ember.randn(L, N, E)
    with pytest.raises(ValueError, match="attn_mask"):
        mha(x, x, x, attn_mask=ember.zeros(L, L + 1))
    with pytest.raises(ValueError, match="key_padding_mask"):
        mha(x, x, x, key_padding_mask=ember.zeros(L, N, dtype=ember.bool))
    # an integer mask's error named neither the op nor the argument ("attention: masks must be ...")
    with pytest.raises(TypeError, match="MultiheadAttention: key_padding_mask must be bool or floating, got int64"):
        mha(x, x, x, key_padding_mask=ember.zeros(N, L, dtype=ember.int64))
    with pytest.raises(TypeError, match="MultiheadAttention: attn_mask must be bool or floating, got int32"):
        mha(x, x, x, attn_mask=ember.zeros(L, L, dtype=ember.int32))
    with pytest.raises(TypeError, match="scaled_dot_product_attention: attn_mask must be bool or floating"):
        nn.scaled_dot_product_attention(x, x, x, attn_mask=ember.zeros(N, N, dtype=ember.int64))
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(E, HEADS, activation="swish")
    with pytest.raises(ValueError, match="TransformerDecoderLayer: activation"):  # (it named the encoder layer)
        nn.TransformerDecoderLayer(E, HEADS, activation="swish")
    with pytest.raises(ValueError, match="not both"):
        nn.scaled_dot_product_attention(x, x, x, attn_mask=ember.ones(N, N, dtype=ember.bool), is_causal=True)
    # as PyTorch: query, key and value of different dtypes were promoted silently (a float64 result)
    with pytest.raises(TypeError, match="one dtype, got float32, float64 and float32"):
        nn.scaled_dot_product_attention(x, x.to(ember.float64), x)
    with ember.autocast("cpu", dtype=ember.bfloat16):  # where autocast makes them one dtype
        assert nn.scaled_dot_product_attention(x, x.to(ember.bfloat16), x).dtype == ember.bfloat16


def test_transformer_layer_learns_to_sort():
    """One encoder layer with learned positions sorts 6 tokens from a vocabulary of 8: >= 97% of tokens."""
    ember.manual_seed(0)
    rng = np.random.default_rng(0)
    vocab, length, dim = 8, 6, 32

    class Sorter(nn.Module):
        def __init__(self):
            super().__init__()
            self.tokens = nn.Embedding(vocab, dim)
            self.positions = nn.Parameter(ember.randn(length, dim) * 0.5)
            self.encoder = nn.TransformerEncoderLayer(dim, 4, 64, dropout=0.0, batch_first=True)
            self.head = nn.Linear(dim, vocab)

        def forward(self, x):
            return self.head(self.encoder(self.tokens(x) + self.positions))

    net = Sorter()
    params = list(net.parameters())
    state: dict = {}
    for step in range(1, 301):
        x = rng.integers(0, vocab, (64, length))
        logits = net(ember.tensor(x))
        loss = ember.cross_entropy(logits.reshape(-1, vocab), ember.tensor(np.sort(x, axis=1).reshape(-1)))
        net.zero_grad()
        loss.backward()
        _adam(params, state, step)
    x = rng.integers(0, vocab, (500, length))
    with ember.no_grad():
        predicted = net.eval()(ember.tensor(x)).numpy().argmax(-1)
    assert (predicted == np.sort(x, axis=1)).mean() >= 0.97
