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

import numpy as np

__all__ = ["add_suffixes", "format_array", "get_printoptions", "set_printoptions"]

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


class _Formatter:
    """PyTorch's element formatter for the values a print shows: one width for all, chosen (as is the style:
    integral ``1.``, fixed ``precision`` digits or scientific) from the finite non-zero values only."""

    def __init__(self, array: np.ndarray):
        self.floating = array.dtype.kind == "f"
        self.integral, self.scientific, self.width = True, False, 1
        if not self.floating:
            self.width = max((len(str(v)) for v in array.reshape(-1).tolist()), default=1)
            return
        values = array[np.isfinite(array) & (array != 0)].astype(np.float64)
        if values.size == 0:
            return
        magnitudes = np.abs(values)
        largest, smallest = float(magnitudes.max()), float(magnitudes.min())
        self.integral = bool(np.all(values == np.ceil(values)))
        sci_mode = _options["sci_mode"]
        self.scientific = (largest / smallest > 1000.0 or largest > 1e8 or smallest < 1e-4) if sci_mode is None \
            else sci_mode
        precision = _options["precision"]
        if self.scientific:
            self.width = max(len(f"{v:.{precision}e}") for v in values.tolist())
        elif self.integral:
            self.width = max(len(f"{v:.0f}") + 1 for v in values.tolist())
        else:
            self.width = max(len(f"{v:.{precision}f}") for v in values.tolist())

    def format(self, value) -> str:
        if not self.floating:
            text = str(value)
        elif self.scientific:
            text = f"{value:{self.width}.{_options['precision']}e}"
        elif self.integral:
            text = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            text = f"{value:.{_options['precision']}f}"
        return text.rjust(self.width)


def _element(value, formatters: tuple) -> str:
    if len(formatters) == 1:
        return formatters[0].format(value)
    imag = (formatters[1].format(value.imag) + "j").lstrip()  # a complex value: its parts' own formatters
    return formatters[0].format(value.real) + ("" if imag[0] in "+-" else "+") + imag


def _edges(array: np.ndarray, edgeitems: int) -> np.ndarray:
    """The elements a summarized print shows (``edgeitems`` at each end of each axis): PyTorch chooses the format
    from them alone, and a large tensor's print reads no more."""
    for axis, size in enumerate(array.shape):
        if size > 2 * edgeitems:
            array = np.take(array, np.r_[0:edgeitems, size - edgeitems:size], axis=axis)
    return array


def _format(array: np.ndarray, indent: int, summarize: bool, formatters: tuple) -> str:
    edgeitems = _options["edgeitems"]
    if array.ndim == 0:
        return _element(array.item(), formatters)
    cut = summarize and array.shape[0] > 2 * edgeitems
    if array.ndim == 1:
        width = formatters[0].width + 2 + (formatters[1].width + 1 if len(formatters) == 2 else 0)
        per_line = max(1, int((_options["linewidth"] - indent) // width))
        if summarize and not edgeitems:
            items = ["..."]
        elif cut:
            items = [_element(v, formatters) for v in array[:edgeitems].tolist()] + [" ..."] + \
                [_element(v, formatters) for v in array[array.shape[0] - edgeitems:].tolist()]
        else:
            items = [_element(v, formatters) for v in array.tolist()]
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = [*range(edgeitems), None, *range(array.shape[0] - edgeitems, array.shape[0])] if cut \
        else range(array.shape[0])
    slices = ["..." if i is None else _format(array[i], indent + 1, summarize, formatters) for i in rows]
    return "[" + ("," + "\n" * (array.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def format_array(array: np.ndarray, prefix: str) -> str:
    """The values of ``array`` (on the CPU) as ``Tensor.__repr__`` writes them after ``prefix``, by PyTorch's
    rules: one element width, as many elements on a line as fit ``linewidth``, more than ``threshold`` elements
    summarized to ``edgeitems`` at each end of each axis."""
    if array.size == 0:
        return "[]"
    summarize = array.size > _options["threshold"]
    shown = _edges(array, _options["edgeitems"]) if summarize else array
    formatters = (_Formatter(shown.real), _Formatter(shown.imag)) if array.dtype.kind == "c" else (_Formatter(shown),)
    return _format(array, len(prefix), summarize, formatters)


def add_suffixes(body: str, suffixes: list, indent: int) -> str:
    """``body`` and its ``suffixes`` (``dtype=...``), each after ", " or, where the line would pass ``linewidth``,
    on a new line at ``indent``, and the closing parenthesis (PyTorch's layout)."""
    parts = [body]
    line = len(body) - body.rfind("\n") + 1  # (PyTorch's count, one more than the line's length)
    for suffix in suffixes:
        if line + len(suffix) + 2 > _options["linewidth"]:
            parts.append(",\n" + " " * indent + suffix)
            line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            line += len(suffix) + 2
    return "".join(parts) + ")"
