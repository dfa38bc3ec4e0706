"""``tn.utils``: tinynn's package path for its utility modules; ``tn.utils.seeder`` is ``tn.seeder``, and
``from ember.compat.tinynn.utils.metric import accuracy`` works as ``from tinynn.utils.metric import ...`` does."""

import sys

from ember.compat.tinynn import data_iterator, dataset, downloader, math, metric, seeder, structured_param

__all__ = ["data_iterator", "dataset", "downloader", "math", "metric", "seeder", "structured_param"]

for _module in (data_iterator, dataset, downloader, math, metric, seeder, structured_param):
    sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[-1]}"] = _module  # the same module, not a copy
