"""tf.data in TF-1 graph mode: datasets run in Python, iterators whose get_next tensors a Session fills."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember
import ember.compat.tf as tf


def drain(sess, tensors, feed=None):
    out = []
    while True:
        try:
            out.append(sess.run(tensors, feed))
        except tf.errors.OutOfRangeError:
            return out


def test_one_shot_iterator_batches_and_ends():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    y = np.arange(5)
    features, labels = tf.data.Dataset.from_tensor_slices((x, y)).batch(2).make_one_shot_iterator().get_next()
    assert features.shape.as_list() == [None, 2] and features.dtype == np.float32 and labels.dtype == np.int64
    total = tf.reduce_sum(features, axis=1)
    with tf.Session() as sess:
        got = drain(sess, [total, labels])
    np.testing.assert_allclose(np.concatenate([g[0] for g in got]), x.sum(1))
    np.testing.assert_array_equal(np.concatenate([g[1] for g in got]), y)
    assert [len(g[1]) for g in got] == [2, 2, 1]


def test_one_element_per_run_shared_by_the_components_and_fetches():
    ds = tf.data.Dataset.from_tensor_slices({"a": np.arange(3.0), "b": np.arange(3.0) * 10})
    element = ds.make_one_shot_iterator().get_next()
    both = element["a"] + element["b"]
    with tf.Session() as sess:
        assert sess.run([element["a"], both]) == [0.0, 0.0]
        assert sess.run(both) == 11.0
        assert sess.run({"x": element["b"], "y": both}) == {"x": 20.0, "y": 22.0}
        with pytest.raises(tf.errors.OutOfRangeError):
            sess.run(both)


def test_shuffle_repeat_take_skip_map_filter():
    ember.manual_seed(0)
    ds = (tf.data.Dataset.range(10).shuffle(10).repeat(2).map(lambda v: v * 2)
          .filter(lambda v: tf.not_equal(v, 4)).skip(1).take(15))
    value = ds.make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        got = [int(v) for v in drain(sess, value)]
    assert len(got) == 15 and 4 not in got and got != sorted(got)
    assert set(got) <= set(range(0, 20, 2))
    ds = tf.data.Dataset.range(5).shuffle(5, seed=1, reshuffle_each_iteration=False).repeat(2)
    with tf.Session() as sess:
        order = [int(v) for v in drain(sess, ds.make_one_shot_iterator().get_next())]
    assert sorted(order[:5]) == list(range(5)) and order[:5] == order[5:]


def test_seeded_shuffle_starts_over_with_each_iterator_start():
    # TF-1 seeds a shuffle's generator per iterator start: a new Session or initializer run repeats the orders,
    # while the epochs of one start (shuffle then repeat) differ.
    ds = tf.data.Dataset.range(10).shuffle(10, seed=3).repeat(2)
    orders = []
    for _ in range(2):
        with tf.Session() as sess:
            orders.append([int(v) for v in drain(sess, ds.make_one_shot_iterator().get_next())])
    assert orders[0] == orders[1] and orders[0][:10] != orders[0][10:]
    it = ds.make_initializable_iterator()
    value = it.get_next()
    with tf.Session() as sess:
        sess.run(it.initializer)
        first = [int(v) for v in drain(sess, value)]
        sess.run(it.initializer)
        assert [int(v) for v in drain(sess, value)] == first == orders[0]


def test_from_structure_matches_shapes_to_the_types_structure():
    # a NumPy map leaves the shapes unknown: output_shapes (None, None) is two unknown shapes, not one of rank 2
    ds = tf.data.Dataset.range(3).map(lambda v: (np.float32(v), np.int64(v) * 2))
    assert ds.output_shapes == (None, None)
    it = tf.data.Iterator.from_structure(ds.output_types, ds.output_shapes)
    a, b = it.get_next()
    with tf.Session() as sess:
        sess.run(it.make_initializer(ds))
        assert [tuple(map(float, pair)) for pair in drain(sess, [a, b])] == [(0, 0), (1, 2), (2, 4)]
    nested = tf.data.Iterator.from_structure({"x": (tf.float32, tf.int32), "y": tf.int64}, {"x": None, "y": [None]})
    assert nested.output_shapes == {"x": (None, None), "y": (None,)}
    with pytest.raises(ValueError, match="does not match the structure of output_types"):
        tf.data.Iterator.from_structure((tf.float32, tf.int32), [2])


def test_map_of_a_tensor_from_the_default_graph_is_refused():
    # the function's tf ops cannot be traced on the element, and called on the arrays it gave a tf Tensor as the
    # element's value (sess.run returned <tf.Tensor 'mul:0'>)
    scale = tf.constant(3.0)
    ds = tf.data.Dataset.from_tensor_slices(np.arange(3.0, dtype=np.float32))
    with pytest.raises(TypeError, match=r"Dataset.map: the function gives tf tensors .*same graph"):
        ds.map(lambda v: v * scale)
    with pytest.raises(TypeError, match="Dataset.filter: the function gives tf tensors"):
        ds.filter(lambda v: tf.greater(v, scale))


def test_map_with_numpy_and_tuple_arguments():
    ds = tf.data.Dataset.from_tensor_slices((np.arange(4.0), np.arange(4))).map(
        lambda a, b: (tf.cast(b, tf.float32) + tf.cast(a, tf.float32), tf.square(a)))
    s, sq = ds.batch(4).make_one_shot_iterator().get_next()
    assert s.dtype == np.float32
    with tf.Session() as sess:
        got_s, got_sq = sess.run([s, sq])
    np.testing.assert_allclose(got_s, 2 * np.arange(4.0))
    np.testing.assert_allclose(got_sq, np.arange(4.0) ** 2)
    plain = tf.data.Dataset.range(3).map(lambda v: np.float32(v) / 2).make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        assert [float(v) for v in drain(sess, plain)] == [0.0, 0.5, 1.0]
    # a NumPy function giving one array of a tuple's components: elements of one component
    pairs = tf.data.Dataset.from_tensor_slices((np.arange(6.0).reshape(3, 2), np.arange(3)))
    summed = pairs.map(lambda x, y: np.concatenate([x, [y]]).sum())
    assert summed.output_types == np.float64 and summed.output_shapes is None
    with tf.Session() as sess:
        assert [float(v) for v in drain(sess, summed.make_one_shot_iterator().get_next())] == [1.0, 6.0, 11.0]


def test_initializable_iterator_reads_placeholders_and_restarts():
    data = tf.placeholder(tf.float32, [None, 3])
    iterator = tf.data.Dataset.from_tensor_slices(data).batch(2).make_initializable_iterator()
    batch = iterator.get_next()
    mean = tf.reduce_mean(batch)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError, match="not been initialized"):
            sess.run(mean)
        sess.run(iterator.initializer, {data: np.ones((4, 3), np.float32)})
        assert drain(sess, mean) == [1.0, 1.0]
        sess.run(iterator.initializer, {data: np.full((2, 3), 5.0, np.float32)})
        assert drain(sess, mean) == [5.0]
    with pytest.raises(ValueError, match="initializable"):
        tf.data.Dataset.from_tensor_slices(data).make_one_shot_iterator()


def test_reinitializable_iterator_switches_datasets():
    train = tf.data.Dataset.from_tensor_slices(np.arange(6, dtype=np.float32)).batch(3)
    valid = tf.data.Dataset.from_tensor_slices(np.arange(100, 102, dtype=np.float32)).batch(3)
    iterator = tf.data.Iterator.from_structure(train.output_types, train.output_shapes)
    value = iterator.get_next()
    train_init, valid_init = iterator.make_initializer(train), iterator.make_initializer(valid)
    with tf.Session() as sess:
        sess.run(train_init)
        assert [list(v) for v in drain(sess, value)] == [[0, 1, 2], [3, 4, 5]]
        sess.run(valid_init)
        assert [list(v) for v in drain(sess, value)] == [[100, 101]]
    with pytest.raises(TypeError, match="do not match"):
        iterator.make_initializer(tf.data.Dataset.range(3))


def test_training_from_a_dataset():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 3)).astype(np.float32)
    Y = (X @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    x, y = tf.data.Dataset.from_tensor_slices((X, Y)).shuffle(256).batch(32).repeat().make_one_shot_iterator() \
        .get_next()
    w = tf.Variable(tf.zeros([3, 1]))
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(200):
            sess.run(train)
        np.testing.assert_allclose(sess.run(w).ravel(), [1.0, -2.0, 0.5], atol=1e-3)


def test_batch_errors_and_feeding_over_the_iterator():
    ragged = tf.data.Dataset.from_tensor_slices(np.arange(4.0)).map(lambda v: np.ones(int(v) + 1)).batch(2)
    with tf.Session() as sess:
        with pytest.raises(ValueError, match="different shapes"):
            sess.run(ragged.make_one_shot_iterator().get_next())
    value = tf.data.Dataset.range(3).make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        assert sess.run(value, {value: 42}) == 42  # a fed value does not draw an element
        assert sess.run(value) == 0
    with pytest.raises(ValueError, match="batch_size"):
        tf.data.Dataset.range(3).batch(0)


def test_a_list_is_one_component_converted_as_tf_constant():
    # TF-1 converts a list to a tensor (it is not a level of nesting): Python ints int32, floats float32
    ints = tf.data.Dataset.from_tensor_slices([1, 2, 3])
    assert ints.output_types == np.int32 and ints.output_shapes == ()
    rows = tf.data.Dataset.from_tensor_slices([[1.0, 2.0], [3.0, 4.0]])
    assert rows.output_types == np.float32 and rows.output_shapes == (2,)
    assert tf.data.Dataset.from_tensors([1, 2]).output_shapes == (2,)
    pairs = tf.data.Dataset.from_tensor_slices(([1, 2], [[0.5], [1.5]]))
    with tf.Session() as sess:
        got = [sess.run(n) for n in [ints.make_one_shot_iterator().get_next()] * 3]
        assert [int(v) for v in got] == [1, 2, 3]
        row = rows.make_one_shot_iterator().get_next()
        np.testing.assert_array_equal(sess.run(row), [1.0, 2.0])
        np.testing.assert_array_equal(sess.run(row), [3.0, 4.0])
        first = sess.run(pairs.make_one_shot_iterator().get_next())
        assert int(first[0]) == 1 and first[1].tolist() == [0.5]
    # a list of tf tensors is packed into one tensor too: its slices are the tensors
    a, b = tf.placeholder(tf.float32, [3]), tf.placeholder(tf.float32, [3])
    stacked = tf.data.Dataset.from_tensor_slices([a, b])
    assert stacked.output_shapes == (3,) and tf.data.Dataset.from_tensors([[a], [b]]).output_shapes == (2, 1, 3)
    iterator = stacked.make_initializable_iterator()
    with tf.Session() as sess:
        sess.run(iterator.initializer, {a: np.arange(3, dtype=np.float32), b: np.ones(3, np.float32)})
        assert [v.tolist() for v in drain(sess, iterator.get_next())] == [[0, 1, 2], [1, 1, 1]]


def test_skip_minus_one_skips_everything_and_take_minus_one_keeps_everything():
    # skip(-1) kept every element (TF skips the whole dataset)
    with tf.Session() as sess:
        assert drain(sess, tf.data.Dataset.range(5).skip(-1).make_one_shot_iterator().get_next()) == []
        assert drain(sess, tf.data.Dataset.range(5).take(-1).make_one_shot_iterator().get_next()) == list(range(5))
        assert drain(sess, tf.data.Dataset.range(5).skip(7).make_one_shot_iterator().get_next()) == []


def test_python_ints_outside_int32_and_numpy_scalars_keep_their_values_and_dtypes():
    # Python ints were cast to int32 whatever their size (2**40 became 0), NumPy float64 scalars to float32
    big = tf.data.Dataset.from_tensor_slices([2**40, 3])
    assert big.output_types == np.int64
    scalar = tf.data.Dataset.from_tensors(np.float64(0.1))
    assert scalar.output_types == np.float64
    with tf.Session() as sess:
        assert [int(v) for v in drain(sess, big.make_one_shot_iterator().get_next())] == [2**40, 3]
        assert drain(sess, scalar.make_one_shot_iterator().get_next()) == [0.1]


def padded_reference(arrays, shape, fill):
    """NumPy: the arrays padded at the end of each dimension to ``shape`` with ``fill``, stacked."""
    out = np.full((len(arrays),) + tuple(shape), fill, np.asarray(arrays[0]).dtype)
    for j, a in enumerate(arrays):
        out[(j,) + tuple(slice(0, n) for n in a.shape)] = a
    return out


def test_padded_batch_pads_each_component_to_its_padded_shape():
    lengths = [3, 1, 4, 2, 5]
    seqs = [np.arange(1, n + 1, dtype=np.int64) * 10 for n in lengths]
    ds = tf.data.Dataset.from_tensor_slices(np.array(lengths, np.int64)).map(
        lambda n: (np.arange(1, int(n) + 1, dtype=np.int64) * 10, np.full((int(n), 2), int(n), np.float32), n))
    batched = ds.padded_batch(2, padded_shapes=([None], [-1, 2], []), padding_values=(np.int64(-1), 0.5, np.int64(0)))
    assert batched.output_shapes == ((None, None), (None, None, 2), (None,))
    assert batched.output_types == (np.int64, np.float32, np.int64)
    with tf.Session() as sess:
        got = drain(sess, batched.make_one_shot_iterator().get_next())
    assert len(got) == 3
    for k, (ids, feats, n) in enumerate(got):
        group = range(2 * k, min(2 * k + 2, 5))
        longest = max(lengths[j] for j in group)
        np.testing.assert_array_equal(ids, padded_reference([seqs[j] for j in group], [longest], -1))
        np.testing.assert_array_equal(feats, padded_reference(
            [np.full((lengths[j], 2), lengths[j], np.float32) for j in group], [longest, 2], 0.5))
        np.testing.assert_array_equal(n, [lengths[j] for j in group])
    # a fixed padded size, a dict of components, drop_remainder, the default padding_values
    ds = tf.data.Dataset.from_tensor_slices(np.array(lengths, np.int32)).map(
        lambda n: {"tokens": np.arange(int(n), dtype=np.int32) + 1, "words": np.full(int(n), "w")})
    fixed = ds.padded_batch(2, padded_shapes={"tokens": [6], "words": [None]}, drop_remainder=True)
    assert fixed.output_shapes == {"tokens": (2, 6), "words": (2, None)}
    with tf.Session() as sess:
        got = drain(sess, fixed.make_one_shot_iterator().get_next())
    assert len(got) == 2
    np.testing.assert_array_equal(got[1]["tokens"], padded_reference([np.arange(4) + 1, np.arange(2) + 1], [6], 0))
    assert got[0]["words"].tolist() == [["w", "w", "w"], ["w", "", ""]]


def test_padded_batch_without_padded_shapes_pads_to_the_longest_and_keeps_known_dimensions():
    ds = tf.data.Dataset.range(1, 4).map(lambda n: np.ones((int(n), 3), np.float64) * int(n))
    with tf.Session() as sess:
        (got,) = drain(sess, ds.padded_batch(3).make_one_shot_iterator().get_next())
    expected = padded_reference([np.ones((n, 3)) * n for n in (1, 2, 3)], [3, 3], 0.0)
    np.testing.assert_array_equal(got, expected)
    rows = tf.data.Dataset.from_tensor_slices(np.zeros((4, 2, 3), np.float32)).padded_batch(3)
    assert rows.output_shapes == (None, 2, 3)


def test_padded_batch_through_an_initializable_iterator_over_several_epochs():
    data = tf.placeholder(tf.int32, [None])
    pad = tf.placeholder(tf.int32, [])
    ds = tf.data.Dataset.from_tensor_slices(data).map(lambda n: np.arange(int(n), dtype=np.int32))
    iterator = ds.padded_batch(2, padded_shapes=[None], padding_values=pad).make_initializable_iterator()
    value = iterator.get_next()
    with tf.Session() as sess:
        for epoch, (sizes, fill) in enumerate([([2, 1, 3], -1), ([1, 4], 7), ([2, 1, 3], 9)]):
            sess.run(iterator.initializer, {data: np.array(sizes, np.int32), pad: fill})
            got = drain(sess, value)
            groups = [sizes[i:i + 2] for i in range(0, len(sizes), 2)]
            assert len(got) == len(groups), epoch
            for batch, group in zip(got, groups):
                np.testing.assert_array_equal(batch, padded_reference([np.arange(n) for n in group],
                                                                      [max(group)], fill))


def test_padded_batch_refuses_bad_shapes_and_padding_values():
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((4, 3), np.float32), np.arange(4)))
    with pytest.raises(ValueError, match=r"padded_batch: padded_shapes .* does not match the structure"):
        ds.padded_batch(2, padded_shapes=[None, 3])
    with pytest.raises(ValueError, match=r"padded shape \[5\] of component 0 is not compatible with its shape \[3\]"):
        ds.padded_batch(2, padded_shapes=([5], []))
    with pytest.raises(ValueError, match=r"padded shape \[None, None\] of component 0"):
        ds.padded_batch(2, padded_shapes=([None, None], []))
    with pytest.raises(TypeError, match="padding_values of component 1 has dtype int32, not the component's int64"):
        ds.padded_batch(2, padded_shapes=([3], []), padding_values=(np.float32(0), -1))
    with pytest.raises(ValueError, match="padding_values of component 0 must be a scalar"):
        ds.padded_batch(2, padded_shapes=([3], []), padding_values=(np.zeros(2, np.float32), np.int64(0)))
    with pytest.raises(ValueError, match="batch_size"):
        ds.padded_batch(0, padded_shapes=([3], []))
    long = tf.data.Dataset.range(1, 5).map(lambda n: np.zeros(int(n), np.float32)).padded_batch(2, [3])
    with tf.Session() as sess:
        value = long.make_one_shot_iterator().get_next()
        assert sess.run(value).shape == (2, 3)
        with pytest.raises(ValueError, match=r"has shape \[4\], larger than its padded shape \[3\]"):
            sess.run(value)
    ranks = tf.data.Dataset.range(2).map(lambda n: np.zeros((1,) * (int(n) + 1), np.float32)).padded_batch(2)
    with tf.Session() as sess:
        with pytest.raises(ValueError, match="different ranks"):
            sess.run(ranks.make_one_shot_iterator().get_next())


def test_training_on_padded_batches_of_variable_length_sequences():
    # a TF-1 loop: the mean of each padded sequence (its length known) times w, fitted to targets 3 * mean
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 8, size=64).astype(np.int32)
    seqs = [rng.normal(size=n).astype(np.float32) for n in lengths]
    targets = np.array([3.0 * s.mean() for s in seqs], np.float32)
    index = tf.data.Dataset.from_tensor_slices((np.arange(64), targets))
    ds = index.map(lambda i, y: (seqs[int(i)], np.int32(lengths[int(i)]), y))
    x, n, y = ds.repeat().padded_batch(16, padded_shapes=([None], [], [])).make_one_shot_iterator().get_next()
    w = tf.Variable(0.0)
    mean = tf.reduce_sum(x, axis=1) / tf.cast(n, tf.float32)
    loss = tf.reduce_mean(tf.square(w * mean - y))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(x)
        np.testing.assert_array_equal(first, padded_reference(seqs[:16], [lengths[:16].max()], 0.0))
        for _ in range(100):
            sess.run(train)
        assert abs(sess.run(w) - 3.0) < 1e-3


def test_from_generator_calls_the_generator_on_every_pass_and_converts_to_output_types():
    calls = []

    def gen(n, scale):
        calls.append((int(n), float(scale)))
        for i in range(int(n)):
            yield i * scale, [i] * (i + 1)

    n = tf.placeholder(tf.int64, [])
    ds = tf.data.Dataset.from_generator(gen, (tf.float32, tf.int32), (tf.TensorShape([]), tf.TensorShape([None])),
                                        args=(n, np.float64(0.5)))
    assert ds.output_types == (np.float32, np.int32) and ds.output_shapes == ((), (None,))
    iterator = ds.repeat(2).make_initializable_iterator()
    x, ids = iterator.get_next()
    with tf.Session() as sess:
        for size in (3, 1):
            sess.run(iterator.initializer, {n: size})
            got = drain(sess, [x, ids])
            expected = [(i * 0.5, [i] * (i + 1)) for i in range(size)] * 2
            assert [(float(a), b.tolist()) for a, b in got] == expected
            assert all(a.dtype == np.float32 and b.dtype == np.int32 for a, b in got)
    assert calls == [(3, 0.5), (3, 0.5), (1, 0.5), (1, 0.5)]
    # one component, dicts, and batching the generated elements
    rows = tf.data.Dataset.from_generator(lambda: iter([{"a": 1, "b": [1.0, 2.0]}, {"a": 2, "b": [3.0, 4.0]}]),
                                          {"a": tf.int64, "b": tf.float64}, {"a": [], "b": [2]})
    with tf.Session() as sess:
        got = sess.run(rows.batch(2).make_one_shot_iterator().get_next())
    np.testing.assert_array_equal(got["a"], [1, 2])
    np.testing.assert_array_equal(got["b"], [[1.0, 2.0], [3.0, 4.0]])
    assert got["b"].dtype == np.float64
    single = tf.data.Dataset.from_generator(lambda: (np.arange(k) for k in range(3)), tf.int64)
    assert single.output_shapes is None
    with tf.Session() as sess:
        assert [v.tolist() for v in drain(sess, single.make_one_shot_iterator().get_next())] == [[], [0], [0, 1]]


def test_from_generator_names_the_element_that_does_not_match():
    def run_first(ds):
        with tf.Session() as sess:
            return drain(sess, ds.make_one_shot_iterator().get_next())

    shapes = tf.data.Dataset.from_generator(lambda: iter([[1, 2], [1, 2, 3]]), tf.int32, [2])
    with pytest.raises(ValueError, match=r"yielded an element of shape \[3\] where output_shapes says \[2\] "
                                         r"\(the element: \[1, 2, 3\]\)"):
        run_first(shapes)
    structure = tf.data.Dataset.from_generator(lambda: iter([1]), (tf.int32, tf.int32))
    with pytest.raises(TypeError, match="yielded 1, which does not match the structure of output_types"):
        run_first(structure)
    convert = tf.data.Dataset.from_generator(lambda: iter(["x"]), tf.float32)
    with pytest.raises(TypeError, match="component 'x' cannot be converted to float32"):
        run_first(convert)
    with pytest.raises(ValueError, match="Dataset.from_generator: output_shapes"):
        tf.data.Dataset.from_generator(lambda: iter([]), (tf.int32, tf.int32), ([],))
    with pytest.raises(TypeError, match=r"generator\(\) must return an iterable \(a generator\), got int"):
        run_first(tf.data.Dataset.from_generator(lambda: 3, tf.int32))
    with pytest.raises(TypeError, match="generator must be a callable"):
        tf.data.Dataset.from_generator(iter([1]), tf.int32)


def values_of(dataset, feed=None):
    with tf.Session() as sess:
        return [v.tolist() if isinstance(v, np.ndarray) else v for v in
                drain(sess, dataset.make_one_shot_iterator().get_next(), feed)]


def test_flat_map_chains_the_datasets_of_each_element():
    rows = np.arange(6, dtype=np.int32).reshape(3, 2)
    ds = tf.data.Dataset.from_tensor_slices(rows).flat_map(lambda r: tf.data.Dataset.from_tensor_slices(r * 10))
    assert ds.output_types == np.int32 and ds.output_shapes == ()
    assert values_of(ds) == (rows * 10).ravel().tolist()
    # tf ops traced once (the element's tensors feed them); a tuple element; a NumPy function
    pairs = tf.data.Dataset.from_tensor_slices((np.array([1, 2], np.int64), np.array([0.5, 2.0], np.float32)))
    made = pairs.flat_map(lambda n, x: tf.data.Dataset.from_tensors((n + 1, tf.ones([3]) * x)).repeat(2))
    assert made.output_shapes == ((), (3,))
    got = values_of(made)
    assert [(int(a), b.tolist()) for a, b in got] == [(2, [0.5] * 3)] * 2 + [(3, [2.0] * 3)] * 2
    plain = tf.data.Dataset.range(4).flat_map(lambda n: tf.data.Dataset.range(int(n)))
    assert values_of(plain) == [n for k in range(4) for n in range(k)]


def test_interleave_takes_blocks_in_turn_as_tf1():
    # TF-1's documented example: cycle_length 2, block_length 4 over five elements repeated 6 times each
    ds = tf.data.Dataset.range(1, 6).interleave(lambda x: tf.data.Dataset.from_tensors(x).repeat(6), cycle_length=2,
                                                block_length=4)
    expected = [1] * 4 + [2] * 4 + [1] * 2 + [2] * 2 + [3] * 4 + [4] * 4 + [3] * 2 + [4] * 2 + [5] * 6
    assert values_of(ds) == expected
    # datasets of different lengths: an ended one frees its slot for the next element, the cycle moving on
    uneven = tf.data.Dataset.range(1, 5).interleave(lambda x: tf.data.Dataset.range(int(x)).map(lambda _: x * 1),
                                                    cycle_length=2)
    assert values_of(uneven) == [1, 2, 2, 3, 3, 4, 3, 4, 4, 4]
    wide = tf.data.Dataset.range(3).interleave(
        lambda x: tf.data.Dataset.range(10 * int(x), 10 * int(x) + 3), cycle_length=5, block_length=2,
        num_parallel_calls=tf.data.experimental.AUTOTUNE)
    assert values_of(wide) == [0, 1, 10, 11, 20, 21, 2, 12, 22]


def test_interleave_of_generators_over_placeholders_through_several_epochs():
    def gen(n):
        for i in range(int(n)):
            yield np.full(2, int(n) * 100 + i, np.int64)

    names = tf.placeholder(tf.int64, [None])
    ds = tf.data.Dataset.from_tensor_slices(names).interleave(
        lambda n: tf.data.Dataset.from_generator(gen, tf.int64, [2], args=(n,)), cycle_length=2, block_length=2)
    iterator = ds.batch(3).make_initializable_iterator()
    value = iterator.get_next()
    with tf.Session() as sess:
        for sizes, order in [([3, 1, 2], [300, 301, 100, 302, 200, 201]), ([2, 2], [200, 201, 200, 201])]:
            sess.run(iterator.initializer, {names: np.array(sizes, np.int64)})
            got = np.concatenate(drain(sess, value))
            np.testing.assert_array_equal(got, np.stack([np.full(2, v) for v in order]))


def test_flat_map_and_interleave_errors():
    ds = tf.data.Dataset.range(3)
    with pytest.raises(TypeError, match="Dataset.flat_map: map_func must return a Dataset, got Tensor"):
        ds.flat_map(lambda x: x * 2)
    with pytest.raises(ValueError, match="Dataset.interleave: cycle_length must be positive"):
        ds.interleave(lambda x: tf.data.Dataset.from_tensors(x), cycle_length=0)
    with pytest.raises(ValueError, match="Dataset.interleave: block_length must be positive"):
        ds.interleave(lambda x: tf.data.Dataset.from_tensors(x), cycle_length=2, block_length=0)
    with pytest.raises(ValueError, match="num_parallel_calls must be AUTOTUNE or from 1 to cycle_length 2"):
        ds.interleave(lambda x: tf.data.Dataset.from_tensors(x), cycle_length=2, num_parallel_calls=3)
    mixed = ds.flat_map(lambda x: tf.data.Dataset.range(1) if int(x) == 0 else
                        tf.data.Dataset.from_tensors(np.float32(x)))
    with pytest.raises(TypeError, match=r"made a dataset of dtypes \['float32'\], not those of its first one "
                                        r"\['int64'\]"):
        values_of(mixed)


def test_unbatch_enumerate_and_apply():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.arange(6, dtype=np.int64)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4).unbatch()
    assert ds.output_shapes == ((2,), ()) and ds.output_types == (np.float32, np.int64)
    got = values_of(ds)
    assert [(a.tolist(), int(b)) for a, b in got] == [(x[i].tolist(), i) for i in range(6)]
    ragged = tf.data.Dataset.range(1, 4).map(lambda n: np.arange(int(n)) * 2).unbatch()
    assert values_of(ragged) == [0, 0, 2, 0, 2, 4]
    same = tf.data.Dataset.from_tensor_slices(x).batch(4).apply(tf.data.experimental.unbatch())
    assert values_of(same) == x.tolist()
    numbered = tf.data.Dataset.from_tensor_slices({"a": np.array([5.0, 6.0], np.float32)}).enumerate(start=3)
    assert numbered.output_types == (np.int64, {"a": np.float32}) and numbered.output_shapes == ((), {"a": ()})
    with tf.Session() as sess:
        i, element = numbered.make_one_shot_iterator().get_next()
        assert drain(sess, [i, element["a"]]) == [[3, 5.0], [4, 6.0]]
    same = tf.data.Dataset.range(2).apply(tf.data.experimental.enumerate_dataset(1))
    assert [(int(a), int(b)) for a, b in values_of(same)] == [(1, 0), (2, 1)]
    with pytest.raises(ValueError, match="Dataset.unbatch: component 0 is a scalar"):
        tf.data.Dataset.range(3).unbatch()
    mismatched = tf.data.Dataset.range(1).map(lambda n: (np.zeros(2), np.zeros(3))).unbatch()
    with pytest.raises(ValueError, match=r"components have shapes \[\[2\], \[3\]\], not one first dimension"):
        values_of(mismatched)
    with pytest.raises(TypeError, match="transformation_func must return a Dataset"):
        tf.data.Dataset.range(2).apply(lambda d: 3)


def test_reduce_runs_a_fresh_pass_for_each_session_run():
    total = tf.data.Dataset.range(5).reduce(np.int64(0), lambda state, x: state + x)
    assert total.dtype == np.int64 and total.shape.as_list() == []
    rows = np.arange(6.0).reshape(3, 2)
    sums = tf.data.Dataset.from_tensor_slices(rows).reduce(
        (np.float64(0), np.zeros(2)), lambda state, x: (state[0] + tf.reduce_sum(x), state[1] + x))
    grown = tf.data.Dataset.range(3).reduce(np.zeros(0, np.int64),
                                            lambda state, x: tf.concat([state, tf.reshape(x, [1])], 0))
    assert grown.shape.as_list() == [None]  # the state's length changes: relaxed, as TF-1
    plain = tf.data.Dataset.range(3).reduce({"seen": np.zeros(0, np.int64)},
                                            lambda state, x: {"seen": np.append(state["seen"], x)})
    data = tf.placeholder(tf.float32, [None])
    product = tf.data.Dataset.from_tensor_slices(data).reduce(tf.constant(1.0), lambda state, x: state * x)
    empty = tf.data.Dataset.range(0).reduce(np.int64(7), lambda state, x: state + x)
    with tf.Session() as sess:
        assert sess.run(total) == 10 and sess.run(total) == 10
        got = sess.run(sums)
        assert got[0] == rows.sum() and got[1].tolist() == rows.sum(0).tolist()
        assert sess.run(grown).tolist() == [0, 1, 2]
        assert sess.run(plain)["seen"].tolist() == [0, 1, 2]
        assert sess.run(product, {data: np.array([2.0, 3.0, 4.0], np.float32)}) == 24.0
        assert sess.run(product, {data: np.array([5.0], np.float32)}) == 5.0
        assert sess.run(empty) == 7
    with pytest.raises(TypeError, match=r"Dataset.reduce: reduce_func returns a state of dtypes \['float64'\], not "
                                        r"the initial state's \['int64'\]"):
        tf.data.Dataset.range(3).reduce(np.int64(0), lambda state, x: tf.cast(state, tf.float64) + 0.5)
    with pytest.raises(TypeError, match="not a state of the initial state's structure"):
        tf.data.Dataset.range(3).reduce((np.int64(0), np.int64(0)), lambda state, x: state[0] + x)


def test_cache_gives_the_first_pass_again_to_later_passes():
    ember.manual_seed(0)
    order = [int(v) for v in drain(tf.Session(), tf.data.Dataset.range(6).shuffle(6).cache().repeat(3)
                                   .make_one_shot_iterator().get_next())]
    assert sorted(order[:6]) == list(range(6)) and order[:6] == order[6:12] == order[12:]
    calls = []

    def gen():
        calls.append(1)
        yield from range(3)

    ds = tf.data.Dataset.from_generator(gen, tf.int64, []).cache().repeat(2)
    assert [int(v) for v in drain(tf.Session(), ds.make_one_shot_iterator().get_next())] == [0, 1, 2, 0, 1, 2]
    assert len(calls) == 1
    # a pass left unfinished is not kept: the next one reads the input again
    ds = tf.data.Dataset.from_generator(gen, tf.int64, []).cache().take(2).repeat(2)
    assert [int(v) for v in drain(tf.Session(), ds.make_one_shot_iterator().get_next())] == [0, 1, 0, 1]
    assert len(calls) == 3


def test_structures_must_match_for_make_initializer_and_concatenate():
    pairs = tf.data.Dataset.from_tensor_slices((np.arange(3.0), np.arange(3.0) * 10))
    named = tf.data.Dataset.from_tensor_slices({"a": np.arange(3.0), "b": np.arange(3.0) * 10})
    iterator = tf.data.Iterator.from_structure(pairs.output_types, pairs.output_shapes)
    with pytest.raises(TypeError, match="do not match"):  # a dict's components are not a tuple's
        iterator.make_initializer(named)
    with pytest.raises(TypeError, match="differ in structure"):
        pairs.concatenate(named)
    nested = tf.data.Dataset.zip((tf.data.Dataset.range(2), (tf.data.Dataset.range(2), tf.data.Dataset.range(2))))
    with pytest.raises(TypeError, match="differ in structure"):
        nested.concatenate(tf.data.Dataset.zip(((tf.data.Dataset.range(2), tf.data.Dataset.range(2)),
                                                tf.data.Dataset.range(2))))
    # the shapes: the most specific compatible with both, as TF-1
    a = tf.data.Dataset.from_tensor_slices(np.zeros((4, 2, 3), np.float32))
    b = tf.data.Dataset.from_tensor_slices(np.ones((1, 5, 3), np.float32))
    both = a.concatenate(b)
    assert both.output_shapes == (None, 3)
    assert [v.shape for v in drain(tf.Session(), both.make_one_shot_iterator().get_next())] == [(2, 3)] * 4 + [(5, 3)]
    assert a.concatenate(tf.data.Dataset.from_tensor_slices(np.zeros((1, 2), np.float32))).output_shapes is None



def test_output_shapes_are_tensor_shapes_and_output_classes_tensors():
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((4, 3), np.float32), np.arange(4))).batch(2)
    shapes = ds.output_shapes
    assert shapes[0].as_list() == [None, 3] and shapes[1].ndims == 1
    assert ds.output_classes == (tf.Tensor, tf.Tensor)
    iterator = tf.data.Iterator.from_structure(ds.output_types, ds.output_shapes, output_classes=ds.output_classes)
    assert iterator.output_shapes[0].as_list() == [None, 3] and iterator.output_classes == (tf.Tensor, tf.Tensor)
    assert ds.padded_batch(1, padded_shapes=ds.output_shapes).output_shapes[0].as_list() == [None, None, 3]
    assert tf.data.Dataset.range(3).map(np.arange).output_shapes is None  # an unknown rank, as Tensor.shape gives


def test_shard_keeps_every_num_shards_th_element_from_index():
    ds = tf.data.Dataset.range(10)
    assert [int(v) for v in drain(tf.Session(), ds.shard(3, 1).make_one_shot_iterator().get_next())] == [1, 4, 7]
    assert [list(v) for v in drain(tf.Session(), ds.shard(2, 0).batch(3).make_one_shot_iterator().get_next())] == [
        [0, 2, 4], [6, 8]]
    with pytest.raises(ValueError, match="num_shards must be positive"):
        ds.shard(0, 0)
    with pytest.raises(ValueError, match="index must be in"):
        ds.shard(2, 2)


def test_one_shot_iterator_over_tf_constants_computes_them_in_each_session():
    features = tf.constant(np.arange(6, dtype=np.float32).reshape(3, 2))
    ds = tf.data.Dataset.from_tensor_slices((features * 2, tf.constant([1, 2, 3]))).batch(2)
    x, y = ds.make_one_shot_iterator().get_next()
    for _ in range(2):  # each Session starts its own pass
        with tf.Session() as sess:
            got = drain(sess, [x, y])
        assert [g[0].tolist() for g in got] == [[[0, 2], [4, 6]], [[8, 10]]]
        assert [g[1].tolist() for g in got] == [[1, 2], [3]]
    data = tf.placeholder(tf.float32, [None])
    with pytest.raises(ValueError, match=r"reads placeholders \(Placeholder"):
        tf.data.Dataset.from_tensor_slices(data * 2).make_one_shot_iterator()


def test_counts_given_as_tensors_are_read_when_the_iterator_starts():
    n = tf.placeholder(tf.int64, [])
    cases = [
        (tf.data.Dataset.range(5).take(tf.constant(2, tf.int64)), None, [0, 1]),
        (tf.data.Dataset.range(7).skip(n).batch(n), {n: 3}, [[3, 4, 5], [6]]),
        (tf.data.Dataset.range(3).repeat(n), {n: 2}, [0, 1, 2, 0, 1, 2]),
        (tf.data.Dataset.range(4).shuffle(n), {n: 1}, [0, 1, 2, 3]),
        (tf.data.Dataset.range(5).padded_batch(n, padded_shapes=[]), {n: 4}, [[0, 1, 2, 3], [4]]),
    ]
    with tf.Session() as sess:
        for ds, feed, expected in cases:
            it = ds.make_initializable_iterator()
            sess.run(it.initializer, feed)
            assert [v.tolist() for v in drain(sess, it.get_next())] == expected
        bad = tf.data.Dataset.range(3).batch(n).make_initializable_iterator()
        sess.run(bad.initializer, {n: 0})
        with pytest.raises(tf.errors.InvalidArgumentError, match="batch_size must be at least 1"):
            sess.run(bad.get_next())
    fixed = tf.data.Dataset.range(7).batch(tf.constant(2, tf.int64), drop_remainder=True)
    assert fixed.output_shapes.as_list() == [2]
    with pytest.raises(TypeError, match="Dataset.batch: batch_size must be an integer"):
        tf.data.Dataset.range(3).batch(tf.constant(2.0))
    with pytest.raises(TypeError, match="Dataset.take: count must be an integer"):
        tf.data.Dataset.range(3).take(2.5)


def test_range_refuses_floats_and_a_zero_step_naming_the_op():
    with pytest.raises(TypeError, match="Dataset.range: stop must be an integer"):
        tf.data.Dataset.range(2.5)  # was [0, 1]
    with pytest.raises(ValueError, match="Dataset.range: step must not be zero"):
        tf.data.Dataset.range(0, 5, 0)
    stop = tf.placeholder(tf.int64, [])
    it = tf.data.Dataset.range(1, stop).make_initializable_iterator()
    with tf.Session() as sess:
        sess.run(it.initializer, {stop: 4})
        assert [int(v) for v in drain(sess, it.get_next())] == [1, 2, 3]


def test_map_fills_a_size_computed_from_the_element():
    ds = tf.data.Dataset.range(1, 4).map(lambda x: tf.fill([x], x))
    with tf.Session() as sess:
        got = drain(sess, ds.make_one_shot_iterator().get_next())
    assert [g.tolist() for g in got] == [[1], [2, 2], [3, 3, 3]]


def _windows_reference(n, size, shift, stride, drop_remainder):
    """TF-1's windows of range(n): one starting every `shift` elements, `size` elements `stride` apart."""
    out = []
    for start in range(0, n, shift):
        window = [i for i in range(start, start + (size - 1) * stride + 1, stride) if i < n]
        if drop_remainder and len(window) < size:
            break
        out.append(window)
    return out


