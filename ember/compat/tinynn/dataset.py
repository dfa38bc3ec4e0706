"""``tn.dataset``: tinynn's datasets (MNIST, FashionMNIST, Cifar10, Cifar100), read from the files tinynn saves.

Ember does not download them: each dataset looks for the files tinynn downloads (named as in their URLs)
in ``data_dir`` and says which are missing; ``tn.downloader.download_url`` fetches them. A dataset
subclass in tinynn's style sets ``_urls`` and ``_checksums`` before ``super().__init__`` and defines
``_parse(**kwargs)``, which fills ``_train_set``, ``_valid_set`` and ``_test_set``.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import tarfile

import numpy as np

__all__ = ["Cifar", "Cifar10", "Cifar100", "Dataset", "FashionMNIST", "MNIST"]


class Dataset:
    """``train_set``, ``valid_set`` and ``test_set``: (inputs, targets) pairs (None where a dataset has none)."""

    _urls: tuple = ()
    _checksums: tuple = ()

    def __init__(self, data_dir: str, **kwargs):
        self._train_set = self._valid_set = self._test_set = None
        self._save_paths = [os.path.join(data_dir, url.split("/")[-1]) for url in self._urls]
        missing = [(url, path) for url, path in zip(self._urls, self._save_paths) if not os.path.exists(path)]
        if missing:
            listing = "; ".join(f"{path} (from {url})" for url, path in missing)
            raise FileNotFoundError(f"{type(self).__name__}: not found: {listing}. Ember does not download data: "
                                    "fetch the files (tn.downloader.download_url does) into that directory")
        self._parse(**kwargs)

    def _parse(self, **kwargs) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define _parse(**kwargs)")

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
    """MNIST from ``mnist.pkl.gz`` (a gzipped pickle of (train, valid, test), each (images (n, 784), labels));
    labels one-hot (float32) when ``one_hot``."""

    _urls = ("https://raw.githubusercontent.com/mnielsen/neural-networks-and-deep-learning/master/data/"
             "mnist.pkl.gz",)
    _checksums = ("98100ca27dc0e07ddd9f822cf9d244db",)

    def __init__(self, data_dir: str, one_hot: bool = True):
        super().__init__(data_dir, one_hot=one_hot)

    def _parse(self, one_hot: bool = True) -> None:
        with gzip.open(self._save_paths[0], "rb") as f:
            sets = pickle.load(f, encoding="latin1")
        if one_hot:
            sets = [(x, self.one_hot(y, 10)) for x, y in sets]
        self._train_set, self._valid_set, self._test_set = sets


class FashionMNIST(Dataset):
    """Fashion-MNIST from its four gzipped IDX files: images scaled to [0, 1] as (n, 784) float64, labels
    one-hot (float32) when ``one_hot``; a train and a test set."""

    _urls = tuple("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" + name for name in (
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))
    _checksums = ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                  "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310")

    def __init__(self, data_dir: str, one_hot: bool = True):
        super().__init__(data_dir, one_hot=one_hot)

    @staticmethod
    def read_idx(filename: str) -> np.ndarray:
        """A gzipped IDX file of unsigned bytes as an array of the shape its header gives."""
        with gzip.open(filename, "rb") as f:
            _, type_code, ndim = struct.unpack(">HBB", f.read(4))
            if type_code != 0x08:
                raise ValueError(f"FashionMNIST.read_idx: {filename} holds IDX type {type_code:#x}, not unsigned bytes")
            shape = struct.unpack(f">{ndim}I", f.read(4 * ndim))
            return np.frombuffer(f.read(), dtype=np.uint8).reshape(shape)

    def _parse(self, one_hot: bool = True) -> None:
        train_x, train_y, test_x, test_y = (self.read_idx(path) for path in self._save_paths)
        train_x = (train_x.astype(float) / 255.0).reshape(len(train_x), -1)
        test_x = (test_x.astype(float) / 255.0).reshape(len(test_x), -1)
        if one_hot:
            train_y, test_y = self.one_hot(train_y, 10), self.one_hot(test_y, 10)
        self._train_set, self._test_set = (train_x, train_y), (test_x, test_y)


class Cifar(Dataset):
    """The CIFAR archives: a .tar.gz of pickled batches; images (n, 3072) scaled to [0, 1]."""

    _n_classes = 10

    @staticmethod
    def _cifar_normalize(data: np.ndarray) -> np.ndarray:
        """tinynn's normalization: each row read as (pixels, 3) and standardized by CIFAR's per-channel
        means and deviations (as tinynn does, whatever CIFAR's channel-major layout)."""
        means, stds = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
        data = data.reshape((len(data), -1, 3))
        data = (data - np.asarray(means)) / np.asarray(stds)
        return data.reshape((len(data), -1))

    def _read_archive(self) -> dict:
        """The pickled members of the archive by file name (all but the small metadata files)."""
        members = {}
        with tarfile.open(self._save_paths[0], "r:*") as tar:
            for item in tar:
                f = tar.extractfile(item)
                if f is None or item.size < 100:
                    continue
                members[item.name.split("/")[-1]] = pickle.load(f, encoding="bytes")
        return members

    def _finish(self, train_x, train_y, test_x, test_y, one_hot: bool, normalize: bool) -> None:
        train_x, test_x = train_x / 255.0, test_x / 255.0
        train_y, test_y = np.asarray(train_y), np.asarray(test_y)
        if normalize:
            train_x, test_x = self._cifar_normalize(train_x), self._cifar_normalize(test_x)
        if one_hot:
            train_y, test_y = self.one_hot(train_y, self._n_classes), self.one_hot(test_y, self._n_classes)
        self._train_set, self._test_set = (train_x, train_y), (test_x, test_y)


class Cifar10(Cifar):
    """CIFAR-10 from ``cifar-10-python.tar.gz``; ``one_hot`` labels, ``normalize`` as tinynn's."""

    _urls = ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)
    _checksums = ("c58f30108f718f92721af3b95e74349a",)

    def __init__(self, data_dir: str, one_hot: bool = False, normalize: bool = False):
        super().__init__(data_dir, one_hot=one_hot, normalize=normalize)

    def _parse(self, one_hot: bool = False, normalize: bool = False) -> None:
        members = self._read_archive()
        batches = [members[f"data_batch_{i}"] for i in range(1, 6)]
        train_x = np.concatenate([b[b"data"] for b in batches], axis=0)
        train_y = [label for b in batches for label in b[b"labels"]]
        test = members["test_batch"]
        self._finish(train_x, train_y, test[b"data"], test[b"labels"], one_hot, normalize)


class Cifar100(Cifar):
    """CIFAR-100 (fine labels) from ``cifar-100-python.tar.gz``; ``one_hot`` labels, ``normalize`` as tinynn's."""

    _urls = ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",)
    _checksums = ("eb9058c3a382ffc7106e4002c42a8d85",)
    _n_classes = 100

    def __init__(self, data_dir: str, one_hot: bool = False, normalize: bool = False):
        super().__init__(data_dir, one_hot=one_hot, normalize=normalize)

    def _parse(self, one_hot: bool = False, normalize: bool = False) -> None:
        members = self._read_archive()
        train, test = members["train"], members["test"]
        self._finish(train[b"data"], train[b"fine_labels"], test[b"data"], test[b"fine_labels"], one_hot, normalize)
