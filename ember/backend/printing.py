"""How tensors print: ``set_printoptions`` (PyTorch's options and profiles) and the body of ``Tensor.__repr__``.

Floats print as PyTorch prints them: integral values as ``1.``, others with ``precision`` digits after the point,
in scientific notation when the largest magnitude passes 1e8 or the largest over the smallest passes 1000 (or, for
non-integral values, the smallest is under 1e-4), unless ``sci_mode`` says otherwise.

>>> ember.set_printoptions(precision=2)
>>> ember.tensor([1.2345])
tensor([1.23])
"""

from __future__ import annotations

import math
import sys

import numpy as np

__all__ = ["format_array", "get_printoptions", "set_printoptions"]

_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}
_options = dict(_PROFILES["default"], sci_mode=None)


def set_printoptions(precision: int | None = None, threshold: float | None = None, edgeitems: int | None = None,
                     linewidth: int | None = None, profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set how tensors print (``torch.set_printoptions``): ``precision`` digits after the point (4), more than
    ``threshold`` elements (1000) summarized to ``edgeitems`` (3) at each end of each axis, lines of at most
    ``linewidth`` characters (80). ``profile`` ("default", "short" or "full") sets those four first; ``sci_mode``
    True or False forces or forbids scientific notation, None (also when left out, as in PyTorch) chooses.

    >>> ember.set_printoptions(profile="full")   # print every element
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, got {profile!r}")
        _options.update(_PROFILES[profile])
    for name, value in (("precision", precision), ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"set_printoptions: {name} must be a non-negative int, got {value!r}")
            _options[name] = value
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold < 0:
            raise ValueError(f"set_printoptions: threshold must be a non-negative number, got {threshold!r}")
        _options["threshold"] = threshold
    if sci_mode is not None and not isinstance(sci_mode, bool):
        raise ValueError(f"set_printoptions: sci_mode must be True, False or None, got {sci_mode!r}")
    _options["sci_mode"] = sci_mode


def get_printoptions() -> dict:
    """The print options now, as ``set_printoptions`` takes them (``torch.get_printoptions``)."""
    return dict(_options)


def _float_style(array: np.ndarray) -> tuple:
    """``(integral, scientific)`` for a float array, by PyTorch's rules over its finite non-zero magnitudes."""
    finite = np.abs(array[np.isfinite(array)])
    integral = bool(np.all(finite == np.ceil(finite)))
    nonzero = finite[finite != 0]
    sci_mode = _options["sci_mode"]
    if sci_mode is not None:
        return integral, sci_mode
    if nonzero.size == 0:
        return integral, False
    largest, smallest = float(nonzero.max()), float(nonzero.min())
    wide = largest / smallest > 1000.0 or largest > 1e8
    return integral, wide if integral else wide or smallest < 1e-4


def _scientific(array: np.ndarray, precision: int):
    """A formatter writing every value in one width, ``d.dddde+XX`` (PyTorch's columns)."""
    finite = array[np.isfinite(array)]
    big = finite.size and float(np.abs(finite).max()) >= 1e100
    tiny = finite[finite != 0]
    tiny = tiny.size and float(np.abs(tiny).min()) < 1e-99
    width = precision + 6 + (1 if np.any(np.signbit(array)) else 0) + (1 if big or tiny else 0)
    return lambda v: f"{v:.{precision}e}".rjust(width)


def _edges(array: np.ndarray, edgeitems: int) -> np.ndarray:
    """The elements a summarized print shows (``edgeitems`` at each end of each axis): PyTorch chooses the format
    from them alone, and a large tensor's print reads no more."""
    for axis, size in enumerate(array.shape):
        if size > 2 * edgeitems:
            array = np.take(array, np.r_[0:edgeitems, size - edgeitems:size], axis=axis)
    return array


def format_array(array: np.ndarray, prefix: str) -> str:
    """The values of ``array`` (on the CPU) as ``Tensor.__repr__`` writes them after ``prefix``."""
    threshold = _options["threshold"]
    kwargs = {"separator": ", ", "prefix": prefix, "max_line_width": _options["linewidth"],
              "threshold": sys.maxsize if threshold == math.inf else int(threshold),
              "edgeitems": _options["edgeitems"]}
    if array.dtype.kind != "f" or array.size == 0:
        text = np.array2string(array, **kwargs)
    else:
        precision = _options["precision"]
        shown = _edges(array, kwargs["edgeitems"]) if array.size > kwargs["threshold"] else array
        integral, scientific = _float_style(shown)
        if scientific:
            text = np.array2string(array, formatter={"float_kind": _scientific(shown, precision)}, **kwargs)
        else:
            text = np.array2string(array, precision=precision, floatmode="maxprec" if integral else "fixed",
                                   suppress_small=True, **kwargs)
    return text.replace(", ..., ", ",  ..., ") if array.size > kwargs["threshold"] else text  # PyTorch's spacing
