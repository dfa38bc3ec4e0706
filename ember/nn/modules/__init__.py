"""PyTorch's ``torch.nn.modules`` path, for code that imports from it: ``ember.nn.modules.module``, ``.loss``
(with ``_Loss``, ``_WeightedLoss``), ``.conv`` (``_ConvNd``), ``.batchnorm`` (``_NormBase``, ``_BatchNorm``),
``.utils`` (``_pair``...) and the other submodules of PyTorch's layers, each holding the ``ember.nn`` objects.
As ``torch.nn.modules.loss`` is, each submodule is there as an attribute without an import of its own."""

import importlib

from ember.nn.modules import module  # noqa: F401  (in __all__)

_SUBMODULES = ("activation", "adaptive", "batchnorm", "channelshuffle", "conv", "distance", "dropout", "flatten",
               "fold", "instancenorm", "linear", "loss", "module", "normalization", "padding", "pixelshuffle",
               "pooling", "rnn", "sparse", "transformer", "upsampling", "utils")

__all__ = list(_SUBMODULES)


def __getattr__(name: str):
    if name in _SUBMODULES:  # loaded on first use: they re-export ember.nn, which is still loading when this runs
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
