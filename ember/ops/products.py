"""PyTorch's products composed from ``matmul``: ``mm``, ``bmm``, ``outer``, ``addmm``, ``baddbmm``, ``einsum`` and
``tensordot`` (each pair of operands contracted by one batched matrix product, so gradients come from matmul's);
``cross`` and ``cdist`` from elementwise ops and ``norm``."""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import LOW_PRECISION, float32
from ember.ops import dispatch
from ember.ops.autocast import active, lowered, suspended, widened
from ember.ops.composed import isinf, norm
from ember.ops.convert import as_tensor, cast, promote, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import abs, checked_alpha, eq, where
from ember.ops.indexing import diagonal, select
from ember.ops.infer import as_int, check_axis, differ
from ember.ops.join import stack
from ember.ops.linalg import matmul
from ember.ops.reduction import amax, sum
from ember.ops.registry import Spec
from ember.ops.shape import permute, reshape, squeeze, stop_gradient, unsqueeze


def _check_ndim(name: str, what: str, x: TensorLike, ndim: int) -> None:
    if x.ndim != ndim:
        raise ValueError(f"{name}: {what} must be {ndim}-D, got shape {list(x.shape)}")


def _is_sparse(x) -> bool:
    return getattr(x, "_sparse_layout", False)


def mm(a, b) -> TensorLike:
    """Product of two matrices; a sparse (COO or CSR) first matrix takes its own product (``ember.sparse.mm``), and a
    sparse second one its product with the dense first (``dense @ sparse``)."""
    if _is_sparse(a):
        return a.mm(b)
    try:
        a, b = promote(a, b)
    except TypeError:  # a sparse tensor is no array; asked only here, so the dense products pay nothing for it
        if not _is_sparse(b):
            raise
        a = as_tensor(a)
        _check_ndim("mm", "the first matrix", a, 2)
        return b.__rmatmul__(a)
    _check_ndim("mm", "the first matrix", a, 2)
    _check_ndim("mm", "the second matrix", b, 2)
    return matmul(a, b)


def bmm(a, b) -> TensorLike:
    """Products of two batches of matrices, (B, n, m) @ (B, m, p)."""
    a, b = promote(a, b)
    _check_ndim("bmm", "the first batch", a, 3)
    _check_ndim("bmm", "the second batch", b, 3)
    if differ(a.shape[0], b.shape[0]):
        raise ValueError(f"bmm: the batches differ in size, shapes {list(a.shape)} and {list(b.shape)}")
    return matmul(a, b)


def outer(a, b) -> TensorLike:
    """Outer product of two vectors."""
    a, b = promote(a, b)
    _check_ndim("outer", "the first vector", a, 1)
    _check_ndim("outer", "the second vector", b, 1)
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


def _scaled_sum(name: str, inp, product, beta, alpha) -> TensorLike:
    # inp broadcasts to the product's shape, not the two together, and is checked even when beta is 0, as PyTorch
    inp = lowered(inp)[0]  # in the product's dtype under autocast, as PyTorch's (not promoting it back)
    inp_shape, shape = tuple(inp.shape), tuple(product.shape)
    if len(inp_shape) > len(shape) or any(i != 1 and differ(i, n) for i, n in zip(inp_shape[::-1], shape[::-1])):
        raise ValueError(f"{name}: the input of shape {list(inp_shape)} does not broadcast to the product's shape "
                         f"{list(shape)}")
    if beta != 1 or alpha != 1:  # a float scalar refused for integer operands, as torch.addr (not made float32)
        dtype = promote(inp, product)[0].dtype
        beta = beta if beta == 1 else checked_alpha(name, dtype, beta, "beta")
        alpha = alpha if alpha == 1 else checked_alpha(name, dtype, alpha)
    product = product if alpha == 1 else product * alpha
    if beta == 0:  # (PyTorch ignores inp then, NaN included)
        if getattr(inp, "requires_grad", False) and dispatch.grad_enabled():
            # its gradient is zeros, as PyTorch's grad * beta: inp joins as -0.0 everywhere (x + -0.0 is x, -0.0 too)
            return product + where(as_tensor(np.True_), -0.0, inp)
        # inp's values are ignored, not its dtype: the result is in the dtype the two promote to, as for any beta
        return product if dtype == product.dtype else cast(product, dtype)
    return product + (inp if beta == 1 else inp * beta)


