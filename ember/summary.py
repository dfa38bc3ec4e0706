"""``summary(net)``: a table of a network's layers, their output shapes and parameter counts (Keras's
``model.summary()``), at most 80 columns wide."""

from __future__ import annotations

import math

import numpy as np

WIDTH = 80


def _leaves(net) -> list[tuple[str, object]]:
    """(name, module) for every module without children or with parameters of its own, in registration order."""
    return [(name, m) for name, m in net.named_modules()
            if not any(True for _ in m.children()) or any(True for _ in m.parameters(recurse=False))]


def _output_shapes(net, leaves, input_shape: tuple, dtype) -> dict[int, str]:
    """Run one sample through ``net`` (evaluation mode, no gradients) and record each leaf's output shape."""
    from ember import autograd
    from ember.tensor import Tensor

    shapes: dict[int, str] = {}

    def record(module, args, output):
        out = output[0] if isinstance(output, (tuple, list)) and output else output
        shape = getattr(out, "shape", None)
        shapes[id(module)] = "?" if shape is None else str(("N", *tuple(shape)[1:])).replace("'", "")

    handles = [m.register_forward_hook(record) for _, m in leaves]
    params = list(net.parameters())
    if dtype is None:  # a float64 (or half) network refuses a float32 sample
        dtype = next((p.array.dtype for p in params if p.is_floating_point()), np.float32)
    modes = [(m, m.training) for m in net.modules()]  # each module's own: a frozen BatchNorm stays in eval
    try:
        net.eval()
        sample = Tensor._make(np.zeros((1, *input_shape), dtype), None)
        if params and params[0].array.__class__ is not np.ndarray:
            sample = sample.to(params[0].device)
        with autograd.no_grad():
            net(sample)
    finally:
        for module, training in modes:
            module.training = training
        for handle in handles:
            handle.remove()
    return shapes


def _is_shape(shape) -> bool:
    return isinstance(shape, (tuple, list)) and all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in shape)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def summary(net, input_shape: tuple | None = None, dtype=None) -> str:
    """The table of ``net``'s leaf layers: name and type, output shape (when ``input_shape``, the shape of
    one sample without the batch dimension, is given) and parameters, with totals. The sample is zeros of
    ``dtype``, by default that of the network's first floating-point parameter (float32 without one).

    >>> print(summary(ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU()), input_shape=(4,)))
    """
    if input_shape is not None and not _is_shape(input_shape):
        raise TypeError(f"summary: input_shape must be a tuple of ints (one sample's shape, without the batch "
                        f"dimension), got {input_shape!r}")
    leaves = _leaves(net)
    shapes = _output_shapes(net, leaves, tuple(input_shape), dtype) if input_shape is not None else {}
    name_w, shape_w, count_w = 38, 26, WIDTH - 38 - 26
    rule = "-" * WIDTH
    lines = [f"{'Layer (type)':<{name_w}}{'Output shape':<{shape_w}}{'Params':>{count_w}}", "=" * WIDTH]
    for name, module in leaves:
        count = sum(math.prod(p.shape) for p in module.parameters(recurse=False))
        label = _cut(f"{name or 'net'} ({type(module).__name__})", name_w - 1)
        shape = _cut(shapes.get(id(module), "-" if input_shape is None else "(not called)"), shape_w - 1)
        lines.append(f"{label:<{name_w}}{shape:<{shape_w}}{count:>{count_w},}")
    total = sum(math.prod(p.shape) for p in net.parameters())
    trainable = sum(math.prod(p.shape) for p in net.parameters() if p.requires_grad)
    lines += [rule, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", rule]
    return "\n".join(lines)


__all__ = ["summary"]
