"""Bias folding: ``h @ W + b`` as one matrix product ``[h, 1] @ [W; b]`` where ``b`` lies right after ``W``.

``ember.compat.tf`` lays a model's variables side by side in one array, so a dense layer's bias usually
follows its weight in memory: the two are one (in + 1, out) matrix. Writing the layer's input into a buffer
whose last column holds ones turns the forward's matmul and bias add into one BLAS call, and the backward's
weight gradient and bias gradient (``h.T @ delta`` and ``delta.sum(0)``) into one as well, written into the
flat gradient array where the two gradients lie side by side too. On a small MLP step that is two calls fewer
per layer, for one copy. Results change by rounding only: the bias enters inside the sum.

The layer's input is copied into that buffer once computed: computing it there instead (a strided array)
measured slower than the copy, in the relu writing it and in every later read. A layer is folded only when
that copy costs no more than the bias add and the column sum it replaces: an input no larger than twice the
layer's output, or small enough that the calls' overhead is all they cost.

``nn.Linear``'s ``linear`` op computes ``x @ W.T + b`` with an (out, in) weight. The runtime lays such a
weight out column by column with its bias right after it (``linear_layout``, then ``arena.lay_out``): ``W.T``
and ``b`` are then the one (in + 1, out) matrix ``[W.T; b]``, and the layer folds as above.
"""

from __future__ import annotations

import numpy as np

from ember.graph.ir import UPDATE, Graph
from ember.ops.elementwise import ADD
from ember.ops.kernels import BLAS_FLOATS
from ember.ops.linalg import LINEAR, MATMUL
from ember.ops.reduction import SUM
from ember.ops.shape import TRANSPOSE

# A pattern over four particular ops (a dense layer's matmul and bias add, its weight-gradient product of a
# transpose, its bias-gradient sum), so it names their records rather than a trait they share.

_SMALL = 4096  # elements: below, a NumPy call costs about the same whatever its size (measured on Wtab)


class BiasFolds:
    """What the code generator does differently for the folded layers.

    ``forward``: id(add or linear node) -> (name of the [h, 1] buffer, name of the [W; b] view);
    ``backward``: id(weight-gradient matmul) -> (name of the [h, 1] buffer's transpose, name of the [gW; gb]
    view, value id of the layer's output gradient); ``skip``: ids of nodes whose work the folded calls do (the
    plain matmul, the bias-gradient sum, the transpose only they read);
    ``copy_after``: value id of a layer input -> name of the buffer view it is copied into once computed;
    ``copies``: lines that copy graph inputs into their buffers, first thing in the function.
    """

    def __init__(self):
        self.forward: dict = {}
        self.backward: dict = {}
        self.skip: set = set()
        self.copy_after: dict = {}
        self.copies: list = []


