"""tinynn's own examples, with only ``import tinynn as tn`` changed, run on ``ember.compat.tinynn``.

The data is the stand-in of tests/third_party/standins.py (scikit-learn's digits at MNIST's size). The
expected figures were measured by running the same scripts, on the same stand-in and seed, with tinynn
itself (commit 0fb0f94 of github.com/borgwang/tinynn): Ember's runs matched them digit for digit, because
the compat layer draws initial weights, batches and dropout masks from NumPy's generator as tinynn does.
The tolerance (0.01) allows for a different BLAS summing in another order.
"""

import re

import numpy as np
import pytest

import ember.compat.tinynn as tn
from tests.third_party.runner import run_script
from tests.third_party.standins import write_mnist_pickle

TOLERANCE = 0.01


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("mnist_standin")
    write_mnist_pickle(str(directory))
    return directory


@pytest.mark.parametrize("model_type, epochs, expected", [
    ("mlp", 3, [0.6650, 0.8715, 0.9421]),  # tinynn: the same accuracies after each epoch
    ("rnn", 2, [0.2771, 0.2846]),  # 30 hidden units on 28 rows of 28 pixels: slow to start, as in tinynn
])
def test_tinynn_mnist_example_lands_where_tinynn_lands(data_dir, model_type, epochs, expected):
    out = run_script("tinynn/mnist_run.py", ["--data_dir", str(data_dir), "--model_dir", str(data_dir / "models"),
                                             "--num_ep", str(epochs), "--seed", "31", "--model_type", model_type])
    accuracies = [float(a) for a in re.findall(r"accuracy: ([0-9.]+)", out)]
    assert len(accuracies) == epochs
    np.testing.assert_allclose(accuracies, expected, atol=TOLERANCE)
    assert (data_dir / "models" / f"mnist-{model_type}-epoch{epochs}.pkl").exists()


def test_tinynn_binary_classification_example_lands_where_tinynn_lands(data_dir):
    out = run_script("tinynn/binary_classification_run.py",
                     ["--data_dir", str(data_dir), "--model_dir", str(data_dir / "models"), "--num_ep", "2",
                      "--seed", "31"])
    figures = [(float(p), float(a)) for p, a in re.findall(r"precision: ([0-9.]+) auc: ([0-9.]+)", out)]
    np.testing.assert_allclose(figures, [(0.7554, 0.9594), (0.8877, 0.9755)], atol=TOLERANCE)


def test_saved_model_loads_back_and_predicts_the_same(data_dir):
    tn.seeder.random_seed(0)
    x = np.random.rand(16, 5).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[np.random.randint(0, 3, 16)]

    def build():
        net = tn.net.Net([tn.layer.Dense(8), tn.layer.Tanh(), tn.layer.Dense(3)])
        return tn.model.Model(net, tn.loss.SoftmaxCrossEntropy(), tn.optimizer.SGD(lr=0.1))

    model = build()
    for _ in range(3):
        loss, grads = model.backward(model.forward(x), y)
        model.apply_grads(grads)
    model.save(str(data_dir / "m.pkl"))
    restored = build()
    restored.load(str(data_dir / "m.pkl"))
    np.testing.assert_array_equal(restored.forward(x), model.forward(x))
