"""``tn.core``: tinynn's package path for its core modules; ``tn.core.layer`` is ``tn.layer``, and
``from ember.compat.tinynn.core.model import Model`` works as ``from tinynn.core.model import Model`` does."""

import sys

from ember.compat.tinynn import initializer, layer, loss, model, net, optimizer

__all__ = ["initializer", "layer", "loss", "model", "net", "optimizer"]

for _module in (initializer, layer, loss, model, net, optimizer):
    sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[-1]}"] = _module  # the same module, not a copy
