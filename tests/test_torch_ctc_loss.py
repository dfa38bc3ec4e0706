"""F.ctc_loss and nn.CTCLoss against PyTorch: values and gradients in float32 and float64 across reductions, target
layouts, blanks, lengths given as tuples, unbatched input and impossible alignments; and under ember.jit."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

T, N, C = 9, 4, 6
# padded targets (N, S): the padding past each length is arbitrary; repeats need a blank between them
TARGETS = np.array([[1, 2, 2, 3], [4, 4, 0, 0], [5, 1, 3, 9], [2, 0, 0, 0]])
INPUT_LENGTHS = np.array([9, 7, 5, 9])
TARGET_LENGTHS = np.array([4, 2, 3, 1])


def _log_probs(dtype, seed=0, shape=(T, N, C)):
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _concatenated(targets, lengths):
    return np.concatenate([row[:n] for row, n in zip(targets, lengths)])


def _compare(log_probs, targets, input_lengths, target_lengths, rtol=1e-6, atol=1e-6, as_tuples=False, **kwargs):
    """Loss and the gradient of a weighted sum of it, ours and PyTorch's, from the same (T, N, C) or (T, C)
    log-probabilities (a leaf each: the gradient is PyTorch's own formula)."""
    ours_lp = ember.tensor(log_probs, requires_grad=True)
    theirs_lp = torch.tensor(log_probs, requires_grad=True)
    lengths = tuple(tuple(int(v) for v in np.atleast_1d(a)) for a in (input_lengths, target_lengths))
    ours_lengths = lengths if as_tuples else (ember.tensor(input_lengths), ember.tensor(target_lengths))
    theirs_lengths = lengths if as_tuples else (torch.tensor(input_lengths), torch.tensor(target_lengths))
    ours = F.ctc_loss(ours_lp, ember.tensor(targets), *ours_lengths, **kwargs)
    theirs = TF.ctc_loss(theirs_lp, torch.tensor(targets), *theirs_lengths, **kwargs)
    assert ours.dtype == ours_lp.dtype and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)
    weights = np.random.default_rng(5).uniform(0.5, 1.5, tuple(theirs.shape)).astype(log_probs.dtype)
    (ours * ember.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours_lp.grad.numpy(), theirs_lp.grad.numpy(), rtol=rtol * 10, atol=atol * 10)
    return ours, ours_lp.grad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
def test_ctc_loss_values_and_gradients_match_torch(dtype, reduction, layout):
    targets = TARGETS if layout == "padded" else _concatenated(TARGETS, TARGET_LENGTHS)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    _compare(_log_probs(dtype), targets, INPUT_LENGTHS, TARGET_LENGTHS, rtol=tol, atol=tol, reduction=reduction)


@pytest.mark.parametrize("blank", [3, C - 1])
def test_ctc_loss_with_another_blank_matches_torch(blank):
    targets = np.where(TARGETS == blank, 0, TARGETS) % C  # no label is the blank
    _compare(_log_probs(np.float64, seed=1), targets, INPUT_LENGTHS, TARGET_LENGTHS, rtol=1e-10, atol=1e-10,
             blank=blank, reduction="sum")


def test_ctc_loss_lengths_as_tuples_and_an_empty_target_match_torch():
    lengths = np.array([4, 0, 2, 1])
    _compare(_log_probs(np.float64, seed=2), TARGETS, INPUT_LENGTHS, lengths, rtol=1e-10, atol=1e-10,
             as_tuples=True, reduction="mean")


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_unbatched_ctc_loss_matches_torch(reduction):
    _compare(_log_probs(np.float32, seed=3, shape=(T, C)), TARGETS[0], np.array(T), np.array(4), rtol=1e-5,
             atol=1e-5, reduction=reduction)
    _compare(_log_probs(np.float32, seed=3, shape=(T, C)), TARGETS[0], np.array(T), np.array(4), rtol=1e-5,
             atol=1e-5, as_tuples=True, reduction=reduction)


def test_impossible_alignments_are_inf_with_torchs_nan_gradient():
    # sequence 1: 2 frames for the labels 4, 4 (3 needed); sequence 2: 2 frames for 3 labels
    input_lengths = np.array([9, 2, 2, 9])
    lp = _log_probs(np.float64, seed=4)
    loss, grad = _check_impossible(lp, input_lengths, zero_infinity=False)
    assert np.isinf(loss[1]) and np.isinf(loss[2]) and np.isfinite(loss[[0, 3]]).all()
    assert np.isnan(grad[:2, 1:3]).all() and not grad[2:, 1:3].any()  # nan in their frames, as PyTorch's
    assert np.isfinite(grad[:, [0, 3]]).all()


def test_zero_infinity_gives_zero_loss_and_zero_gradient_like_torch():
    input_lengths = np.array([9, 2, 2, 9])
    loss, grad = _check_impossible(_log_probs(np.float64, seed=4), input_lengths, zero_infinity=True)
    assert loss[1] == 0 and loss[2] == 0 and (loss[[0, 3]] > 0).all()
    assert not grad[:, 1:3].any() and grad[:, [0, 3]].any()
    for reduction in ("sum", "mean"):
        _compare(_log_probs(np.float32, seed=4), TARGETS, input_lengths, TARGET_LENGTHS, rtol=1e-5, atol=1e-5,
                 zero_infinity=True, reduction=reduction)


