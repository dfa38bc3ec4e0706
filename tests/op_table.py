"""The op test table's row type. Adding an op adds rows (in tests/op_cases*.py); the generic tests in
tests/test_ops.py run every row: forward against a float64 NumPy reference (and PyTorch when installed),
the vjp against central finite differences, grad-of-grad for smooth ops, and the shape rule; and
tests/test_op_traits.py runs every row through ember.jit and a compiled Graph, forward and gradients, against
eager mode (bit for bit)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class OpCase:
    name: str  # unique id of the row, e.g. "conv2d_stride2_groups2"
    fn: Callable  # Ember: takes Tensors (one per entry of ``inputs``) and returns a Tensor
    ref: Callable  # NumPy float64 reference: takes np.ndarrays, returns an np.ndarray
    inputs: Callable[[np.random.Generator], list]  # sample inputs (float64 or integer np.ndarrays)
    covers: tuple = ()  # names of registry ops (ember.ops.REGISTRY) this row exercises
    torch_fn: Callable | None = None  # the same on torch tensors, when PyTorch has it
    grad: bool = True  # check the vjp of every float input by finite differences
    double_grad: bool = True  # also check grad-of-grad (smooth ops only)
    atol: float = 1e-6
    rtol: float = 1e-5
    grad_atol: float = 1e-5  # tolerance of the finite-difference checks (float64)
    grad_inputs: tuple | None = None  # indices of inputs to differentiate (default: every float input)
    extra: dict = field(default_factory=dict)
