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
"""

from __future__ import annotations

import numpy as np

from ember.graph.ir import UPDATE, Graph
from ember.ops.elementwise import ADD
from ember.ops.kernels import BLAS_FLOATS
from ember.ops.linalg import MATMUL
from ember.ops.reduction import SUM
from ember.ops.shape import TRANSPOSE

# A pattern over four particular ops (a dense layer's matmul and bias add, its weight-gradient product of a
# transpose, its bias-gradient sum), so it names their records rather than a trait they share.

_SMALL = 4096  # elements: below, a NumPy call costs about the same whatever its size (measured on Wtab)


class BiasFolds:
    """What the code generator does differently for the folded layers.

    ``forward``: id(add node) -> (name of the [h, 1] buffer, name of the [W; b] view);
    ``backward``: id(weight-gradient matmul) -> (name of the [h, 1] buffer's transpose, name of the [gW; gb]
    view); ``skip``: ids of nodes whose work the folded calls do (the plain matmul, the bias-gradient sum);
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
    for add in graph.nodes:
        if add.op is not ADD or len(add.inputs) != 2:
            continue
        product, bias = add.inputs if add.inputs[1].id in bound else add.inputs[::-1]
        matmul = producers.get(product.id)
        if bias.id not in bound or matmul is None or matmul.op is not MATMUL or product.id in outputs \
                or len(users.get(product.id, ())) != 1:
            continue
        h, weight = matmul.inputs
        if weight.id not in bound or h.id in folds.copy_after or h.id in bound or h.id in outputs or h.array.ndim != 2 \
                or h.array.dtype != add.outputs[0].array.dtype:
            continue
        stacked = _stacked(bound[weight.id], bound[bias.id])
        if stacked is None or add.outputs[0].array.shape != (h.array.shape[0], stacked.shape[1]):
            continue
        if h.array.size > 2 * add.outputs[0].array.size + _SMALL:
            continue  # the copy would cost more than the add and the column sum it saves
        if h.id not in inputs and h.id not in producers:
            continue
        rows, cols = h.array.shape
        buffer = np.empty((rows, cols + 1), h.array.dtype)
        buffer[:, cols] = 1
        view = bind(buffer[:, :cols], "o")
        folds.copy_after[h.id] = view
        if h.id in inputs:
            folds.copies.append(f"{bind(np.copyto, 'f')}({view}, x{h.id})")
        folds.forward[id(add)] = (bind(buffer, "o"), bind(stacked, "var"))
        folds.skip.add(id(matmul))
        _fold_gradients(folds, h, weight, bias, buffer, grads, producers, users, flat_grads, bind, objects)
    return folds


def _fold_gradients(folds, h, weight, bias, buffer, grads, producers, users, flat_grads, bind, objects):
    """[gW; gb] = [h, 1].T @ delta, when gW = h.T @ delta and gb = delta.sum(0) go to adjacent flat views."""
    gw, gb = grads.get(weight.id), grads.get(bias.id)
    if gw is None or gb is None or gw.id not in flat_grads or gb.id not in flat_grads:
        return
    weight_grad, bias_grad = producers.get(gw.id), producers.get(gb.id)
    if weight_grad is None or bias_grad is None or weight_grad.op is not MATMUL or bias_grad.op is not SUM:
        return
    transposed, delta = weight_grad.inputs
    flip = producers.get(transposed.id)
    if flip is None or flip.op is not TRANSPOSE or flip.inputs[0].id != h.id \
            or tuple(flip.attrs["axes"]) != (1, 0) or bias_grad.inputs[0].id != delta.id \
            or bias_grad.attrs["axis"] not in (0, (0,)) or bias_grad.attrs["keepdims"]:
        return
    if len(users.get(gw.id, ())) != 1 or len(users.get(gb.id, ())) != 1:
        return
    stacked = _stacked(objects[flat_grads[gw.id]], objects[flat_grads[gb.id]])
    if stacked is None:
        return
    folds.backward[id(weight_grad)] = (bind(buffer.T, "o"), bind(stacked, "g"))
    folds.skip.add(id(bias_grad))
    if len(users[transposed.id]) == 1:
        folds.skip.add(id(flip))