def _check_impossible(lp, input_lengths, zero_infinity):
    ours_lp, theirs_lp = ember.tensor(lp, requires_grad=True), torch.tensor(lp, requires_grad=True)
    args = (TARGETS, input_lengths, TARGET_LENGTHS)
    ours = F.ctc_loss(ours_lp, *(ember.tensor(a) for a in args), reduction="none", zero_infinity=zero_infinity)
    theirs = TF.ctc_loss(theirs_lp, *(torch.tensor(a) for a in args), reduction="none", zero_infinity=zero_infinity)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours_lp.grad.numpy(), theirs_lp.grad.numpy(), rtol=1e-9, atol=1e-10)
    return ours.detach().numpy(), ours_lp.grad.numpy()


def test_ctc_gradient_through_log_softmax_matches_torch_for_the_logits():
    x = np.random.default_rng(6).standard_normal((T, N, C)).astype(np.float32)
    ours_x, theirs_x = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    args = (TARGETS, INPUT_LENGTHS, TARGET_LENGTHS)
    F.ctc_loss(F.log_softmax(ours_x, 2), *(ember.tensor(a) for a in args)).backward()
    TF.ctc_loss(TF.log_softmax(theirs_x, 2), *(torch.tensor(a) for a in args)).backward()
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_ctc_loss_module_matches_torch():
    lp = _log_probs(np.float32, seed=7)
    args = (TARGETS, INPUT_LENGTHS, TARGET_LENGTHS)
    ours = nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    theirs = torch.nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    np.testing.assert_allclose(ours(ember.tensor(lp), *(ember.tensor(a) for a in args)).numpy(),
                               theirs(torch.tensor(lp), *(torch.tensor(a) for a in args)).numpy(), rtol=1e-5)
    assert repr(ours) == "CTCLoss(reduction='sum', zero_infinity=True)"


def test_ctc_loss_under_jit_equals_eager_in_loss_and_gradient():
    def step(x, targets, input_lengths, target_lengths):
        loss = F.ctc_loss(F.log_softmax(x, 2), targets, input_lengths, target_lengths)
        loss.backward()
        return loss

    x = np.random.default_rng(8).standard_normal((T, N, C)).astype(np.float32)
    args = [ember.tensor(a) for a in (_concatenated(TARGETS, TARGET_LENGTHS), INPUT_LENGTHS, TARGET_LENGTHS)]
    eager_x, traced_x = ember.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    expected = step(eager_x, *args)
    traced = ember.jit(step)
    for _ in range(2):  # the trace, then its cached code
        traced_x.grad = None
        np.testing.assert_array_equal(traced(traced_x, *args).numpy(), expected.detach().numpy())
        np.testing.assert_array_equal(traced_x.grad.numpy(), eager_x.grad.numpy())


def test_sequences_without_frames_match_torch():
    # no frame: an empty target is certain (loss 0), any other impossible (inf); neither has a gradient
    loss, grad = _compare(_log_probs(np.float64, seed=9), TARGETS, np.array([0, 0, 5, 9]), np.array([2, 0, 3, 1]),
                          rtol=1e-10, atol=1e-10, reduction="none")
    assert np.isinf(loss.detach().numpy()[0]) and loss.detach().numpy()[1] == 0
    assert not grad.numpy()[:, :2].any()


def test_a_second_derivative_is_refused_as_torch():
    # the gradient op had no vjp, so a gradient of the gradient treated it as a constant and came out 0 (1e-18
    # through log_softmax) where it is not; PyTorch has no double backward for ctc_loss and says so
    x = ember.tensor(_log_probs(np.float64), requires_grad=True)
    loss = F.ctc_loss(ember.log_softmax(x, 2), ember.tensor(TARGETS), ember.tensor(INPUT_LENGTHS),
                      ember.tensor(TARGET_LENGTHS))
    (g,) = ember.autograd.grad(loss, [x], create_graph=True)
    with pytest.raises(RuntimeError, match="ctc_loss: no second derivative"):
        ember.autograd.grad((g * g).sum(), [x])
    xt = torch.tensor(_log_probs(np.float64), requires_grad=True)
    (gt,) = torch.autograd.grad(TF.ctc_loss(xt.log_softmax(2), torch.tensor(TARGETS), torch.tensor(INPUT_LENGTHS),
                                            torch.tensor(TARGET_LENGTHS)), [xt], create_graph=True)
    with pytest.raises(RuntimeError, match="not implemented"):
        torch.autograd.grad((gt * gt).sum(), [xt])
    (first,) = ember.autograd.grad(F.ctc_loss(ember.log_softmax(x, 2), ember.tensor(TARGETS),
                                              ember.tensor(INPUT_LENGTHS), ember.tensor(TARGET_LENGTHS)), [x])
    np.testing.assert_allclose(first.numpy(), gt.detach().numpy(), rtol=1e-10, atol=1e-12)  # first order unchanged
