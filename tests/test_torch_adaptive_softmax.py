"""AdaptiveLogSoftmaxWithLoss against torch.nn: structure (repr, state-dict keys and shapes), the (output, loss) named
tuple, log_prob and predict, gradients of every parameter, unbatched inputs, errors and ``ember.jit`` for log_prob."""

import numpy as np
import pytest

import ember
from ember import nn

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")  # torch's, for a 0-wide cluster


def _pair(*args, **kwargs):
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(*args, **kwargs).double()
    ours = nn.AdaptiveLogSoftmaxWithLoss(*args, **kwargs, dtype=ember.float64)
    ours.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


_CONFIGS = [((8, 10, [4, 7]), {"div_value": 2.0}), ((16, 50, [5, 20, 30]), {}),
            ((6, 9, [3]), {"head_bias": True}), ((12, 30, [10, 11]), {"div_value": 1.5, "head_bias": True})]


@pytest.mark.parametrize("args,kwargs", _CONFIGS)
def test_adaptive_log_softmax_matches_torch_with_its_gradients(args, kwargs):
    ours, theirs = _pair(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, args[0]))
    target = rng.integers(0, args[1], 20)
    target[:2] = [0, args[1] - 1]
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(ex, ember.tensor(target)), theirs(tx, torch.tensor(target))
    assert type(out).__name__ == "ASMoutput" and out._fields == ("output", "loss")
    np.testing.assert_allclose(out.output.detach().numpy(), expected.output.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(out.loss.detach().numpy(), expected.loss.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("args,kwargs", _CONFIGS)
def test_adaptive_log_softmax_gradients_match_torch(args, kwargs):
    ours, theirs = _pair(*args, **kwargs)
    rng = np.random.default_rng(1)
    x, target, weights = rng.standard_normal((15, args[0])), rng.integers(0, args[1], 15), rng.standard_normal(15)
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(ex, ember.tensor(target)), theirs(tx, torch.tensor(target))
    (out.loss + (out.output * ember.tensor(weights)).sum()).backward()
    (expected.loss + (expected.output * torch.tensor(weights)).sum()).backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-13)
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        if their_params[name].grad is None:  # a cluster no target fell in
            assert p.grad is None or not p.grad.numpy().any()
            continue
        np.testing.assert_allclose(p.grad.numpy(), their_params[name].grad.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("args,kwargs", _CONFIGS)
def test_log_prob_and_predict_match_torch(args, kwargs):
    ours, theirs = _pair(*args, **kwargs)
    x = np.random.default_rng(2).standard_normal((25, args[0])) * 3
    log_prob = ours.log_prob(ember.tensor(x, requires_grad=True))
    expected = theirs.log_prob(torch.tensor(x))
    np.testing.assert_allclose(log_prob.detach().numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(np.exp(log_prob.detach().numpy()).sum(1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(ours.predict(ember.tensor(x)).numpy(), theirs.predict(torch.tensor(x)).numpy())
    np.testing.assert_allclose(ours.log_prob(ember.tensor(x[0])).detach().numpy(),
                               expected[0].detach().numpy(), rtol=1e-12)
    assert ours.predict(ember.tensor(x[3])).shape == ()


def test_unbatched_input_and_target_give_a_scalar_output_as_torch():
    ours, theirs = _pair(8, 10, [4, 7])
    x = np.random.default_rng(3).standard_normal(8)
    out, expected = ours(ember.tensor(x), ember.tensor(8)), theirs(torch.tensor(x), torch.tensor(8))
    assert out.output.shape == tuple(expected.output.shape) == ()
    np.testing.assert_allclose(out.output.detach().numpy(), expected.output.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(out.loss.detach().numpy(), expected.loss.detach().numpy(), rtol=1e-12)


def test_adaptive_log_softmax_refuses_bad_cutoffs_targets_and_shapes():
    for cutoffs in ([], [5, 3], [0, 4], [4, 10], [4, 4], [2.5]):
        with pytest.raises(ValueError, match="AdaptiveLogSoftmaxWithLoss: cutoffs must be unique, increasing ints"):
            nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs)
    asm = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [4])
    with pytest.raises(ValueError, match=r"targets must be in \[0, 9\], got values in \[0, 10\]"):
        asm(ember.randn(2, 8), ember.tensor([0, 10]))
    with pytest.raises(ValueError, match=r"the target must be \(N,\) .* got target shape \[3\] and input shape"):
        asm(ember.randn(2, 8), ember.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"AdaptiveLogSoftmaxWithLoss.log_prob: input must be \(N, 8\) or \(8,\)"):
        asm.log_prob(ember.randn(2, 7))


def test_adaptive_log_softmax_trains_and_its_log_prob_traces_under_jit():
    asm = nn.AdaptiveLogSoftmaxWithLoss(8, 12, [3, 6])
    sgd = ember.optim.SGD(asm.parameters(), lr=0.5)
    x, target = ember.randn(32, 8), ember.randint(0, 12, (32,))
    first = asm(x, target).loss.item()
    for _ in range(20):
        sgd.zero_grad()
        asm(x, target).loss.backward()
        sgd.step()
    assert asm(x, target).loss.item() < first
    np.testing.assert_allclose(ember.jit(lambda x: asm.log_prob(x))(x).numpy(), asm.log_prob(x).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="AdaptiveLogSoftmaxWithLoss: rows are routed to clusters"):
        ember.jit(lambda x, t: asm(x, t).loss)(x, target)
