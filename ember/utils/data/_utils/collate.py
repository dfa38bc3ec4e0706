"""``torch.utils.data._utils.collate``: ``collate`` with a map of per-type functions, and the default map that
``default_collate`` reads (``ember.data.collate_fn_map``: an entry added here teaches it a new type).

>>> from ember.utils.data._utils.collate import collate, default_collate_fn_map
>>> default_collate_fn_map[Point] = lambda batch, *, collate_fn_map: ...
"""

from ember.data.collate import _collate_array as collate_numpy_array_fn
from ember.data.collate import _collate_list_of as collate_str_fn
from ember.data.collate import _collate_numbers as collate_float_fn
from ember.data.collate import _collate_numbers as collate_int_fn
from ember.data.collate import _collate_numpy_scalar as collate_numpy_scalar_fn
from ember.data.collate import _collate_tensor as collate_tensor_fn
from ember.data.collate import collate, default_collate, default_convert
from ember.data.collate import collate_fn_map as default_collate_fn_map

__all__ = [
    "collate", "collate_float_fn", "collate_int_fn", "collate_numpy_array_fn", "collate_numpy_scalar_fn",
    "collate_str_fn", "collate_tensor_fn", "default_collate", "default_collate_fn_map", "default_convert",
]
