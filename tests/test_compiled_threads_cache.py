"""Compiled functions under threads and many input shapes: two threads calling one compiled function (a
Session, a GraphFunction, an ember.jit function) each get their own answers; the functions compiled per input
shape are kept in a bounded LRU cache."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import ember
import ember.compat.tf as tf
from ember.runtime import GraphFunction

THREADS = 8
CALLS = 60


def _hammer(run, make_input, expected) -> list:
    """Call ``run`` from THREADS threads CALLS times each with distinct inputs; the wrong answers."""
    wrong: list = []
    start = threading.Barrier(THREADS)

    def worker(k):
        start.wait()
        for i in range(CALLS):
            x = make_input(k * CALLS + i)
            got = run(x)
            if not np.allclose(got, expected(x), rtol=1e-5, atol=1e-6):
                wrong.append((k, i))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wrong


def _input(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((64, 32)).astype(np.float32)


def _reference(x: np.ndarray) -> np.ndarray:
    return np.tanh(np.maximum(x, 0) * 2.0 + 1.0).sum(axis=1)


def test_graph_function_is_thread_safe():
    graph = ember.graph.Graph()
    x = graph.input("x", (64, 32), "float32")
    with graph.building():
        graph.outputs = [ember.sum(ember.tanh(ember.relu(x) * 2.0 + 1.0), axis=1)]
    fn = GraphFunction(graph)
    assert _hammer(lambda a: fn(a)[0], _input, _reference) == []


def test_jit_function_is_thread_safe():
    fast = ember.jit(lambda t: ember.sum(ember.tanh(ember.relu(t) * 2.0 + 1.0), axis=1))
    assert _hammer(lambda a: fast(ember.tensor(a)).numpy(), _input, _reference) == []


def test_session_run_is_thread_safe():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, (None, 32))
        y = tf.reduce_sum(tf.tanh(tf.nn.relu(x) * 2.0 + 1.0), axis=1)
        sess = tf.Session()
    assert _hammer(lambda a: sess.run(y, {x: a}), _input, _reference) == []


def test_jit_first_calls_from_many_threads_trace_once():
    fast = ember.jit(lambda t: ember.sum(ember.tanh(ember.relu(t) * 2.0 + 1.0), axis=1))
    wrong, start = [], threading.Barrier(THREADS)

    def worker(k):
        start.wait()
        x = _input(k)
        if not np.allclose(fast(ember.tensor(x)).numpy(), _reference(x), rtol=1e-5, atol=1e-6):
            wrong.append(k)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == [] and fast.traces == 1


# --- the bounded cache --------------------------------------------------------------------------------------------


def test_compile_cache_is_lru_and_bounded():
    from ember.runtime.cache import COMPILE_CACHE_SIZE, CompileCache

    assert CompileCache().maxsize == COMPILE_CACHE_SIZE >= 1
    cache = CompileCache(maxsize=3)
    for key in "abc":
        cache[key] = key.upper()
    assert cache.get("a") == "A"  # "a" becomes the most recent
    cache["d"] = "D"
    assert sorted(cache) == ["a", "c", "d"] and cache.get("b") is None
    assert cache.setdefault("e", []) == [] and len(cache) == 3 and "c" not in cache
    with pytest.raises(ValueError, match="maxsize"):
        CompileCache(maxsize=0)


def test_jit_keeps_a_bounded_number_of_compilations():
    fast = ember.jit(lambda t: ember.relu(t).sum(axis=1), cache_size=4, dynamic=False)
    for batch in range(1, 13):
        x = np.random.default_rng(batch).standard_normal((batch, 3)).astype(np.float32)
        np.testing.assert_allclose(fast(ember.tensor(x)).numpy(), np.maximum(x, 0).sum(1), rtol=1e-6)
    assert len(fast.cache) == 4 and fast.traces == 12
    fast(ember.tensor(np.ones((12, 3), np.float32)))  # still cached: no new trace
    assert fast.traces == 12
    fast(ember.tensor(np.ones((1, 3), np.float32)))  # dropped: traced again
    assert fast.traces == 13


def test_graph_function_and_session_keep_a_bounded_number_of_compilations(monkeypatch):
    graph = ember.graph.Graph()
    x = graph.input("x", (None, 3), "float32")
    with graph.building():
        graph.outputs = [ember.relu(x).sum(axis=1)]
    fn = GraphFunction(graph, cache_size=3, dynamic=False)
    for batch in range(1, 9):
        a = np.full((batch, 3), -1.0 + batch, np.float32)
        np.testing.assert_allclose(fn(a)[0], np.maximum(a, 0).sum(1))
    assert sorted(key[0][0] for key in fn.concrete) == [6, 7, 8]

    from ember.runtime import cache

    monkeypatch.setattr(cache, "COMPILE_CACHE_SIZE", 4)  # what EMBER_COMPILE_CACHE_SIZE=4 sets
    tf_graph = tf.Graph()
    with tf_graph.as_default():
        p = tf.placeholder(tf.float32, (None, 3))
        y = tf.reduce_sum(tf.nn.relu(p), axis=1)
        sess = tf.Session()
    for batch in range(1, 11):
        np.testing.assert_allclose(sess.run(y, {p: np.ones((batch, 3), np.float32)}), np.full(batch, 3.0))
    assert len(sess.cache) == 4
