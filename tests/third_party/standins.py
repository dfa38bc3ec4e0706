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
