"""``Op.vjp_reads``: an in-place write into an input a node's vjp does not read leaves its backward valid (PyTorch
checks only the tensors a node saved); one into an input it reads is refused. Each declaration is checked: the
vjp gives the same gradients when the inputs it claims not to read hold other values."""

import numpy as np
import pytest

import ember
from ember.ops import REGISTRY
from ember.ops.sized import reshape_sized, slice_sized
from ember.tensor import Tensor

_rng = np.random.default_rng(0)


def _floats(*shape):
    return ember.tensor(_rng.standard_normal(shape).astype(np.float32), requires_grad=True)


# op name -> a call recording one node of that op (its output's node)
CASES = {
    "add": lambda: _floats(3, 4) + _floats(4),
    "sub": lambda: _floats(3, 4) - _floats(3, 1),
    "neg": lambda: -_floats(2, 3),
    "sum": lambda: _floats(3, 4).sum(axis=1),
    "reshape": lambda: _floats(3, 4).reshape(2, 6),
    "transpose": lambda: _floats(3, 4).permute(1, 0),
    "broadcast_to": lambda: ember.broadcast_to(_floats(1, 4), (3, 4)),
    "concat": lambda: ember.concat([_floats(2, 3), _floats(1, 3)], axis=0),
    "cast": lambda: _floats(2, 3).to(ember.float64),
    "pad": lambda: ember.pad(_floats(2, 3), 1),
    "getitem": lambda: _floats(4, 3)[ember.tensor([0, 2, 2])],
    "embedding": lambda: ember.nn.functional.embedding(ember.tensor([[1, 3], [3, 0]]), _floats(5, 2)),
    "diagonal": lambda: _floats(2, 3, 4).diagonal(1, 2, 0),
    "diagonal_grad": lambda: ember.diag_embed(_floats(2, 3), -1, 0, 2),
    "sign": lambda: _floats(3, 4).sign(),
    "slice_sized": lambda: slice_sized(_floats(3, 4), 1, slice(1, 3)),
    "reshape_sized": lambda: reshape_sized(_floats(3, 4), (2, 6)),
    "contiguous": lambda: ember.ops.shape.as_contiguous(_floats(3, 4).T),
    "slice_sized_grad": lambda: REGISTRY["slice_sized"].vjp(slice_sized(_floats(3, 4), 0, slice(1, 2)).node,
                                                                 _floats(1, 4))[0],
    "floor_divide": lambda: _floats(3, 4) // _floats(4),
    "trunc_divide": lambda: ember.div(_floats(3, 1), _floats(3, 4), rounding_mode="trunc"),
    "where": lambda: ember.where(_floats(3, 4) > 0, _floats(3, 4), _floats(4)),
}


def test_every_op_declaring_vjp_reads_has_a_case():
    declared = {name for name, op in REGISTRY.items() if op.vjp_reads is not None}
    assert declared == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_vjp_reads_no_input_outside_its_declaration(name):
    out = CASES[name]()
    node = out.node
    assert node is not None and node.op.name == name
    g = Tensor(_rng.standard_normal(out.shape).astype(out.dtype))
    with ember.no_grad():
        expected = node.op.vjp(node, g)
    node.inputs = tuple(
        t if i in node.op.vjp_reads else Tensor(np.full(t.shape, np.nan, t.dtype) if t.dtype.kind in "fc"
                                                else np.full(t.shape, 1, t.dtype))
        for i, t in enumerate(node.inputs))
    with ember.no_grad():
        got = node.op.vjp(node, g)
    for want, have in zip(expected, got):
        assert (want is None) == (have is None)
        if want is not None:
            np.testing.assert_array_equal(have.numpy(), want.numpy())


def test_writing_an_input_the_vjp_does_not_read_keeps_the_backward_as_torch():
    x = ember.ones(3, requires_grad=True)
    y = (x + 1).reshape(3, 1)[:, 0]
    x.detach().add_(1)  # the add and the views read only x's shape
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_writing_an_input_the_vjp_reads_is_refused():
    a = ember.ones(3, requires_grad=True)
    b = a * 1
    y = b * b
    b.detach().add_(1)
    with pytest.raises(RuntimeError, match=r"an input of mul, float32\[3\]"):
        y.sum().backward()


def test_embedding_max_norm_refuses_a_backward_through_an_earlier_read_of_the_weight():
    # the renormalized rows were read silently: rows 1 and 2 of the gradient were 2 * (new W) + 1
    weight = ember.tensor(np.arange(15, dtype=np.float32).reshape(5, 3))
    emb = ember.nn.Embedding.from_pretrained(weight, freeze=False, max_norm=1.0)
    squares = (emb.weight ** 2).sum()
    out = emb(ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match=r"an input of pow"):
        (squares + out.sum()).backward()
    emb.weight.grad = None
    both = emb(ember.tensor([1, 2])) + emb(ember.tensor([2, 3]))  # lookups read ids only: allowed, as PyTorch
    both.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy().sum(axis=1), [0.0, 3.0, 6.0, 3.0, 0.0])


def test_an_input_moved_to_another_node_refuses_whatever_the_vjp_reads():
    # a backward follows a tensor's current node: after y.mul_(2) the add's gradient would flow through the mul
    # (x.grad was None, the gradient lost); after detach_() through nothing
    x = ember.ones(3, requires_grad=True)
    y = x * 1
    z = y + 1
    y.mul_(2)
    with pytest.raises(RuntimeError, match=r"an input of add"):
        z.sum().backward()
    y = x * 2
    z = y * 3
    y.detach_()
    with pytest.raises(RuntimeError, match=r"an input of mul"):
        z.sum().backward()
    c = ember.ones(3)
    z = x + c  # c needs no gradient here: moving it to a node later changes nothing for this add
    c.add_(x)
    z.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
