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


class IndexShapeError(ShapeError, IndexError):
    """A ShapeError for an index that does not fit the indexed tensor (out of range, too many, a mask of another
    shape): an IndexError too, as PyTorch raises, so that ``except IndexError`` catches it."""


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


class Fusion(NamedTuple):
    """How an elementwise op joins a fused kernel (``fuse_elementwise``): its numexpr ``form`` over the operands
    ``{0}, {1}, ...`` and named float constants (``{zero}``, ``{one}``, ``{half}`` and any in ``constants``, given
    as ``(name, value)`` pairs: numexpr turns float32 into float64 when it meets a Python float literal).

    ``exact``: numexpr rounds the form as NumPy rounds the forward, so fusing keeps compiled code bit-identical to
    eager mode and is done by default. ``selects``: the form is built of ``where()`` calls, which numexpr runs
    slowly on large arrays."""

    form: str
    exact: bool = True
    selects: bool = False
    constants: tuple = ()


class Joint(NamedTuple):
    """One call computing two nodes (the ``joint`` trait of the second one's op): ``partner``, the first node's op,
    takes the second's first ``shared`` inputs and the same attributes; ``forward(xp, *second_inputs, out=None,
    **attrs)`` returns (the first node's result, the second's), each equal to what the two forwards give.
    ``kernel(*second_inputs, **attrs)``, given the inputs' values (shapes and dtypes known), may return a callable
    ``kernel(*arrays)`` for generated code that computes the same for those shapes, or None."""

    partner: object
    shared: int
    forward: Callable
    kernel: Callable | None = None


NOT_FUSIBLE = Marker("NOT_FUSIBLE")  # an elementwise op numexpr cannot express (integer or bitwise math, erf...)


