"""Bias folding: ``h @ W + b`` computed as ``[h, 1] @ [W; b]`` when the bias follows its weight in memory."""

from __future__ import annotations

import numpy as np
import pytest

import ember.compat.tf as tf
import ember.runtime.codegen as codegen
from ember.runtime.bias_fold import BiasFolds, _stacked


def test_a_bias_right_after_its_weight_is_one_stacked_matrix():
    base = np.arange(20, dtype=np.float32)
    weight, bias = base[:12].reshape(4, 3), base[12:15]
    stacked = _stacked(weight, bias)
    np.testing.assert_array_equal(stacked, np.vstack([weight, bias]))
    assert np.shares_memory(stacked, weight) and np.shares_memory(stacked, bias)
    assert _stacked(weight, base[13:16]) is None  # a gap
    assert _stacked(weight, base[12:14]) is None  # not one value per column
    assert _stacked(weight, np.zeros(3, np.float32)) is None  # another array
    assert _stacked(base[:12].reshape(3, 4).T, base[12:15]) is None  # a transposed weight
    wide = np.arange(20, dtype=np.float64)
    assert _stacked(wide[:12].reshape(4, 3), bias) is None


def _mlp(sizes, batch, steps, fetch_hidden=False, seed=0):
    """Momentum-SGD steps of a tf-style MLP; returns the variables, the per-step fetches and the folds made."""
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((steps, batch, sizes[0])).astype(np.float32)
    ys = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], (steps, batch))]
    made = []
    fold = codegen.fold_biases

    def spy(*args):
        made.append(fold(*args))
        return made[-1]

    codegen.fold_biases = spy
    try:
        graph = tf.Graph()
        with graph.as_default():
            x = tf.placeholder(tf.float32, [None, sizes[0]])
            y = tf.placeholder(tf.float32, [None, sizes[-1]])
            h, variables, hidden = x, [], None
            for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                w = tf.Variable((rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32))
                b = tf.Variable(rng.standard_normal(fan_out).astype(np.float32) * 0.1)
                variables += [w, b]
                h = tf.matmul(h, w) + b
                if k < len(sizes) - 2:
                    h = hidden = tf.nn.relu(h)
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=h))
            train = tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss)
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                fetched = [sess.run([train, loss, hidden] if fetch_hidden else train, {x: xs[i], y: ys[i]})
                           for i in range(steps)]
                return [sess.run(v) for v in variables], fetched, [f for f in made if f.forward]
    finally:
        codegen.fold_biases = fold


def _unfolded(monkeypatch, *args, **kwargs):
    with monkeypatch.context() as m:
        m.setattr(codegen, "fold_biases", lambda *a: BiasFolds())
        return _mlp(*args, **kwargs)


@pytest.mark.parametrize("sizes,forward_folds", [((13, 64, 64, 3), 3), ((300, 16, 3), 1)])
def test_folded_training_matches_unfolded(monkeypatch, sizes, forward_folds):
    folded, _, made = _mlp(sizes, 32, 5)
    plain, _, _ = _unfolded(monkeypatch, sizes, 32, 5)
    # every layer folds, except one whose input (32 x 300) costs more to copy than its bias add saves
    assert [(len(f.forward), len(f.backward)) for f in made] == [(forward_folds, forward_folds)]
    for a, b in zip(folded, plain):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_fetched_hidden_layer_is_not_folded_and_not_overwritten(monkeypatch):
    _, fetched, made = _mlp((13, 16, 3), 8, 3, fetch_hidden=True)
    _, plain, _ = _unfolded(monkeypatch, (13, 16, 3), 8, 3, fetch_hidden=True)
    assert [len(f.forward) for f in made] == [1]  # the second layer reads the fetched relu: left alone
    for (_, loss, hidden), (_, plain_loss, plain_hidden) in zip(fetched, plain):
        np.testing.assert_allclose(loss, plain_loss, rtol=1e-5)
        np.testing.assert_allclose(hidden, plain_hidden, rtol=1e-5, atol=1e-6)


# --- ember.jit: nn.Linear's (out, in) weight, laid out column by column with its bias after it ---------------


def test_an_out_in_weight_stored_by_columns_with_its_bias_after_it_is_one_stacked_matrix():
    from ember.runtime.arena import lay_out
    from ember.runtime.bias_fold import _stacked_columns

    rng = np.random.default_rng(0)
    weight, bias = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    w, b = lay_out([weight, bias], column_major={0}, packed={1})
    np.testing.assert_array_equal(w, weight)
    np.testing.assert_array_equal(b, bias)
    assert w.flags.f_contiguous and not w.flags.c_contiguous
    stacked = _stacked_columns(w, b)
    np.testing.assert_array_equal(stacked, np.vstack([weight.T, bias]))
    assert np.shares_memory(stacked, w) and np.shares_memory(stacked, b)
    assert _stacked_columns(*lay_out([weight, bias], column_major={0})) is None  # aligned: a gap after the weight
    assert _stacked_columns(*lay_out([weight, bias], packed={1})) is None  # stored by rows


def _jit_mlp(monkeypatch, fold: bool, sizes=(13, 64, 64, 3), batch=32, steps=4):
    """A jit-compiled momentum-SGD step of an nn.Linear MLP; returns the parameters after ``steps``, the losses,
    the folds made and the parameters' layouts."""
    import sys

    import ember
    from ember import nn

    jit_module = sys.modules["ember.jit"]  # the module (``ember.jit`` is also the function)
    made = []
    if fold:
        real = codegen.fold_biases
        monkeypatch.setattr(codegen, "fold_biases", lambda *a: made.append(real(*a)) or made[-1])
    else:
        monkeypatch.setattr(jit_module, "linear_layout", lambda *a: [])
    ember.manual_seed(0)
    layers = []
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(fan_in, fan_out)] + ([nn.ReLU()] if k < len(sizes) - 2 else [])
    net = nn.Sequential(*layers)
    optimizer = ember.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)

    @ember.jit
    def step(x, y):
        optimizer.zero_grad()
        loss = ember.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
        return loss

    rng = np.random.default_rng(1)
    losses = [step(ember.tensor(rng.standard_normal((batch, sizes[0])).astype(np.float32)),
                   ember.tensor(rng.integers(0, sizes[-1], batch))).item() for _ in range(steps)]
    layouts = [p.array.flags.f_contiguous and p.array.ndim == 2 for p in net.parameters()]
    return [p.detach().numpy().copy() for p in net.parameters()], losses, list(made), layouts


def test_jit_folds_linear_layers_and_matches_the_unfolded_code(monkeypatch):
    folded, losses, made, layouts = _jit_mlp(monkeypatch, fold=True)
    with monkeypatch.context() as m:
        plain, plain_losses, _, plain_layouts = _jit_mlp(m, fold=False)
    assert [(len(f.forward), len(f.backward)) for f in made] == [(3, 3)]  # every layer, forward and backward
    assert layouts == plain_layouts == [True, False] * 3  # nn.Linear's weights are column-major either way
    np.testing.assert_allclose(losses, plain_losses, rtol=1e-5)
    for a, b in zip(folded, plain):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
