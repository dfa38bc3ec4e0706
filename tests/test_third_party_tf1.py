"""TensorFlow-1 tutorial scripts (github.com/aymericdamien/TensorFlow-Examples, tensorflow_v1/, MIT), with only
their import lines changed, run on ``ember.compat.tf``.

TensorFlow is not installed, so the reference is the same model written in PyTorch, run side by side on the
same stand-in data (tests/third_party/standins.py) and the same batches. Where a script draws its initial
weights, Ember's generator is seeded and the PyTorch replica draws the same numbers from a NumPy generator
with that seed, in the order the script's initializers run.
"""

import re

import numpy as np
import pytest
import torch

import ember
from tests.third_party.runner import run_script
from tests.third_party.standins import input_data


@pytest.fixture(autouse=True)
def fresh_graph_and_one_torch_thread():
    import ember.compat.tf as tf

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # (the replicas are tiny: threads only contend with the test runner's workers)
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()
    torch.set_num_threads(threads)


def _numbers(pattern: str, text: str) -> list:
    return [float(v) for v in re.findall(pattern, text)]


def _train_replica(params, forward, loss_of, optimizer, epochs: int, batch_size: int = 100):
    """Per-epoch average costs and the test accuracy of a PyTorch replica, on the scripts' batches."""
    mnist = input_data.read_data_sets("", one_hot=True)
    batches = mnist.train.num_examples // batch_size
    costs = []
    for _ in range(epochs):
        average = 0.0
        for _ in range(batches):
            xs, ys = mnist.train.next_batch(batch_size)
            cost = loss_of(forward(torch.from_numpy(xs)), torch.from_numpy(ys))
            optimizer.zero_grad()
            cost.backward()
            optimizer.step()
            average += cost.item() / batches
        costs.append(average)
    with torch.no_grad():
        predicted = forward(torch.from_numpy(mnist.test.images)).argmax(1).numpy()
    return costs, float((predicted == mnist.test.labels.argmax(1)).mean())


def test_basic_operations_prints_tfs_results():
    out = run_script("tf1/basic_operations.py", [])
    assert "Addition with constants: 5" in out and "Multiplication with constants: 6" in out
    assert "Addition with variables: 5" in out and "Multiplication with variables: 6" in out
    assert "[[12.]]" in out


def test_logistic_regression_matches_the_replica_step_for_step():
    out = run_script("tf1/logistic_regression.py", [])
    costs, accuracy = _numbers(r"cost= ([0-9.]+)", out), _numbers(r"Accuracy: ([0-9.]+)", out)[0]
    w = torch.zeros(784, 10, requires_grad=True)
    b = torch.zeros(10, requires_grad=True)
    reference_costs, reference_accuracy = _train_replica(
        [w, b], lambda x: torch.softmax(x @ w + b, 1), lambda p, y: torch.mean(-torch.sum(y * torch.log(p), 1)),
        torch.optim.SGD([w, b], lr=0.01), epochs=25)
    np.testing.assert_allclose(costs, reference_costs, rtol=1e-4)  # 25 epochs of SGD from zeros: the same path
    assert abs(accuracy - reference_accuracy) <= 1 / 397 + 1e-6  # at most one of 397 test digits differs
    assert accuracy > 0.9


def test_multilayer_perceptron_matches_the_replica_from_the_same_initial_weights():
    ember.manual_seed(0)
    out = run_script("tf1/multilayer_perceptron.py", [])
    costs, accuracy = _numbers(r"cost=([0-9.]+)", out), _numbers(r"Accuracy: ([0-9.]+)", out)[0]
    # The stream ember.manual_seed(0) seeds for graph-mode draws (ember.random); tf.random_normal draws N(0, 1)
    # from it in this order.
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(0).spawn(1)[0]))
    shapes = [(784, 256), (256, 256), (256, 10), (256,), (256,), (10,)]
    h1, h2, out_w, b1, b2, out_b = (torch.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
                                    for s in shapes)
    params = [h1, h2, out_w, b1, b2, out_b]

    def forward(x):
        return ((x @ h1 + b1) @ h2 + b2) @ out_w + out_b

    reference_costs, reference_accuracy = _train_replica(
        params, forward, lambda logits, y: torch.mean(-torch.sum(y * torch.log_softmax(logits, 1), 1)),
        torch.optim.Adam(params, lr=0.001), epochs=15)
    # The same path at first; then float32 rounding (NumPy vs PyTorch kernels, and how the BLAS splits a product
    # over its threads), amplified by 180 Adam steps on costs in the thousands, moves it: by up to 3% in the first
    # ten epochs and 6% at the last one (measured with two BLAS threads), where the cost is 1% of the first.
    np.testing.assert_allclose(costs[:3], reference_costs[:3], rtol=1e-4)
    np.testing.assert_allclose(costs[:10], reference_costs[:10], rtol=0.05)
    np.testing.assert_allclose(costs, reference_costs, rtol=0.12)
    assert abs(accuracy - reference_accuracy) <= 0.02 and accuracy > 0.85


def test_save_restore_model_resumes_from_the_saved_weights(tmp_path):
    ember.manual_seed(1)
    out = run_script("tf1/save_restore_model.py", [],
                     {'model_path = "/tmp/model.ckpt"': f'model_path = "{tmp_path / "model.ckpt"}"'})
    first, second = _numbers(r"Accuracy: ([0-9.]+)", out)
    assert "Model saved in file" in out and "Model restored from file" in out
    assert second >= first - 0.02 and second > 0.85  # training resumed from the restored weights, not from scratch
    assert (tmp_path / "model.ckpt").exists()


def test_tensorboard_basic_writes_the_event_file(tmp_path):
    pytest.importorskip("tensorboardX")
    out = run_script("tf1/tensorboard_basic.py", [],
                     {"logs_path = '/tmp/tensorflow_logs/example/'": f"logs_path = '{tmp_path}/'",
                      "training_epochs = 25": "training_epochs = 3"})
    assert "Accuracy:" in out
    (event_file,) = list(tmp_path.iterdir())
    assert event_file.name.startswith("events.out.tfevents") and event_file.stat().st_size > 200


@pytest.mark.parametrize("script, shorter", [
    ("tf1/convolutional_network_raw.py", {"num_steps = 200": "num_steps = 3", "display_step = 10": "display_step = 2"}),
    ("tf1/recurrent_network.py", {"training_steps = 10000": "training_steps = 30",
                                  "display_step = 200": "display_step = 10"}),
])
def test_cnn_and_lstm_tutorials_run_and_learn(script, shorter):
    """tf.nn.conv2d/max_pool/dropout and tf.unstack/rnn.BasicLSTMCell/rnn.static_rnn, shortened to a few steps
    (a test budget of seconds): the minibatch loss falls from its first value."""
    ember.manual_seed(2)
    out = run_script(script, [], shorter)
    losses = _numbers(r"Minibatch Loss= ([0-9.]+)", out)
    assert len(losses) >= 2 and losses[-1] < losses[0]
    assert "Testing Accuracy:" in out
