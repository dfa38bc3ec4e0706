"""F.multi_head_attention_forward against PyTorch's, with its full signature (packed or separate projection weights,
bias_k/bias_v, add_zero_attn, masks, static keys and values, need_weights, average_attn_weights, is_causal, dropout):
values and gradients for every tensor argument; nn.MultiheadAttention's add_bias_kv and add_zero_attn, which run
the same function."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.nn.functional as F  # noqa: E402

E, HEADS, L, S, N, KDIM, VDIM = 8, 2, 4, 5, 3, 6, 5
D = E // HEADS


def _arrays(case: dict, rng) -> dict:
    """The tensor arguments of one case, float64 (None where the case leaves them out)."""
    separate = case.get("separate", False)
    batched = case.get("batched", True)
    lead = (N,) if batched else ()

    def seq(length, dim):
        return rng.standard_normal((length, *lead, dim))

    a = {"query": seq(L, E), "key": seq(S, KDIM if separate else E), "value": seq(S, VDIM if separate else E)}
    if separate:
        a.update(q_proj_weight=rng.standard_normal((E, E)) * 0.5, k_proj_weight=rng.standard_normal((E, KDIM)) * 0.5,
                 v_proj_weight=rng.standard_normal((E, VDIM)) * 0.5)
    else:
        a["in_proj_weight"] = rng.standard_normal((3 * E, E)) * 0.5
    if case.get("bias", True):
        a.update(in_proj_bias=rng.standard_normal(3 * E), out_proj_bias=rng.standard_normal(E))
    a["out_proj_weight"] = rng.standard_normal((E, E)) * 0.5
    if case.get("bias_kv"):
        a.update(bias_k=rng.standard_normal((1, 1, E)), bias_v=rng.standard_normal((1, 1, E)))
    if case.get("static"):
        a.update(static_k=rng.standard_normal((N * HEADS, S, D)), static_v=rng.standard_normal((N * HEADS, S, D)))
    return a


def _masks(case: dict, rng) -> dict:
    """Masks in MultiheadAttention's convention (True / -inf: blocked), no row blocked whole."""
    out = {}
    kind = case.get("attn_mask")
    if kind == "bool":
        blocked = rng.random((L, S)) < 0.3
        blocked[:, 0] = False
        out["attn_mask"] = blocked
    elif kind == "float":
        out["attn_mask"] = rng.standard_normal((L, S))
    elif kind == "per_head":
        out["attn_mask"] = rng.standard_normal((N * HEADS, L, S))
    if case.get("padding") and kind in ("float", "per_head"):  # (PyTorch warns on a bool one beside a float one)
        out["key_padding_mask"] = np.where(_padding(case), -np.inf, 0.0)
        return out
    elif kind == "causal":
        out["attn_mask"] = np.triu(np.ones((L, S), bool), k=1)
    if case.get("padding"):
        out["key_padding_mask"] = _padding(case)
    return out


def _padding(case: dict) -> np.ndarray:
    padding = np.zeros((N, S), bool) if case.get("batched", True) else np.zeros(S, bool)
    padding[..., -2:] = True
    return padding


def _run(module, case: dict, arrays: dict, masks: dict, self_attention: bool):
    tensor = ember.tensor if module is ember else torch.tensor
    leaves = {k: tensor(v, requires_grad=True) for k, v in arrays.items()}
    q = leaves["query"]
    k, v = (q, q) if self_attention else (leaves["key"], leaves["value"])
    function = F.multi_head_attention_forward if module is ember else torch.nn.functional.multi_head_attention_forward
    out, weights = function(
        q, k, v, E, HEADS, leaves.get("in_proj_weight"), leaves.get("in_proj_bias"), leaves.get("bias_k"),
        leaves.get("bias_v"), case.get("add_zero_attn", False), 0.0, leaves["out_proj_weight"],
        leaves.get("out_proj_bias"), training=True, need_weights=case.get("need_weights", True),
        use_separate_proj_weight=case.get("separate", False), q_proj_weight=leaves.get("q_proj_weight"),
        k_proj_weight=leaves.get("k_proj_weight"), v_proj_weight=leaves.get("v_proj_weight"),
        static_k=leaves.get("static_k"), static_v=leaves.get("static_v"),
        average_attn_weights=case.get("average", True), is_causal=case.get("is_causal", False),
        **{name: tensor(m) for name, m in masks.items()})
    return out, weights, leaves


