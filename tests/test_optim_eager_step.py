"""Optimizer.step in eager mode calls the update rule directly; a bad gradient still gets the op's error."""

import numpy as np
import pytest

import ember
from ember.ops.effects import update
from ember.optim import functional as F


def test_eager_step_equals_the_update_op():
    rng = np.random.default_rng(0)
    start, grads = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((2, 3, 4)).astype(np.float32)
    w = ember.from_numpy(start.copy()).requires_grad_()
    optimizer = ember.optim.SGD([w], lr=0.1, momentum=0.9, nesterov=True)
    reference, state = ember.from_numpy(start.copy()), {}
    hyper = optimizer.hyper(optimizer.param_groups[0])
    for g in grads:
        w.grad = ember.from_numpy(g.copy())
        optimizer.step()
        update(reference, ember.from_numpy(g.copy()), F.sgd_update, state, hyper)
    np.testing.assert_array_equal(w.detach().numpy(), reference.numpy())
    np.testing.assert_array_equal(optimizer.state[w]["momentum_buffer"], state["momentum_buffer"])


def test_a_gradient_of_the_wrong_shape_is_named():
    w = ember.zeros(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"assigned grad has data of a different size: grad shape \[4, 3\], "
                                           r"tensor shape \[3, 4\]"):
        w.grad = ember.zeros(4, 3)
    w.grad = ember.zeros(3, 4)
    w.grad.array = np.zeros((4, 3), np.float32)  # past the check: the update still names both shapes
    with pytest.raises(ValueError, match=r"update.*float32\[3, 4\].*float32\[4, 3\]"):
        ember.optim.Adam([w]).step()


@pytest.mark.parametrize("hyper", [
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    {"lr": 0.1, "momentum": 0.5, "dampening": 0.3, "maximize": True},
    {"lr": 0.1},
])
def test_one_foreach_call_per_group_gives_the_rule_s_numbers(hyper):
    """Optimizer.step hands a group's dense parameters to the rule's foreach form: the same bits as one
    sgd_update per parameter, a 0-d parameter and a parameter without a gradient included."""
    rng = np.random.default_rng(1)
    shapes = [(5, 3), (3,), (), (2, 2)]
    starts = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    params = [ember.from_numpy(s.copy()).requires_grad_() for s in starts]
    optimizer = ember.optim.SGD(params, **hyper)
    references, states = [s.copy() for s in starts], [{} for _ in shapes]
    full = optimizer.hyper(optimizer.param_groups[0])
    for step in range(3):
        for i, (p, shape) in enumerate(zip(params, shapes)):
            if i == 3 and step == 1:
                p.grad = None  # skipped this step, as the reference
                continue
            g = rng.standard_normal(shape).astype(np.float32)
            p.grad = ember.from_numpy(np.array(g))
            F.sgd_update(references[i], np.array(g), states[i], **full)
        optimizer.step()
        for p, reference in zip(params, references):
            np.testing.assert_array_equal(p.detach().numpy(), reference)
    for p, state in zip(params, states):
        for key, value in state.items():
            np.testing.assert_array_equal(optimizer.state[p][key], value)


def test_foreach_is_the_rule_s_trait():
    assert F.sgd_update.foreach is not None
    assert F.adam_update.foreach is None  # Optimizer.step then calls the rule per parameter
