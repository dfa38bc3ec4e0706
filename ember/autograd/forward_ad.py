"""Forward-mode differentiation with dual tensors, PyTorch's ``torch.autograd.forward_ad``.

Inside ``dual_level()``, ``make_dual(x, t)`` marks a tensor as carrying the tangent ``t``, and
``unpack_dual(y).tangent`` is the directional derivative of ``y`` along every tangent made at this level.
Ember computes it on the autograd tape (ops keep no forward rules): the vjp of a vjp, as ``ember.func.jvp``
does, on demand when a tangent is read. So the ops between ``make_dual`` and ``unpack_dual`` must be recorded:
``dual_level`` switches recording on for its body, and a ``no_grad`` block inside it still records them (as
PyTorch's no_grad leaves forward AD on, tangents flow through it), while ``is_grad_enabled()`` says False there
and an in-place write into a tensor that carries no tangent (a buffer) gives it none (``grad_mode.TANGENTS``).
A reverse-mode backward the user runs treats what such a block computes as constants, as PyTorch's
(``tape.TangentNode``), though its results still say ``requires_grad=True`` inside the level.

>>> with fwAD.dual_level():
...     x = fwAD.make_dual(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 0.0]))
...     fwAD.unpack_dual((x ** 2).sum()).tangent   # d/dx0 of x0^2 + x1^2 at 1: 2
tensor(2.)
"""

from __future__ import annotations

from collections import namedtuple

from ember.autograd.functional import _probe_cotangent
from ember.autograd.tape import enable_grad, grad
from ember.backend.devices import array_module
from ember.backend.dtypes import DIFFERENTIABLE
from ember.grad_mode import forward_mode, is_recording, tangent_pass
from ember.tensor import Tensor

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual"]

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])


class _Level:
    """One dual level: the (dual, tangent) pairs made in it and the forward-mode scope it opened."""

    def __init__(self, index: int):
        self.index = index
        self.pairs: list[tuple[Tensor, Tensor]] = []
        self.recording = forward_mode(True)


_levels: list[_Level] = []


def enter_dual_level() -> int:
    """Start a dual level (one at a time, as in PyTorch) and return its index."""
    if _levels:
        raise RuntimeError("enter_dual_level: nested forward mode AD is not supported; exit the current level first")
    level = _Level(0)
    level.recording.__enter__()
    _levels.append(level)
    return level.index


def exit_dual_level(*, level: int | None = None) -> None:
    """End the current dual level: the tensors made in it stop carrying tangents."""
    current = _current("exit_dual_level", level)
    _levels.pop()
    current.pairs.clear()
    current.recording.__exit__(None, None, None)


class dual_level:  # noqa: N801  (PyTorch's name)
    """``with dual_level():`` a scope for dual tensors; gradients are recorded inside it (see the module)."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc) -> None:
        exit_dual_level()


def _current(name: str, level: int | None) -> _Level:
    if not _levels:
        raise RuntimeError(f"{name}: no dual level is active; use `with ember.autograd.forward_ad.dual_level():`")
    if level is not None and level != _levels[-1].index:
        raise RuntimeError(f"{name}: level {level} is not the current dual level ({_levels[-1].index})")
    return _levels[-1]


def make_dual(tensor: Tensor, tangent: Tensor, *, level: int | None = None) -> Tensor:
    """``tensor`` carrying ``tangent`` (same shape, a floating or complex dtype) at the current dual level; the
    result stays differentiable with respect to ``tensor`` in reverse mode."""
    current = _current("make_dual", level)
    if not isinstance(tensor, Tensor) or not isinstance(tangent, Tensor):
        raise TypeError(f"make_dual: expected two Tensors, got {type(tensor).__name__} and {type(tangent).__name__}")
    if tuple(tensor.shape) != tuple(tangent.shape):
        raise ValueError(f"make_dual: the tangent's shape {list(tangent.shape)} differs from the primal's "
                         f"{list(tensor.shape)}")
    if tensor.dtype not in DIFFERENTIABLE or tangent.dtype != tensor.dtype:
        raise TypeError(f"make_dual: the primal and tangent must share one floating or complex dtype, got "
                        f"{tensor.dtype} and {tangent.dtype}")
    dual = tensor.clone() if tensor.requires_grad else tensor.detach().requires_grad_()
    current.pairs.append((dual, tangent.detach()))
    return dual


def unpack_dual(tensor: Tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of ``tensor``: the tangent is the derivative along the level's tangents, None where
    ``tensor`` does not depend on any dual tensor (or no level is active)."""
    if not _levels:
        return UnpackedDualTensor(tensor, None)
    current = _current("unpack_dual", level)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"unpack_dual: expected a Tensor, got {type(tensor).__name__}")
    if not current.pairs or tensor.dtype not in DIFFERENTIABLE:
        return UnpackedDualTensor(tensor, None)
    if not tensor.requires_grad:
        if not is_recording():
            raise RuntimeError("unpack_dual: ops are not recorded here (inference_mode), so the tangent of this "
                               "tensor cannot be traced to the dual tensors; Ember computes tangents on the "
                               "autograd tape: run the computation outside inference_mode inside dual_level")
        return UnpackedDualTensor(tensor, None)
    duals = [dual for dual, _ in current.pairs]
    with enable_grad(), tangent_pass():
        probe = _probe_cotangent(tensor)
        pulled = grad([tensor], duals, [probe], retain_graph=True, create_graph=True, allow_unused=True)
        used = [(g, t) for g, (_, t) in zip(pulled, current.pairs) if g is not None]
        if not used:
            return UnpackedDualTensor(tensor, None)
        # the vjp of the vjp with the tangents as cotangents (complex duals included)
        live = [(g, t) for g, t in used if g.requires_grad]
        if not live:  # the tangent does not depend on the direction: zero
            return UnpackedDualTensor(tensor, _zeros_like(tensor))
        (tangent,) = grad([g for g, _ in live], [probe], [t for _, t in live], retain_graph=True, allow_unused=True,
                          materialize_grads=True)
    return UnpackedDualTensor(tensor, tangent.detach())


def _zeros_like(tensor: Tensor) -> Tensor:
    return Tensor._make(array_module(tensor.array).zeros_like(tensor.array), None)
