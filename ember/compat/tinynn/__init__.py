"""tinynn's API over Ember: ``import ember.compat.tinynn as tn`` and a tinynn script runs.

The module layout and semantics follow tinynn (``tn.layer.Dense``, ``tn.net.Net``, ``tn.model.Model``
with ``forward``/``backward``/``apply_grads``, ``tn.loss``, ``tn.optimizer``, ``tn.initializer``,
``tn.data_iterator``, ``tn.metric``, ``tn.seeder``, ``tn.math``, ``tn.dataset``, ``tn.downloader``, and
tinynn's package paths ``tn.core.*`` and ``tn.utils.*``): layers hold NumPy parameters and are
initialized lazily from NumPy's global generator with tinynn's defaults, so a seeded script starts from
the same weights; forward and backward run on Ember's ops and autograd.

>>> import ember.compat.tinynn as tn
>>> net = tn.net.Net([tn.layer.Dense(16), tn.layer.ReLU(), tn.layer.Dense(3)])
>>> model = tn.model.Model(net, tn.loss.SoftmaxCrossEntropy(), tn.optimizer.Adam(lr=1e-3))
"""

from ember.compat.tinynn import (
    core,  # tinynn's package paths: tn.core.layer, tn.utils.seeder
    data_iterator,
    dataset,
    downloader,
    initializer,
    layer,
    loss,
    math,
    metric,
    model,
    net,
    optimizer,
    seeder,
    structured_param,
    utils,
)

__all__ = [
    "core", "data_iterator", "dataset", "downloader", "initializer", "layer", "loss", "math", "metric", "model",
    "net", "optimizer", "seeder", "structured_param", "utils",
]
