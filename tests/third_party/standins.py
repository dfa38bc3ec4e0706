"""Stand-ins for the data third-party scripts download: scikit-learn's bundled 8x8 digits, scaled to MNIST's
28x28 (each pixel repeated 3x3, a 2-pixel border), values in [0, 1]."""

import gzip
import os
import pickle

import numpy as np


def digits_as_mnist() -> tuple:
    """(images of shape (1797, 784) float32, labels int64), shuffled with a fixed seed."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.kron(digits.images / 16.0, np.ones((3, 3)))  # 24 x 24
    images = np.pad(images, ((0, 0), (2, 2), (2, 2))).reshape(len(images), 784).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(images))
    return images[order], digits.target[order].astype(np.int64)


def write_mnist_pickle(directory: str) -> str:
    """``mnist.pkl.gz`` as tinynn reads it: (train 1200, valid 200, test 397), each (images, labels)."""
    images, labels = digits_as_mnist()
    sets = ((images[:1200], labels[:1200]), (images[1200:1400], labels[1200:1400]),
            (images[1400:], labels[1400:]))
    path = os.path.join(directory, "mnist.pkl.gz")
    with gzip.open(path, "wb", compresslevel=1) as f:
        pickle.dump(sets, f)
    return path


class MnistDataSet:
    """One split as TF-1's tutorial ``DataSet``: ``images`` (n, 784), ``labels``, ``num_examples`` and
    ``next_batch``, which reshuffles at every epoch (its own seeded generator, so runs repeat) and fills the
    last batch of an epoch from the next one."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, seed: int):
        self.images, self.labels = images, labels
        self.num_examples = len(images)
        self.epochs_completed = 0
        self._position = 0
        self._rng = np.random.RandomState(seed)
        self._order = None

    def _shuffle(self) -> None:
        self._order = self._rng.permutation(self.num_examples)

    def next_batch(self, batch_size: int, fake_data: bool = False, shuffle: bool = True) -> tuple:
        if self._order is None:
            self._order = self._rng.permutation(self.num_examples) if shuffle else np.arange(self.num_examples)
        rows = []
        while len(rows) < batch_size:
            take = min(batch_size - len(rows), self.num_examples - self._position)
            rows.extend(self._order[self._position:self._position + take])
            self._position += take
            if self._position == self.num_examples:
                self.epochs_completed += 1
                self._position = 0
                self._order = self._rng.permutation(self.num_examples) if shuffle else self._order
        rows = np.array(rows)
        return self.images[rows], self.labels[rows]


class _InputData:
    """Stands in for ``tensorflow.examples.tutorials.mnist.input_data`` (scikit-learn's digits, no download)."""

    @staticmethod
    def read_data_sets(train_dir=None, one_hot: bool = False, **unused):
        images, labels = digits_as_mnist()
        if one_hot:
            labels = np.eye(10, dtype=np.float32)[labels]
        parts = ((0, 1200), (1200, 1400), (1400, len(images)))
        train, validation, test = (MnistDataSet(images[a:b], labels[a:b], seed=i) for i, (a, b) in enumerate(parts))
        from types import SimpleNamespace

        return SimpleNamespace(train=train, validation=validation, test=test)


input_data = _InputData()
