"""tinynn's API over Ember: ``import ember.compat.tinynn as tn`` and a tinynn script runs.

The module layout and semantics follow tinynn (``tn.layer.Dense``, ``tn.net.Net``, ``tn.model.Model``
with ``forward``/``backward``/``apply_grads``, ``tn.loss``, ``tn.optimizer``, ``tn.initializer``,
``tn.data_iterator``, ``tn.metric``, ``tn.seeder``, ``tn.math``): layers hold NumPy parameters and are
initialized lazily from NumPy's global generator with tinynn's defaults, so a seeded script starts from
the same weights; forward and backward run on Ember's ops and autograd.

>>> import ember.compat.tinynn as tn
>>> net = tn.net.Net([tn.layer.Dense(16), tn.layer.ReLU(), tn.layer.Dense(3)])
>>> model = tn.model.Model(net, tn.loss.SoftmaxCrossEntropy(), tn.optimizer.Adam(lr=1e-3))
"""

from ember.compat.tinynn import (
    data_iterator,
    dataset,
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
)

__all__ = [
    "data_iterator", "dataset", "initializer", "layer", "loss", "math", "metric", "model", "net", "optimizer",
    "seeder", "structured_param",
]
