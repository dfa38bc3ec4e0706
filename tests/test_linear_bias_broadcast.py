"""linear's bias broadcasts as PyTorch's does (the product's rows for a 2-d input or a bias with one dimension other
than 1, else the output), in eager mode, under ember.jit, with gradients, and in ONNX export; the rest is refused
with one message in both modes."""

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F

ACCEPTED = [((2, 4), (1,)), ((2, 4), ()), ((2, 4), (1, 3)), ((2, 4), (2, 3)), ((2, 4), (2, 1)), ((2, 4), (1, 1)),
            ((5, 2, 4), ()), ((5, 2, 4), (1, 3)), ((5, 2, 4), (2, 3)), ((5, 2, 4), (1, 1)), ((5, 2, 4), (5, 1, 3)),
            ((5, 2, 4), (10, 1)), ((4,), (1, 3)), ((4,), ()), ((2, 5, 2, 4), (5, 1, 3))]
REFUSED = [((2, 4), (1, 2, 3)), ((2, 4), (4, 3)), ((5, 2, 4), (2, 1)), ((5, 2, 4), (1, 1, 3)), ((5, 2, 4), (10, 3)),
           ((4,), (1, 1)), ((4,), (3, 1)), ((4,), (2, 3)), ((2, 4), (2,))]


def _arrays(x_shape, bias_shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(x_shape), rng.standard_normal((3, 4)), rng.standard_normal(bias_shape)


@pytest.mark.parametrize("x_shape, bias_shape", ACCEPTED)
def test_a_broadcast_bias_gives_torchs_values_and_gradients_eagerly_and_under_jit(x_shape, bias_shape):
    x, w, b = _arrays(x_shape, bias_shape)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    expected = torch.nn.functional.linear(tx, tw, tb)
    (expected ** 2).sum().backward()

    def loss(xt, wt, bt):
        out = F.linear(xt, wt, bt)
        return out, ember.grad((out * out).sum(), [xt, wt, bt])

    for run in (loss, ember.jit(loss)):
        out, grads = run(*(ember.tensor(a, requires_grad=True) for a in (x, w, b)))
        np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
        for got, want in zip(grads, (tx.grad, tw.grad, tb.grad)):
            assert got.shape == tuple(want.shape)
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)


@pytest.mark.parametrize("x_shape, bias_shape", REFUSED)
def test_a_bias_torch_refuses_is_refused_with_one_message_in_both_modes(x_shape, bias_shape):
    x, w, b = _arrays(x_shape, bias_shape)
    with pytest.raises(RuntimeError):
        torch.nn.functional.linear(*map(torch.tensor, (x, w, b)))
    messages = []
    for run in (F.linear, ember.jit(F.linear)):
        with pytest.raises(ValueError, match="bias must broadcast to") as info:
            run(*map(ember.tensor, (x, w, b)))
        messages.append(str(info.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("x_shape, bias_shape", [((2, 4), (2, 1)), ((5, 2, 4), (10, 1)), ((5, 2, 4), (5, 1, 3)),
                                                 ((4,), (1, 3)), ((5, 2, 4), ())])
def test_onnx_export_of_a_broadcast_bias_matches_torch_in_onnxruntime(x_shape, bias_shape):
    ort = pytest.importorskip("onnxruntime")
    x, w, b = (a.astype(np.float32) for a in _arrays(x_shape, bias_shape))
    model = ember.onnx.export(lambda xt, bt: ember.nn.functional.relu(F.linear(xt, ember.tensor(w), bt)), (x, b))
    session = ort.InferenceSession(model.SerializeToString())
    (got,) = session.run(None, dict(zip([i.name for i in session.get_inputs()], (x, b))))
    expected = torch.relu(torch.nn.functional.linear(*map(torch.tensor, (x, w, b)))).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