CASES = {
    "packed": {},
    "self_attention": {"self": True},
    "separate_weights": {"separate": True},
    "no_biases": {"bias": False},
    "bias_kv": {"bias_kv": True},
    "zero_attn": {"add_zero_attn": True},
    "bias_kv_zero_attn_masks": {"bias_kv": True, "add_zero_attn": True, "attn_mask": "bool", "padding": True},
    "bool_mask": {"attn_mask": "bool"},
    "float_mask": {"attn_mask": "float", "average": False},
    "per_head_mask_padding": {"attn_mask": "per_head", "padding": True},
    "padding_no_weights": {"padding": True, "need_weights": False},
    "static_kv": {"static": True, "attn_mask": "float"},
    "static_kv_zero_attn": {"static": True, "add_zero_attn": True, "padding": True},
    "unbatched": {"batched": False, "padding": True},
    "unbatched_heads": {"batched": False, "average": False, "attn_mask": "bool"},
    "causal_hint": {"is_causal": True, "attn_mask": "causal", "need_weights": False},
    "causal_hint_with_weights": {"is_causal": True, "attn_mask": "float"},
    "causal_hint_with_padding": {"is_causal": True, "attn_mask": "bool", "padding": True, "need_weights": False},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_multi_head_attention_forward_matches_torch(name):
    case = CASES[name]
    rng = np.random.default_rng(0)
    arrays, masks = _arrays(case, rng), _masks(case, rng)
    if case.get("self"):
        arrays.pop("key"), arrays.pop("value")
    ours, our_weights, our_leaves = _run(ember, case, arrays, masks, case.get("self", False))
    theirs, their_weights, their_leaves = _run(torch, case, arrays, masks, case.get("self", False))
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    if case.get("need_weights", True):
        assert our_weights.shape == tuple(their_weights.shape)
        np.testing.assert_allclose(our_weights.detach().numpy(), their_weights.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
    else:
        assert our_weights is None and their_weights is None
    gy = rng.standard_normal(ours.shape)
    loss = (ours * ember.tensor(gy)).sum()
    their_loss = (theirs * torch.tensor(gy)).sum()
    if our_weights is not None:
        gw = rng.standard_normal(our_weights.shape)
        loss = loss + (our_weights * ember.tensor(gw)).sum()
        their_loss = their_loss + (their_weights * torch.tensor(gw)).sum()
    loss.backward()
    their_loss.backward()
    for key in our_leaves:
        mine, expected = our_leaves[key].grad, their_leaves[key].grad
        if expected is None:  # static_k and static_v stand in for the projected key and value
            assert mine is None or not mine.numpy().any(), key
            continue
        np.testing.assert_allclose(mine.numpy(), expected.numpy(), rtol=1e-9, atol=1e-11, err_msg=key)


def test_dropout_drops_weights_in_training_only():
    rng = np.random.default_rng(1)
    a = {k: ember.tensor(v) for k, v in _arrays({}, rng).items()}
    args = (a["query"], a["key"], a["value"], E, HEADS, a["in_proj_weight"], a["in_proj_bias"], None, None, False,
            0.5, a["out_proj_weight"], a["out_proj_bias"])
    _, plain = F.multi_head_attention_forward(*args[:10], 0.0, *args[11:], average_attn_weights=False)
    _, off = F.multi_head_attention_forward(*args, training=False, average_attn_weights=False)
    np.testing.assert_array_equal(off.numpy(), plain.numpy())
    ember.manual_seed(0)
    _, dropped = F.multi_head_attention_forward(*args, average_attn_weights=False)
    dropped, plain = dropped.numpy(), plain.numpy()
    kept = dropped != 0
    assert 0.2 < kept.mean() < 0.8
    np.testing.assert_allclose(dropped[kept], 2 * plain[kept], rtol=1e-6)


@pytest.mark.parametrize("config", [{"add_bias_kv": True}, {"add_zero_attn": True},
                                    {"add_bias_kv": True, "add_zero_attn": True, "batch_first": True}])
def test_multihead_attention_module_bias_kv_and_zero_attn_match_torch(config):
    ember.manual_seed(0)
    ours = ember.nn.MultiheadAttention(E, HEADS, **config).double()
    theirs = torch.nn.MultiheadAttention(E, HEADS, **config).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if config.get("add_bias_kv"):
        assert tuple(ours.bias_k.shape) == (1, 1, E) and float(ours.bias_k.abs().sum()) > 0
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(2)
    shape = (N, L, E) if config.get("batch_first") else (L, N, E)
    x, padding = rng.standard_normal(shape), np.zeros((N, L), bool)
    padding[0, -1] = True
    a, b = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, w = ours(a, a, a, key_padding_mask=ember.tensor(padding))
    ref, ref_w = theirs(b, b, b, key_padding_mask=torch.tensor(padding))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.detach().numpy(), ref_w.detach().numpy(), rtol=1e-10, atol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-11)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("config", [{"add_bias_kv": True}, {"add_zero_attn": True, "batch_first": True}])
def test_multihead_attention_module_reads_the_is_causal_hint_as_torch(config):
    """With the hint, a causal attn_mask and neither padding nor weights, PyTorch's causal mask stands in for the
    given one and so covers the bias_k and zero keys too (the module attended them: 0.3 off)."""
    ember.manual_seed(0)
    ours = ember.nn.MultiheadAttention(E, HEADS, **config).double().eval()
    theirs = torch.nn.MultiheadAttention(E, HEADS, **config).double().eval()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(5).standard_normal((N, L, E) if config.get("batch_first") else (L, N, E))
    causal = np.triu(np.ones((L, L), bool), k=1)
    a, b = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, _ = ours(a, a, a, attn_mask=ember.tensor(causal), need_weights=False, is_causal=True)
    ref, _ = theirs(b, b, b, attn_mask=torch.tensor(causal), need_weights=False, is_causal=True)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_multi_head_attention_forward_traces_under_jit():
    rng = np.random.default_rng(3)
    a = {k: ember.tensor(v) for k, v in _arrays({"bias_kv": True}, rng).items()}
    mask = ember.tensor(rng.standard_normal((L, S)))

    def step(query, key, value):
        out, weights = F.multi_head_attention_forward(
            query, key, value, E, HEADS, a["in_proj_weight"], a["in_proj_bias"], a["bias_k"], a["bias_v"], True,
            0.0, a["out_proj_weight"], a["out_proj_bias"], attn_mask=mask)
        return out.sum() + weights.sum()

    args = [a["query"], a["key"], a["value"]]
    eager = step(*args)
    traced = ember.jit(step)
    for _ in range(2):
        got = traced(*args)
    np.testing.assert_allclose(got.numpy(), eager.numpy(), rtol=1e-12)


def _call_with(**changes):
    rng = np.random.default_rng(4)
    a = {k: ember.tensor(v) for k, v in _arrays({}, rng).items()}
    kwargs = dict(query=a["query"], key=a["key"], value=a["value"], embed_dim_to_check=E, num_heads=HEADS,
                  in_proj_weight=a["in_proj_weight"], in_proj_bias=a["in_proj_bias"], bias_k=None, bias_v=None,
                  add_zero_attn=False, dropout_p=0.0, out_proj_weight=a["out_proj_weight"],
                  out_proj_bias=a["out_proj_bias"])
    kwargs.update(changes)
    return lambda: F.multi_head_attention_forward(**kwargs)


@pytest.mark.parametrize("call, error, words", [
    (_call_with(embed_dim_to_check=6), ValueError, ["multi_head_attention_forward", "embed_dim_to_check", "6"]),
    (_call_with(num_heads=3), ValueError, ["num_heads (3)"]),
    (_call_with(is_causal=True), RuntimeError, ["is_causal", "attn_mask"]),
    (_call_with(attn_mask=ember.zeros(L, L)), ValueError, ["attn_mask", f"({L}, {S})", f"[{L}, {L}]"]),
    (_call_with(key_padding_mask=ember.zeros(N, L, dtype=ember.bool)), ValueError,
     ["key_padding_mask", f"({N}, {S})"]),
    (_call_with(in_proj_weight=ember.zeros(E, E)), ValueError, ["in_proj_weight", f"({3 * E}, {E})"]),
    (_call_with(use_separate_proj_weight=True), ValueError, ["q_proj_weight"]),
    (_call_with(bias_k=ember.zeros(1, 1, E)), ValueError, ["bias_k and bias_v"]),
    (_call_with(static_k=ember.zeros(N, S, D)), ValueError, ["static_k", f"({N * HEADS}, S, {D})"]),
    (_call_with(key=ember.zeros(S, N + 1, E), value=ember.zeros(S, N + 1, E)), ValueError, ["key and value"]),
])
def test_multi_head_attention_forward_refuses_bad_arguments(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_signatures_are_torchs():
    import inspect

    def names(f):
        return list(inspect.signature(f).parameters)

    assert names(F.multi_head_attention_forward) == names(torch.nn.functional.multi_head_attention_forward)
    assert names(ember.nn.MultiheadAttention.__init__) == names(torch.nn.MultiheadAttention.__init__)


def _blocked_masks():
    """A bool mask (True: attend) with query 1 blocked from every key, and its additive form."""
    allowed = np.tril(np.ones((L, S), bool))
    allowed[1] = False
    return allowed, np.where(allowed, 0.0, -np.inf)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_scaled_dot_product_attention_gives_a_fully_blocked_query_zeros_as_torch(kind):
    """PyTorch's safe softmax: a query the mask blocks from every key gets zeros and sends no gradient (a plain
    softmax gives NaN, which then spreads through the backward to every input)."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((N, HEADS, L, D)), rng.standard_normal((N, HEADS, S, D)),
              rng.standard_normal((N, HEADS, S, D))]
    mask = _blocked_masks()[0 if kind == "bool" else 1]
    ours = [ember.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = F.scaled_dot_product_attention(*ours, attn_mask=ember.tensor(mask))
    expected = torch.nn.functional.scaled_dot_product_attention(*theirs, attn_mask=torch.tensor(mask))
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert not y.detach().numpy()[:, :, 1].any()
    g = rng.standard_normal(tuple(expected.shape))
    (y * ember.tensor(g)).sum().backward()
    (expected * torch.tensor(g)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-14)

    def step(q, k, v):
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=ember.tensor(mask))
        out.sum().backward()
        return out, q.grad

    traced = ember.jit(step)
    for _ in range(2):
        out, grad = traced(*[ember.tensor(a, requires_grad=True) for a in arrays])
    assert np.isfinite(grad.numpy()).all()
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # the NaN softmax of need_weights=True
@pytest.mark.parametrize("need_weights", [False, True])
def test_multihead_attention_of_a_fully_padded_sequence_matches_torch(need_weights):
    """Without weights PyTorch attends by scaled_dot_product_attention (zeros for a query with no key left); with
    them by a plain softmax (NaN); a TransformerEncoderLayer asks for none, so its output stays finite."""
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, HEADS).double()
    ours = ember.nn.MultiheadAttention(E, HEADS).double()
    ours.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((S, N, E))
    padding = np.zeros((N, S), bool)
    padding[1] = True
    y = ours(*[ember.tensor(x)] * 3, key_padding_mask=ember.tensor(padding), need_weights=need_weights)[0]
    expected = theirs(*[torch.tensor(x)] * 3, key_padding_mask=torch.tensor(padding), need_weights=need_weights)[0]
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    theirs = torch.nn.TransformerEncoderLayer(E, HEADS, 16, dropout=0.0).double()
    ours = ember.nn.TransformerEncoderLayer(E, HEADS, 16, dropout=0.0).double()
    ours.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    a, b = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = ours(a, src_key_padding_mask=ember.tensor(padding))
    expected = theirs(b, src_key_padding_mask=torch.tensor(padding))
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    y.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
