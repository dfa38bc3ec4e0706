"""``ember.ops.host_call``: a Python function on NumPy arrays, eagerly and in compiled graphs (``ember.jit``),
where it is an effect: it runs on every call, even on constants, and is never merged with a call alike."""

import numpy as np
import pytest

import ember


def test_host_call_runs_eagerly_and_checks_what_the_function_returns():
    seen = []
    out = ember.ops.host_call(lambda a: (seen.append(a.copy()), a[::-1] * 2)[1], [ember.arange(3.0)], (3,), "float32")
    assert out.tolist() == [4.0, 2.0, 0.0] and seen[0].tolist() == [0.0, 1.0, 2.0]
    assert ember.ops.host_call(lambda a: seen.append(1), [ember.ones(2)]) is None and seen[-1] == 1
    with pytest.raises(TypeError, match="returned a value of dtype float64, but the declared dtype is float32"):
        ember.ops.host_call(lambda a: np.zeros(3), [ember.ones(3)], (3,), "float32")
    with pytest.raises(ValueError, match=r"returned a value of shape \[2\], the declared shape is \[3\]"):
        ember.ops.host_call(lambda a: a[:2], [ember.ones(3)], (3,), "float32")
    with pytest.raises(ValueError, match="the result's shape must be known"):
        ember.ops.host_call(lambda a: a, [ember.ones(3)], (None,), "float32")
    with pytest.raises(TypeError, match="give both shape and dtype"):
        ember.ops.host_call(lambda a: a, [ember.ones(3)], (3,))
    assert ember.ops.host_call(lambda a: [1.0, 2.0], [ember.ones(1)], (2,), "float32").dtype == np.float32


def test_host_call_in_a_compiled_function_runs_on_every_call():
    calls = []

    def step(x):
        doubled = ember.ops.host_call(lambda a: (calls.append("d"), a * 2)[1], [x], (3,), "float32")
        again = ember.ops.host_call(lambda a: (calls.append("d"), a * 2)[1], [x], (3,), "float32")  # not merged
        constant = ember.ops.host_call(lambda a: (calls.append("c"), a + 1)[1], [ember.ones(3)], (3,), "float32")
        ember.ops.host_call(lambda a: calls.append("p"), [x])  # a value-less call: kept though nothing reads it
        return doubled + again + constant

    compiled = ember.jit(step)
    x = ember.tensor(np.array([1.0, 2.0, 3.0], np.float32))
    for _ in range(3):
        assert compiled(x).tolist() == [6.0, 10.0, 14.0]
    assert calls == ["d", "d", "c", "p"] * 3
    assert ember.ops.host_token().numpy() >= 12  # the token counts the host calls
