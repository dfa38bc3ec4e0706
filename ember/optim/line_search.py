"""A line search for the strong Wolfe conditions (Nocedal & Wright, Numerical Optimization, algorithms 3.5 and
3.6, with cubic interpolation), on float64 NumPy vectors: ``LBFGS(line_search_fn="strong_wolfe")`` takes its step.

>>> f = lambda t: ((t - 2.0) ** 2, np.array([2 * (t - 2.0)]))          # along d = [1] from x = 0
>>> loss, grad, t, evals = strong_wolfe(f, 5.0, np.ones(1), 4.0, np.array([-4.0]), -4.0)
>>> t, evals          # 5 overshoots; the cubic through both trials finds the minimum
(2.0, 2)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = ["strong_wolfe"]


class _Trial(NamedTuple):
    """A step tried: its length, the loss there, the gradient there and its slope along the direction."""

    t: float
    loss: float
    grad: np.ndarray
    slope: float


def _cubic_minimizer(a: _Trial, b: _Trial, low: float | None = None, high: float | None = None) -> float:
    """The minimizer of the cubic that fits the losses and slopes of two trials, held in [low, high] (by default
    the interval between them); the interval's middle when the cubic has no minimizer."""
    if low is None:
        low, high = min(a.t, b.t), max(a.t, b.t)
    theta = a.slope + b.slope - 3.0 * (a.loss - b.loss) / (a.t - b.t)
    square = theta * theta - a.slope * b.slope
    if not square >= 0:
        return (low + high) / 2.0
    root = math.sqrt(square)
    left, right = (a, b) if a.t <= b.t else (b, a)
    t = right.t - (right.t - left.t) * (right.slope + root - theta) / (right.slope - left.slope + 2.0 * root)
    return min(max(t, low), high)


def strong_wolfe(evaluate: Callable[[float], tuple[float, np.ndarray]], t: float, direction: np.ndarray,
                 loss: float, grad: np.ndarray, slope: float, *, c1: float = 1e-4, c2: float = 0.9,
                 tolerance_change: float = 1e-9, max_tries: int = 25) -> tuple[float, np.ndarray, float, int]:
    """Search along ``direction`` from the current point (``loss``, ``grad``, ``slope = grad @ direction < 0``),
    starting at step ``t``, for a step with sufficient decrease (``c1``) and a small slope (``c2``).

    ``evaluate(t)`` gives the loss and gradient at ``x + t * direction``; it runs once for ``t`` and at most
    ``max_tries`` times more. Returns ``(loss, grad, t, evals)``: the best step found and how many times
    ``evaluate`` ran. The choices follow PyTorch's ``_strong_wolfe``, so that ``LBFGS`` takes its steps.
    """
    start = _Trial(0.0, loss, grad, slope)
    size = float(np.abs(direction).max())
    previous, trial, evals = start, _tried(evaluate, t, direction), 1
    bracket: list[_Trial] | None = None
    while evals <= max_tries:  # widen the step until an interval holds an acceptable one
        # a loss above the previous trial's brackets from the third trial on (N&W's algorithm: the second), as torch
        if trial.loss > loss + c1 * trial.t * slope or (evals > 2 and trial.loss >= previous.loss):
            bracket = [previous, trial]
            break
        if abs(trial.slope) <= -c2 * slope:
            return trial.loss, trial.grad, trial.t, evals
        if trial.slope >= 0:
            bracket = [previous, trial]
            break
        longer = _cubic_minimizer(previous, trial, trial.t + 0.01 * (trial.t - previous.t), trial.t * 10)
        previous, trial, evals = trial, _tried(evaluate, longer, direction), evals + 1
    if bracket is None:  # out of evaluations while widening
        bracket = [start, trial]
    return _zoom(evaluate, direction, size, bracket, loss, slope, evals, c1, c2, tolerance_change, max_tries)


def _zoom(evaluate, direction: np.ndarray, size: float, bracket: list, loss: float, slope: float, evals: int,
          c1: float, c2: float, tolerance_change: float, max_tries: int) -> tuple[float, np.ndarray, float, int]:
    """Shrink ``bracket`` (two trials, an acceptable step between them) until a step meets both conditions."""
    stalled = False  # the last step fell near an end of the interval
    best = 0 if bracket[0].loss <= bracket[1].loss else 1
    while evals <= max_tries:
        left, right = min(t.t for t in bracket), max(t.t for t in bracket)
        if (right - left) * size < tolerance_change:
            break
        t = _cubic_minimizer(*bracket)
        margin = 0.1 * (right - left)
        if min(right - t, t - left) < margin:  # too near an end: move inside unless that happened last time too
            if stalled or t >= right or t <= left:
                t = right - margin if abs(t - right) < abs(t - left) else left + margin
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        trial, evals = _tried(evaluate, t, direction), evals + 1
        if trial.loss > loss + c1 * t * slope or trial.loss >= bracket[best].loss:
            bracket[1 - best] = trial
            best = 0 if bracket[0].loss <= bracket[1].loss else 1
            continue
        if abs(trial.slope) <= -c2 * slope:
            bracket[best] = trial
            break
        if trial.slope * (bracket[1 - best].t - bracket[best].t) >= 0:
            bracket[1 - best] = bracket[best]
        bracket[best] = trial
    chosen = bracket[best]
    return chosen.loss, chosen.grad, chosen.t, evals


def _tried(evaluate, t: float, direction: np.ndarray) -> _Trial:
    loss, grad = evaluate(t)
    return _Trial(t, float(loss), grad, float(grad @ direction))
