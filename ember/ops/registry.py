"""The op record and the registry every layer of Ember reads.

An op is defined once, by ``defop``: its forward on an array module ``xp``, its shape/dtype rule
(``infer``), its backward rule (``vjp``, written with Ember ops so it works eagerly, in graphs and for
higher-order gradients), its cost and its ONNX name. Tables must be complete: an op without a vjp says
``vjp=NON_DIFFERENTIABLE`` and one without an ONNX counterpart says ``onnx=NO_ONNX``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class Marker:
    """A named stand-in for a rule an op deliberately does not have."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


NON_DIFFERENTIABLE = Marker("NON_DIFFERENTIABLE")
NO_ONNX = Marker("NO_ONNX")


class ShapeError(ValueError):
    """Raised when an op's inputs do not fit together; the message names the op, shapes and dtypes."""


class Spec(NamedTuple):
    """What is known of a value before it is computed: its shape and dtype."""

    shape: tuple
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int | None:
        """The number of elements; None when a dimension is unknown (a graph value)."""
        n = 1
        for d in self.shape:
            if d is None:
                return None
            n *= d
        return n

    @property
    def nbytes(self) -> int | None:
        n = self.size
        return None if n is None else n * self.dtype.itemsize


class Cost(NamedTuple):
    """Work done by one call: floating-point operations and bytes read plus written."""

    flops: int
    bytes: int


class Op:
    """One registry entry (see the module docstring)."""

    __slots__ = (
        "name", "forward", "infer", "vjp", "cost", "elementwise", "onnx", "saves_output", "differentiable",
        "vjp_array", "onnx_export", "standalone",
    )

    def __init__(self, name, forward, infer, vjp, cost, elementwise, onnx, saves_output):
        self.name = name
        self.forward = forward
        self.infer = infer
        self.vjp = vjp
        self.cost = cost
        self.elementwise = elementwise
        self.onnx = onnx
        self.saves_output = saves_output
        self.differentiable = vjp is not NON_DIFFERENTIABLE and vjp is not None
        # Optional: the vjp on arrays, for a first-order backward of the hottest ops, where the Tensor
        # wrappers of the Ember-op rule cost more than the arithmetic. It must equal ``vjp`` bit for bit.
        self.vjp_array = None
        # Optional: how the op becomes ONNX nodes when it is not a plain rename of ``onnx`` without
        # attributes: ``rule(emitter, inputs, out, **attrs) -> output name(s)`` (see ember.onnx.export).
        self.onnx_export = None
        # Optional: a NumPy-only forward whose source standalone inference code copies (ember.ops.standalone).
        self.standalone = None

    def __repr__(self) -> str:
        return f"Op({self.name})"


REGISTRY: dict[str, Op] = {}
ELEMENTWISE: set[str] = set()


def defop(
    name: str,
    *,
    forward: Callable,
    infer: Callable,
    vjp: Callable | Marker,
    cost: Callable,
    onnx: str | Marker,
    elementwise: bool = False,
    saves_output: bool = False,
) -> Op:
    """Register an op and return its record. ``saves_output`` keeps the result for a vjp that reads it."""
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is already registered")
    op = Op(name, forward, infer, vjp, cost, elementwise, onnx, saves_output)
    REGISTRY[name] = op
    if elementwise:
        ELEMENTWISE.add(name)
    return op


def format_shape(shape) -> str:
    """``[2, ?, 3]``: a shape as messages and the IR dump show it (``?``: an unknown dimension)."""
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def describe(specs) -> str:
    """``float32[2, 3], int64[?, 4]``: how errors show inputs."""
    return ", ".join(f"{s.dtype}{format_shape(s.shape)}" for s in specs)


def shape_error(op_name: str, specs, detail: str) -> ShapeError:
    return ShapeError(f"{op_name}: {detail} (inputs: {describe(specs)})")