def half_precision(inp, a, b):
    """The dtype float16 or bfloat16 operands of ``inp + a @ b`` promote to, which PyTorch computes in float32; None
    for other dtypes, sparse operands, and under autocast, which picks the products' dtype itself."""
    if LOW_PRECISION.isdisjoint((getattr(inp, "dtype", None), getattr(a, "dtype", None), getattr(b, "dtype", None))):
        return None  # (asked first: it is cheap)
    if _is_sparse(a) or _is_sparse(b) or active():
        return None
    dtype = promote(promote(as_tensor(inp), as_tensor(a))[0], as_tensor(b))[0].dtype
    return dtype if dtype in LOW_PRECISION else None


def in_autocast_dtype(fn, inp, a, b, beta, alpha) -> TensorLike | None:
    """``fn`` of operands lowered to this thread's autocast dtype, then run with autocast off, so as for float16 or
    bfloat16 operands outside it (rounded once, as PyTorch's autocast computes addmm; lowering the product and the
    input apart rounded twice, an ulp off in a third of the elements); None outside autocast and for sparse ones."""
    if not active() or _is_sparse(a) or _is_sparse(b):
        return None
    inp, a, b = lowered(as_tensor(inp), as_tensor(a), as_tensor(b))
    with suspended():
        return fn(inp, a, b, beta=beta, alpha=alpha)


def rounded_once(fn, inp, a, b, beta, alpha) -> TensorLike | None:
    """``fn`` of float16 or bfloat16 operands computed in float32 and rounded once, as PyTorch's addmm, baddbmm and
    addmv (their product rounded before the sum is an ulp off in places), and so under autocast
    (``in_autocast_dtype``); None where neither applies."""
    lowered_first = in_autocast_dtype(fn, inp, a, b, beta, alpha)
    if lowered_first is not None:
        return lowered_first
    dtype = half_precision(inp, a, b)
    if dtype is None:
        return None
    return cast(fn(*(cast(as_tensor(t), float32) for t in (inp, a, b)), beta=beta, alpha=alpha), dtype)


def addmm(inp, a, b, *, beta: float = 1.0, alpha: float = 1.0) -> TensorLike:
    """``beta * inp + alpha * (a @ b)`` for matrices a and b, inp broadcast."""
    wide = rounded_once(addmm, inp, a, b, beta, alpha)
    if wide is not None:
        return wide
    return _scaled_sum("addmm", as_tensor(inp), mm(a, b), beta, alpha)


def baddbmm(inp, a, b, *, beta: float = 1.0, alpha: float = 1.0) -> TensorLike:
    """``beta * inp + alpha * bmm(a, b)``, inp broadcast."""
    wide = rounded_once(baddbmm, inp, a, b, beta, alpha)
    if wide is not None:
        return wide
    return _scaled_sum("baddbmm", as_tensor(inp), bmm(a, b), beta, alpha)


# --- einsum ------------------------------------------------------------------------------------------------


def spell_ellipses(equation: str, ranks: list) -> str:
    """``equation`` with each '...' written as letters it does not use, one per axis the ellipsis stands for,
    right-aligned across the operands as broadcasting aligns them (``'...ij,jk->...ik'`` on ranks 4 and 2 is
    ``'ABij,jk->ABik'``); an implicit output lists the ellipsis's axes first, as PyTorch's."""
    equation = equation.replace(" ", "")
    if "..." not in equation:
        return equation
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(ranks):
        raise ValueError(f"einsum: the equation {equation!r} names {len(terms)} operands, got {len(ranks)}")
    widths = []
    for term, rank in zip(terms, ranks):
        width = rank - len(term.replace("...", "")) if "..." in term else 0
        if term.count("...") > 1 or width < 0:
            raise ValueError(f"einsum: the term {term!r} of {equation!r} does not fit an operand of rank {rank}")
        widths.append(width)
    if arrow and "..." in output and "..." not in inputs:
        raise ValueError(f"einsum: the output of {equation!r} has an ellipsis that no operand has")
    free = [c for c in _LETTERS if c not in equation]
    letters = "".join(free[:max(widths)])
    spelled = [term.replace("...", letters[len(letters) - w:] if w else "") for term, w in zip(terms, widths)]
    if arrow:
        output = output.replace("...", letters)
    else:
        singles = sorted(c for c in set(inputs) if c.isalpha() and inputs.count(c) == 1)
        output = letters + "".join(singles)
    return ",".join(spelled) + "->" + output


