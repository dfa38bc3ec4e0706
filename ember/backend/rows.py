"""Writing whole rows of a table by index, the fast way NumPy allows."""

from __future__ import annotations

import math

import numpy as np

_ROW_TYPES: dict[int, np.dtype] = {}  # bytes a row -> the void dtype of that size (making one costs ~3 us)


def put_rows(xp, array, index, rows) -> None:
    """``array[index] = rows`` (rows along axis 0; repeated indices: the last one wins, as assignment). On NumPy
    a C-contiguous table's rows are written as single items of a row-sized void dtype by ``np.put``: about 3x
    faster than the row-wise assignment."""
    if xp is np and array.ndim > 1 and array.flags.c_contiguous and array.dtype == rows.dtype \
            and rows.shape[1:] == array.shape[1:]:
        width = math.prod(array.shape[1:])
        if width == 0:
            return
        size = array.itemsize * width
        row = _ROW_TYPES.get(size)
        if row is None:
            row = _ROW_TYPES[size] = np.dtype((np.void, size))
        rows = np.ascontiguousarray(rows).reshape(rows.shape[0], width)
        np.put(array.reshape(array.shape[0], width).view(row).reshape(-1), index, rows.view(row).reshape(-1))
    else:
        array[index] = rows