@pytest.mark.parametrize("size, shift, stride, drop_remainder",
                         [(2, None, 1, False), (3, 2, 1, True), (3, 1, 2, True), (2, 3, 1, False), (3, 1, 2, False)])
def test_window_then_flat_map_batch_gives_tf1_windows(size, shift, stride, drop_remainder):
    ds = tf.data.Dataset.range(7).window(size, shift, stride, drop_remainder).flat_map(lambda w: w.batch(size))
    with tf.Session() as sess:
        got = [v.tolist() for v in drain(sess, ds.make_one_shot_iterator().get_next())]
    assert got == _windows_reference(7, size, size if shift is None else shift, stride, drop_remainder)


def test_window_of_tuples_gives_a_dataset_per_component():
    pairs = tf.data.Dataset.from_tensor_slices((np.arange(4.0), np.arange(4) * 10)).window(2, 1, 1, True)
    ds = pairs.flat_map(lambda a, b: tf.data.Dataset.zip((a.batch(2), b.batch(2))))
    with tf.Session() as sess:
        got = drain(sess, ds.make_one_shot_iterator().get_next())
    assert [(a.tolist(), b.tolist()) for a, b in got] == [([0, 1], [0, 10]), ([1, 2], [10, 20]), ([2, 3], [20, 30])]
    with pytest.raises(TypeError, match="windows"):
        pairs.make_one_shot_iterator()