def _parse(equation: str, operands: list) -> tuple[list[str], str]:
    equation = spell_ellipses(equation, [x.ndim for x in operands])
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: the equation {equation!r} names {len(terms)} operands, got {len(operands)}")
    for term, x in zip(terms, operands):
        if not (term.isalpha() or term == "") or len(term) != x.ndim:
            raise ValueError(f"einsum: the term {term!r} of {equation!r} does not fit an operand of shape "
                             f"{list(x.shape)}")
    if not arrow:  # implicit output: the letters seen once, in alphabetical order
        letters = "".join(terms)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(set(output)) != len(output) or any(c not in inputs for c in output):
        raise ValueError(f"einsum: the output {output!r} of {equation!r} must name distinct letters of the inputs")
    return terms, output


def _take_diagonals(x: TensorLike, term: str) -> tuple[TensorLike, str]:
    """A letter repeated within one term (``'ii->i'``) reads the diagonal."""
    while len(set(term)) != len(term):
        letter = next(c for c in term if term.count(c) > 1)
        first, second = term.index(letter), term.index(letter, term.index(letter) + 1)
        if x.shape[first] != x.shape[second]:
            raise ValueError(f"einsum: the letter {letter!r} is repeated in one term over sizes {x.shape[first]} and "
                             f"{x.shape[second]} (an operand of shape {list(x.shape)})")
        x = diagonal(x, 0, first, second)  # the diagonal becomes the last axis
        term = "".join(c for i, c in enumerate(term) if i not in (first, second)) + letter
    return x, term


def _drop_broadcast_ones(pairs: list) -> list:
    """A dimension of size 1 whose letter has another size in another operand broadcasts (as PyTorch's einsum):
    the operand is constant along the letter, so the dimension is squeezed and the letter left to the others."""
    sizes: dict[str, set] = {}
    for x, term in pairs:
        for c, n in zip(term, x.shape):
            sizes.setdefault(c, set()).add(n)
    out = []
    for x, term in pairs:
        keep = [i for i, c in enumerate(term) if x.shape[i] != 1 or sizes[c] <= {1}]
        if len(keep) < len(term):
            x, term = reshape(x, tuple(x.shape[i] for i in keep)), "".join(term[i] for i in keep)
        out.append((x, term))
    return out


def _sum_unused(x: TensorLike, term: str, keep: str) -> tuple[TensorLike, str]:
    axes = tuple(i for i, c in enumerate(term) if c not in keep)
    if not axes:
        return x, term
    return sum(x, axes), "".join(c for c in term if c in keep)


def _contract(a: TensorLike, ta: str, b: TensorLike, tb: str, keep: str) -> tuple[TensorLike, str]:
    """``a`` and ``b`` contracted over their shared letters not in ``keep``, as one batched matmul."""
    a, b = promote(a, b)
    batch = [c for c in ta if c in tb and c in keep]
    summed = [c for c in ta if c in tb and c not in keep]
    left = [c for c in ta if c not in tb]
    right = [c for c in tb if c not in ta]
    sizes = {**dict(zip(ta, a.shape)), **dict(zip(tb, b.shape))}
    for c in batch + summed:
        if dict(zip(ta, a.shape))[c] != dict(zip(tb, b.shape))[c]:
            raise ValueError(f"einsum: the letter {c!r} has sizes {dict(zip(ta, a.shape))[c]} and "
                             f"{dict(zip(tb, b.shape))[c]} in the operands of shapes {list(a.shape)} and "
                             f"{list(b.shape)}")

    def size(letters):  # None: a graph's unknown size among them
        n = 1
        for c in letters:
            n = None if n is None or sizes[c] is None else n * sizes[c]
        return n

    a = permute(a, tuple(ta.index(c) for c in batch + left + summed))
    b = permute(b, tuple(tb.index(c) for c in batch + summed + right))
    batch_shape = tuple(sizes[c] for c in batch)
    a = _reshape(a, batch_shape + (size(left), size(summed)))
    b = _reshape(b, batch_shape + (size(summed), size(right)))
    out = _reshape(matmul(a, b), batch_shape + tuple(sizes[c] for c in left + right))
    return out, "".join(batch + left + right)


