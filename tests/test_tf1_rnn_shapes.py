"""TF-1's recurrent networks over a None batch: the static shapes and dtypes of dynamic_rnn's outputs and
states, stacked cells, and sequence lengths, checked against a NumPy GRU."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf


def test_dynamic_rnn_reports_static_shapes_over_a_none_batch():
    x = tf.placeholder(tf.float32, [None, 7, 4])
    lengths = tf.placeholder(tf.int32, [None])
    outputs, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(16), x, sequence_length=lengths,
                                       dtype=tf.float32)
    assert (outputs.shape, outputs.dtype) == ((None, 7, 16), np.float32)  # not the lengths' mask dtype
    assert (state.c.shape, state.h.shape, state.h.dtype) == ((None, 16), (None, 16), np.float32)


def test_stacked_cells_run_under_dynamic_rnn():
    x = tf.placeholder(tf.float32, [None, 5, 3])
    cell = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.LSTMCell(4), tf.nn.rnn_cell.GRUCell(2)])
    outputs, (lstm_state, gru_state) = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    assert outputs.shape == (None, 5, 2) and gru_state.shape == (None, 2) and lstm_state.c.shape == (None, 4)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out, last = sess.run([outputs, gru_state], {x: np.ones((3, 5, 3), np.float32)})
    assert out.shape == (3, 5, 2)
    np.testing.assert_allclose(out[:, -1], last, rtol=1e-6)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_a_gru_with_sequence_lengths_matches_numpy():
    x = tf.placeholder(tf.float32, [None, 4, 3])
    lengths = tf.placeholder(tf.int32, [None])
    cell = tf.nn.rnn_cell.GRUCell(2)
    outputs, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 4, 3)).astype(np.float32)
    X[2] = np.nan  # a zero-length row: its zero state and outputs do not read the inputs
    n = np.array([4, 2, 0], np.int32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        gk, gb, ck, cb = sess.run([*cell.variables["gates"], *cell.variables["candidate"]])
        out, last = sess.run([outputs, state], {x: X, lengths: n})
    h = np.zeros((3, 2))
    expected = np.zeros((3, 4, 2))
    for t in range(4):
        xt = np.nan_to_num(X[:, t])
        r, u = np.split(_sigmoid(np.concatenate([xt, h], 1) @ gk + gb), 2, axis=1)
        new = u * h + (1 - u) * np.tanh(np.concatenate([xt, r * h], 1) @ ck + cb)
        running = (n > t)[:, None]
        h = np.where(running, new, h)
        expected[:, t] = np.where(running, new, 0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(last, h, rtol=1e-5, atol=1e-6)


def _numpy_gru(cell_vars, inputs, h):
    gk, gb, ck, cb = cell_vars
    outputs = []
    for xt in inputs:
        r, u = np.split(_sigmoid(np.concatenate([xt, h]) @ gk + gb), 2)
        h = u * h + (1 - u) * np.tanh(np.concatenate([xt, r * h]) @ ck + cb)
        outputs.append(h)
    return outputs, h


@pytest.mark.parametrize("time_major", [False, True])
def test_bidirectional_dynamic_rnn_reads_each_sequence_backward_within_its_length(time_major):
    x = tf.placeholder(tf.float32, [5, None, 3] if time_major else [None, 5, 3])
    lengths = tf.placeholder(tf.int32, [None])
    fw_cell, bw_cell = tf.nn.rnn_cell.GRUCell(2), tf.nn.rnn_cell.GRUCell(2)
    (out_fw, out_bw), (state_fw, state_bw) = tf.nn.bidirectional_dynamic_rnn(
        fw_cell, bw_cell, x, sequence_length=lengths, dtype=tf.float32, time_major=time_major)
    assert out_bw.shape == ((5, None, 2) if time_major else (None, 5, 2))
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3, 5, 3)).astype(np.float32)
    n = np.array([5, 3, 1], np.int32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        fw_vars = sess.run([*fw_cell.variables["gates"], *fw_cell.variables["candidate"]])
        bw_vars = sess.run([*bw_cell.variables["gates"], *bw_cell.variables["candidate"]])
        feed = {x: X.transpose(1, 0, 2) if time_major else X, lengths: n}
        got_fw, got_bw, last_fw, last_bw = sess.run([out_fw, out_bw, state_fw, state_bw], feed)
    if time_major:
        got_fw, got_bw = got_fw.transpose(1, 0, 2), got_bw.transpose(1, 0, 2)
    for b, length in enumerate(n):
        forward, h_fw = _numpy_gru(fw_vars, X[b, :length], np.zeros(2))
        backward, h_bw = _numpy_gru(bw_vars, X[b, :length][::-1], np.zeros(2))
        np.testing.assert_allclose(got_fw[b, :length], forward, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got_bw[b, :length], backward[::-1], rtol=1e-5, atol=1e-6)
        assert not got_fw[b, length:].any() and not got_bw[b, length:].any()
        np.testing.assert_allclose(last_fw[b], h_fw, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(last_bw[b], h_bw, rtol=1e-5, atol=1e-6)


def test_lstm_cell_initializer_sets_its_kernel():
    # TF-1's LSTMCell(initializer=...) initializes the kernel (the bias stays zeros); it was ignored (glorot uniform)
    x = tf.placeholder(tf.float32, [2, 3])
    cell = tf.nn.rnn_cell.LSTMCell(4, initializer=tf.constant_initializer(0.5))
    output, _ = cell(x, cell.zero_state(2, tf.float32))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        kernel, bias, out = sess.run([cell.variables["kernel"], cell.variables["bias"], output],
                                     {x: np.ones((2, 3), np.float32)})
    np.testing.assert_array_equal(kernel, np.full((7, 16), 0.5, np.float32))
    np.testing.assert_array_equal(bias, np.zeros(16, np.float32))
    c = _sigmoid(1.5 + 1.0) * 0 + _sigmoid(1.5) * np.tanh(1.5)  # every gate 3 * 0.5 (zero state), forget bias 1
    np.testing.assert_allclose(out, np.full((2, 4), np.tanh(c) * _sigmoid(1.5)), rtol=1e-6)


def test_multi_rnn_cell_refuses_a_concatenated_state():
    # it was accepted and ignored: the state stayed a tuple, and a concatenated initial state failed inside
    with pytest.raises(ValueError, match="MultiRNNCell: state_is_tuple=False"):
        tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.GRUCell(3), tf.nn.rnn_cell.GRUCell(3)], state_is_tuple=False)


def test_gru_cell_takes_its_initializers():
    # TF-1's GRUCell(kernel_initializer=, bias_initializer=) set both kernels and both biases (a TypeError before;
    # a fourth positional argument was taken as the name)
    x = tf.placeholder(tf.float32, [2, 3])
    cell = tf.nn.rnn_cell.GRUCell(2, None, None, tf.constant_initializer(0.5), tf.constant_initializer(-0.25),
                                  dtype=tf.float32)
    output, _ = cell(x, cell.zero_state(2, tf.float32))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        (gate_kernel, gate_bias), (kernel, bias) = sess.run([cell.variables["gates"], cell.variables["candidate"]])
    np.testing.assert_array_equal(gate_kernel, np.full((5, 4), 0.5, np.float32))
    np.testing.assert_array_equal(kernel, np.full((5, 2), 0.5, np.float32))
    np.testing.assert_array_equal(gate_bias, np.full(4, -0.25, np.float32))
    np.testing.assert_array_equal(bias, np.full(2, -0.25, np.float32))
    assert cell.variables["gates"][0].name == "gru_cell/gates/kernel:0"
    with pytest.raises(TypeError, match="GRUCell: dtype= must be float16, bfloat16, float32 or float64, got int32"):
        tf.nn.rnn_cell.GRUCell(2, dtype=tf.int32)


@pytest.mark.parametrize("cell_type", ["BasicLSTMCell", "LSTMCell"])
def test_lstm_with_a_concatenated_state_starts_from_zeros_of_both_halves(cell_type):
    # with state_is_tuple=False the zero state was (batch, num_units), not (batch, 2 * num_units): dynamic_rnn
    # failed with "matmul: inner dimensions differ (4 vs 9)"
    x = tf.placeholder(tf.float32, [None, 3, 4])
    cell = getattr(tf.nn.rnn_cell, cell_type)(5, state_is_tuple=False)
    assert cell.zero_state(2, tf.float32).shape == (2, 10)
    outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    assert state.shape == (None, 10)
    outputs_from_zeros, state_from_zeros = tf.nn.dynamic_rnn(cell, x, initial_state=tf.zeros([2, 10]))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = sess.run([outputs, state, outputs_from_zeros, state_from_zeros], {x: np.ones((2, 3, 4), np.float32)})
    np.testing.assert_array_equal(values[0], values[2])
    np.testing.assert_array_equal(values[1], values[3])


def test_sequence_lengths_must_be_one_per_sequence():
    # one length was broadcast to every sequence (and bidirectional_dynamic_rnn's backward outputs came back with
    # a batch of 1); a length per sequence is asked for, as TF-1
    x = tf.placeholder(tf.float32, [None, 4, 3])
    lengths = tf.placeholder(tf.int32, [None])
    outputs, _ = tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(2), x, sequence_length=lengths, dtype=tf.float32)
    with tf.variable_scope("bi"):
        (_, backward), _ = tf.nn.bidirectional_dynamic_rnn(tf.nn.rnn_cell.GRUCell(2), tf.nn.rnn_cell.GRUCell(2), x,
                                                           sequence_length=lengths, dtype=tf.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        feed = {x: np.ones((3, 4, 3), np.float32), lengths: [2]}
        with pytest.raises(ValueError, match="dynamic_rnn: sequence_length has 1 lengths for a batch of 3"):
            sess.run(outputs, feed)
        with pytest.raises(ValueError, match="bidirectional_dynamic_rnn: sequence_length has 1 lengths"):
            sess.run(backward, feed)
        assert sess.run(backward, {**feed, lengths: [2, 4, 0]}).shape == (3, 4, 2)
    for i, bad in enumerate((2, [[2], [4], [0]])):
        with pytest.raises(ValueError, match="sequence_length must be a vector"):
            tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(2), x, sequence_length=bad, dtype=tf.float32, scope=f"r{i}")


@pytest.mark.parametrize("make", [tf.nn.rnn_cell.BasicRNNCell, tf.nn.rnn_cell.BasicLSTMCell, tf.nn.rnn_cell.GRUCell])
def test_a_cell_made_with_reuse_true_shares_the_scopes_variables(make):
    # reuse= was accepted and ignored: the second RNN raised that its variables already existed
    x = tf.placeholder(tf.float32, [None, 3, 4])
    first, _ = tf.nn.dynamic_rnn(make(5), x, dtype=tf.float32)
    count = len(tf.global_variables())
    second, _ = tf.nn.dynamic_rnn(make(5, reuse=True), x, dtype=tf.float32)
    assert len(tf.global_variables()) == count
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a, b = sess.run([first, second], {x: np.random.default_rng(0).normal(size=(2, 3, 4))})
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="does not exist and reuse=True"):
        tf.nn.dynamic_rnn(make(5, reuse=True), x, dtype=tf.float32, scope="elsewhere")


def test_an_activation_is_known_by_identity_not_by_its_name():
    # a function of the user's named relu (here a leaky one) was taken for tf.nn.relu and ran as plain ReLU
    def relu(z):
        return tf.nn.leaky_relu(z, 0.2)

    x = tf.placeholder(tf.float32, [None, 3, 4])
    with pytest.raises(ValueError, match="activation .* is not supported"):
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicRNNCell(5, activation=relu), x, dtype=tf.float32)
    for i, activation in enumerate((tf.tanh, tf.math.tanh, tf.nn.relu, tf.sigmoid)):
        outputs, _ = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicRNNCell(5, activation=activation), x, dtype=tf.float32,
                                       scope=f"rnn{i}")
        assert outputs.shape == (None, 3, 5)


@pytest.mark.parametrize("state_is_tuple", [True, False])
def test_lstm_cell_peepholes_clips_and_projection_match_numpy(state_is_tuple):
    # use_peepholes, cell_clip, num_proj and proj_clip were refused; TF-1's LSTMCell math with its variables
    cell = tf.nn.rnn_cell.LSTMCell(6, use_peepholes=True, cell_clip=0.5, num_proj=3, proj_clip=0.1,
                                   state_is_tuple=state_is_tuple, initializer=tf.random_uniform_initializer(-1, 1))
    assert (cell.output_size, cell.state_size) == (3, (6, 3) if state_is_tuple else 9)
    x = tf.placeholder(tf.float64, [None, 4, 2])
    lengths = tf.placeholder(tf.int32, [None])
    outputs, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float64)
    names = [v.name for v in tf.global_variables()]
    assert names == [f"rnn/lstm_cell/{n}:0" for n in ("kernel", "bias", "w_f_diag", "w_i_diag", "w_o_diag",
                                                      "projection/kernel")]
    X = 2 * np.random.default_rng(0).normal(size=(3, 4, 2))
    n = np.array([4, 2, 0])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        kernel, bias, w_f, w_i, w_o, proj = sess.run(tf.global_variables())
        out, last = sess.run([outputs, state], {x: X, lengths: n})
    c, h = np.zeros((3, 6)), np.zeros((3, 3))
    expected = np.zeros((3, 4, 3))
    for t in range(4):
        i, j, f, o = np.split(np.concatenate([X[:, t], h], 1) @ kernel + bias, 4, axis=1)
        new_c = np.clip(_sigmoid(f + 1.0 + w_f * c) * c + _sigmoid(i + w_i * c) * np.tanh(j), -0.5, 0.5)
        new_h = np.clip((_sigmoid(o + w_o * new_c) * np.tanh(new_c)) @ proj, -0.1, 0.1)
        running = (n > t)[:, None]
        c, h = np.where(running, new_c, c), np.where(running, new_h, h)
        expected[:, t] = np.where(running, new_h, 0)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)
    last_c, last_h = last if state_is_tuple else (last[:, :6], last[:, 6:])
    np.testing.assert_allclose(last_c, c, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(last_h, h, rtol=1e-6, atol=1e-7)


def test_a_stacked_cell_refuses_a_state_that_is_not_one_per_cell():
    # zip() cut the cells to the states given: two GRUs with one initial state ran the first layer only, its
    # 5 units coming out where the stack's 2 belong
    x = tf.placeholder(tf.float32, [None, 4, 3])
    cell = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.GRUCell(5), tf.nn.rnn_cell.GRUCell(2)])
    for state in ((tf.zeros([2, 5]),), (tf.zeros([2, 5]), tf.zeros([2, 2]), tf.zeros([2, 2])), tf.zeros([2, 5])):
        with pytest.raises(ValueError, match="MultiRNNCell: expected the state to be a tuple of 2 states"):
            tf.nn.dynamic_rnn(cell, x, initial_state=state)


def test_inputs_that_are_not_batches_of_feature_vectors_are_refused_by_name():
    # a (batch, time) input failed inside the zero state's getitem, a 4-d one in its broadcast
    for i, shape in enumerate(([3, 4], [3, 4, 2, 2])):
        with pytest.raises(ValueError, match=r"dynamic_rnn: each time step of the inputs must be a \(batch, features"):
            tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(5), tf.placeholder(tf.float32, shape), dtype=tf.float32,
                              scope=f"rnn{i}")
    with pytest.raises(ValueError, match=r"static_rnn: .* got a step of shape \[3\]"):
        tf.nn.static_rnn(tf.nn.rnn_cell.GRUCell(5), [tf.ones([3])], dtype=tf.float32)


@pytest.mark.parametrize("make", [tf.nn.rnn_cell.BasicRNNCell, tf.nn.rnn_cell.BasicLSTMCell, tf.nn.rnn_cell.LSTMCell,
                                  tf.nn.rnn_cell.GRUCell])
def test_every_cell_takes_tf1s_dtype_argument(make):
    # BasicLSTMCell(n, dtype=tf.float32) was refused and BasicRNNCell's raised a TypeError
    outputs, _ = tf.nn.dynamic_rnn(make(5, dtype=tf.float32), tf.ones([2, 4, 3]), dtype=tf.float32)
    assert outputs.shape == (2, 4, 5)
    with pytest.raises(TypeError, match=f"{make.__name__}: dtype= must be float16, bfloat16, float32 or float64"):
        make(5, dtype=tf.int64)


def _numpy_lstm(kernel, bias, inputs, units):
    c = h = np.zeros((inputs.shape[0], units))
    outputs = []
    for t in range(inputs.shape[1]):
        i, j, f, o = np.split(np.concatenate([inputs[:, t], h], 1) @ kernel + bias, 4, axis=1)
        c = c * _sigmoid(f + 1.0) + _sigmoid(i) * np.tanh(j)
        h = np.tanh(c) * _sigmoid(o)
        outputs.append(h)
    return np.stack(outputs, 1), c, h


@pytest.mark.parametrize("cell_type", ["BasicLSTMCell", "LSTMCell", "GRUCell", "BasicRNNCell"])
def test_cells_on_float64_inputs_make_float64_variables_and_compute_in_float64(cell_type):
    # the cells made float32 variables whatever the inputs (float64 math lost to float32 weights) and refused
    # dtype=tf.float64; TF-1's cells, Keras layers, take their dtype from the first inputs
    cell = getattr(tf.nn.rnn_cell, cell_type)(4)
    x = tf.placeholder(tf.float64, [None, 5, 3])
    outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float64)
    assert cell.dtype == np.float64 and outputs.dtype == np.float64
    assert all(v.dtype == np.float64 for v in tf.global_variables())
    X = np.random.default_rng(1).normal(size=(2, 5, 3))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        weights = sess.run(tf.global_variables())
        out, last = sess.run([outputs, state], {x: X})
    assert all(w.dtype == np.float64 for w in weights) and out.dtype == np.float64
    if cell_type == "GRUCell":
        runs = [_numpy_gru(weights, X[b], np.zeros(4)) for b in range(2)]
        expected = np.stack([np.stack(steps) for steps, _ in runs])
        np.testing.assert_allclose(last, np.stack([h for _, h in runs]), rtol=1e-12, atol=1e-14)
    elif cell_type == "BasicRNNCell":
        h, steps = np.zeros((2, 4)), []
        for t in range(5):
            h = np.tanh(np.concatenate([X[:, t], h], 1) @ weights[0] + weights[1])
            steps.append(h)
        expected = np.stack(steps, 1)
    else:
        expected, c, h = _numpy_lstm(*weights, X, 4)
        np.testing.assert_allclose(last.c, c, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
    # a later call in another dtype is refused, as TF-1's matmul refuses float32 inputs against float64 weights
    with pytest.raises(TypeError, match=f"{cell_type}: the inputs have dtype float32, but the cell's variables are "
                                        "float64"):
        tf.nn.dynamic_rnn(cell, tf.placeholder(tf.float32, [None, 5, 3]), dtype=tf.float32, scope="again")


def test_a_cell_given_a_dtype_makes_its_variables_in_it():
    cell = tf.nn.rnn_cell.GRUCell(3, dtype=tf.float16)
    outputs, _ = tf.nn.dynamic_rnn(cell, tf.ones([2, 4, 3], tf.float16), dtype=tf.float16)
    assert outputs.dtype == np.float16 and all(v.dtype == np.float16 for v in tf.global_variables())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert np.isfinite(sess.run(outputs)).all()
    with pytest.raises(TypeError, match="BasicLSTMCell: the inputs have dtype float32, but the cell's variables are "
                                        "float64"):
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(3, dtype=tf.float64), tf.ones([2, 4, 3]), dtype=tf.float32,
                          scope="lstm")
    with pytest.raises(TypeError, match="BasicRNNCell: the inputs' dtype must be float16, bfloat16, float32 or "
                                        "float64, got int32"):
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicRNNCell(3), tf.ones([2, 4, 3], tf.int32), dtype=tf.int32, scope="int")
    # an output projection follows its cell's dtype, as TF-1's
    wrapped = tf.nn.rnn_cell.OutputProjectionWrapper(tf.nn.rnn_cell.BasicRNNCell(3), 2)
    projected, _ = tf.nn.dynamic_rnn(wrapped, tf.ones([2, 4, 3], tf.float64), dtype=tf.float64, scope="projected")
    assert projected.dtype == np.float64 and wrapped.projection[0].dtype == np.float64


def test_variational_dropout_in_float64_matches_numpy_and_refuses_noise_of_another_dtype():
    keep = {"input": 0.7, "state": 0.8, "output": 0.6}
    cell = tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.GRUCell(3), input_keep_prob=keep["input"],
                                         output_keep_prob=keep["output"], state_keep_prob=keep["state"],
                                         variational_recurrent=True, input_size=2, dtype=tf.float64, seed=3)
    x = tf.placeholder(tf.float64, [None, 4, 2])
    outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float64)
    assert outputs.dtype == np.float64 and state.dtype == np.float64
    X = np.random.default_rng(2).normal(size=(2, 4, 2))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        gk, gb, ck, cb = sess.run([*cell.variables["gates"], *cell.variables["candidate"]])
        out, last, noise = sess.run([outputs, state, cell.noise], {x: X})
    assert all(n.dtype == np.float64 for n in noise.values())
    masks = {what: np.floor(keep[what] + noise[what]) / keep[what] for what in keep}
    h, expected = np.zeros((2, 3)), []
    for t in range(4):
        xt = X[:, t] * masks["input"]
        r, u = np.split(_sigmoid(np.concatenate([xt, h], 1) @ gk + gb), 2, axis=1)
        new = u * h + (1 - u) * np.tanh(np.concatenate([xt, r * h], 1) @ ck + cb)
        expected.append(new * masks["output"])
        h = new * masks["state"]
    np.testing.assert_allclose(out, np.stack(expected, 1), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(last, h, rtol=1e-12, atol=1e-14)
    # noise in float32 against a float64 cell was promoted silently (and a float32 cell's outputs became float64
    # under float64 noise); TF-1 multiplies the value by noise made in dtype=, which refuses another dtype
    for cell_dtype, noise_dtype in ((tf.float64, tf.float32), (tf.float32, tf.float64), (tf.float16, tf.float32)):
        wrapped = tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.GRUCell(3), state_keep_prob=0.5,
                                                variational_recurrent=True, dtype=noise_dtype)
        with pytest.raises(TypeError, match=f"DropoutWrapper: the value for state dropout has dtype "
                                            f"{cell_dtype.name}, but variational_recurrent draws its noise in "
                                            f"dtype={noise_dtype.name}"):
            tf.nn.dynamic_rnn(wrapped, tf.ones([2, 4, 2], cell_dtype), dtype=cell_dtype, scope=f"r{cell_dtype.name}")
    fed = tf.placeholder(tf.float32, [])
    wrapped = tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.GRUCell(3), output_keep_prob=fed,
                                            variational_recurrent=True, dtype=tf.float64)
    with pytest.raises(TypeError, match="the keep probability for output dropout has dtype float32"):
        tf.nn.dynamic_rnn(wrapped, tf.ones([2, 4, 2], tf.float64), dtype=tf.float64, scope="fed")


def test_device_residual_and_stacked_wrappers_follow_a_float64_cell_as_numpy():
    # tf.nn.rnn_cell.DeviceWrapper was missing; the wrappers take the wrapped cells' dtype, as TF-1's
    lstm = tf.nn.rnn_cell.LSTMCell(2)
    rnn = tf.nn.rnn_cell.BasicRNNCell(2)
    cell = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.DeviceWrapper(lstm, "/cpu:0"),
                                        tf.nn.rnn_cell.ResidualWrapper(rnn)])
    zeros = cell.zero_state(3, tf.float64)
    assert [(z.dtype, z.shape) for z in (*zeros[0], zeros[1])] == [(np.float64, (3, 2))] * 3
    x = tf.placeholder(tf.float64, [3, 4, 2])
    outputs, state = tf.nn.dynamic_rnn(cell, x, initial_state=zeros)
    assert outputs.dtype == np.float64 and all(v.dtype == np.float64 for v in tf.global_variables())
    X = np.random.default_rng(3).normal(size=(3, 4, 2))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        (kernel, bias), (rk, rb) = sess.run([[lstm.variables["kernel"], lstm.variables["bias"]],
                                            [rnn.variables["kernel"], rnn.variables["bias"]]])
        out, ((c, h), last) = sess.run([outputs, state], {x: X})
    lstm_out, lstm_c, lstm_h = _numpy_lstm(kernel, bias, X, 2)
    g, expected = np.zeros((3, 2)), []
    for t in range(4):
        g = np.tanh(np.concatenate([lstm_out[:, t], g], 1) @ rk + rb)
        expected.append(g + lstm_out[:, t])
    np.testing.assert_allclose(out, np.stack(expected, 1), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c, lstm_c, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(last, g, rtol=1e-12, atol=1e-14)
    with pytest.raises(TypeError, match="tf.device: expected a device name string"):
        tf.nn.rnn_cell.DeviceWrapper(rnn, 0)


@pytest.mark.parametrize("rnn", ["dynamic_rnn", "static_rnn", "bidirectional_dynamic_rnn"])
def test_the_zero_state_is_made_in_the_rnns_dtype_and_a_state_of_another_dtype_is_refused(rnn):
    # the zero state took the inputs' dtype whatever dtype= said, and a float32 state was promoted silently
    # against float64 inputs; TF-1 makes it in dtype= and the cell's concat refuses another dtype
    def call(x, dtype=None, initial_state=None):
        if rnn == "static_rnn":
            return tf.nn.static_rnn(cell, tf.unstack(x, axis=1), initial_state=initial_state, dtype=dtype)
        if rnn == "bidirectional_dynamic_rnn":
            return tf.nn.bidirectional_dynamic_rnn(cell, tf.nn.rnn_cell.GRUCell(2), x, initial_state_fw=initial_state,
                                                   dtype=dtype)
        return tf.nn.dynamic_rnn(cell, x, initial_state=initial_state, dtype=dtype)

    cell = tf.nn.rnn_cell.GRUCell(2)
    with pytest.raises(TypeError, match="GRUCell: the state has dtype float32, but the cell computes in float64; "
                                        "give the RNN dtype=float64"):
        call(tf.placeholder(tf.float64, [None, 3, 2]), dtype=tf.float32)
    cell = tf.nn.rnn_cell.GRUCell(2)
    with pytest.raises(TypeError, match="GRUCell: the state has dtype float32, but the cell computes in float64"):
        call(tf.ones([2, 3, 2], tf.float64), initial_state=tf.zeros([2, 2]))
    cell = tf.nn.rnn_cell.GRUCell(2)
    x = tf.placeholder(tf.float64, [None, 3, 2])
    result = call(x, dtype=tf.float64)
    first = result[0][0] if rnn == "bidirectional_dynamic_rnn" else result[0]
    first = first[0] if rnn == "static_rnn" else first[:, 0]
    X = np.random.default_rng(4).normal(size=(2, 3, 2))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        weights = sess.run([*cell.variables["gates"], *cell.variables["candidate"]])
        got = sess.run(first, {x: X})
    assert got.dtype == np.float64
    expected = np.stack([_numpy_gru(weights, X[b, :1], np.zeros(2))[1] for b in range(2)])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
