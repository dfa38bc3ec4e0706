"""``ember.profiler.summary``: layers, output shapes, parameters and FLOPs (Keras summary / torchinfo layout)."""

from __future__ import annotations

import numpy as np

import ember
from ember.profiler.profile import profile


def _is_shape(shape) -> bool:
    return isinstance(shape, (tuple, list)) and all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in shape)


def _shape_of(out) -> str:
    if isinstance(out, ember.Tensor):
        return str(list(out.shape))
    if isinstance(out, (list, tuple)):
        return ", ".join(_shape_of(o) for o in out if isinstance(o, (ember.Tensor, list, tuple)))
    return "--"


def summary(net, input_shape, dtype="float32", print_fn=print) -> str:
    """Run ``net`` once on a random input of ``input_shape`` (batch included; a list of shapes for several
    inputs; an integer or bool ``dtype`` gives zeros, ids any embedding takes, as torchinfo) and print one row
    per module: name and type, output shape, its own parameters and the FLOPs of its forward (from the op
    records' ``cost``). Returns the text.

    >>> ember.profiler.summary(net, (1, 1, 28, 28))
    """
    several = isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple))
    shapes = input_shape if several else [input_shape]
    if not all(_is_shape(s) for s in shapes):
        raise TypeError(f"summary: input_shape must be a shape (a tuple of ints, batch included) or a list of "
                        f"shapes, got {input_shape!r}")
    rng = np.random.default_rng(0)
    if np.dtype(dtype).kind in "biu":  # cast normal samples would hold negative ids
        inputs = [ember.tensor(np.zeros(tuple(s), dtype)) for s in shapes]
    else:
        inputs = [ember.tensor(rng.standard_normal(tuple(s)).astype(dtype)) for s in shapes]
    rows: dict = {}  # id(module) -> [name, type, output shape, own params, flops]
    starts: dict = {}
    handles = []
    modules = list(net.named_modules())
    with profile(profile_memory=False) as prof:
        for name, module in modules:
            rows[id(module)] = [name or type(module).__name__, type(module).__name__, "--", 0, 0]

            def before(m, args):
                starts.setdefault(id(m), []).append(len(prof.events))

            def after(m, args, out):
                first = starts[id(m)].pop()
                row = rows[id(m)]
                row[2] = _shape_of(out)
                row[4] += sum(e.flops for e in prof.events[first:])

            handles.append(module.register_forward_pre_hook(before))
            handles.append(module.register_forward_hook(after))
        modes = [(m, m.training) for _, m in modules]
        try:
            net.eval()
            with ember.no_grad():
                net(*inputs)
        finally:
            for handle in handles:
                handle.remove()
            for m, training in modes:
                m.training = training
    for _, module in modules:  # after the call: a lazy module has its parameters (and its class) only then
        rows[id(module)][1] = type(module).__name__
        rows[id(module)][3] = sum(p.array.size for p in module.parameters(recurse=False))
    total = sum(p.array.size for p in net.parameters())
    trainable = sum(p.array.size for p in net.parameters() if p.requires_grad)
    lines = _format(modules, rows, total, trainable, prof.total_flops)
    text = "\n".join(lines)
    if print_fn is not None:
        print_fn(text)
    return text


def _format(modules, rows, total, trainable, flops) -> list:
    width = 96
    head = f"{'Layer (type)':<44}{'Output Shape':<26}{'Param #':>12}{'FLOPs':>14}"
    lines = ["=" * width, head, "=" * width]
    for name, module in modules:
        label, kind, shape, own, layer_flops = rows[id(module)]
        depth = name.count(".") + 1 if name else 0
        text = f"{'  ' * depth}{label.split('.')[-1]} ({kind})" if name else f"{kind}"
        own_text = f"{own:,}" if own or not list(module.children()) else "--"
        lines.append(f"{text[:43]:<44}{shape[:25]:<26}{own_text:>12}{layer_flops:>14,}")
    lines += ["=" * width, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", f"Total FLOPs: {flops:,}", "=" * width]
    return lines