def _reshape(x: TensorLike, shape: tuple) -> TensorLike:
    """``reshape``, one unknown (None) size of a graph value inferred from the known ones."""
    if shape.count(None) > 1:
        raise ValueError(f"einsum: needs the sizes of all but one unknown (None) dimension, got an operand of shape "
                         f"{list(x.shape)} contracted to {list(shape)}")
    return reshape(x, tuple(-1 if d is None else d for d in shape))


def _sublist_equation(args: tuple) -> tuple[str, list]:
    """PyTorch's sublist form ``einsum(op1, [0, 1], op2, [1, 2], [0, 2])`` as an equation and its operands: the
    integers 0-51 name the letters A-Z, a-z, as in PyTorch (so an implicit output is in the integers' order)."""
    pairs, output = (args[:-1], args[-1]) if len(args) % 2 else (args, None)
    operands, terms = list(pairs[0::2]), list(pairs[1::2])
    for sublist in terms + ([output] if output is not None else []):
        if not isinstance(sublist, (list, tuple)) or any(
                i is not Ellipsis and not (isinstance(i, int) and 0 <= i < len(_LETTERS)) for i in sublist):
            raise ValueError(f"einsum: a sublist must hold integers in [0, {len(_LETTERS)}) (or ...), got {sublist!r}")

    def term(sublist) -> str:
        return "".join("..." if i is Ellipsis else _SUBLIST_LETTERS[i] for i in sublist)

    equation = ",".join(term(t) for t in terms) + ("" if output is None else "->" + term(output))
    return equation, operands


def einsum(equation, *operands) -> TensorLike:
    """Einstein summation as ``torch.einsum`` (``'bij,bjk->bik'``, ``'ii->i'``, ``'...ij,jk->...ik'``, implicit
    outputs; operands as arguments or one list, or the sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``),
    contracting the operands from left to right with matrix products."""
    if not isinstance(equation, str):
        equation, operands = _sublist_equation((equation, *operands))
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = [as_tensor(x) for x in operands]
    if not operands:
        raise ValueError("einsum: give at least one operand")
    terms, output = _parse(equation, operands)
    pairs = _drop_broadcast_ones([_take_diagonals(x, t) for x, t in zip(operands, terms)])
    x, term = pairs[0]
    for i, (y, term_y) in enumerate(pairs[1:], 1):
        later = output + "".join(t for _, t in pairs[i + 1:])
        x, term = _sum_unused(x, term, later + term_y)
        y, term_y = _sum_unused(y, term_y, later + term)
        x, term = _contract(x, term, y, term_y, later)
    x, term = _sum_unused(x, term, output)
    return permute(x, tuple(term.index(c) for c in output)) if term != output else x


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SUBLIST_LETTERS = _LETTERS[26:] + _LETTERS[:26]


def _dims_pair(a: TensorLike, b: TensorLike, dims) -> tuple[list[int], list[int]]:
    if isinstance(dims, TensorLike) and dims.ndim:  # PyTorch's tensor of the two lists of dims
        dims = np.asarray(dims.numpy()).tolist()
    if isinstance(dims, int) or hasattr(dims, "__index__"):
        n = as_int("tensordot", dims, "dims")
        if not 0 <= n <= min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: dims={n} must be in [0, {min(a.ndim, b.ndim)}] for shapes "
                             f"{list(a.shape)} and {list(b.shape)}")
        return list(range(a.ndim - n, a.ndim)), list(range(n))
    dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(dims_a) != len(dims_b):
        raise ValueError(f"tensordot: dims {dims_a} and {dims_b} must name as many dimensions")
    specs = [Spec(a.shape, a.dtype), Spec(b.shape, b.dtype)]
    dims_a = [check_axis("tensordot", d, a.ndim, specs) for d in dims_a]
    dims_b = [check_axis("tensordot", d, b.ndim, specs) for d in dims_b]
    for dims, shape in ((dims_a, a.shape), (dims_b, b.shape)):
        if len(set(dims)) != len(dims):
            raise ValueError(f"tensordot: the dims {dims} of the operand of shape {list(shape)} name a dimension twice")
    return dims_a, dims_b


