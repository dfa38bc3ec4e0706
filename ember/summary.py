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


def _flat_shapes(output) -> list[tuple] | None:
    """The shapes of the tensors in ``output`` (a tensor, or nested tuples and lists of them), in order."""
    if isinstance(output, (tuple, list)):
        shapes = [s for o in output for s in (_flat_shapes(o) or [])]
        return shapes or None
    shape = getattr(output, "shape", None)
    return None if shape is None else [tuple(shape)]


def _run_sample(net, leaves, sample_shape: tuple, dtype, device) -> dict[int, list[tuple] | None]:
    """Each leaf's output shapes for one run of ``net`` on zeros of ``sample_shape`` (batch included)."""
    from ember import autograd
    from ember.tensor import Tensor

    shapes: dict[int, list[tuple] | None] = {}

    def record(module, args, output):
        shapes[id(module)] = _flat_shapes(output)

    handles = [m.register_forward_hook(record) for _, m in leaves]
    try:
        sample = Tensor._make(np.zeros(sample_shape, dtype), None)
        if device is not None:
            sample = sample.to(device)
        with autograd.no_grad():
            net(sample)
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def _shape_text(one: tuple, two: tuple | None) -> str:
    """A shape with its batch dimensions as N: those that are 1 in a batch of one and 2 in a batch of two (the
    batch is not always first: an LSTM's hidden state is (layers, N, hidden)); without the second run, the first
    dimension. A dimension that grew otherwise with the batch (k to 2k: batch folded into it) shows as kN."""
    if two is None or len(two) != len(one):
        dims = ["N", *one[1:]] if one else []
    else:
        dims = [d if d == e else "N" if d == 1 and e == 2 else f"{d}N" if e == 2 * d else "?"
                for d, e in zip(one, two)]
    return "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


def _output_shapes(net, leaves, input_shape: tuple, dtype) -> dict[int, list[str]]:
    """Run a batch of one sample and then of two through ``net`` (evaluation mode, no gradients) and give each
    leaf's output shapes, every output of a multi-output layer (an LSTM's output and states) included."""
    params = list(net.parameters())
    if dtype is None:  # a float64 (or half) network refuses a float32 sample
        dtype = next((p.array.dtype for p in params if p.is_floating_point()), np.float32)
    device = params[0].device if params and params[0].array.__class__ is not np.ndarray else None
    modes = [(m, m.training) for m in net.modules()]  # each module's own: a frozen BatchNorm stays in eval
    try:
        net.eval()
        ones = _run_sample(net, leaves, (1, *input_shape), dtype, device)
        try:
            twos = _run_sample(net, leaves, (2, *input_shape), dtype, device)
        except Exception:  # a network written for a batch of one: the batch is taken to be the first dimension
            twos = {}
    finally:
        for module, training in modes:
            module.training = training
    texts: dict[int, list[str]] = {}
    for key, shapes in ones.items():
        other = twos.get(key)
        if other is not None and len(other) != len(shapes):
            other = None
        texts[key] = ["?"] if shapes is None else [_shape_text(s, None if other is None else other[i])
                                                   for i, s in enumerate(shapes)]
    return texts


def _shape_lines(shapes: list[str], width: int) -> list[str]:
    """One output's shape as it is; several as Keras's list of shapes, wrapped after a comma to fit ``width``."""
    if len(shapes) == 1:
        return [_cut(shapes[0], width)]
    lines, line = [], "["
    for i, shape in enumerate(shapes):
        piece = shape + ("]" if i == len(shapes) - 1 else ",")
        if len(line) + len(piece) > width and line.strip(" ["):
            lines.append(line.rstrip())
            line = " "
        line += piece + " "
    lines.append(line.rstrip())
    return [_cut(text, width) for text in lines]


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
        shape, *more = _shape_lines(shapes.get(id(module), ["-" if input_shape is None else "(not called)"]),
                                    shape_w - 1)
        lines.append(f"{label:<{name_w}}{shape:<{shape_w}}{count:>{count_w},}")
        lines += [f"{'':<{name_w}}{text}" for text in more]
    total = sum(math.prod(p.shape) for p in net.parameters())
    trainable = sum(math.prod(p.shape) for p in net.parameters() if p.requires_grad)
    lines += [rule, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", rule]
    return "\n".join(lines)


__all__ = ["summary"]
