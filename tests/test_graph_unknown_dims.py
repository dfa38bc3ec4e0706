"""Graphs built on unknown (None) dimensions: shape rules and vjps that carry them, ``specialize``, and
``ember.runtime.GraphFunction``, which compiles one function for every size of them.

The table test builds every op-table row with one input's first dimension unknown. With the batch (the
first input's first dimension) unknown every row must build, except the few whose result size depends on
values or on that very size (listed below with why); those, and every other input made unknown, either
build or refuse with a clear error. What builds must give eager mode's results, gradients included.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from op_cases import CASES
from op_cases_conv import CASES as CONV_CASES

import ember
from ember.backend.dtypes import FLOATING
from ember.graph import Graph, GraphError, interpret
from ember.ops import ShapeError
from ember.optim.functional import sgd_update
from ember.passes import TrainRequest, gradients, run_passes, specialize
from ember.runtime import GraphFunction
from ember.sparse import RowSparse

ALL_CASES = CASES + CONV_CASES

FRESH_DRAWS = {"random_sample_gamma", "random_sample_poisson", "random_sample_binomial"}  # each run draws anew

# Rows that cannot be built with the batch unknown, and why: each must refuse clearly.
BATCH_REFUSED = {
    "linalg_solve_triangular_lower": "an unknown batch of A against B's known batch: their broadcast is undecided",
    "cholesky_solve": "an unknown batch of the factor against B's known batch: their broadcast is undecided",
    "cholesky_inverse_upper": "the unknown size is a matrix dimension, which the triangle's mask needs",
    "linalg_lu_tall": "the unknown size is a matrix dimension, which the L and U shapes need",
    "linalg_lu_solve_adjoint": "an unknown batch of LU against B's known batch: their broadcast is undecided",
    "linalg_solve_ex_vector": "an unknown batch of A against B's known batch: their broadcast is undecided",
    "linalg_householder_product": "the unknown size is a matrix dimension, which the reflectors' count needs",
    "linalg_lstsq_gelsd": "the unknown size is A's row count, which B's rows must equal",
    "linalg_tensorinv": "the unknown size enters the product of the dimensions the inverse reshapes by",
    "linalg_tensorsolve": "the unknown size enters the product of the dimensions the solve reshapes by",
    "random_keep_all": "a random draw needs its shape in known sizes",
    "host_call": "a host function's result shape is given in known sizes",
    "random_degenerate_normal": "a random draw needs its shape in known sizes",
    "assign_broadcast": "broadcasting the value to a variable whose size is unknown names that size",
    "squeeze_all": "whether the unknown size is 1 decides the output's rank",
    "split_equal": "the number of pieces depends on the unknown size",
    "chunk_uneven": "the number of pieces depends on the unknown size",
    "index_add_axis1": "src must match the unknown size exactly, which is not known",
    "getitem_bool_mask": "the selection depends on the mask's values",
    "getitem_bool_row_mask": "the selection depends on the mask's values",
    "one_hot_infer_classes": "the class count is read from the values",
    **{name: "the diagonal's positions are computed from the sizes of its two axes" for name in (
        "diagonal_0_0_1", "diagonal_1_0_1", "diagonal_m2_0_1", "diagonal_1_2_0", "diagonal_5_0_1",
        "diag_of_vector_0", "diag_of_vector_2", "diag_of_vector_m1", "diag_of_matrix_method")},
    "median_dim_keepdim_indices": "the median's position is computed from the size of its axis",
    "roll_dims": "the cut is computed from the size of the rolled axis",
    "roll_flat_method": "the cut is computed from the size of the rolled axis",
    "meshgrid_xy": "the grids' shape is made of the inputs' sizes",
    "kthvalue": "k is checked against the size of its axis",
    **{name: "a letter's unknown size in one operand against its known size in another" for name in (
        "einsum_bij_bjk_to_bik", "einsum_bhqd_bhkd_to_bhqk", "einsum_bn_anm_bm_to_ba", "einsum_diagonal")},
    "take_along_dim_broadcast": "the input and the indices broadcast to a shape made of their sizes",
    "hsplit_vsplit_dsplit": "vsplit cuts the unknown dimension at positions checked against its size",
    "cartesian_prod": "the grids' shape is made of the inputs' sizes",
    "combinations": "the combinations are listed from the input's size",
    "sum_to_size": "the target size is checked against the input's sizes",
    "as_strided_overlapping": "the strided positions are checked against the input's size",
    **{name: "the written positions' mask is made from the input's sizes" for name in (
        "diag_embed_offset_dims", "diagflat", "diagonal_scatter", "select_scatter", "slice_scatter_step",
        "index_put_broadcast", "index_put_accumulate", "masked_scatter", "put_accumulate", "put_method")},
    "kron": "the product's sizes are the operands' sizes multiplied",
    "trace_method": "the diagonal's positions are computed from the sizes of its two axes",
    "vander_increasing_zero": "N defaults to the size of the input",
    "pdist_p2.0": "the pairs of rows are listed from the number of rows",
    "pdist_p1.0": "the pairs of rows are listed from the number of rows",
    "cov_weights": "whether there is one variable (a 0-d result) depends on the unknown size",
    "corrcoef": "whether there is one variable (a 0-d result) depends on the unknown size",
    "cov_1d_correction0_method": "the number of observations sets the divisor",
    "rfftn_forward": "the transform runs along the unknown axis, whose size is the transform's length",
    "stft_window": "the frames are laid out from the signal's length, the unknown size",
}

# Rows whose graph builds with the batch unknown but whose gradient, asked of it later, is refused clearly.
GRADIENT_REFUSED = {
    name: "built with the batch unknown, a recurrent layer is one fused op, which has no gradient (with known sizes "
          "and gradients on it unrolls into ops that have one)"
    for name in ("recurrent_lstm_grad", "recurrent_gru_grad", "recurrent_gru_reset_before_grad",
                 "recurrent_rnn_tanh_grad")
}
CLEAR = (GraphError, ShapeError, ValueError, TypeError, IndexError)


def _arrays(case) -> list:
    return [np.asarray(a) for a in case.inputs(np.random.default_rng(0))]


def _outputs(result) -> list:
    return list(result) if isinstance(result, (list, tuple)) else [result]


def _build(case, arrays, unknown: int):
    g = Graph()
    values = [g.input(f"x{k}", ((None,) + a.shape[1:]) if k == unknown else a.shape, a.dtype)
              for k, a in enumerate(arrays)]
    with g.building():
        outs = _outputs(case.fn(*values))
    g.outputs = outs
    return g, values


def _check_clear(exc: Exception) -> None:
    message = str(exc)
    assert any(word in message for word in ("?", "unknown", "None", "graph")), message


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_op_rows_with_an_unknown_dimension(case):
    arrays = _arrays(case)
    eager = [t.numpy() for t in _outputs(case.fn(*[ember.tensor(a) for a in arrays]))]
    for k, a in enumerate(arrays):
        if a.ndim == 0:
            continue
        try:
            g, values = _build(case, arrays, k)
        except CLEAR as exc:
            assert k != 0 or case.name in BATCH_REFUSED, f"{case.name}: refused with the batch unknown: {exc}"
            _check_clear(exc)
            continue
        assert not (k == 0 and case.name in BATCH_REFUSED), f"{case.name} builds now: take it off the list"
        for v, expected in zip(g.outputs, eager):
            assert len(v.shape) == expected.ndim and all(d is None or d == e for d, e in zip(v.shape, expected.shape))
        g.verify()
        if case.name in FRESH_DRAWS:  # each run draws afresh from the generator the eager call advanced
            continue
        got = GraphFunction(g)(*arrays)
        for out, expected in zip(got, eager):
            np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=case.name)
        np.testing.assert_allclose(interpret(g, *arrays)[0], eager[0], rtol=1e-12, atol=1e-12, equal_nan=True)


def _floats(arrays) -> list:
    return [k for k, a in enumerate(arrays) if a.dtype in FLOATING]


@pytest.mark.parametrize("case", [c for c in ALL_CASES if c.grad and c.name not in BATCH_REFUSED],
                         ids=lambda c: c.name)
def test_gradients_of_a_specialized_graph_match_eager(case):
    arrays = _arrays(case)
    wrt = _floats(arrays) if case.grad_inputs is None else list(case.grad_inputs)
    if not wrt or arrays[0].ndim == 0:
        pytest.skip("no float input with a first dimension")
    tensors = [ember.tensor(a, requires_grad=k in wrt) for k, a in enumerate(arrays)]
    total = sum(t.sum() for t in _outputs(case.fn(*tensors)))
    total.backward()
    graphs = []
    template, _ = _build(case, arrays, 0)
    try:  # the vjps on the unknown batch: one graph for every batch size
        with template.building():
            template.outputs = gradients(template, [sum(v.sum() for v in template.outputs)],
                                         [template.inputs[k] for k in wrt])
        graphs.append(template)
    except CLEAR as exc:
        _check_clear(exc)
    template, _ = _build(case, arrays, 0)
    g = specialize(template, [a.shape for a in arrays])
    if case.name in GRADIENT_REFUSED:
        assert not graphs, f"{case.name} has a gradient on the unknown batch now: take it off GRADIENT_REFUSED"
        with pytest.raises(CLEAR, match="no gradient"), g.building():
            gradients(g, [sum(v.sum() for v in g.outputs)], [g.inputs[k] for k in wrt])
        return
    with g.building():
        g.outputs = gradients(g, [sum(v.sum() for v in g.outputs)], [g.inputs[k] for k in wrt])
    for graph in graphs + [g]:
        got = GraphFunction(graph, passes=())(*arrays)
        for k, grad in zip(wrt, got):
            expected = tensors[k].grad
            if isinstance(expected, RowSparse):  # a sparse embedding's eager gradient; the graph's is dense
                expected = expected.to_dense()
            np.testing.assert_allclose(grad, expected.numpy(), rtol=1e-10, atol=1e-12, err_msg=case.name)


def test_one_template_serves_every_batch_size_and_equals_a_build_on_known_sizes():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(np.float32)

    def net(x, w):
        h = ember.relu(x.reshape(x.shape[0], -1) @ w)
        return ember.log_softmax(h, axis=1).mean(axis=0), ember.softmax(h, axis=1).var(axis=0, ddof=1)

    g = Graph()
    x, wv = g.input("x", (None, 2, 2), "float32"), g.input("w", (4, 3), "float32")
    with g.building():
        g.outputs = list(net(x, wv))
    assert "reshape(%0, shape=(None, -1)) : float32[?, 4]" in g.dump()
    f = GraphFunction(g)
    for n in (5, 2, 9, 5):
        xs = rng.standard_normal((n, 2, 2)).astype(np.float32)
        got = f(xs, w)
        known = Graph()
        xk, wk = known.input("x", xs.shape, "float32"), known.input("w", w.shape, "float32")
        with known.building():
            known.outputs = list(net(xk, wk))
        expected = interpret(run_passes(known), xs, w)
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)
    assert sorted(s[0][0] for s in f.concrete) == [2, 5, 9]
    concrete = f.concrete_graph((9, 2, 2), (4, 3))
    assert "reciprocal_count" not in concrete.dump() and "?" not in concrete.dump()


def test_feeding_a_shape_that_does_not_fit_names_the_input_and_the_node():
    g = Graph()
    x, y = g.input("x", (None, 4), "float32"), g.input("y", (None, None), "float32")
    with g.building():
        g.outputs = [x @ y]
    f = GraphFunction(g)
    with pytest.raises(GraphError, match=r"input %0 \(x\) is float32\[\?, 4\].*\[3, 5\]"):
        f(np.ones((3, 5), np.float32), np.ones((4, 2), np.float32))
    with pytest.raises(GraphError, match=r"matmul.*inner dimensions differ \(4 vs 3\)"):
        f(np.ones((3, 4), np.float32), np.ones((3, 2), np.float32))
    with pytest.raises(TypeError, match=r"input %0 \(x\) is float32\[\?, 4\], got an array of float64\[3, 4\]"):
        f(np.ones((3, 4)), np.ones((4, 2), np.float32))
    with pytest.raises(TypeError, match="takes 2 arguments, got 1"):
        f(np.ones((3, 4), np.float32))


def test_shape_rules_carry_unknown_dimensions():
    g = Graph()
    a, b = g.input("a", (None, 1, 3), "float32"), g.input("b", (5, None, 3), "float32")
    with g.building():
        assert (a + b).shape == (5, None, 3)
        assert ember.concat([a, a], axis=2).shape == (None, 1, 6)
        assert ember.concat([a, b[:1]], axis=0).shape == (None, 1, 3)
        assert a[:, 0, 1:].shape == (None, 2)
        assert a[2:].shape == (None, 1, 3)
        assert ember.flatten(b, 1).shape == (5, None)
        assert ember.tile(a, (2, 1, 1)).shape == (None, 1, 3)
        assert ember.sum(b, axis=1).shape == (5, 3)
        assert ember.broadcast_to(a, (a.shape[0], 2, 3)).shape == (None, 2, 3)  # the unknown size kept
        assert b.reshape(5, b.shape[1], 3, 1).shape == (5, None, 3, 1)
        assert a.reshape(a.shape[0], -1).shape == (None, 3)  # the usual flattening of a batch
        assert b.reshape(-1, 3, 1).shape == (None, 3, 1)  # b's unknown size merges: -1 is unknown too
        assert b.reshape(b.shape[1], -1).shape == (None, 15)  # b's size read from b when it runs
        with pytest.raises(ValueError, match=r"leaves more than one size to infer"):
            b.reshape(None, -1)
        with pytest.raises(ShapeError, match="cannot be broadcast"):
            a + g.input("c", (None, 2, 4), "float32")


def test_a_shape_computation_on_an_unknown_size_names_the_function():
    g = Graph()
    x = g.input("x", (None, 3), "float32")
    with pytest.raises(GraphError, match=r"^split: needs the size of an unknown \(None\) dimension"):
        with g.building():
            ember.split(x, 2, axis=0)


def test_training_on_a_template_with_an_unknown_batch_matches_eager_and_learns():
    from sklearn.datasets import load_iris

    data = load_iris()
    features = ((data.data - data.data.mean(0)) / data.data.std(0)).astype(np.float32)
    labels = data.target.astype(np.int64)
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((4, 16)) * 0.5).astype(np.float32)
    w2 = (rng.standard_normal((16, 3)) * 0.5).astype(np.float32)
    b1 = np.zeros(16, np.float32)
    variables = [w1.copy(), b1.copy(), w2.copy()]
    g = Graph()
    x, y = g.input("x", (None, 4), "float32"), g.input("y", (None,), "int64")
    params = [g.input(f"p{k}", v.shape, v.dtype) for k, v in enumerate(variables)]
    with g.building():
        logits = ember.relu(x @ params[0] + params[1]) @ params[2]
        loss = ember.cross_entropy(logits, y)
    g.outputs = [loss, logits]
    g.requests.append(TrainRequest(loss, params, sgd_update, {"lr": 0.1, "momentum": 0.9}, [{} for _ in params]))
    step = GraphFunction(g, bound=dict(zip(params, variables)))

    eager = [ember.tensor(v, requires_grad=True) for v in (w1, b1, w2)]
    optimizer = ember.optim.SGD(eager, lr=0.1, momentum=0.9)
    order = rng.permutation(len(labels))
    for _ in range(15):
        for start in range(0, len(order), 64):  # batches of 64, 64 and 22
            batch = order[start:start + 64]
            loss_value, _ = step(features[batch], labels[batch])
            optimizer.zero_grad()
            expected = ember.cross_entropy(ember.relu(ember.tensor(features[batch]) @ eager[0] + eager[1]) @ eager[2],
                                           ember.tensor(labels[batch]))
            expected.backward()
            optimizer.step()
            np.testing.assert_allclose(loss_value, expected.item(), rtol=1e-5)
    assert sorted(key[0][0] for key in step.concrete) == [22, 64]
    for got, want in zip(variables, eager):
        np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-4, atol=1e-5)
    predictions = interpret(g, features, labels, *variables)[1].argmax(1)
    assert (predictions == labels).mean() >= 0.95


def test_the_ir_dump_shows_the_specialized_graph_first(monkeypatch, capsys):
    monkeypatch.setenv("EMBER_DUMP_IR", "1")
    g = Graph()
    x = g.input("x", (None, 3), "float32")
    with g.building():
        g.outputs = [ember.relu(x).mean(axis=0)]
    GraphFunction(g, dynamic=False)(np.ones((4, 3), np.float32))
    dumps = capsys.readouterr().err.split("// after ")
    assert dumps[1].startswith("specialize\ngraph(%0: float32[4, 3] x)") and "const(0.25)" in dumps[1]
    assert [d.split("\n")[0] for d in dumps[2:]] == list(ember.passes.manager.pipeline())
    GraphFunction(g)(np.ones((4, 3), np.float32))  # one copy for every size: the count is read when run
    dumps = capsys.readouterr().err.split("// after ")
    assert dumps[1].startswith("specialize\ngraph(%0: float32[?, 3] x)") and "reciprocal_count(%1" in dumps[1]


@pytest.mark.parametrize("dynamic", [None, True])
def test_a_variance_over_an_unknown_batch_of_one_is_nan_as_eagerly(dynamic):
    # the count's reciprocal refused one element with ddof=1 (GraphError: '1 elements ... are too few'), where eager
    # mode and PyTorch give nan (a Model.fit's last batch of one)
    spread = ember.jit(lambda x: (x.var(0), x.std(0), x.var(0, unbiased=False)), dynamic=dynamic)
    rng = np.random.default_rng(0)
    for n in (4, 5, 1, 3):
        x = ember.tensor(rng.standard_normal((n, 3)).astype(np.float32))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # of the degrees of freedom, and NumPy's 0 * inf
            expected = [t.numpy() for t in (x.var(0), x.std(0), x.var(0, unbiased=False))]
            got_all = spread(x)
        for got, want in zip(got_all, expected):
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, equal_nan=True)
    assert spread.traces <= 3
