"""TF-1's names: a tensor is "<op name>:<output index>", an op its name alone; names are made unique with
"_1", "_2"... (letter case ignored), name scopes too; the graph and ``Session.run`` find tensors and ops by name."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf


def test_tensor_names_carry_the_output_index_and_op_names_do_not():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    w = tf.Variable(tf.ones([2, 1]), name="w")
    y = tf.matmul(x, w)
    assert (x.name, x.op.name, x.op.type) == ("x:0", "x", "Placeholder")
    assert (w.name, w.op.name) == ("w:0", "w")
    assert (y.name, y.op.name, y.value_index) == ("MatMul:0", "MatMul", 0)
    assert y.op.outputs == [y]
    assert tf.add(x, x).name == "Add:0"
    assert [f(x).name for f in (tf.exp, tf.reduce_sum, tf.reduce_mean, tf.identity)] == \
        ["Exp:0", "Sum:0", "Mean:0", "Identity:0"]
    assert tf.subtract(x, x).name == "Sub:0" and tf.is_nan(x).name == "IsNan:0"
    assert (x + 1.0).name == "add_1:0"  # "Add" is taken: names are compared ignoring case
    train = tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(y))
    assert train.name == "GradientDescent" and train.op is train and train.outputs == []
    assert tf.train.AdamOptimizer().minimize(tf.reduce_sum(y), name="train").name == "train"
    assert repr(train) == "<tf.Operation 'GradientDescent' type=Train>"
    assert tf.group(train).name == "group_deps" and tf.no_op().name == "NoOp"
    assert tf.global_variables_initializer().name == "init" and w.initializer.name == "w/Assign"


def test_duplicate_names_get_tf_suffixes():
    x = tf.placeholder(tf.float32, [2])
    assert [(x + 1.0).name for _ in range(3)] == ["add:0", "add_1:0", "add_2:0"]
    assert tf.identity(x, name="out").name == "out:0"
    assert tf.identity(x, name="out_1").name == "out_1:0"  # taken explicitly ...
    assert tf.identity(x, name="out").name == "out_2:0"  # ... so the next "out" skips it
    assert tf.identity(x, name="Out").name == "Out_3:0"  # letter case is ignored, as in TF
    assert tf.placeholder(tf.float32).name == "Placeholder_1:0"


def test_name_scopes_are_unique_and_yield_their_prefix():
    x = tf.placeholder(tf.float32, [2], name="x")
    with tf.name_scope("block") as scope:
        assert scope == "block/" and tf.identity(x).name == "block/Identity:0"
        with tf.name_scope("inner"):
            assert (x * 2.0).name == "block/inner/mul:0"
        out = tf.identity(x, name=scope)  # a name ending in "/" is taken as it is: the scope's own op
    assert out.name == "block:0"
    with tf.name_scope("block") as again:
        assert again == "block_1/" and tf.identity(x).name == "block_1/Identity:0"
    with tf.name_scope(scope):  # re-entered as it was
        assert tf.identity(x).name == "block/Identity_1:0"
    with tf.name_scope(None, default_name="loss"), tf.name_scope(""):  # "" is the top level
        assert tf.identity(x).name == "Identity:0"
    with tf.variable_scope("layer") as vs:
        w = tf.get_variable("w", [2])
        assert (w * 2.0).name == "layer/mul:0"
    with tf.variable_scope("layer", reuse=True):  # a second name scope, the same variables
        assert tf.get_variable("w") is w and (w * 2.0).name == "layer_1/mul:0"
    with tf.variable_scope(vs, reuse=True):  # a scope object opens its first name scope again
        assert (w * 2.0).name == "layer/mul_1:0"
    assert w.name == "layer/w:0"


def test_graph_finds_tensors_and_ops_by_name():
    graph = tf.get_default_graph()
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    a, b = tf.split(x, 2, axis=1)
    values, indices = tf.nn.top_k(x, 2)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(tf.Variable(1.0) * 2.0), name="train")
    assert graph.get_tensor_by_name("x:0") is x and graph.get_operation_by_name("x") is x.op
    assert (a.name, b.name) == ("split:0", "split:1") and a.op is b.op and a.op.outputs == [a, b]
    assert graph.get_tensor_by_name("split:1") is b
    assert (values.name, indices.name) == ("TopKV2:0", "TopKV2:1")
    assert graph.get_operation_by_name("train") is train
    assert graph.as_graph_element("x:0") is x and graph.as_graph_element("train") is train
    with pytest.raises(ValueError, match="'x' refers to an Operation, not a Tensor"):
        graph.get_tensor_by_name("x")
    with pytest.raises(KeyError, match="'split:2' refers to a Tensor which does not exist.*only has 2 outputs"):
        graph.get_tensor_by_name("split:2")
    with pytest.raises(KeyError, match="The operation, 'nothing', does not exist"):
        graph.get_tensor_by_name("nothing:0")
    with pytest.raises(ValueError, match="'x:0' appears to refer to a Tensor, not a Operation"):
        graph.get_operation_by_name("x:0")
    with pytest.raises(KeyError, match="'nothing' refers to an Operation not in the graph"):
        graph.get_operation_by_name("nothing")
    with pytest.raises(ValueError, match="not a valid one"):
        graph.get_tensor_by_name("x:first")
    assert [op.name for op in graph.get_operations()][:2] == ["x", "split"]


def test_session_run_takes_names_as_fetches_and_feeds():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    w = tf.Variable(np.ones((2, 1), np.float32), name="w")
    y = tf.matmul(x, w, name="y")
    train = tf.train.GradientDescentOptimizer(0.5).minimize(tf.reduce_sum(y), name="train")
    data = np.array([[1.0, 2.0]], np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run("y:0", {"x:0": data}), [[3.0]])
        assert sess.run("y", {x: data}) is None  # an op's name: it runs, and gives None, as in TF-1
        fetched = sess.run({"out": "y:0", "step": "train"}, feed_dict={"x:0": data})
        assert fetched["step"] is None and fetched["out"].tolist() == [[3.0]]
        np.testing.assert_allclose(sess.run("w:0"), [[0.5], [0.0]])  # the step ran
        with pytest.raises(ValueError, match="'x' refers to an Operation, not a Tensor"):
            sess.run(y, {"x": data})
        with pytest.raises(KeyError, match="'nothing:0' refers to a Tensor which does not exist"):
            sess.run("nothing:0")
        with pytest.raises(TypeError, match="cannot feed"):
            sess.run(y, {train: data})


def test_dataset_iterator_elements_are_outputs_of_one_op():
    dataset = tf.data.Dataset.from_tensor_slices((np.zeros((4, 2), np.float32), np.arange(4)))
    features, labels = dataset.make_one_shot_iterator().get_next()
    assert (features.name, labels.name) == ("IteratorGetNext:0", "IteratorGetNext:1")
    assert tf.get_default_graph().get_tensor_by_name("IteratorGetNext:1") is labels


def test_layers_name_their_ops_inside_the_layer_scope_as_tf1():
    x = tf.placeholder(tf.float32, [None, 10], name="x")
    with tf.variable_scope("net"):
        h = tf.layers.dense(x, 4, activation=tf.nn.relu, name="h")
        logits = tf.layers.dense(h, 3, name="out")
    images = tf.placeholder(tf.float32, [None, 8, 8, 1], name="images")
    conv = tf.layers.conv2d(images, 2, 3, activation=tf.nn.relu)
    assert (h.name, logits.name, conv.name) == ("net/h/Relu:0", "net/out/BiasAdd:0", "conv2d/Relu:0")
    graph = tf.get_default_graph()
    assert graph.get_tensor_by_name("net/out/BiasAdd:0") is logits
    assert graph.get_operation_by_name("net/out/MatMul").name == "net/out/MatMul"
    assert [tf.nn.elu(x).name, tf.nn.softplus(x).name, tf.nn.relu6(x).name] == ["Elu:0", "Softplus:0", "Relu6:0"]
    assert tf.layers.conv2d_transpose(images, 2, 3).name == "conv2d_transpose/BiasAdd:0"
    assert tf.layers.separable_conv2d(images, 2, 3).name == "separable_conv2d/BiasAdd:0"
    assert tf.layers.conv1d(tf.placeholder(tf.float32, [None, 8, 2]), 2, 3).name == "conv1d/BiasAdd:0"
    assert tf.layers.conv3d(tf.placeholder(tf.float32, [None, 4, 4, 4, 1]), 2, 3).name == "conv3d/BiasAdd:0"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run("net/out/BiasAdd:0", {"x:0": np.ones((2, 10), np.float32)})
    assert out.shape == (2, 3)


def test_ops_know_their_inputs_consumers_and_control_inputs():
    # op.inputs, op.control_inputs, op.values(), tensor.consumers() and .device were AttributeErrors
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    first, rest = tf.split(x, [1, 2], axis=1, name="parts")
    doubled = tf.multiply(x, tf.constant(2.0), name="doubled")
    y = tf.nn.relu(doubled, name="y")
    with tf.control_dependencies([y]):
        z = tf.identity(x, name="z")
    assert [t.name for t in y.op.inputs] == ["doubled:0"]
    assert [t.name for t in doubled.op.inputs] == ["x:0", "Const:0"]
    assert [op.name for op in z.op.control_inputs] == ["y"] and y.op.control_inputs == []
    assert [op.name for op in x.consumers()] == ["parts", "doubled", "z"]
    assert [t.name for t in first.op.values()] == ["parts:0", "parts:1"] and rest.op.inputs == (x,)
    assert x.device == "" and y.op.device == ""
    with tf.Session() as sess:  # the control dependency still runs first
        np.testing.assert_array_equal(sess.run(z, {x: np.ones((1, 3), np.float32)}), np.ones((1, 3)))