def tensordot(a, b, dims=2) -> TensorLike:
    """The sum of products over ``dims``: the last ``dims`` dimensions of a with the first of b (an int), or
    the listed pairs (``([1, 0], [0, 1])``); the result has a's other dimensions, then b's."""
    a, b = promote(a, b)
    dims_a, dims_b = _dims_pair(a, b, dims)
    if a.ndim + b.ndim - len(dims_b) > len(_LETTERS):
        raise ValueError(f"tensordot: too many dimensions ({list(a.shape)} and {list(b.shape)})")
    term_a = _LETTERS[:a.ndim]
    free_b = iter(_LETTERS[a.ndim:])
    term_b = "".join(term_a[dims_a[dims_b.index(i)]] if i in dims_b else next(free_b) for i in range(b.ndim))
    output = "".join(c for i, c in enumerate(term_a) if i not in dims_a) + "".join(
        c for i, c in enumerate(term_b) if i not in dims_b)
    return einsum(f"{term_a},{term_b}->{output}", a, b)


def same_rank(name: str, a: TensorLike, b: TensorLike) -> None:
    """Refuse cross-product operands of different ranks: PyTorch broadcasts their sizes but not their ranks."""
    if a.ndim != b.ndim:
        raise ValueError(f"{name}: inputs must have the same number of dimensions, got shapes {list(a.shape)} and "
                         f"{list(b.shape)}")


def cross(a, b, axis: int | None = None) -> TensorLike:
    """The cross product of 3-vectors along ``axis`` (by default the first dimension of size 3), operands of one
    rank broadcast together (sizes 1 stretched), as ``torch.cross`` and ``torch.linalg.cross``."""
    a, b = promote(a, b)
    same_rank("cross", a, b)
    # the shape the products broadcast to (an unknown size stands for itself: the products check it)
    shape = tuple(m if n in (1, None) else n for m, n in zip(a.shape, b.shape))
    if axis is None:
        if 3 not in shape:
            raise ValueError(f"cross: no dimension of size 3 in the shape {list(shape)}")
        axis = shape.index(3)
    axis = check_axis("cross", axis, len(shape), [Spec(shape, a.dtype)])
    if a.shape[axis] != 3 or b.shape[axis] != 3:
        raise ValueError(f"cross: dimension {axis} of the shapes {list(a.shape)} and {list(b.shape)} must have "
                         "size 3")
    (a0, a1, a2), (b0, b1, b2) = ([select(t, axis, i) for i in range(3)] for t in (a, b))
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis)


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def cdist(x1, x2, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> TensorLike:
    """The p-norm distance between each row of ``x1`` (..., P, M) and each row of ``x2`` (..., R, M), shape
    (..., P, R), as ``torch.cdist`` (p 2, 1, inf or any p >= 0; a zero distance has gradient 0). ``compute_mode``
    is checked and accepted: the distances are always computed from the differences, the exact way PyTorch
    takes without a product."""
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"cdist: compute_mode must be one of {', '.join(_CDIST_MODES)}, got {compute_mode!r}")
    x1, x2 = promote(*widened(to_float(x1), to_float(x2)))
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: expects (..., P, M) and (..., R, M) with one M, got shapes {list(x1.shape)} and "
                         f"{list(x2.shape)}")
    if p < 0:
        raise ValueError(f"cdist: p must be non-negative, got {p}")
    diff = unsqueeze(x1, -2) - unsqueeze(x2, -3)
    if diff.shape[-1] == 0:  # no coordinates: every distance is 0, for every p (the inf-norm's max has no identity)
        return sum(diff, -1)
    if p == np.inf:
        return _chebyshev(diff)
    return norm(diff, p, axis=-1)


def _chebyshev(diff: TensorLike) -> TensorLike:
    """The largest magnitude along the last dimension with the gradient of PyTorch's distances: in full to each
    coordinate tied for the largest, where the inf-norm's shares it."""
    # the largest (held constant) plus the tied magnitudes less it, which are 0; an infinite largest is left out of
    # the constant (inf - inf is NaN), the tied magnitudes' sum is then the inf
    size = abs(diff)
    if size.shape[-1] == 0:  # vectors of no elements: 0 apart, as PyTorch's (no largest to take)
        return sum(size, -1)
    top = stop_gradient(amax(size, -1, keepdims=True))
    tied, top = eq(size, top), where(isinf(top), 0.0, top)
    return sum(where(tied, size - top, 0.0), -1) + squeeze(top, -1)
