"""``nn.utils``'s gradient-norm helpers (``get_total_norm``, ``clip_grads_with_norm_``), ``parameters_to_vector`` and
``vector_to_parameters``, and ``utils.checkpoint``, against PyTorch's."""

import math

import numpy as np
import pytest

import ember
from ember import nn

torch = pytest.importorskip("torch")


def _grads(seed=0, shapes=((3, 4), (4,), (2, 2, 2))):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def _params(grads, scale):
    ours, theirs = [], []
    for g in grads:
        p, tp = ember.zeros(*g.shape, requires_grad=True), torch.zeros(*g.shape, requires_grad=True)
        p.grad, tp.grad = ember.tensor(g * scale), torch.tensor(g * scale)
        ours.append(p)
        theirs.append(tp)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_get_total_norm_matches_torch(norm_type):
    grads = _grads()
    ours = nn.utils.get_total_norm([ember.tensor(g) for g in grads], norm_type)
    theirs = torch.nn.utils.get_total_norm([torch.tensor(g) for g in grads], norm_type)
    assert ours.dtype == np.float32 and ours.shape == ()
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_get_total_norm_of_nothing_is_zero_and_float64_promotes():
    assert nn.utils.get_total_norm([]).item() == 0.0
    mixed = [ember.ones(2), ember.ones(2, dtype=np.float64)]
    assert nn.utils.get_total_norm(mixed).dtype == np.float64


def test_get_total_norm_refuses_a_bad_norm_type_and_reports_a_nonfinite_norm():
    with pytest.raises(ValueError, match="get_total_norm: norm_type"):
        nn.utils.get_total_norm([ember.ones(2)], -1.0)
    with pytest.raises(RuntimeError, match="get_total_norm: the total 2.0-norm"):
        nn.utils.get_total_norm([ember.tensor([1.0, float("nan")])], error_if_nonfinite=True)


@pytest.mark.parametrize("scale", [0.01, 10.0])
def test_clip_grads_with_norm_matches_torch_and_clip_grad_norm(scale):
    grads = _grads(1)
    ours, theirs = _params(grads, scale)
    total = nn.utils.get_total_norm([p.grad for p in ours])
    nn.utils.clip_grads_with_norm_(ours, 1.0, total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 1.0, torch.nn.utils.get_total_norm([p.grad for p in theirs]))
    again, _ = _params(grads, scale)
    nn.utils.clip_grad_norm_(again, 1.0)
    for p, tp, q in zip(ours, theirs, again):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-6)
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_clip_grads_with_norm_wants_a_tensor():
    ours, _ = _params(_grads(), 1.0)
    with pytest.raises(TypeError, match="clip_grads_with_norm_: total_norm must be a Tensor"):
        nn.utils.clip_grads_with_norm_(ours, 1.0, 3.0)


def test_the_two_steps_trace_under_jit_as_in_eager_mode():
    net = nn.Linear(4, 3)
    x = ember.tensor(np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32))

    def step(x):
        net.zero_grad()
        (net(x) ** 2).sum().backward()
        total = nn.utils.get_total_norm([p.grad for p in net.parameters()])
        nn.utils.clip_grads_with_norm_(net.parameters(), 0.5, total)
        return total

    total = step(x)
    eager = [p.grad.numpy().copy() for p in net.parameters()]
    traced = ember.jit(step)
    for _ in range(2):
        np.testing.assert_allclose(traced(x).numpy(), total.numpy(), rtol=1e-6)
        for p, g in zip(net.parameters(), eager):
            np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-6, atol=1e-7)


def _copy_of(torch_net):
    layers = []
    for m in torch_net:
        if isinstance(m, torch.nn.Linear):
            layer = nn.Linear(m.in_features, m.out_features)
            layer.load_state_dict({k: ember.tensor(v.numpy()) for k, v in m.state_dict().items()})
            layers.append(layer)
        else:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


@pytest.mark.parametrize("segments", [1, 3])
def test_checkpoint_sequential_gradients_match_torch(segments):
    from ember.utils.checkpoint import checkpoint_sequential

    torch.manual_seed(0)
    theirs = torch.nn.Sequential(*[m for _ in range(3) for m in (torch.nn.Linear(5, 5), torch.nn.Tanh())])
    ours = _copy_of(theirs)
    x = np.random.default_rng(3).standard_normal((4, 5)).astype(np.float32)
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (checkpoint_sequential(ours, segments, ex) ** 2).sum().backward()
    (torch.utils.checkpoint.checkpoint_sequential(theirs, segments, tx, use_reentrant=False) ** 2).sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_parameters_to_vector_and_back_match_torch():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    ours = _copy_of(theirs)
    vector, their_vector = nn.utils.parameters_to_vector(ours.parameters()), \
        torch.nn.utils.parameters_to_vector(theirs.parameters())
    np.testing.assert_array_equal(vector.detach().numpy(), their_vector.detach().numpy())
    weights = np.random.default_rng(4).standard_normal(vector.shape).astype(np.float32)
    (vector * ember.tensor(weights)).sum().backward()
    (their_vector * torch.tensor(weights)).sum().backward()
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())
    nn.utils.vector_to_parameters(ember.tensor(weights), ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(weights), theirs.parameters())
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), tp.detach().numpy())
    with pytest.raises(ValueError, match="vector_to_parameters: expected a 1-D vector of 26 elements"):
        nn.utils.vector_to_parameters(ember.zeros(5), ours.parameters())


def test_convert_conv_weight_memory_format_lays_out_the_convolutions_as_torch():
    ours = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.ConvTranspose2d(4, 2, 3)), nn.Conv3d(2, 2, 2))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Sequential(torch.nn.ConvTranspose2d(4, 2, 3)),
                                 torch.nn.Conv3d(2, 2, 2))
    held = [m.weight for m in (ours[0], ours[1][0], ours[2])]
    before = [w.detach().numpy().copy() for w in held]
    assert nn.utils.convert_conv2d_weight_memory_format(ours, ember.channels_last) is ours
    torch.nn.utils.convert_conv2d_weight_memory_format(theirs, torch.channels_last)
    for ours_w, theirs_w in ((ours[0].weight, theirs[0].weight), (ours[1][0].weight, theirs[1][0].weight)):
        assert ours_w.is_contiguous(memory_format=ember.channels_last)
        assert theirs_w.is_contiguous(memory_format=torch.channels_last)
    assert not ours[2].weight.is_contiguous(memory_format=ember.channels_last_3d)
    ember.nn.utils.convert_conv3d_weight_memory_format(ours, ember.channels_last_3d)
    assert ours[2].weight.is_contiguous(memory_format=ember.channels_last_3d)
    assert [m.weight for m in (ours[0], ours[1][0], ours[2])] == held  # the same Parameters
    for w, values in zip(held, before):
        np.testing.assert_array_equal(w.detach().numpy(), values)
