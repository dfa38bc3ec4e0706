"""Optional dependencies: import one, or fail with an install hint that works from PyPI and from a clone."""

from __future__ import annotations

import importlib
from types import ModuleType


def install_hint(package: str, extra: str) -> str:
    """How to install ``package``: directly, or as Ember's ``extra`` (from a clone of the repository too)."""
    return f"pip install {package}  (or Ember's '{extra}' extra; in a clone: pip install -e '.[{extra}]')"


def require(module: str, package: str, extra: str, feature: str) -> ModuleType:
    """Import ``module``; if it is missing, raise an ImportError saying that ``feature`` needs it and how to
    install it.

    >>> plt = require("matplotlib.pyplot", "matplotlib", "plot", "TrainingCurves")
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{feature} needs {package}: {install_hint(package, extra)}") from exc


__all__ = ["install_hint", "require"]