class Op:
    """One registry entry (see the module docstring).

    Besides the rules, the record carries what passes and the code generator need to know about the op
    (its lowering traits), so none of them keeps a list of op names:

    - ``fusion``: a ``Fusion`` (elementwise ops only; ``NOT_FUSIBLE`` when numexpr cannot express it);
    - ``ufunc``: a NumPy callable that computes exactly what ``forward`` computes on NumPy arrays, taking
      ``out=`` when ``writes_out``; ``infix``: the Python operator spelling the same call (``+``, or ``-`` for
      a one-operand op);
    - ``lower``: the op's own code emitter, for the kernel choices generated code shares with eager mode
      (``ember.ops.lowering``);
    - ``writes_out``: generated code can compute the op into a given array (a memory-plan buffer): through
      its ``lower`` or ``ufunc`` form, or else its forward takes that array as ``out=``;
      ``in_place``: that array may be a dying input of the same type; ``fresh``: the output never shares
      memory with an input (any other op's output is assumed to be a view);
    - ``view``: ``view(array, attrs, out_shape)``, the op as a view of its input (made once for inputs that
      are the same array on every call);
    - ``right_identity`` / ``left_identity``: a constant operand that makes the op return the other one
      (``x * 1``); ``same_type_noop``: the op returns its input when the types agree (a reshape to the same
      shape); ``simplify``: ``simplify(node, facts)``, a rewrite of its own for the ``simplify`` pass;
      ``scalar_alias``: on one element it returns its input's value (code on NumPy scalars skips it);
      ``shape_attr``: the attribute holding the output shape, refilled from known sizes by ``specialize``;
      ``scalar_exact``: the ``ufunc``/``infix`` form gives on NumPy scalars what it gives on arrays;
    - ``joint``: a ``Joint``: this op and an earlier node of another op over the same inputs are computed by one
      call that shares their work (a loss and its gradient sharing one softmax);
    - ``residuals``: ``residuals(xp, *arrays, **attrs) -> (output, saved)``, the forward that also returns values
      its vjp can reuse instead of recomputing them (a loss's softmax). Eager mode calls it in place of
      ``forward`` when it records the node and hands ``saved`` to the rule as ``ctx.residuals``, which is None
      wherever nothing was saved (a graph's backward), so the rule must also work without;
    - ``vjp_reads``: the positions of the inputs whose values the vjp reads (None: every input). A backward
      refuses to run when such an input was written in place after the node was recorded; a write into an
      input the vjp only reads the shape of (``x + 1``, an embedding's table) leaves the gradient valid, as
      PyTorch checks only the tensors a node saved;
    - ``autocast``: what ``ember.autocast`` does to its inputs (``ember.ops.autocast``): ``"lower"`` (cast to the
      autocast dtype), ``"float32"``, or None (the op follows its inputs).
    """

    __slots__ = (
        "name", "forward", "infer", "vjp", "cost", "elementwise", "onnx", "saves_output", "differentiable",
        "fusion", "ufunc", "infix", "lower", "writes_out", "in_place", "fresh", "view", "right_identity",
        "left_identity", "same_type_noop", "simplify", "scalar_alias", "shape_attr", "scalar_exact", "rule",
        "effect", "writes", "collective", "onnx_export", "standalone", "autocast", "joint", "residuals",
        "vjp_reads",
    )

    def __init__(self, name, forward, infer, vjp, cost, elementwise, onnx, saves_output, writes=(), **traits):
        self.name = name
        self.forward = forward
        self.infer = infer
        self.vjp = vjp
        self.cost = cost
        self.elementwise = elementwise
        self.onnx = onnx
        self.saves_output = saves_output
        self.differentiable = vjp is not NON_DIFFERENTIABLE and vjp is not None
        # a vjp made by ember.ops.modes.vjp_rule: its rule, which also runs on raw arrays (modes.OnArrays)
        self.rule = getattr(vjp, "rule", None)
        writes_out = traits.pop("writes_out", None)
        ufunc = traits.get("ufunc")
        self.writes_out = ufunc is not None if writes_out is None else writes_out
        in_place = traits.pop("in_place", None)
        self.in_place = self.writes_out if in_place is None else in_place
        fresh = traits.pop("fresh", None)
        self.fresh = self.writes_out if fresh is None else fresh
        for trait in ("fusion", "ufunc", "infix", "lower", "view", "right_identity", "left_identity", "simplify",
                      "shape_attr", "joint", "residuals"):
            setattr(self, trait, traits.pop(trait, None))
        self.same_type_noop = traits.pop("same_type_noop", False)
        # a collective (ember.distributed): runs on a process group, so it is tested under MPI, not in the
        # single-process op table
        self.collective = traits.pop("collective", False)
        self.scalar_alias = traits.pop("scalar_alias", False)
        self.scalar_exact = traits.pop("scalar_exact", True)
        reads = traits.pop("vjp_reads", None)
        self.vjp_reads = None if reads is None else frozenset(reads)
        self.autocast = traits.pop("autocast", None)
        if self.autocast not in (None, "lower", "float32"):
            raise ValueError(f"op {name!r}: autocast must be 'lower', 'float32' or None, got {self.autocast!r}")
        if traits:
            raise TypeError(f"op {name!r}: unknown traits {sorted(traits)}")
        if self.in_place and not self.writes_out:
            raise ValueError(f"op {name!r}: in_place needs writes_out")
        # A side effect (a variable write, an in-place update, a random draw) writes the inputs at these
        # positions in place: never folded or merged, and kept while its inputs live; its infer returns None
        # when it defines no value.
        self.writes = tuple(writes)
        self.effect = bool(self.writes)
        # Optional: how the op becomes ONNX nodes when it is not a plain rename of ``onnx`` without
        # attributes: ``rule(emitter, *inputs, **attrs) -> output name`` (ember.ops.onnx_rules, ember.onnx).
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
    writes: tuple = (),
    **traits,
) -> Op:
    """Register an op and return its record. ``saves_output`` keeps the result for a vjp that reads it;
    ``writes`` lists the inputs a side-effect op changes in place (see ``ember.ops.effects``); ``traits`` are
    the lowering traits the ``Op`` docstring lists. An elementwise op must say how it fuses (a ``Fusion`` or
    ``NOT_FUSIBLE``)."""
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is already registered")
    if elementwise and traits.get("fusion") is None:
        raise TypeError(f"op {name!r}: an elementwise op declares fusion=Fusion(...) or fusion=NOT_FUSIBLE")
    op = Op(name, forward, infer, vjp, cost, elementwise, onnx, saves_output, writes, **traits)
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


def shape_error(op_name: str, specs, detail: str, kind: type[ShapeError] = ShapeError) -> ShapeError:
    return kind(f"{op_name}: {detail} (inputs: {describe(specs)})")
