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
    w.grad = ember.zeros(4, 3)
    with pytest.raises(ValueError, match=r"update.*float32\[3, 4\].*float32\[4, 3\]"):
        ember.optim.Adam([w]).step()
