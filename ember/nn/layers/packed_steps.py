"""The time loop of one recurrent layer direction over a packed batch (``nn.utils.rnn.PackedSequence``).

The sequences are sorted longest first, so the ones running at step t are the first ``sizes[t]``: each step runs
the cell on that prefix of the state and on the step's rows of the packed input, with no padding and no loop
over the sequences. Forward in time the state shrinks: the rows a step leaves out are final states, kept aside
until the end. Backward in time it grows: a sequence joins at its own last step with its initial state, so each
direction of a bidirectional layer starts where that sequence starts.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ember import ops
from ember.tensor import Tensor

Step = Callable[..., tuple]  # (gx_t, h, c) -> (h, c); c is None but for an LSTM


def packed_direction(step: Step, gx: Tensor, sizes: list[int], h0: Tensor, c0: Tensor | None,
                     reverse: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    """(output, h_n, c_n): ``step(gx_t, h, c) -> (h, c)`` run over the packed rows of ``gx`` (the input's
    projection, (sum(sizes), G)) from the initial states (B, H); the output is packed like ``gx``."""
    rows = _step_rows(gx, sizes)
    outputs: list = [None] * len(sizes)
    if reverse:
        h = c = None
        active = 0
        for t in range(len(sizes) - 1, -1, -1):
            n = sizes[t]
            if n > active:  # sequences whose last step is t join with their initial states
                h = _grow(h, h0, active, n)
                c = None if c0 is None else _grow(c, c0, active, n)
                active = n
            h, c = step(rows[t], h, c)
            outputs[t] = h
        return _joined(outputs), h, c
    h, c = h0, c0
    done_h, done_c = [], []  # final states of the sequences that ended, last rows first
    active = sizes[0]
    for t, n in enumerate(sizes):
        if n < active:
            done_h.append(h[n:active])
            h = h[:n]
            if c is not None:
                done_c.append(c[n:active])
                c = c[:n]
            active = n
        h, c = step(rows[t], h, c)
        outputs[t] = h
    h_n = _joined([h, *reversed(done_h)])
    c_n = None if c is None else _joined([c, *reversed(done_c)])
    return _joined(outputs), h_n, c_n


def _grow(state: Tensor | None, initial: Tensor, start: int, stop: int) -> Tensor:
    part = initial[start:stop]
    return part if state is None else ops.concat([state, part], axis=0)


def _joined(parts: list[Tensor]) -> Tensor:
    return parts[0] if len(parts) == 1 else ops.concat(parts, axis=0)


def _step_rows(gx: Tensor, sizes: list[int]) -> list[Tensor]:
    """Each step's rows of ``gx``. A slice sends back a gradient the size of all of gx, so slicing L steps from
    gx costs O(L^2) in backward; slicing blocks of about sqrt(L) steps first, then the steps from their block,
    brings that down to O(L^1.5) (as ``recurrent._time_steps`` does for a padded input)."""
    bounds, start = [], 0
    for n in sizes:
        bounds.append((start, start + n))
        start += n
    if not gx.requires_grad or len(sizes) < 16:
        return [gx[a:b] for a, b in bounds]
    block = math.isqrt(len(sizes))
    out = []
    for first in range(0, len(sizes), block):
        group = bounds[first:first + block]
        base, end = group[0][0], group[-1][1]
        chunk = gx[base:end]
        out.extend(chunk[a - base:b - base] for a, b in group)
    return out
