"""The fixture the TF-1 test files share: each test starts, and leaves, a fresh default graph."""

import pytest

import ember.compat.tf as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()
