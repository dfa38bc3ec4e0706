"""``ember.nn.utils.prune`` against ``torch.nn.utils.prune``: masks, iterative pruning, gradients, removal."""

import numpy as np
import pytest

import ember
import ember.nn.utils.prune as prune

torch = pytest.importorskip("torch")
tprune = pytest.importorskip("torch.nn.utils.prune")


def _pair(make, seed=0):
    ember.manual_seed(seed)
    ours = make(ember.nn)
    theirs = make(torch.nn)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def _same_masks(ours, theirs, name="weight"):
    np.testing.assert_array_equal(getattr(ours, name + "_mask").numpy(), getattr(theirs, name + "_mask").numpy())


@pytest.mark.parametrize("steps", [
    [("l1_unstructured", {"amount": 0.3})],
    [("l1_unstructured", {"amount": 5}), ("l1_unstructured", {"amount": 0.5})],
    [("ln_structured", {"amount": 2, "n": 2, "dim": 0})],
    [("ln_structured", {"amount": 0.34, "n": 1, "dim": 1}), ("l1_unstructured", {"amount": 3})],
    [("l1_unstructured", {"amount": 4}), ("ln_structured", {"amount": 1, "n": float("inf"), "dim": 0})],
    # the structured step measures the channels with the entries already pruned zero, as PyTorch's
    [("l1_unstructured", {"amount": 0.7}), ("ln_structured", {"amount": 1, "n": 1, "dim": 0})],
    [("l1_unstructured", {"amount": 0.7}), ("ln_structured", {"amount": 2, "n": 2, "dim": 1})],
])
def test_masks_outputs_and_gradients_match_torch(steps):
    ours, theirs = _pair(lambda nn: nn.Conv2d(3, 4, 3))
    for name, kwargs in steps:
        getattr(prune, name)(ours, "weight", **kwargs)
        getattr(tprune, name)(theirs, "weight", **kwargs)
        _same_masks(ours, theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32)
    out, expected = ours(ember.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(ours.weight_orig.grad.numpy(), theirs.weight_orig.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert np.all(ours.weight_orig.grad.numpy()[ours.weight_mask.numpy() == 0] == 0)


def test_global_unstructured_and_custom_masks_match_torch():
    ours, theirs = _pair(lambda nn: nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)))
    prune.custom_from_mask(ours[2], "bias", ember.tensor([1.0, 0.0, 1.0]))
    tprune.custom_from_mask(theirs[2], "bias", torch.tensor([1.0, 0.0, 1.0]))
    for lib, model in ((prune, ours), (tprune, theirs)):
        lib.global_unstructured([(model[0], "weight"), (model[2], "weight"), (model[2], "bias")],
                                pruning_method=lib.L1Unstructured, amount=0.4)
    for i, name in ((0, "weight"), (2, "weight"), (2, "bias")):
        _same_masks(ours[i], theirs[i], name)
    assert prune.is_pruned(ours) and not prune.is_pruned(ember.nn.Linear(2, 2))


def test_remove_makes_the_pruning_permanent_and_training_keeps_zeros():
    ours, theirs = _pair(lambda nn: nn.Linear(8, 4))
    prune.l1_unstructured(ours, "weight", amount=0.5)
    optimizer = ember.optim.SGD(ours.parameters(), lr=0.5)
    x = ember.tensor(np.random.default_rng(2).standard_normal((16, 8)).astype(np.float32))
    for _ in range(3):
        optimizer.zero_grad()
        ours(x).pow(2).mean().backward()
        optimizer.step()
    zeros = ours.weight_mask.numpy() == 0
    assert np.all(ours(x).detach().numpy() == (x.numpy() @ ours.weight.detach().numpy().T + ours.bias.detach().numpy()))
    assert np.all(ours.weight.detach().numpy()[zeros] == 0)
    prune.remove(ours, "weight")
    tprune.l1_unstructured(theirs, "weight", amount=0.5)
    tprune.remove(theirs, "weight")
    assert list(ours.state_dict()) == list(theirs.state_dict()) and isinstance(ours.weight, ember.nn.Parameter)
    assert np.all(ours.weight.detach().numpy()[zeros] == 0) and not prune.is_pruned(ours)
    with pytest.raises(ValueError, match="prune.remove: parameter 'weight' of Linear is not pruned"):
        prune.remove(ours, "weight")


def test_remove_keeps_the_parameter_an_optimizer_holds():
    ours, theirs = _pair(lambda nn: nn.Linear(4, 3))
    prune.l1_unstructured(ours, "weight", amount=5)
    tprune.l1_unstructured(theirs, "weight", amount=5)
    optimizer = ember.optim.SGD(ours.parameters(), lr=0.1)
    toptimizer = torch.optim.SGD(theirs.parameters(), lr=0.1)
    held, theirs_held = ours.weight_orig, theirs.weight_orig
    prune.remove(ours, "weight")
    tprune.remove(theirs, "weight")
    assert ours.weight is held and theirs.weight is theirs_held
    x = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32)
    ours(ember.tensor(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    optimizer.step()
    toptimizer.step()
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-6, atol=1e-7)


def _every_other(lib):
    class EveryOther(lib.BasePruningMethod):  # PyTorch's tutorial's custom method: Tensor methods on the masks
        PRUNING_TYPE = "unstructured"

        def compute_mask(self, t, default_mask):
            mask = default_mask.clone()
            mask.view(-1)[::2] = 0
            return mask

    return EveryOther


def test_custom_methods_and_compute_mask_take_tensors_as_torch():
    ours, theirs = _pair(lambda nn: nn.Linear(5, 4))
    for lib, model in ((prune, ours), (tprune, theirs)):
        lib.l1_unstructured(model, "weight", amount=6)
        _every_other(lib).apply(model, "weight")
    _same_masks(ours, theirs)
    scores = np.random.default_rng(4).standard_normal((3, 4)).astype(np.float32)
    for ours_method, theirs_method in ((prune.L1Unstructured(5), tprune.L1Unstructured(5)),
                                       (prune.LnStructured(1, n=2, dim=1), tprune.LnStructured(1, n=2, dim=1))):
        mask = ours_method.compute_mask(ember.tensor(scores), ember.ones(3, 4))
        assert isinstance(mask, ember.Tensor)
        np.testing.assert_array_equal(mask.numpy(), theirs_method.compute_mask(torch.tensor(scores),
                                                                               torch.ones(3, 4)).numpy())


def test_random_pruning_prunes_the_asked_count():
    ours, _ = _pair(lambda nn: nn.Linear(10, 6))
    prune.random_unstructured(ours, "weight", amount=0.25)
    assert int((ours.weight_mask.numpy() == 0).sum()) == 15
    prune.random_structured(ours, "weight", amount=2, dim=0)
    rows_gone = np.all(ours.weight_mask.numpy() == 0, axis=1)
    assert int(rows_gone.sum()) >= 2


def test_bad_amounts_and_names_are_refused():
    layer = ember.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="amount=1.5 must be a float in the range \\[0, 1\\]"):
        prune.l1_unstructured(layer, "weight", amount=1.5)
    with pytest.raises(ValueError, match="amount=7 should be smaller than the number of units to prune \\(6\\)"):
        prune.l1_unstructured(layer, "weight", amount=7)
    with pytest.raises(AttributeError, match="Linear has no parameter 'kernel' to prune"):
        prune.l1_unstructured(layer, "kernel", amount=1)
