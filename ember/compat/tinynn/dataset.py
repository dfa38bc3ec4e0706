"""``tn.dataset``: datasets read from local files (Ember does not download).

``MNIST(data_dir)`` reads ``data_dir/mnist.pkl.gz``, the file tinynn downloads: a gzipped pickle of
(train, valid, test), each (images of shape (n, 784), labels).
"""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np


class Dataset:
    """``train_set``, ``valid_set`` and ``test_set``: (inputs, targets) pairs."""

    def __init__(self):
        self._train_set = self._valid_set = self._test_set = None

    @property
    def train_set(self):
        return self._train_set

    @property
    def valid_set(self):
        return self._valid_set

    @property
    def test_set(self):
        return self._test_set

    @staticmethod
    def one_hot(targets, n_classes: int) -> np.ndarray:
        return np.eye(n_classes, dtype=np.float32)[np.asarray(targets).reshape(-1)]


class MNIST(Dataset):
    """MNIST from ``data_dir/mnist.pkl.gz``; labels one-hot (float32) when ``one_hot``."""

    filename = "mnist.pkl.gz"

    def __init__(self, data_dir: str, one_hot: bool = True):
        super().__init__()
        path = os.path.join(data_dir, self.filename)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"MNIST: {path} not found; Ember does not download data: put mnist.pkl.gz (a gzipped pickle of "
                "(train, valid, test), each (images (n, 784), labels)) in that directory"
            )
        with gzip.open(path, "rb") as f:
            sets = pickle.load(f, encoding="latin1")
        if one_hot:
            sets = [(x, self.one_hot(y, 10)) for x, y in sets]
        self._train_set, self._valid_set, self._test_set = sets
