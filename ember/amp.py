"""Mixed-precision training: ``autocast`` and ``GradScaler`` (PyTorch's ``torch.amp``).

float16 has a narrow range: small gradients underflow to zero. ``GradScaler`` multiplies the loss by a large
factor before backward, divides the gradients by it before the optimizer step, skips a step whose gradients
hold an inf or a NaN (the factor was too large) and adjusts the factor as training goes. bfloat16 has float32's
range and needs no scaler.

>>> scaler = ember.amp.GradScaler()
>>> with ember.autocast("cpu", dtype=ember.float16):
...     loss = loss_fn(model(x), y)
>>> scaler.scale(loss).backward()
>>> scaler.step(optimizer)   # unscales the gradients; skipped when one is not finite
>>> scaler.update()
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ember.backend.dtypes import LOW_PRECISION
from ember.ops.autocast import autocast, get_autocast_dtype, is_autocast_enabled
from ember.sparse import RowSparse
from ember.tensor import Tensor

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


def _float32(value: float) -> float:
    """``value`` rounded to float32, as torch keeps the scale (a float32 tensor)."""
    return float(np.float32(value))


def _traced(method: str) -> TypeError:
    return TypeError(f"GradScaler.{method}: called inside ember.jit (on graph values): the scale changes from step to "
                     "step and a step is skipped by its gradients' values, which a trace would freeze; run "
                     "float16 steps with a GradScaler eagerly, or trace under bfloat16, which needs no scaler")


class GradScaler:
    """Dynamic loss scaling for float16 training (``torch.amp.GradScaler``'s API and rules).

    ``scale(loss)`` multiplies by the scale; ``unscale_(optimizer)`` divides that optimizer's gradients by it in
    place and notes whether one holds an inf or a NaN; ``step(optimizer)`` unscales (unless done) and runs
    ``optimizer.step()`` only when every gradient is finite; ``update()`` multiplies the scale by
    ``backoff_factor`` after a skipped step, and by ``growth_factor`` after ``growth_interval`` finite steps in
    a row. With ``enabled=False`` every method passes through.

    >>> scaler = GradScaler(init_scale=2.0 ** 16)
    >>> scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
    """

    def __init__(self, device: str = "cpu", init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True):
        if device not in ("cpu", "cuda"):
            raise ValueError(f"GradScaler: device must be 'cpu' or 'cuda', got {device!r}")
        for name, value in (("init_scale", init_scale), ("growth_factor", growth_factor)):
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"GradScaler: {name} must be a positive finite number, got {value!r}")
        if growth_factor <= 1.0:
            raise ValueError(f"GradScaler: growth_factor must be > 1, got {growth_factor}")
        if not isinstance(backoff_factor, (int, float)) or not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"GradScaler: backoff_factor must be in (0, 1), got {backoff_factor!r}")
        if not isinstance(growth_interval, int) or isinstance(growth_interval, bool) or growth_interval < 1:
            raise ValueError(f"GradScaler: growth_interval must be a positive int, got {growth_interval!r}")
        self.device = device
        self._enabled = bool(enabled)
        self._scale = _float32(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = growth_interval
        self._growth_tracker = 0
        self._scaled = False  # whether scale() was ever called (torch's _scale is made by it)
        self._per_optimizer: dict = {}  # id(optimizer) -> [stage, found_inf (None: no gradient checked)]

    # --- the training step ---
    def scale(self, outputs):
        """``outputs`` (a Tensor, or a list/tuple of them, nested) multiplied by the current scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        if not hasattr(outputs, "dtype") or not hasattr(outputs, "backward"):
            raise TypeError(f"GradScaler.scale: expected a Tensor or a list/tuple of Tensors, got "
                            f"{type(outputs).__name__}")
        if outputs.symbolic:
            raise _traced("scale")
        self._scaled = True
        # times a float32 scalar tensor, as torch: a 0-d float16 loss gives a float32 product (the scale as a
        # float16 number is inf at the default 2**16)
        return outputs * Tensor._make(outputs.xp.asarray(self._scale, dtype=np.float32), None)

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale, in place, and note whether one is not finite. At most
        once per optimizer between ``update`` calls (call it before clipping gradients)."""
        if not self._enabled:
            return
        self._check_scaled("unscale_")
        entry = self._per_optimizer.setdefault(id(optimizer), [_READY, None])
        if entry[0] == _UNSCALED:
            raise RuntimeError("GradScaler.unscale_ has already been called on this optimizer since the last "
                               "update()")
        if entry[0] == _STEPPED:
            raise RuntimeError("GradScaler.unscale_ is being called after step(); call update() first")
        inverse = _float32(1.0 / self._scale)  # torch's scale.double().reciprocal().float()
        found_inf = None
        done: set = set()
        for group in optimizer.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if g.__class__ is RowSparse:
                    g = g.values
                if g.symbolic:
                    raise _traced("unscale_")
                if id(g) in done:  # one gradient Tensor serving two parameters is unscaled once
                    continue
                if g.dtype == np.float16:
                    raise ValueError("GradScaler.unscale_: attempting to unscale float16 gradients; keep the "
                                     "parameters in float32 and let autocast run float16 ops (as torch)")
                done.add(id(g))
                finite = bool(g.xp.isfinite(g.array).all())  # the scaled gradient, as torch's check
                found_inf = bool(found_inf) or not finite
                # a new array: the backward may have handed one array to several gradients. A bfloat16 one is
                # multiplied in float32 and rounded once, as torch's (the inverse scale is no bfloat16 number)
                array = g.array
                if array.dtype in LOW_PRECISION:
                    g.array = (array.astype(np.float32) * np.float32(inverse)).astype(array.dtype)
                else:
                    g.array = array * array.dtype.type(inverse)
        entry[0], entry[1] = _UNSCALED, found_inf

    def step(self, optimizer, *args, **kwargs):
        """Unscale ``optimizer``'s gradients (unless ``unscale_`` did) and run ``optimizer.step(*args, **kwargs)``
        when they are all finite; returns what it returned, or None for a skipped step."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("GradScaler.step does not support a closure")
        self._check_scaled("step")
        entry = self._per_optimizer.get(id(optimizer))
        if entry is not None and entry[0] == _STEPPED:
            raise RuntimeError("GradScaler.step has already been called on this optimizer since the last update()")
        if entry is None or entry[0] == _READY:
            self.unscale_(optimizer)
            entry = self._per_optimizer[id(optimizer)]
        if entry[1] is None:
            raise RuntimeError("GradScaler.step: no inf checks were recorded for this optimizer: none of its "
                               "parameters has a gradient (as torch)")
        result = None if entry[1] else optimizer.step(*args, **kwargs)
        entry[0] = _STEPPED
        return result

    def update(self, new_scale: float | None = None) -> None:
        """Adjust the scale after the step(s) of this iteration (or set it to ``new_scale``)."""
        if not self._enabled:
            return
        if new_scale is not None:
            new_scale = float(getattr(new_scale, "item", lambda: new_scale)())
            if not math.isfinite(new_scale) or new_scale <= 0:
                raise ValueError(f"GradScaler.update: new_scale must be a positive finite number, got {new_scale}")
            self._scale = _float32(new_scale)
        else:
            if all(found is None for _, found in self._per_optimizer.values()):
                raise RuntimeError("GradScaler.update: no step() or unscale_() of an optimizer with gradients was "
                                   "recorded in this iteration")
            # the product rounded to float32, as torch's _amp_update_scale_; a growth past float32's range is
            # not taken
            if any(found for _, found in self._per_optimizer.values()):
                self._scale = _float32(self._scale * self._backoff_factor)
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    with np.errstate(over="ignore"):
                        grown = np.float32(self._scale * self._growth_factor)
                    if np.isfinite(grown):
                        self._scale = float(grown)
                    self._growth_tracker = 0
        self._per_optimizer = {}

    def _check_scaled(self, method: str) -> None:
        """A scaler whose scale() was never called would divide unscaled gradients by the scale (torch asserts)."""
        if not self._scaled:
            raise RuntimeError(f"GradScaler.{method}: scale() was never called; call scaler.scale(loss).backward() "
                               "before it, or the gradients it unscales were never scaled")

    # --- state ---
    def get_scale(self) -> float:
        """The current scale (1.0 when disabled, as PyTorch)."""
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, value: float) -> None:
        self._growth_factor = float(value)

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, value: float) -> None:
        self._backoff_factor = float(value)

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, value: int) -> None:
        self._growth_interval = int(value)

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict:
        """The scale and its schedule (empty when disabled), with PyTorch's keys."""
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor, "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval, "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned."""
        if not self._enabled:
            return
        if not state:
            raise RuntimeError("GradScaler.load_state_dict: the state is empty (saved by a disabled scaler)")
        self._scale = _float32(state["scale"])
        self._growth_factor = float(state["growth_factor"])
        self._backoff_factor = float(state["backoff_factor"])
        self._growth_interval = int(state["growth_interval"])
        self._growth_tracker = int(state["_growth_tracker"])

    def __repr__(self) -> str:
        return f"GradScaler(scale={self.get_scale()}, enabled={self._enabled})"


def _cast(value, device_type: str, dtype):
    """``value`` with its floating tensors on ``device_type`` (float64 ones left) cast to ``dtype``, through lists,
    tuples and dicts (PyTorch's ``custom_fwd`` casting)."""
    if isinstance(value, Tensor):
        keep = not value.is_floating_point() or value.device.type != device_type or value.dtype == np.float64
        return value if keep else value.to(dtype)
    if isinstance(value, dict):
        return {k: _cast(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(v, device_type, dtype) for v in value)
    return value


def _check_device_type(name: str, device_type) -> None:
    if not isinstance(device_type, str):
        raise ValueError(f"{name}: expected device_type of type str, got {type(device_type).__name__}")


def custom_fwd(fwd=None, *, device_type: str, cast_inputs=None):
    """Decorator for a custom ``autograd.Function``'s ``forward`` (``torch.amp.custom_fwd``): with ``cast_inputs``
    (a dtype), inside an autocast region for ``device_type`` the forward runs with autocast off on its floating
    arguments cast to it; without, it runs under the caller's autocast state, which ``custom_bwd`` gives the
    backward."""
    _check_device_type("custom_fwd", device_type)
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(ctx, *args, **kwargs):
        ctx._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(ctx, *args, **kwargs)
        ctx._fwd_used_autocast = False
        if not is_autocast_enabled(device_type):
            return fwd(ctx, *args, **kwargs)
        with autocast(device_type, enabled=False):
            return fwd(ctx, *_cast(args, device_type, cast_inputs), **_cast(kwargs, device_type, cast_inputs))

    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str):
    """Decorator for a custom ``autograd.Function``'s ``backward`` (``torch.amp.custom_bwd``): it runs under the
    autocast state its ``custom_fwd`` forward ran in (off where that cast its inputs)."""
    _check_device_type("custom_bwd", device_type)
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(ctx, *args, **kwargs):
        with autocast(device_type, dtype=ctx._dtype, enabled=ctx._fwd_used_autocast):
            return bwd(ctx, *args, **kwargs)

    return decorate_bwd


def is_autocast_available(device_type: str) -> bool:
    """Whether ``autocast(device_type)`` can run: "cpu" and "cuda" (``torch.amp.is_autocast_available``)."""
    return device_type in ("cpu", "cuda")


__all__ = ["GradScaler", "autocast", "custom_bwd", "custom_fwd", "get_autocast_dtype", "is_autocast_available",
           "is_autocast_enabled"]


def legacy_path(device_type: str, default_dtype) -> tuple:
    """``(autocast, GradScaler)`` of PyTorch's old per-device path (``torch.cuda.amp``, ``torch.cpu.amp``): this
    module's for ``device_type``, each warning as PyTorch does that the path is deprecated."""
    import warnings

    def old_autocast(enabled: bool = True, dtype=default_dtype, cache_enabled: bool = True) -> autocast:
        warnings.warn(f"`torch.{device_type}.amp.autocast(args...)` is deprecated. Please use `torch.amp.autocast("
                      f"'{device_type}', args...)` instead.", FutureWarning, stacklevel=2)
        return autocast(device_type, dtype=dtype, enabled=enabled)

    def old_grad_scaler(init_scale: float = 2.0 ** 16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                        growth_interval: int = 2000, enabled: bool = True) -> GradScaler:
        warnings.warn(f"`torch.{device_type}.amp.GradScaler(args...)` is deprecated. Please use `torch.amp."
                      f"GradScaler('{device_type}', args...)` instead.", FutureWarning, stacklevel=2)
        return GradScaler(device_type, init_scale, growth_factor, backoff_factor, growth_interval, enabled)

    old_autocast.__name__, old_grad_scaler.__name__ = "autocast", "GradScaler"
    old_autocast.__doc__ = (f'``ember.amp.autocast("{device_type}", dtype, enabled)``; ``cache_enabled`` is accepted '
                            "(Ember caches no casts).")
    old_grad_scaler.__doc__ = f'``ember.amp.GradScaler("{device_type}", ...)``.'
    return old_autocast, old_grad_scaler
