"""Strict parsing of text cells into numbers and targets, for the file readers.

Every error names the reader, the file, the line and the column of the offending cell. A target column
never changes meaning silently: a blank, a non-number among numbers, an integer beyond int64 or a
non-finite value is an error, never a reason to fall back to another interpretation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

TARGET_TYPES = ("auto", "integer", "float", "class")
_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_INT64 = np.iinfo(np.int64)


class Cell(NamedTuple):
    """Where a cell came from: enough to point the user at it."""

    reader: str
    path: str
    line: int
    column: int
    column_name: str | None = None

    def error(self, message: str) -> ValueError:
        name = f" ({self.column_name!r})" if self.column_name is not None else ""
        return ValueError(f"{self.reader}: {self.path}, line {self.line}, column {self.column}{name}: {message}")


def is_number(text: str) -> bool:
    """Whether ``text`` (surrounding spaces allowed) is a decimal number, ``nan`` or ``inf``."""
    return _NUMBER.fullmatch(text.strip()) is not None


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def parse_floats(cells: Sequence[str], where: Callable[[int], Cell],
                 hint: Callable[[str], str] | None = None) -> np.ndarray:
    """Cells as float64 values; a blank cell is NaN (a missing value), any other non-number an error.
    ``hint(text)`` adds to the message of a bad cell."""
    values = np.empty(len(cells), np.float64)
    match = _NUMBER.fullmatch
    for i, text in enumerate(cells):
        stripped = text.strip()
        if not stripped:
            values[i] = np.nan
        elif match(stripped) is not None:
            value = float(stripped)
            if np.isfinite(value) and abs(value) > _FLOAT32_MAX:  # would become inf in the float32 arrays
                raise where(i).error(f"{_show(text)} is beyond float32's range (about 3.4e38)")
            values[i] = value
        else:
            raise where(i).error(f"{_show(text)} is not a number" + (hint(text) if hint else ""))
    return values


def parse_targets(cells: Sequence[str], where: Callable[[int], Cell], target_type: str = "auto",
                  classes: Sequence | None = None) -> tuple[np.ndarray, list[str] | None]:
    """Targets from text cells: ``(values, class names or None)``.

    ``target_type``: ``"integer"`` gives int64 (each target a whole number within int64), ``"float"``
    gives finite float32 values (regression), ``"class"`` gives int64 codes into ``classes`` (default:
    the distinct labels, sorted as numbers when they all are numbers, else as text). ``"auto"`` reads a
    column of integers written without a decimal point or exponent as ``"integer"``, other numbers as
    ``"float"`` and text as ``"class"``; a column mixing numbers and text is an error.
    """
    if target_type not in TARGET_TYPES:
        raise ValueError(f"target_type must be one of {TARGET_TYPES}, got {target_type!r}")
    stripped = [c.strip() for c in cells]
    for i, text in enumerate(stripped):
        if not text:
            raise where(i).error("the target is missing (a blank field)")
    if classes is not None or target_type == "class":
        return _class_codes(stripped, where, classes)
    if target_type == "auto":
        target_type = _infer_target_type(stripped, where)
        if target_type == "class":
            return _class_codes(stripped, where, None)
    if target_type == "integer":
        return np.array([_parse_int(t, where, i) for i, t in enumerate(stripped)], np.int64), None
    values = np.array([_parse_finite(t, where, i) for i, t in enumerate(stripped)], np.float64)
    beyond = np.flatnonzero(np.abs(values) > _FLOAT32_MAX)  # would become inf in the float32 targets
    if beyond.size:
        i = int(beyond[0])
        raise where(i).error(f"the target {_show(stripped[i])} is beyond float32's range (about 3.4e38)")
    return values.astype(np.float32), None


def _infer_target_type(stripped: list[str], where: Callable[[int], Cell]) -> str:
    numeric = [is_number(t) for t in stripped]
    if not any(numeric):
        return "class"
    if not all(numeric):
        first_text = numeric.index(False)
        first_number = numeric.index(True)
        raise where(first_text).error(
            f"the target {_show(stripped[first_text])} is not a number, but the target on line "
            f"{where(first_number).line} is ({_show(stripped[first_number])}); fix the file, or pass "
            "target_type='class' to read every target as a class name")
    if all(_INTEGER.fullmatch(t) for t in stripped):
        return "integer"
    return "float"


def _parse_int(text: str, where: Callable[[int], Cell], i: int) -> int:
    if _INTEGER.fullmatch(text):
        value = int(text)
    else:
        number = _parse_finite(text, where, i)
        if number != int(number):
            raise where(i).error(f"the target {_show(text)} is not a whole number (target_type='integer')")
        value = int(number)
    if not _INT64.min <= value <= _INT64.max:
        raise where(i).error(f"the target {_show(text)} does not fit in int64; pass target_type='float' or "
                          "target_type='class' for such values")
    return value


def _parse_finite(text: str, where: Callable[[int], Cell], i: int) -> float:
    if _NUMBER.fullmatch(text) is None:
        raise where(i).error(f"the target {_show(text)} is not a number")
    value = float(text)
    if not np.isfinite(value):
        raise where(i).error(f"the target {_show(text)} is not finite")
    return value


def _class_codes(stripped: list[str], where: Callable[[int], Cell], classes: Sequence | None):
    if classes is None:
        distinct = set(stripped)
        if all(is_number(t) for t in distinct):
            names = sorted(distinct, key=lambda t: (float(t), t))
        else:
            names = sorted(distinct)
    else:
        names = [str(c) for c in classes]
        if len(set(names)) != len(names):
            raise ValueError(f"classes has repeated names: {names}")
    index = {name: i for i, name in enumerate(names)}
    codes = np.empty(len(stripped), np.int64)
    for i, text in enumerate(stripped):
        code = index.get(text)
        if code is None:
            raise where(i).error(f"the label {_show(text)} is not one of the given classes {names}")
        codes[i] = code
    return codes, names


def _show(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


__all__ = ["TARGET_TYPES", "Cell", "is_number", "parse_floats", "parse_targets"]
