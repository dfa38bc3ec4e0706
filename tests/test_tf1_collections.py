"""TF-1's graph collections: the variable collections and the global step read through ``tf.get_collection``,
and the ``scope`` filter of the collection and variable listings (a regular expression matched at the start);
sharing a scope's variable under reuse."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf


def _two_nets():
    with tf.variable_scope("generator"):
        g = tf.get_variable("w", [2])
    with tf.variable_scope("discriminator"):
        d = tf.get_variable("w", [2])
    frozen = tf.Variable(1.0, name="frozen", trainable=False)
    return g, d, frozen


def test_the_variable_collections_list_the_graphs_variables():
    g, d, frozen = _two_nets()
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES) == [g, d, frozen]
    assert tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES) == [g, d]
    assert tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="generator") == [g]
    assert tf.get_collection(tf.GraphKeys.LOCAL_VARIABLES) == []
    step = tf.train.get_or_create_global_step()
    assert tf.get_collection(tf.GraphKeys.GLOBAL_STEP) == [step]


def test_variable_listings_take_a_scope():
    g, d, frozen = _two_nets()
    assert tf.trainable_variables("discriminator") == [d]
    assert tf.global_variables("fro") == [frozen]
    assert tf.global_variables("gen|dis") == [g, d]  # a regular expression, as TF-1's filter
    assert tf.trainable_variables("w") == []  # matched from the start of the name


def test_a_gan_style_var_list_from_a_collection_trains_only_its_scope():
    g, d, _ = _two_nets()
    loss = tf.reduce_sum(tf.square(g - 1.0)) + tf.reduce_sum(tf.square(d - 1.0))
    step = tf.train.GradientDescentOptimizer(0.25).minimize(
        loss, var_list=tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="generator"))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        g0, d0 = sess.run([g, d])
        sess.run(step)
        np.testing.assert_allclose(sess.run(g), g0 - 0.25 * 2 * (g0 - 1.0), rtol=1e-6)
        np.testing.assert_array_equal(sess.run(d), d0)


def test_sharing_a_variable_with_another_shape_or_dtype_is_an_error():
    with tf.variable_scope("q"):
        v = tf.get_variable("v", [2, 3])
    with tf.variable_scope("q", reuse=True):
        assert tf.get_variable("v", [2, 3]) is v and tf.get_variable("v") is v
        with pytest.raises(ValueError, match=r"share variable q/v, but specified shape \[3\] and found shape \[2, 3\]"):
            tf.get_variable("v", [3])
        # (another dtype was handed the float32 variable without a word)
        with pytest.raises(ValueError, match="share variable q/v, but specified dtype float64 and found dtype float32"):
            tf.get_variable("v", [2, 3], dtype=tf.float64)


def test_reuse_false_inside_a_reusing_scope_still_reuses():
    # TF-1 has no scope that turns an outer reuse off: reuse=False is None there (a new s/t/v was made)
    with tf.variable_scope("s"):
        with tf.variable_scope("t"):
            v = tf.get_variable("v", [2])
    with tf.variable_scope("s", reuse=True):
        with tf.variable_scope("t", reuse=False):
            assert tf.get_variable_scope().reuse
            assert tf.get_variable("v", [2]) is v
            with pytest.raises(ValueError, match="s/t/w does not exist and reuse=True"):
                tf.get_variable("w", [2])
    assert len(tf.global_variables()) == 1


def test_get_variable_refuses_a_value_initializer_of_another_shape():
    # the shape was ignored: get_variable("v", [3], initializer=tf.constant([1., 2.])) made a [2] variable
    with pytest.raises(ValueError, match=r"get_variable v: .* shape \[2\], the shape asked \[3\]"):
        tf.get_variable("v", [3], initializer=tf.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"get_variable n: .* shape \[2\], the shape asked \[2, 1\]"):
        tf.get_variable("n", [2, 1], initializer=np.ones(2, np.float32))
    assert tf.get_variable("ok", initializer=tf.constant([1.0, 2.0])).shape == (2,)


def test_default_name_scopes_are_fresh_each_time():
    for expected in ("block/w:0", "block_1/w:0", "block_2/w:0"):
        with tf.variable_scope(None, default_name="block"):
            assert tf.get_variable("w", [1]).name == expected
    with tf.variable_scope("outer"):
        with tf.variable_scope(None, default_name="block") as scope:
            assert scope.name == "outer/block" and tf.get_variable("w", [1]).name == "outer/block/w:0"


def test_get_variable_scope_and_reuse_variables_share_a_gan_discriminator():
    def discriminator(x):
        w = tf.get_variable("w", [2, 1])
        return tf.matmul(x, w), w

    assert tf.get_variable_scope().name == ""
    with tf.variable_scope("D"):
        assert tf.get_variable_scope().name == "D"
        real, w_real = discriminator(tf.ones([3, 2]))
        tf.get_variable_scope().reuse_variables()
        assert tf.get_variable_scope().reuse
        fake, w_fake = discriminator(tf.zeros([3, 2]))
    assert w_fake is w_real and len(tf.trainable_variables()) == 1
    with tf.variable_scope("D2"):  # reuse was for D's block only
        assert not tf.get_variable_scope().reuse


def test_a_scope_object_reopens_its_full_name_and_a_slashed_name_is_relative():
    # a scope object was nested under the scope open now (D/D/w, the top level's as scope/w), and a name with a
    # slash lost its first parts (enc/l1 gave l1/w)
    w = tf.get_variable("w", [1])
    with tf.variable_scope(tf.get_variable_scope(), reuse=True):
        assert tf.get_variable("w") is w
    with tf.variable_scope("D"):
        d = tf.get_variable("w", [1])
        with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE):
            assert tf.get_variable("w", [1]) is d
    with tf.variable_scope("x"), tf.variable_scope("y") as inner:
        pass
    with tf.variable_scope("elsewhere"), tf.variable_scope(inner):
        assert tf.get_variable("v", [1]).name == "x/y/v:0"
    with tf.variable_scope("enc/l1"):
        assert tf.get_variable("w", [1]).name == "enc/l1/w:0"
    with tf.variable_scope("top"), tf.variable_scope("top/q"):
        assert tf.get_variable("w", [1]).name == "top/top/q/w:0"
    with tf.variable_scope("encoder") as scope:
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(2), tf.ones([1, 3, 2]), dtype=tf.float32, scope=scope)
    assert tf.global_variables()[-1].name == "encoder/gru_cell/candidate/bias:0"


def test_a_variable_scope_initializer_is_the_default_of_its_variables():
    # TF-1's PTB recipe: variable_scope("Model", initializer=random_uniform_initializer(-s, s)) sets every weight
    # made without an initializer below it (cells' kernels, tf.layers kernels, inner scopes); it was ignored
    with tf.variable_scope("model", initializer=tf.constant_initializer(0.25)) as scope:
        plain = tf.get_variable("w", [2, 2])
        explicit = tf.get_variable("b", [2], initializer=tf.zeros_initializer())
        with tf.variable_scope("inner"):
            inner = tf.get_variable("w", [3])
        cell = tf.nn.rnn_cell.BasicLSTMCell(2)
        cell(tf.ones([1, 3]), cell.zero_state(1, tf.float32))
        tf.layers.dense(tf.ones([1, 3]), 2)
    with tf.variable_scope(scope):  # a scope object brings its initializer back
        again = tf.get_variable("v", [1])
    with tf.variable_scope("other"):
        tf.get_variable_scope().set_initializer(tf.constant_initializer(-1.0))
        later = tf.get_variable("w", [2])
    outside = tf.get_variable("w", [50])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = {v.name: sess.run(v) for v in tf.global_variables()}
    for var in (plain, inner, again, cell.variables["kernel"]):
        np.testing.assert_array_equal(values[var.name], np.full(var.shape, 0.25, np.float32))
    np.testing.assert_array_equal(values["model/dense/kernel:0"], np.full((3, 2), 0.25, np.float32))
    assert not values[explicit.name].any() and not values["model/dense/bias:0"].any()
    assert not values[cell.variables["bias"].name].any()
    np.testing.assert_array_equal(values[later.name], [-1.0, -1.0])
    assert len(np.unique(values[outside.name])) == 50  # glorot uniform outside the scopes


def test_a_variable_scope_regularizer_penalizes_every_variable_made_in_it():
    # variable_scope(..., regularizer=...) was a TypeError; TF-1 penalizes each variable get_variable makes below
    # it without a regularizer of its own (a tf.layers bias too), and a scope object brings it back
    with tf.variable_scope("net", regularizer=tf.contrib.layers.l2_regularizer(0.1)) as scope:
        tf.get_variable("w", [4, 3], initializer=tf.constant_initializer(0.5))
        tf.get_variable("own", [2], initializer=tf.constant_initializer(1.0),
                        regularizer=tf.contrib.layers.l1_regularizer(1.0))
        with tf.variable_scope("inner"):
            tf.layers.dense(tf.ones([1, 4]), 2, kernel_initializer=tf.constant_initializer(1.0),
                            bias_initializer=tf.constant_initializer(2.0))
    with tf.variable_scope(scope):
        tf.get_variable("v", [2], initializer=tf.constant_initializer(3.0))
    with tf.variable_scope("other"):
        tf.get_variable_scope().set_regularizer(tf.contrib.layers.l1_regularizer(0.5))
        tf.get_variable("u", [3], initializer=tf.constant_initializer(-1.0))
        assert tf.get_variable_scope().regularizer is not None
    tf.get_variable("free", [5])
    assert len(tf.losses.get_regularization_losses()) == 6
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        total = sess.run(tf.losses.get_regularization_loss())
    l2 = 0.1 * (0.5 ** 2 * 12 + 1.0 * 8 + 2.0 ** 2 * 2 + 3.0 ** 2 * 2) / 2
    np.testing.assert_allclose(total, l2 + 1.0 * 2 + 0.5 * 3, rtol=1e-6)


def test_a_graph_reads_and_extends_its_own_collections():
    # sess.graph.get_collection(...) was an AttributeError on Graph
    graph = tf.Graph()
    with graph.as_default():
        w = tf.Variable(1.0, name="w")
        frozen = tf.Variable(2.0, name="frozen", trainable=False)
    graph.add_to_collection("extras", w)
    outer = tf.Variable(3.0, name="outer")  # in the default graph, not in ``graph``
    assert graph.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES) == [w]
    assert graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES) == [w, frozen]
    assert graph.get_collection("extras") == [w] and graph.get_collection("extras", scope="x") == []
    assert tf.get_collection("extras") == [] and tf.global_variables() == [outer]
    with tf.Session(graph=graph) as sess:
        assert sess.graph.get_collection("extras") == [w]


def test_variable_scope_takes_tf1s_positional_order_and_refuses_what_it_cannot_honour():
    # TF-1: (name_or_scope, default_name, values, initializer, regularizer, caching_device, partitioner,
    # custom_getter, reuse, ...): the fourth positional argument is the initializer, not reuse
    with tf.variable_scope("s", None, None, tf.constant_initializer(3.0)):
        w = tf.get_variable("w", [2])
    with tf.variable_scope("s", None, None, None, None, None, None, None, True):
        assert tf.get_variable("w", [2]) is w
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(w), [3.0, 3.0])
    with tf.variable_scope("t", caching_device="/cpu:0", use_resource=True, dtype=tf.float32):
        pass
    for kwargs in ({"partitioner": lambda *a: [1]}, {"custom_getter": lambda getter, *a, **k: getter(*a, **k)},
                   {"dtype": tf.float64}, {"auxiliary_name_scope": False}, {"constraint": abs}):
        with pytest.raises(ValueError, match=f"tf.variable_scope: {next(iter(kwargs))}=.* is not supported"):
            with tf.variable_scope("u", **kwargs):
                pass
