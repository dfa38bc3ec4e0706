"""Small real datasets shipped with scikit-learn, and a train/test split.

The loaders return ``(x, y)`` NumPy arrays: ``x`` float32, ``y`` int64 class labels (float32 targets
for the regression set ``load_diabetes``). They need scikit-learn (``pip install scikit-learn``, or
Ember's ``data`` extra).
"""

from __future__ import annotations

import numpy as np

from ember.data.dataset import _rng


def _sklearn_datasets():
    from ember.optional import require

    require("sklearn", "scikit-learn", "data", "the ember.data dataset loaders")
    from sklearn import datasets

    return datasets


def _load(name: str, regression: bool = False) -> tuple[np.ndarray, np.ndarray]:
    bunch = getattr(_sklearn_datasets(), name)()
    x = np.ascontiguousarray(bunch.data, dtype=np.float32)
    y = bunch.target.astype(np.float32 if regression else np.int64)
    return x, y


def load_digits(images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """1797 8x8 handwritten digits, 10 classes; pixels scaled to [0, 1]. ``images=True`` gives
    ``x`` the shape (N, 1, 8, 8) for convolutions, else (N, 64).

    >>> x, y = load_digits(images=True)   # x: (1797, 1, 8, 8) float32, y: (1797,) int64
    """
    x, y = _load("load_digits")
    x /= 16.0
    return (x.reshape(-1, 1, 8, 8) if images else x), y


def load_breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """569 tumours, 30 features, 2 classes (1 = benign).

    >>> x, y = load_breast_cancer()   # (569, 30), (569,)
    """
    return _load("load_breast_cancer")


def load_iris() -> tuple[np.ndarray, np.ndarray]:
    """150 iris flowers, 4 features, 3 classes.

    >>> x, y = load_iris()   # (150, 4), (150,)
    """
    return _load("load_iris")


def load_wine() -> tuple[np.ndarray, np.ndarray]:
    """178 wines, 13 features, 3 classes.

    >>> x, y = load_wine()   # (178, 13), (178,)
    """
    return _load("load_wine")


def load_diabetes() -> tuple[np.ndarray, np.ndarray]:
    """442 patients, 10 (standardised) features, a float32 regression target.

    >>> x, y = load_diabetes()   # (442, 10), (442,)
    """
    return _load("load_diabetes", regression=True)


def train_test_split(x, y, test_fraction: float = 0.25, seed=None, stratify: bool = False) -> tuple:
    """Shuffle and split into ``(x_train, x_test, y_train, y_test)`` with ``round(test_fraction * N)``
    test samples. ``stratify=True`` keeps each class's share in both parts (y holds class labels).
    ``seed`` is an int or a NumPy Generator; by default Ember's global generator.

    >>> x_train, x_test, y_train, y_test = train_test_split(x, y, 0.2, seed=0, stratify=True)
    """
    x, y = np.asarray(x), np.asarray(y)
    n = len(x)
    if len(y) != n:
        raise ValueError(f"train_test_split: x has {n} samples but y has {len(y)}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"train_test_split: test_fraction must be in (0, 1), got {test_fraction}")
    rng = _rng(seed)
    n_test = int(round(test_fraction * n))
    if n_test == 0 or n_test == n:
        raise ValueError(f"train_test_split: test_fraction={test_fraction} of {n} samples leaves {n_test} for test "
                         f"and {n - n_test} for training; both need at least one")
    if not stratify:
        order = rng.permutation(n)
        test, train = order[:n_test], order[n_test:]
    else:
        classes, codes = np.unique(y, return_inverse=True)
        members = [np.flatnonzero(codes == c) for c in range(len(classes))]
        # Largest remainder: each class gets floor(share); the leftovers go to the largest fractions.
        shares = np.array([len(m) for m in members]) * test_fraction
        counts = np.floor(shares).astype(np.int64)
        leftover = n_test - int(counts.sum())
        counts[np.argsort(-(shares - counts), kind="stable")[:leftover]] += 1
        test_parts, train_parts = [], []
        for m, k in zip(members, counts):
            m = rng.permutation(m)
            test_parts.append(m[:k])
            train_parts.append(m[k:])
        test = rng.permutation(np.concatenate(test_parts))
        train = rng.permutation(np.concatenate(train_parts))
    return x[train], x[test], y[train], y[test]
