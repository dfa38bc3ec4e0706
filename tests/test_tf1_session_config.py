"""``tf.ConfigProto``, ``tf.GPUOptions`` and ``tf.device`` as TF-1 scripts use them around a Session."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf


def test_a_session_built_with_a_config_and_device_blocks_runs():
    config = tf.ConfigProto(allow_soft_placement=True, log_device_placement=False)
    config.gpu_options.allow_growth = True
    assert config.allow_soft_placement and config.gpu_options.allow_growth
    assert tf.ConfigProto(gpu_options=tf.GPUOptions(per_process_gpu_memory_fraction=0.5)) \
        .gpu_options.per_process_gpu_memory_fraction == 0.5
    with tf.device("/cpu:0"):
        embeddings = tf.Variable(tf.ones([4, 2]))
        looked_up = tf.nn.embedding_lookup(embeddings, [1, 3])
    with tf.Session(config=config) as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(looked_up), np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match="tf.device: expected a device name"):
        with tf.device(3):
            pass
