"""Property tests of shapes: broadcasting binary ops and reductions agree with NumPy on random shapes, and
every gradient has the shape of its input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import ember

SETTINGS = settings(max_examples=30, deadline=None, database=None)

BINARY = {
    "add": (ember.add, np.add),
    "mul": (ember.mul, np.multiply),
    "sub": (ember.sub, np.subtract),
    "maximum": (ember.maximum, np.maximum),
    "where": (lambda a, b: ember.where(a > 0, a, b), lambda a, b: np.where(a > 0, a, b)),
}


def _array(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
       seed=st.integers(0, 2**16))
def test_broadcasting_binary_shapes_and_gradients(name, shapes, seed):
    fn, ref = BINARY[name]
    a_shape, b_shape = shapes.input_shapes
    a_data, b_data = _array(a_shape, seed), _array(b_shape, seed + 1)
    a, b = ember.tensor(a_data, requires_grad=True), ember.tensor(b_data, requires_grad=True)
    out = fn(a, b)
    assert out.shape == np.broadcast_shapes(a_shape, b_shape) == shapes.result_shape
    np.testing.assert_allclose(out.detach().numpy(), ref(a_data, b_data), rtol=1e-12)
    upstream = _array(out.shape, seed + 2)
    out.backward(ember.tensor(upstream))
    assert a.grad.shape == a_shape and b.grad.shape == b_shape
    if name == "add":  # the gradient of a broadcast input is the upstream summed over the broadcast axes
        expected = upstream.sum(axis=tuple(range(len(out.shape) - len(a_shape))))
        expected = expected.sum(axis=tuple(i for i, d in enumerate(a_shape) if d == 1), keepdims=True)
        np.testing.assert_allclose(a.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


@st.composite
def reduction_args(draw):
    shape = draw(array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3))
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]) if ndim else st.just("none"))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-ndim, ndim - 1))
    else:
        axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        axis = tuple(a - ndim if draw(st.booleans()) else a for a in axes)  # some negative
    return shape, axis, draw(st.booleans())


REDUCTIONS = {
    "sum": (ember.sum, np.sum),
    "mean": (ember.mean, np.mean),
    "max": (ember.max, np.max),
    "min": (ember.min, np.min),
    "prod": (ember.prod, np.prod),
    "var": (lambda x, axis, keepdims: ember.var(x, axis=axis, keepdims=keepdims, ddof=0), np.var),
    "logsumexp": (ember.logsumexp, lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@SETTINGS
@given(args=reduction_args(), seed=st.integers(0, 2**16))
def test_reduction_shapes_and_gradients(name, args, seed):
    shape, axis, keepdims = args
    fn, ref = REDUCTIONS[name]
    data = _array(shape, seed)
    x = ember.tensor(data, requires_grad=True)
    out = fn(x, axis=axis, keepdims=keepdims)
    expected = np.asarray(ref(data, axis=axis, keepdims=keepdims))
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    out.backward(ember.tensor(_array(out.shape, seed + 1)))
    assert x.grad.shape == x.shape
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("name", ["argmax", "argmin", "any", "all"])
@SETTINGS
@given(args=reduction_args(), seed=st.integers(0, 2**16))
def test_non_differentiable_reduction_shapes(name, args, seed):
    shape, axis, keepdims = args
    if name in ("argmax", "argmin") and isinstance(axis, tuple):
        axis = axis[0]
    data = _array(shape, seed) > 0 if name in ("any", "all") else _array(shape, seed)
    out = getattr(ember, name)(ember.tensor(data), axis=axis, keepdims=keepdims)
    expected = getattr(np, name)(data, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_array_equal(out.numpy(), expected)


@SETTINGS
@given(shape=array_shapes(min_dims=1, max_dims=4, max_side=3), seed=st.integers(0, 2**16), data=st.data())
def test_reshape_transpose_round_trip_shapes(shape, seed, data):
    array = _array(shape, seed)
    x = ember.tensor(array, requires_grad=True)
    perm = data.draw(st.permutations(range(len(shape))))
    y = x.transpose(perm).reshape(-1)
    np.testing.assert_array_equal(y.detach().numpy(), array.transpose(perm).reshape(-1))
    (y * ember.tensor(np.arange(y.shape[0], dtype=np.float64))).sum().backward()
    expected = np.arange(array.size, dtype=np.float64).reshape(array.transpose(perm).shape).transpose(np.argsort(perm))
    np.testing.assert_array_equal(x.grad.numpy(), expected)