def element_offset(array, base) -> int:
    """Where ``array``'s first element lies in ``base``'s memory, in elements."""
    return (array.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // array.itemsize


def _stacked(weight, bias):
    """The (in + 1, out) matrix [weight; bias] over their memory when ``bias`` directly follows ``weight``
    in one array; else None."""
    base = weight.base
    if base is None or bias.base is not base or base.ndim != 1 or weight.dtype not in BLAS_FLOATS \
            or bias.dtype != weight.dtype or not weight.flags.c_contiguous or weight.ndim != 2 \
            or bias.shape != (weight.shape[1],):
        return None
    return _following(weight, bias, base)


def _stacked_columns(weight, bias):
    """The (in + 1, out) matrix [weight.T; bias] for an (out, in) ``weight`` stored column by column with
    ``bias`` directly after it in one array; else None."""
    if weight.ndim != 2 or not weight.flags.f_contiguous or bias.shape != (weight.shape[0],):
        return None
    return _stacked(weight.T, bias)


def _following(weight, bias, base):
    start = element_offset(weight, base)
    if element_offset(bias, base) != start + weight.size:
        return None
    return base[start:start + weight.size + bias.size].reshape(weight.shape[0] + 1, weight.shape[1])


def fold_biases(graph: Graph, bound: dict, bind, objects: dict, flat_grads: dict) -> BiasFolds:
    """Find the foldable dense layers of ``graph``; ``bind(obj, prefix)`` names the arrays the code reads,
    ``objects`` maps those names back, ``flat_grads`` is the flat gradient views by gradient value id."""
    folds = BiasFolds()
    users, producers = graph.users(), graph.producers()
    outputs = {v.id for v in graph.outputs}
    grads = {n.inputs[0].id: n.inputs[1] for n in graph.nodes if n.op is UPDATE}
    inputs = {v.id for v in graph.inputs if v.id not in bound}
    for node, h, weight, bias, matmul in _layers(graph, bound, producers, users, outputs):
        stacked = (_stacked if node.op is ADD else _stacked_columns)(bound[weight.id], bound[bias.id])
        if stacked is None or h.id in folds.copy_after or node.outputs[0].array.shape != (h.array.shape[0],
                                                                                        stacked.shape[1]):
            continue
        if not _worth_folding(h, node, inputs, producers):
            continue
        rows, cols = h.array.shape
        buffer = np.empty((rows, cols + 1), h.array.dtype)
        buffer[:, cols] = 1
        view = bind(buffer[:, :cols], "o")
        folds.copy_after[h.id] = view
        if h.id in inputs:
            folds.copies.append(f"{bind(np.copyto, 'f')}({view}, x{h.id})")
        folds.forward[id(node)] = (bind(buffer, "o"), bind(stacked, "var"))
        if matmul is not None:
            folds.skip.add(id(matmul))
        gradients = _gradient_nodes(h, weight, bias, grads, producers, users, transposed=node.op is LINEAR)
        if gradients is None or grads[weight.id].id not in flat_grads or grads[bias.id].id not in flat_grads:
            continue
        stacked_grads = (_stacked if node.op is ADD else _stacked_columns)(
            objects[flat_grads[grads[weight.id].id]], objects[flat_grads[grads[bias.id].id]])
        if stacked_grads is None:
            continue
        weight_grad, skipped, delta = gradients
        folds.backward[id(weight_grad)] = (bind(buffer.T, "o"), bind(stacked_grads, "g"), delta.id)
        folds.skip.update(skipped)
    return folds


def _layers(graph: Graph, bound: dict, producers: dict, users: dict, outputs: set):
    """(node, h, weight, bias, matmul) of each dense layer over variables (ids in ``bound``): ``h @ W + b`` (an ``add``
    node of a ``matmul`` used nowhere else) or ``linear(h, W, b)``, with a 2-d input ``h`` that is computed
    (or fed) and not returned."""
    for node in graph.nodes:
        if node.op is LINEAR and len(node.inputs) == 3:
            (h, weight, bias), matmul = node.inputs, None
        elif node.op is ADD and len(node.inputs) == 2:
            product, bias = node.inputs if node.inputs[1].id in bound else node.inputs[::-1]
            matmul = producers.get(product.id)
            if matmul is None or matmul.op is not MATMUL or product.id in outputs \
                    or len(users.get(product.id, ())) != 1:
                continue
            h, weight = matmul.inputs
        else:
            continue
        if weight.id in bound and bias.id in bound and h.id not in bound and h.id not in outputs \
                and h.array.ndim == 2 and h.array.dtype == node.outputs[0].array.dtype:
            yield node, h, weight, bias, matmul


def _worth_folding(h, node, inputs: set, producers: dict) -> bool:
    """Whether copying the layer's input into the [h, 1] buffer costs no more than the calls folding saves."""
    if None in h.array.shape or h.array.size > 2 * node.outputs[0].array.size + _SMALL:
        return False  # the copy would cost more than the add and the column sum it saves
    return h.id in inputs or h.id in producers


def _gradient_nodes(h, weight, bias, grads: dict, producers: dict, users: dict, transposed: bool):
    """(the weight-gradient node, ids of the nodes the folded product replaces, the output gradient) when
    the weight's gradient is ``h.T @ delta`` (for a ``linear`` layer's (out, in) weight: ``delta.T @ h``, or
    ``(h.T @ delta).T`` where the weight is stored column by column) and the bias's is ``delta.sum(0)``, each
    read only by its update; else None."""
    gw, gb = grads.get(weight.id), grads.get(bias.id)
    if gw is None or gb is None or len(users.get(gw.id, ())) != 1 or len(users.get(gb.id, ())) != 1:
        return None
    weight_grad, bias_grad = producers.get(gw.id), producers.get(gb.id)
    if weight_grad is None or bias_grad is None or bias_grad.op is not SUM:
        return None
    skipped = {id(bias_grad)}
    if transposed and weight_grad.op is TRANSPOSE and tuple(weight_grad.attrs["axes"]) == (1, 0):
        # a column-major weight's gradient, (h.T @ delta).T: the folded product computes the inner one
        inner = producers.get(weight_grad.inputs[0].id)
        if inner is None or inner.op is not MATMUL or len(users.get(inner.outputs[0].id, ())) != 1:
            return None
        found = _gradient_product(h, bias_grad, inner, producers, users, transposed=False)
        return None if found is None else (weight_grad, found[0] | skipped | {id(inner)}, found[1])
    if weight_grad.op is not MATMUL:
        return None
    found = _gradient_product(h, bias_grad, weight_grad, producers, users, transposed)
    return None if found is None else (weight_grad, found[0] | skipped, found[1])


def _gradient_product(h, bias_grad, weight_grad, producers: dict, users: dict, transposed: bool):
    """(ids of the nodes folding replaces, the output gradient) for ``weight_grad`` = ``h.T @ delta`` (``delta.T
    @ h`` when ``transposed``) and ``bias_grad`` = ``delta.sum(0)``; else None."""
    flip = producers.get(weight_grad.inputs[0].id)  # transpose(h), or transpose(delta) for a linear layer
    if flip is None or flip.op is not TRANSPOSE or tuple(flip.attrs["axes"]) != (1, 0):
        return None
    delta = flip.inputs[0] if transposed else weight_grad.inputs[1]
    if (weight_grad.inputs[1] if transposed else flip.inputs[0]).id != h.id or bias_grad.inputs[0].id != delta.id \
            or bias_grad.attrs["axis"] not in (0, (0,)) or bias_grad.attrs["keepdims"]:
        return None
    return ({id(flip)} if len(users[flip.outputs[0].id]) == 1 else set()), delta


def _flat_update(attrs: dict) -> bool:
    """Whether the code generator runs this update over the flat arena, its gradient computed there (plain or
    momentum SGD: ``codegen._flat_updates``); only such gradients fold."""
    return getattr(attrs["rule"], "sgd_form", None) is not None and \
        not any(v for k, v in attrs["hyper"].items() if k not in ("lr", "momentum"))


def linear_layout(graph: Graph, params: dict) -> list:
    """(weight id, bias id) of the ``linear`` layers over ``params`` (value id -> array, the variables the
    runtime is about to lay out) that fold once the weight is stored column by column with its bias right after
    it, forward and backward (the weight's and the bias's gradients read only by their updates)."""
    if any(None in v.array.shape for node in graph.nodes for v in node.outputs):
        return []  # code for unknown sizes does not fold (its [h, 1] buffer needs the rows)
    users, producers = graph.users(), graph.producers()
    outputs = {v.id for v in graph.outputs}
    grads = {n.inputs[0].id: n.inputs[1] for n in graph.nodes if n.op is UPDATE and _flat_update(n.attrs)}
    inputs = {v.id for v in graph.inputs if v.id not in params}
    pairs, seen = [], set()
    for node, h, weight, bias, _ in _layers(graph, params, producers, users, outputs):
        w, b = params[weight.id], params[bias.id]
        if node.op is not LINEAR or {weight.id, bias.id} & seen or w.dtype not in BLAS_FLOATS or b.dtype != w.dtype \
                or b.shape != (w.shape[0],) or not _worth_folding(h, node, inputs, producers) \
                or _gradient_nodes(h, weight, bias, grads, producers, users, transposed=True) is None:
            continue
        seen |= {weight.id, bias.id}
        pairs.append((weight.id, bias.id))
    return pairs
