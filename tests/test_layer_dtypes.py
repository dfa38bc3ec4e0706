"""Float layers refuse input of another dtype, as PyTorch does: integer and bool input, and float64 input into
a float32 layer, raise a TypeError naming the layer, the expected and the given dtype."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn

LAYERS = {
    "Linear": (lambda: nn.Linear(4, 3), (2, 4)),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 3), (1, 2, 8)),
    "Conv2d": (lambda: nn.Conv2d(2, 3, 3), (1, 2, 5, 5)),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(2, 3, 3), (1, 2, 5, 5)),
    "Conv3d": (lambda: nn.Conv3d(2, 3, 3), (1, 2, 4, 4, 4)),
    "ConvTranspose3d": (lambda: nn.ConvTranspose3d(2, 3, 2), (1, 2, 3, 3, 3)),
    "BatchNorm3d": (lambda: nn.BatchNorm3d(2), (2, 2, 3, 3, 3)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(4), (3, 4)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(2), (3, 2, 4, 4)),
    "LayerNorm": (lambda: nn.LayerNorm(4), (3, 4)),
    "LSTM": (lambda: nn.LSTM(4, 5), (6, 2, 4)),
    "GRUCell": (lambda: nn.GRUCell(4, 5), (2, 4)),
}


@pytest.mark.parametrize("given", ["int64", "int32", "bool", "float64", "float16"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_float32_layer_refuses_other_dtypes(name, given):
    make, shape = LAYERS[name]
    layer = make()
    x = ember.tensor(np.ones(shape), dtype=given)
    with pytest.raises(TypeError) as caught:
        layer(x)
    message = str(caught.value)
    for fragment in (name, "float32", given):
        assert fragment in message, f"{fragment!r} not in {message}"


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_takes_its_own_dtype(name):
    make, shape = LAYERS[name]
    layer = make().to(ember.float64)
    out = layer(ember.tensor(np.random.default_rng(0).standard_normal(shape)))
    out = out[0] if isinstance(out, tuple) else out
    assert out.dtype == np.float64


def test_multihead_attention_and_bilinear_refuse_integer_input():
    attention = nn.MultiheadAttention(4, 2)
    q = ember.tensor(np.ones((3, 1, 4), np.int64))
    with pytest.raises(TypeError, match="MultiheadAttention.*float32.*int64"):
        attention(q, q, q)
    bilinear = nn.Bilinear(2, 3, 4)
    with pytest.raises(TypeError, match="Bilinear.*input2.*float32.*float64"):
        bilinear(ember.ones(5, 2), ember.tensor(np.ones((5, 3))))


def test_traced_layer_refuses_another_dtype():
    layer = nn.Linear(4, 3)
    fast = ember.jit(lambda x: layer(x))
    with pytest.raises(TypeError, match="Linear.*float32.*float64"):
        fast(ember.tensor(np.ones((2, 4))))
