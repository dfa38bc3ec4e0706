"""PyTorch's ``torch.nn.modules.utils``: the argument normalizers layers use (``_pair(3) == (3, 3)``) and
``consume_prefix_in_state_dict_if_present`` (load a DataParallel/DDP state dict into the bare model)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

__all__ = ["_ntuple", "_pair", "_quadruple", "_single", "_triple", "consume_prefix_in_state_dict_if_present"]


def _ntuple(n: int, name: str = "parse") -> Callable:
    """A function turning a value into an ``n``-tuple of it, and any iterable into a tuple as it is."""

    def parse(x) -> tuple:
        return tuple(x) if isinstance(x, Iterable) else (x,) * n

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def consume_prefix_in_state_dict_if_present(state_dict: dict, prefix: str) -> None:
    """Strip ``prefix`` (``"module."``) from the keys of ``state_dict`` that start with it, in place (the renamed
    entries move to the end, as in PyTorch)."""
    for key in list(state_dict):
        if key.startswith(prefix):
            state_dict[key[len(prefix):]] = state_dict.pop(key)
