"""PyTorch's ``torch.nn.modules`` path, for code that imports from it: ``ember.nn.modules.module``, ``.loss``
(with ``_Loss``, ``_WeightedLoss``), ``.conv`` (``_ConvNd``), ``.batchnorm`` (``_NormBase``, ``_BatchNorm``),
``.utils`` (``_pair``...) and the other submodules of PyTorch's layers, each holding the ``ember.nn`` objects."""

from ember.nn.modules import module

__all__ = ["module"]
