"""ctc_loss beyond the op table: its gradient against finite differences, its errors, and a small model that
learns to emit label sequences with it (PyTorch comparisons: test_torch_ctc_gumbel.py)."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

T, N, C = 8, 3, 5
TARGETS = np.array([[1, 2, 2], [3, 1, 0], [4, 0, 0]])
INPUT_LENGTHS = np.array([8, 6, 3])
TARGET_LENGTHS = np.array([3, 2, 1])


def _loss(logits: np.ndarray, reduction="mean", **kwargs):
    args = [ember.tensor(a) for a in (TARGETS, INPUT_LENGTHS, TARGET_LENGTHS)]
    return F.ctc_loss(F.log_softmax(ember.tensor(logits), 2), *args, reduction=reduction, **kwargs)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradient_matches_finite_differences_in_float64(reduction):
    logits = np.random.default_rng(0).standard_normal((T, N, C))
    x = ember.tensor(logits, requires_grad=True)
    args = [ember.tensor(a) for a in (TARGETS, INPUT_LENGTHS, TARGET_LENGTHS)]
    F.ctc_loss(F.log_softmax(x, 2), *args, reduction=reduction).backward()
    h, numeric = 1e-6, np.zeros_like(logits)
    for i in range(logits.size):
        up, down = logits.copy(), logits.copy()
        up.reshape(-1)[i] += h
        down.reshape(-1)[i] -= h
        numeric.reshape(-1)[i] = (_loss(up, reduction).item() - _loss(down, reduction).item()) / (2 * h)
    assert np.abs(numeric[INPUT_LENGTHS[2]:, 2]).max() == 0  # frames past a sequence's length do not count
    np.testing.assert_allclose(x.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)


def test_a_sequence_that_cannot_align_is_inf_and_zero_infinity_makes_it_zero():
    logits = np.random.default_rng(1).standard_normal((T, N, C))
    lengths = [ember.tensor(a) for a in (TARGETS, np.array([8, 1, 3]), TARGET_LENGTHS)]  # 1: two labels, a frame
    losses = F.ctc_loss(F.log_softmax(ember.tensor(logits), 2), *lengths, reduction="none")
    assert np.isinf(losses.numpy()[1]) and np.isfinite(losses.numpy()[[0, 2]]).all()
    zeroed = F.ctc_loss(F.log_softmax(ember.tensor(logits), 2), *lengths, reduction="none", zero_infinity=True)
    np.testing.assert_array_equal(zeroed.numpy(), np.where(np.isinf(losses.numpy()), 0, losses.numpy()))


def _lp(*shape):
    return F.log_softmax(ember.randn(*shape), -1)


def _ids(*values):
    return ember.tensor(np.array(values))


ERRORS = [
    # id, call, exception types, fragments the message must contain
    ("input_length_past_T", lambda: F.ctc_loss(_lp(4, 2, 3), _ids([1, 2], [1, 1]), (5, 4), (2, 1)), ValueError,
     ["ctc_loss", "input_lengths", "[0, 4]", "5"]),
    ("negative_input_length", lambda: F.ctc_loss(_lp(4, 2, 3), _ids([1, 2], [1, 1]), (4, -1), (2, 1)), ValueError,
     ["ctc_loss", "input_lengths", "-1"]),
    ("target_length_past_S", lambda: F.ctc_loss(_lp(4, 2, 3), _ids([1, 2], [1, 1]), (4, 4), (3, 1)), ValueError,
     ["ctc_loss", "target_lengths", "padded", "2"]),
    ("negative_target_length", lambda: F.ctc_loss(_lp(4, 2, 3), _ids([1, 2], [1, 1]), (4, 4), (2, -1)), ValueError,
     ["ctc_loss", "target_lengths", "negative"]),
    ("concatenated_sum", lambda: F.ctc_loss(_lp(4, 2, 3), _ids(1, 2, 1), (4, 4), (2, 2)), ValueError,
     ["ctc_loss", "target_lengths", "3 labels", "4"]),
    ("input_lengths_per_sequence", lambda: F.ctc_loss(_lp(4, 2, 3), _ids([1], [2]), (4, 4, 4), (1, 1)), ValueError,
     ["ctc_loss", "input_lengths", "(2,)", "[3]"]),
    ("target_lengths_tensor_shape", lambda: F.ctc_loss(_lp(4, 2, 3), _ids([1], [2]), (4, 4), _ids([1, 1])),
     ValueError, ["ctc_loss", "target_lengths", "[1, 2]"]),
    ("float_lengths", lambda: F.ctc_loss(_lp(4, 2, 3), _ids([1], [2]), ember.tensor([4.0, 4.0]), (1, 1)), TypeError,
     ["ctc_loss", "input_lengths", "float32"]),
    ("float_in_length_tuple", lambda: F.ctc_loss(_lp(4, 2, 3), _ids([1], [2]), (4, 3.5), (1, 1)), TypeError,
     ["ctc_loss", "input_lengths", "3.5"]),
    ("float_blank", lambda: F.ctc_loss(_lp(4, 2, 3), _ids([1], [2]), (4, 4), (1, 1), blank=1.0), TypeError,
     ["ctc_loss", "blank", "1.0"]),
    ("float_targets", lambda: F.ctc_loss(_lp(4, 2, 3), ember.ones(2, 1), (4, 4), (1, 1)), ValueError,
     ["ctc_loss", "targets", "integer", "float32[2, 1]"]),
    ("targets_rank", lambda: F.ctc_loss(_lp(4, 2, 3), ember.ones(2, 1, 1, dtype="int64"), (4, 4), (1, 1)),
     ValueError, ["ctc_loss", "targets", "int64[2, 1, 1]"]),
    ("targets_batch", lambda: F.ctc_loss(_lp(4, 2, 3), _ids([1], [2], [1]), (4, 4), (1, 1)), ValueError,
     ["ctc_loss", "targets", "(N, S)", "float32[4, 2, 3]", "int64[3, 1]"]),
    ("log_probs_rank", lambda: F.ctc_loss(ember.zeros(4, 2, 3, 1), _ids([1], [2]), (4, 4), (1, 1)), ValueError,
     ["ctc_loss", "log_probs", "[4, 2, 3, 1]"]),
    ("blank_range", lambda: F.ctc_loss(_lp(4, 2, 3), _ids([1], [2]), (4, 4), (1, 1), blank=3), ValueError,
     ["ctc_loss", "blank", "[0, 3)", "3"]),
    ("label_range", lambda: F.ctc_loss(_lp(4, 2, 3), _ids([1], [7]), (4, 4), (1, 1)), IndexError,
     ["ctc_loss", "targets", "[0, 3)", "7"]),
    ("label_is_blank", lambda: F.ctc_loss(_lp(4, 2, 3), _ids([1, 2], [1, 0]), (4, 4), (2, 2)), ValueError,
     ["ctc_loss", "targets", "blank label 0"]),
    ("reduction", lambda: F.ctc_loss(_lp(4, 2, 3), _ids([1], [2]), (4, 4), (1, 1), reduction="avg"), ValueError,
     ["ctc_loss", "reduction", "avg"]),
    ("unbatched_targets", lambda: F.ctc_loss(_lp(4, 3), _ids([1], [2]), 4, 1), ValueError,
     ["ctc_loss", "unbatched", "1-D", "[2, 1]"]),
    ("unbatched_lengths", lambda: F.ctc_loss(_lp(4, 3), _ids(1, 2), (4, 4), 2), ValueError,
     ["ctc_loss", "input_lengths", "() or (1,)", "[2]"]),
    ("module_reduction", lambda: nn.CTCLoss(reduction="avg"), ValueError, ["CTCLoss", "reduction", "avg"]),
]


@pytest.mark.parametrize("call, errors, fragments", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_arguments_get_errors_naming_them(call, errors, fragments):
    with pytest.raises(errors) as info:
        call()
    message = str(info.value)
    assert not [f for f in fragments if f not in message], message


def test_padding_past_the_target_lengths_may_hold_anything():
    lp = _lp(6, 2, 4)
    padded = F.ctc_loss(lp, _ids([1, 2, 0], [3, 0, 0]), (6, 5), (2, 1), reduction="none")
    junk = F.ctc_loss(lp, _ids([1, 2, 9], [3, -1, 0]), (6, 5), (2, 1), reduction="none")
    np.testing.assert_array_equal(padded.numpy(), junk.numpy())


def test_a_second_derivative_or_a_jvp_through_ctc_loss_raises_as_pytorch_does():
    """ctc_loss's gradient has no derivative (as in PyTorch): differentiating it used to treat it as a constant,
    so func.jvp and forward_ad gave a zero tangent (finite differences: about 0.02) and grad-of-grad ~0."""
    from ember.autograd import forward_ad as fwAD

    logits = np.random.default_rng(1).standard_normal((T, N, C))
    direction = ember.tensor(np.random.default_rng(2).standard_normal((T, N, C)))
    with pytest.raises(RuntimeError, match="ctc_loss"):
        ember.func.jvp(_loss_of, (ember.tensor(logits),), (direction,))
    with fwAD.dual_level(), pytest.raises(RuntimeError, match="ctc_loss"):
        fwAD.unpack_dual(_loss_of(fwAD.make_dual(ember.tensor(logits), direction)))
    x = ember.tensor(logits, requires_grad=True)
    (g,) = ember.grad(_loss_of(x), [x], create_graph=True)
    with pytest.raises(RuntimeError, match="ctc_loss"):
        ember.grad((g * g).sum(), [x])


def _loss_of(x):
    args = [ember.tensor(a) for a in (TARGETS, INPUT_LENGTHS, TARGET_LENGTHS)]
    return F.ctc_loss(F.log_softmax(x, 2), *args)


# --- a small model learns to emit label sequences --------------------------------------------------------------

FEATURES, LABELS, FRAMES = 4, 4, 14  # classes: the blank (0) and labels 1..4


def _sequences(rng, count):
    """Frames of noisy one-hot features: each label held for 1-3 frames, silence (zeros) between labels and
    around them, so a label repeated in the target is separated by silence as CTC needs."""
    x = rng.normal(0.0, 0.05, (FRAMES, count, FEATURES)).astype(np.float32)
    targets, lengths = np.zeros((count, 3), np.int64), np.zeros(count, np.int64)
    for n in range(count):
        labels = rng.integers(1, LABELS + 1, rng.integers(1, 4))
        t = int(rng.integers(0, 2))
        for label in labels:
            hold = int(rng.integers(1, 4))
            x[t:t + hold, n, label - 1] += 1.0
            t += hold + int(rng.integers(1, 3))
        targets[n, :len(labels)], lengths[n] = labels, len(labels)
    return x, targets, lengths


def _greedy(log_probs: np.ndarray) -> list:
    """Best path decoding: each frame's most likely class, repeats merged, blanks dropped."""
    decoded = []
    for path in log_probs.argmax(-1).T:
        merged = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
        decoded.append([int(c) for c in merged if c != 0])
    return decoded


def test_a_small_model_learns_to_emit_label_sequences_with_ctc():
    rng = np.random.default_rng(0)
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(FEATURES, 32), nn.Tanh(), nn.Linear(32, LABELS + 1))
    optimizer = ember.optim.Adam(model.parameters(), lr=0.03)
    criterion = nn.CTCLoss()
    x, targets, lengths = _sequences(rng, 96)
    frames = (FRAMES,) * len(lengths)
    first = None
    for _ in range(150):
        optimizer.zero_grad()
        loss = criterion(F.log_softmax(model(ember.tensor(x)), 2), ember.tensor(targets), frames,
                         ember.tensor(lengths))
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.1 * first
    x, targets, lengths = _sequences(rng, 64)  # sequences it has not seen
    with ember.no_grad():
        decoded = _greedy(F.log_softmax(model(ember.tensor(x)), 2).numpy())
    accuracy = np.mean([d == list(t[:n]) for d, t, n in zip(decoded, targets, lengths)])
    assert accuracy >= 0.95, f"greedy decoding recovered {accuracy:.0%} of the label sequences"
