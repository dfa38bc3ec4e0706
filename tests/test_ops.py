"""Generic tests over the op table (tests/op_cases.py and, when present, tests/op_cases_conv.py), the
completeness of the registry's tables, shape-inference errors, and the few op behaviours a table row
cannot express (random masks, running statistics, sparse gradients, ties)."""

from __future__ import annotations

import contextlib
import zlib
from pathlib import Path

import numpy as np
import pytest
from op_cases import CASES

import ember
from ember.backend.dtypes import FLOATING
from ember.ops import NO_ONNX, NON_DIFFERENTIABLE, REGISTRY, Cost, ShapeError, Spec

ALL_CASES = list(CASES)
if (Path(__file__).parent / "op_cases_conv.py").exists():
    from op_cases_conv import CASES as CONV_CASES

    ALL_CASES += CONV_CASES

H = 1e-6  # central-difference step (float64)
MAX_FD_COORDS = 96  # per input; larger inputs are checked at that many random coordinates


# --- helpers ----------------------------------------------------------------------------------------------


def _seed(name: str, salt: int) -> int:
    return zlib.crc32(f"{name}/{salt}".encode())


def _inputs(case) -> list:
    return [np.asarray(a) for a in case.inputs(np.random.default_rng(_seed(case.name, 0)))]


def _is_float(a) -> bool:
    return a.dtype in FLOATING


def _kind(dtype) -> str:
    return "f" if dtype in FLOATING else {"u": "i"}.get(dtype.kind, dtype.kind)


def _tensors(arrays, float_dtype=None, requires_grad=()) -> list:
    out = []
    for i, a in enumerate(arrays):
        if float_dtype is not None and _is_float(a):
            a = a.astype(float_dtype)
        out.append(ember.tensor(a, requires_grad=i in requires_grad))
    return out


def _outputs(result) -> list:
    return list(result) if isinstance(result, (list, tuple)) else [result]


def _numpy(t) -> np.ndarray:
    return np.asarray(t.detach().numpy())


def _grad_indices(case, arrays) -> tuple:
    if case.grad_inputs is not None:
        return tuple(case.grad_inputs)
    return tuple(i for i, a in enumerate(arrays) if _is_float(a))


def _assert_close(actual: np.ndarray, expected: np.ndarray, atol, rtol, what: str):
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    if _kind(expected.dtype) == "f" or _kind(actual.dtype) == "f":
        np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64), atol=atol, rtol=rtol,
                                   err_msg=what)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def _case_ids(cases):
    return [c.name for c in cases]


def _has_float_input(case) -> bool:
    return any(_is_float(a) for a in _inputs(case))


def _upstream(case, outs) -> list:
    rng = np.random.default_rng(_seed(case.name, 1))
    return [ember.tensor(rng.standard_normal(o.shape)) for o in outs]


def _first_grads(case, arrays, idx, upstream, create_graph=False):
    leaves = _tensors(arrays, requires_grad=idx)
    outs = _outputs(case.fn(*leaves))
    targets = [leaves[i] for i in idx]
    grads = ember.grad(outs, targets, grad_outputs=upstream, create_graph=create_graph, allow_unused=True)
    return targets, grads


def _finite_difference(f, arrays, idx, salt_name) -> list:
    """Central differences of the scalar ``f(arrays)`` for every (or, when large, a sample of) coordinate."""
    rng = np.random.default_rng(_seed(salt_name, 3))
    result = []
    for i in idx:
        grad = np.full(arrays[i].shape, np.nan)
        size = arrays[i].size
        coords = range(size) if size <= MAX_FD_COORDS else rng.choice(size, MAX_FD_COORDS, replace=False)
        for j in coords:
            values = []
            for step in (H, -H):
                moved = [a.copy() for a in arrays]
                moved[i].reshape(-1)[j] += step
                values.append(f(moved))
            grad.reshape(-1)[j] = (values[0] - values[1]) / (2 * H)
        result.append(grad)
    return result


def _compare_gradients(analytic, numeric, arrays, idx, case, what):
    for k, i in enumerate(idx):
        g = analytic[k]
        assert g.shape == arrays[i].shape, f"{what} of input {i}: shape {g.shape}, expected {arrays[i].shape}"
        checked = ~np.isnan(numeric[k])
        np.testing.assert_allclose(g[checked], numeric[k][checked], atol=case.grad_atol,
                                   rtol=case.extra.get("grad_rtol", 1e-4), err_msg=f"{what} of input {i}")


FLOAT_CASES = [c for c in ALL_CASES if _has_float_input(c)]
TORCH_CASES = [c for c in ALL_CASES if c.torch_fn is not None]
GRAD_CASES = [c for c in ALL_CASES if c.grad]
DOUBLE_GRAD_CASES = [c for c in GRAD_CASES if c.double_grad]


# --- (a) forward against the float64 NumPy reference --------------------------------------------------------


@pytest.mark.parametrize("case", ALL_CASES, ids=_case_ids(ALL_CASES))
def test_forward_float64(case):
    arrays = _inputs(case)
    expected = [np.asarray(e) for e in _outputs(case.ref(*[a.copy() for a in arrays]))]
    actual = _outputs(case.fn(*_tensors(arrays)))
    assert len(actual) == len(expected)
    for k, (act, exp) in enumerate(zip(actual, expected)):
        assert act.dtype == exp.dtype, f"output {k}: dtype {act.dtype}, reference {exp.dtype}"
        _assert_close(_numpy(act), exp, case.atol, case.rtol, f"output {k}")


@pytest.mark.parametrize("case", FLOAT_CASES, ids=_case_ids(FLOAT_CASES))
def test_forward_float32(case):
    arrays = _inputs(case)
    rounded = [a.astype(np.float32).astype(np.float64) if _is_float(a) else a for a in arrays]
    expected = [np.asarray(e) for e in _outputs(case.ref(*rounded))]
    actual = _outputs(case.fn(*_tensors(arrays, np.float32)))
    atol, rtol = case.extra.get("f32_atol", max(case.atol, 1e-4)), case.extra.get("f32_rtol", max(case.rtol, 1e-4))
    for k, (act, exp) in enumerate(zip(actual, expected)):
        assert _kind(act.dtype) == _kind(exp.dtype), f"output {k}: dtype {act.dtype}, reference {exp.dtype}"
        if _kind(exp.dtype) == "f" and not case.extra.get("fixed_dtype"):
            assert act.dtype == np.float32, f"output {k} of float32 inputs is {act.dtype}"
        _assert_close(_numpy(act), exp, atol, rtol, f"output {k}")


# --- (b) forward against PyTorch ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", TORCH_CASES, ids=_case_ids(TORCH_CASES))
def test_forward_matches_torch(case):
    torch = pytest.importorskip("torch")
    arrays = _inputs(case)
    expected = _outputs(case.torch_fn(*[torch.from_numpy(a.copy()) for a in arrays]))
    expected = [e.detach().cpu().numpy() for e in expected]
    actual = _outputs(case.fn(*_tensors(arrays)))
    assert len(actual) == len(expected)
    for k, (act, exp) in enumerate(zip(actual, expected)):
        assert _kind(act.dtype) == _kind(exp.dtype), f"output {k}: dtype {act.dtype}, torch {exp.dtype}"
        _assert_close(_numpy(act), exp, case.atol, case.rtol, f"output {k} vs torch")


# --- (c) vjp against finite differences ---------------------------------------------------------------------


@pytest.mark.parametrize("case", GRAD_CASES, ids=_case_ids(GRAD_CASES))
def test_vjp_matches_finite_differences(case):
    arrays = _inputs(case)
    idx = _grad_indices(case, arrays)
    assert idx, "a grad row needs a float input"
    with ember.no_grad():
        upstream = _upstream(case, _outputs(case.fn(*_tensors(arrays))))
    targets, grads = _first_grads(case, arrays, idx, upstream)
    for t, g in zip(targets, grads):
        assert g is None or g.dtype == t.dtype, f"gradient dtype {g.dtype} for an input of {t.dtype}"
    analytic = [np.zeros(t.shape) if g is None else _numpy(g) for t, g in zip(targets, grads)]
    up = [_numpy(u) for u in upstream]

    def f(moved):
        with ember.no_grad():
            outs = _outputs(case.fn(*_tensors(moved)))
        return sum(float(np.sum(_numpy(o) * u)) for o, u in zip(outs, up))

    _compare_gradients(analytic, _finite_difference(f, arrays, idx, case.name), arrays, idx, case, "vjp")


# Ops whose one vjp rule runs on the arrays when nothing records the backward (a rule made by
# ember.ops.modes.vjp_rule; batch norm: the same helper on rows of C * H * W) or takes another path then (a
# sparse embedding's RowSparse gradient).
UNRECORDED_PATH_OPS = {name for name, op in REGISTRY.items() if op.rule is not None} | {"batch_norm_train",
                                                                                       "embedding"}
UNRECORDED_PATH_CASES = [c for c in GRAD_CASES if UNRECORDED_PATH_OPS & set(c.covers)]


@pytest.mark.parametrize("float_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", UNRECORDED_PATH_CASES, ids=_case_ids(UNRECORDED_PATH_CASES))
def test_first_order_backward_equals_the_recorded_one_bit_for_bit(case, float_dtype):
    """A first-order backward runs the rule on arrays; with create_graph it runs it on Ember ops."""
    assert {"linear", "relu", "log_softmax", "mul", "sum", "softmax_cross_entropy"} <= UNRECORDED_PATH_OPS
    arrays = [a.astype(float_dtype) if _is_float(a) else a for a in _inputs(case)]
    idx = _grad_indices(case, arrays)
    with ember.no_grad():
        upstream = _upstream(case, _outputs(case.fn(*_tensors(arrays))))
    _, fast = _first_grads(case, arrays, idx, upstream)
    _, recorded = _first_grads(case, arrays, idx, upstream, create_graph=True)
    for a, b in zip(fast, recorded):
        assert (a is None) == (b is None)
        if a is not None:
            a = a.to_dense() if isinstance(a, ember.RowSparse) else a
            np.testing.assert_array_equal(_numpy(a), b.detach().numpy(), err_msg=case.name)


# --- (d) grad of grad ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", DOUBLE_GRAD_CASES, ids=_case_ids(DOUBLE_GRAD_CASES))
def test_double_grad_matches_finite_differences(case):
    arrays = _inputs(case)
    idx = _grad_indices(case, arrays)
    with ember.no_grad():
        upstream = _upstream(case, _outputs(case.fn(*_tensors(arrays))))
    rng = np.random.default_rng(_seed(case.name, 2))
    weights = [rng.standard_normal(arrays[i].shape) for i in idx]

    def dot(grads):
        """sum_i <grad_i, w_i>, or None when no input got a gradient."""
        terms = [(g * ember.tensor(w)).sum() for g, w in zip(grads, weights) if g is not None]
        return sum(terms[1:], terms[0]) if terms else None

    targets, grads = _first_grads(case, arrays, idx, upstream, create_graph=True)
    s = dot(grads)
    if s is not None and s.requires_grad:
        second = ember.grad(s, targets, allow_unused=True)
    else:  # the first gradient does not depend on the inputs: the op is linear in them
        second = [None] * len(targets)
    analytic = [np.zeros(t.shape) if g is None else _numpy(g) for t, g in zip(targets, second)]

    def f(moved):
        value = dot(_first_grads(case, moved, idx, upstream)[1])
        return 0.0 if value is None else value.item()

    _compare_gradients(analytic, _finite_difference(f, arrays, idx, case.name), arrays, idx, case, "grad of grad")


# --- (e) shape rules, costs and covers against what actually ran ----------------------------------------------


@contextlib.contextmanager
def _recording():
    """Record every registry op call (forward and backward): op, input specs, attributes, output."""
    calls, saved = [], {}
    for op in REGISTRY.values():
        saved[op] = forward, residuals = op.forward, op.residuals

        def recorded(xp, *arrays, _op=op, _forward=forward, **attrs):
            out = _forward(xp, *arrays, **attrs)
            calls.append((_op, [Spec(tuple(a.shape), a.dtype) for a in arrays], attrs, out))
            return out

        def recorded_residuals(xp, *arrays, _op=op, _residuals=residuals, **attrs):  # the forward eager mode records
            out, kept = _residuals(xp, *arrays, **attrs)
            calls.append((_op, [Spec(tuple(a.shape), a.dtype) for a in arrays], attrs, out))
            return out, kept

        op.forward = recorded
        if residuals is not None:
            op.residuals = recorded_residuals
    try:
        yield calls
    finally:
        for op, (forward, residuals) in saved.items():
            op.forward, op.residuals = forward, residuals


def _check_cost(op, out, specs, attrs):
    cost = op.cost(out, *specs, **attrs)
    assert isinstance(cost, Cost), f"{op.name}: cost returned {cost!r}"
    for value in cost:
        assert isinstance(value, int) and value >= 0, f"{op.name}: cost {cost} for {specs} {attrs}"


@pytest.mark.parametrize("case", ALL_CASES, ids=_case_ids(ALL_CASES))
def test_infer_and_cost_agree_with_forward(case):
    arrays = _inputs(case)
    idx = _grad_indices(case, arrays) if case.grad else ()
    with _recording() as calls:
        outs = _outputs(case.fn(*_tensors(arrays, requires_grad=idx)))
        if case.grad:
            targets, grads = _first_grads(case, arrays, idx, _upstream(case, outs), create_graph=case.double_grad)
            live = [(g * g).sum() for g in grads if g is not None and g.requires_grad]
            if live:
                ember.grad(live, targets, allow_unused=True)
    assert calls or not case.covers, "the row ran no registry op"
    for op, specs, attrs, out in calls:
        outs = out if isinstance(out, tuple) else (out,)
        inferred = op.infer(*specs, **attrs)
        if inferred is None:  # an effect that defines no value (ember.ops.effects)
            assert op.effect and out is None, f"{op.name}: infer gives no value, forward gave {out!r}"
            _check_cost(op, None, specs, attrs)
            continue
        inferred = inferred if isinstance(inferred, tuple) and not isinstance(inferred, Spec) else (inferred,)
        for o, spec in zip(outs, inferred):
            o = np.asarray(o)
            assert (tuple(spec.shape), spec.dtype) == (o.shape, o.dtype), (
                f"{op.name}{specs} {attrs}: infer says {spec}, forward gave {o.dtype}{list(o.shape)}")
            _check_cost(op, Spec(o.shape, o.dtype), specs, attrs)
    ran = {op.name for op, *_ in calls}
    assert set(case.covers) <= ran, f"covers {sorted(set(case.covers) - ran)} but ran only {sorted(ran)}"


# --- completeness of the table and the registry ----------------------------------------------------------------


def test_every_registry_op_has_a_row():
    covered = set().union(*(c.covers for c in ALL_CASES))
    single_process = {name for name, op in REGISTRY.items() if not op.collective}  # collectives: test_distributed
    assert not sorted(single_process - covered), "ops without a test row"
    assert not sorted(covered - set(REGISTRY)), "rows cover ops that are not registered"


def test_row_names_are_unique():
    names = [c.name for c in ALL_CASES]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_entry_is_complete(name):
    op = REGISTRY[name]
    assert op.name == name
    assert callable(op.forward) and callable(op.infer) and callable(op.cost)
    assert op.vjp is NON_DIFFERENTIABLE or callable(op.vjp), f"{name}: vjp is {op.vjp!r}"
    assert op.onnx is NO_ONNX or (isinstance(op.onnx, str) and op.onnx), f"{name}: onnx is {op.onnx!r}"
    assert op.differentiable == (op.vjp is not NON_DIFFERENTIABLE)


# --- shape-inference errors -------------------------------------------------------------------------------------


def _f(*shape, dtype="float32"):
    return ember.zeros(*shape, dtype=dtype)


def _neg_of_bool_in_a_graph():
    from ember.graph import Graph

    graph = Graph()
    x = graph.input("x", (3,), "bool")
    with graph.building():
        return -x


ERRORS = [
    # id, call, exception types, fragments the message must contain
    ("matmul_inner", lambda: _f(2, 3) @ _f(4, 5), ShapeError, ["matmul", "[2, 3]", "[4, 5]"]),
    ("matmul_batch", lambda: ember.matmul(_f(2, 2, 3), _f(3, 3, 4)), ShapeError, ["matmul", "[2, 2, 3]", "[3, 3, 4]"]),
    ("matmul_0d", lambda: ember.matmul(_f(), _f(3)), ShapeError, ["matmul", "[3]"]),
    ("add_broadcast", lambda: _f(2, 3) + _f(4), ShapeError, ["add", "[2, 3]", "[4]"]),
    ("mul_broadcast", lambda: ember.mul(_f(2, 3, 1), _f(2, 5)), ShapeError, ["mul", "[2, 3, 1]", "[2, 5]"]),
    ("where_broadcast", lambda: ember.where(_f(2, dtype="bool"), _f(3), _f(3)), ShapeError, ["where", "[2]", "[3]"]),
    ("where_not_bool", lambda: ember.where(_f(3), _f(3), _f(3)), TypeError, ["where", "bool"]),
    ("concat_mismatch", lambda: ember.concat([_f(2, 3), _f(2, 4)]), ShapeError, ["concat", "[2, 3]", "[2, 4]"]),
    ("concat_ndim", lambda: ember.concat([_f(2, 3), _f(3)], axis=1), ShapeError, ["concat", "[2, 3]", "[3]"]),
    ("stack_mismatch", lambda: ember.stack([_f(2), _f(3)]), ValueError, ["stack", "[2]", "[3]"]),
    ("reshape_size", lambda: _f(2, 3).reshape(4, 2), ShapeError, ["reshape", "[2, 3]", "[4, 2]"]),
    ("reshape_two_unknown", lambda: _f(2, 3).reshape(-1, -1), ShapeError, ["reshape", "[2, 3]"]),
    ("reshape_unknown_uneven", lambda: _f(2, 3).reshape(4, -1), ShapeError, ["reshape", "[2, 3]", "[4, -1]"]),
    ("broadcast_to", lambda: ember.broadcast_to(_f(3, 2), (3, 4)), ShapeError, ["broadcast_to", "[3, 2]", "[3, 4]"]),
    ("transpose_axes", lambda: ember.transpose(_f(2, 3), (0, 0)), ValueError, ["transpose", "[0, 0]"]),
    ("sum_axis", lambda: ember.sum(_f(2, 3), axis=2), ShapeError, ["sum", "axis 2", "[2, 3]"]),
    ("mean_axis", lambda: ember.mean(_f(2, 3), axis=-3), ShapeError, ["mean", "axis -3", "[2, 3]"]),
    ("max_repeated_axis", lambda: ember.max(_f(2, 3), axis=(1, -1)), ShapeError, ["max", "[2, 3]"]),
    ("softmax_axis", lambda: ember.softmax(_f(2, 3), axis=2), ShapeError, ["softmax", "[2, 3]"]),
    ("squeeze_axis", lambda: ember.squeeze(_f(2, 3), axis=3), ShapeError, ["squeeze", "[2, 3]"]),
    ("unsqueeze_axis", lambda: ember.unsqueeze(_f(2, 3), 4), ValueError, ["unsqueeze", "[2, 3]"]),
    ("split_size_zero", lambda: ember.split(_f(5, 2), 0), ValueError, ["split", "positive"]),
    ("split_sizes", lambda: ember.split(_f(5, 2), [2, 2]), ValueError, ["split", "[2, 2]", "5"]),
    ("pad_width", lambda: ember.pad(_f(2, 3), ((1, 1), (1, 1), (1, 1))), ShapeError, ["pad", "[2, 3]"]),
    ("getitem_out_of_range", lambda: _f(2, 3)[5], (ShapeError, IndexError), ["getitem", "[2, 3]"]),
    ("getitem_too_many", lambda: _f(2, 3)[0, 0, 0], (ShapeError, IndexError), ["getitem", "[2, 3]"]),
    ("getitem_float_index", lambda: _f(2, 3)[np.array([0.5])], IndexError, ["getitem", "float"]),
    ("take_axis", lambda: ember.take(_f(2, 3), ember.tensor([0]), axis=2), ShapeError, ["take", "[2, 3]"]),
    ("take_float_indices", lambda: ember.take(_f(2, 3), _f(2)), TypeError, ["take", "float32"]),
    ("gather_ndim", lambda: ember.gather(_f(2, 3), 1, ember.tensor([0, 1])), ShapeError, ["gather", "[2, 3]", "[2]"]),
    ("index_add_src", lambda: ember.index_add(_f(4, 3), ember.tensor([0, 1]), _f(2, 2)), ShapeError,
     ["index_add", "[4, 3]", "[2, 2]"]),
    ("scatter_add_src", lambda: ember.scatter_add(_f(3, 3), 0, ember.tensor([[0, 1]]), _f(1, 1)), ShapeError,
     ["scatter_add", "[3, 3]", "[1, 1]"]),
    ("one_hot_range", lambda: ember.one_hot(ember.tensor([0, 5]), 3), IndexError, ["one_hot", "3", "5"]),
    ("embedding_ids", lambda: ember.ops.embedding(ember.tensor([0, 7]), _f(5, 3)), IndexError,
     ["embedding", "[5, 3]", "7"]),
    ("embedding_negative_ids", lambda: ember.ops.embedding(ember.tensor([-1]), _f(5, 3)), IndexError,
     ["embedding", "-1"]),
    ("cross_entropy_target_shape", lambda: ember.cross_entropy(_f(3, 4), ember.tensor([0, 1])), ValueError,
     ["cross_entropy", "[3, 4]", "[2]"]),
    ("cross_entropy_target_range", lambda: ember.cross_entropy(_f(2, 4), ember.tensor([0, 4])), IndexError,
     ["cross_entropy", "4"]),
    ("cross_entropy_1d_input_target", lambda: ember.cross_entropy(_f(4), ember.tensor([1])), ValueError,
     ["cross_entropy", "[4]", "int64[1]"]),
    ("cross_entropy_prob_shape", lambda: ember.cross_entropy(_f(2, 4), _f(2, 3)), ValueError,
     ["cross_entropy", "[2, 4]", "[2, 3]"]),
    ("softmax_cross_entropy_shapes", lambda: ember.softmax_cross_entropy(_f(2, 4), _f(2, 3)), ShapeError,
     ["softmax_cross_entropy", "[2, 4]", "[2, 3]"]),
    ("softmax_cross_entropy_axis", lambda: ember.softmax_cross_entropy(_f(2, 4), _f(2, 4), axis=2), ValueError,
     ["softmax_cross_entropy", "2"]),
    ("nll_loss_target_shape", lambda: ember.nll_loss(_f(3, 4), ember.tensor([[0], [1], [2]])), ValueError,
     ["nll_loss", "[3, 4]", "[3, 1]"]),
    ("nll_loss_float_target", lambda: ember.nll_loss(_f(3, 4), _f(3)), TypeError, ["nll_loss", "float32"]),
    ("mse_loss_shape", lambda: ember.mse_loss(_f(3, 4), _f(4)), ValueError, ["mse_loss", "[3, 4]", "[4]"]),
    ("bce_shape", lambda: ember.binary_cross_entropy(_f(3), _f(3, 1)), ValueError,
     ["binary_cross_entropy", "[3]", "[3, 1]"]),
    ("layer_norm_shape", lambda: ember.layer_norm(_f(2, 3), 4), ValueError, ["layer_norm", "[2, 3]", "[4]"]),
    ("batch_norm_weight", lambda: ember.batch_norm(_f(2, 3), _f(3), _f(3), _f(4)), ValueError,
     ["batch_norm", "weight", "[4]"]),
    ("batch_norm_one_value", lambda: ember.batch_norm(_f(1, 3), None, None, training=True), ValueError,
     ["batch_norm", "[1, 3]"]),
    ("dropout_p", lambda: ember.dropout(_f(3), 1.5), ValueError, ["dropout", "1.5"]),
    ("exp_of_bool_free_int_infer", lambda: REGISTRY["exp"].infer(Spec((2,), np.dtype("int64"))), ShapeError,
     ["exp", "int64[2]"]),
    ("add_infer_dtypes", lambda: REGISTRY["add"].infer(Spec((2,), np.dtype("float32")), Spec((2,), np.dtype("int64"))),
     ShapeError, ["add", "float32[2]", "int64[2]"]),
    ("matmul_infer_only", lambda: REGISTRY["matmul"].infer(Spec((2, 3), np.dtype("float32")),
                                                            Spec((4, 5), np.dtype("float32"))),
     ShapeError, ["matmul", "[2, 3]", "[4, 5]"]),
    ("bitwise_on_float", lambda: ember.bitwise_and(_f(2), _f(2)), TypeError, ["bitwise_and", "float32"]),
    ("repeat_negative", lambda: ember.repeat(_f(2), -1), ValueError, ["repeat", "-1"]),
    ("softplus_beta", lambda: ember.softplus(_f(2), beta=0.0), ValueError, ["softplus", "beta"]),
    ("gelu_approximate", lambda: ember.gelu(_f(2), approximate="fast"), ValueError, ["gelu", "fast"]),
    ("loss_reduction", lambda: ember.mse_loss(_f(2), _f(2), reduction="avg"), ValueError, ["mse_loss", "avg"]),
    ("embedding_ids_range", lambda: ember.ops.embedding(ember.tensor([0, 7]), _f(5, 2)), IndexError,
     ["embedding: ids must lie in [0, 5)", "from 0 to 7", "int64[2]"]),
    ("neg_of_bool", lambda: -ember.tensor([True, False]), TypeError, ["neg", "bool[2]", "~"]),
    ("neg_of_bool_in_a_graph", _neg_of_bool_in_a_graph, TypeError, ["neg", "bool[3]", "~"]),
]


def test_forward_errors_of_any_exception_class_name_the_op(monkeypatch):
    class NoLoop(TypeError):  # constructed like NumPy's _UFuncNoLoopError, not from a message alone
        def __init__(self, ufunc, dtypes):
            super().__init__(f"no loop for {ufunc} on {dtypes}")

    def forward(xp, x):
        raise NoLoop("absolute", "float32")

    monkeypatch.setattr(REGISTRY["abs"], "forward", forward)
    with pytest.raises(TypeError, match=r"^abs: no loop for absolute on float32 \(inputs: float32\[2\]\)$"):
        ember.abs(_f(2))


@pytest.mark.parametrize("call, errors, fragments", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error_names_op_and_shapes(call, errors, fragments):
    with pytest.raises(errors) as info:
        call()
    message = str(info.value)
    missing = [f for f in fragments if f not in message]
    assert not missing, f"message {message!r} lacks {missing}"
    assert not message.startswith(f"{fragments[0].split(':')[0]}: {fragments[0].split(':')[0]}:"), message


# --- behaviours outside the table ---------------------------------------------------------------------------------


def test_dropout_mask_statistics_and_scale():
    ember.manual_seed(0)
    x = ember.ones(200, 100, requires_grad=True)
    y = ember.dropout(x, 0.3)
    values = _numpy(y)
    kept = values != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(values[kept], 1 / 0.7, rtol=1e-6)
    assert abs(values.mean() - 1.0) < 0.02
    y.sum().backward()
    np.testing.assert_array_equal(_numpy(x.grad), values)  # the gradient is the scaled mask
    ember.manual_seed(0)
    np.testing.assert_array_equal(_numpy(ember.dropout(ember.ones(200, 100), 0.3)), values)
    assert not _numpy(ember.dropout(x, 1.0)).any()


@pytest.mark.parametrize("p", [1e-4, 0.1, 0.5, 0.9, 0.9999])
@pytest.mark.parametrize("shape", [(7,), (3, 5, 11), (400, 500)])
def test_keep_masks_keep_each_element_with_probability_one_minus_p(p, shape):
    ember.manual_seed(1)
    masks = [ember.random.keep_mask(shape, p) for _ in range(max(1, 400_000 // int(np.prod(shape))))]
    assert all(m.shape == shape and m.dtype == np.bool_ for m in masks)
    kept = np.concatenate([m.reshape(-1) for m in masks])
    spread = 4 * np.sqrt(p * (1 - p) / kept.size) + 1e-6  # four standard deviations
    assert abs(kept.mean() - (1 - p)) < spread
    ember.manual_seed(1)
    np.testing.assert_array_equal(ember.random.keep_mask(shape, p), masks[0])  # seeded: reproducible


def test_batch_norm_updates_running_statistics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 2)) * 2 + 1
    mean, var = ember.zeros(3, dtype="float64"), ember.ones(3, dtype="float64")
    ember.batch_norm(ember.tensor(x), mean, var, training=True, momentum=0.2)
    np.testing.assert_allclose(_numpy(mean), 0.2 * x.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(_numpy(var), 0.8 + 0.2 * x.var(axis=(0, 2), ddof=1), rtol=1e-12)


def test_embedding_sparse_gradient_is_row_sparse():
    rng = np.random.default_rng(0)
    w_init, ids, v = rng.standard_normal((6, 3)), np.array([[1, 4], [1, 1]]), rng.standard_normal((2, 2, 3))
    dense_w = ember.tensor(w_init, requires_grad=True)
    (ember.ops.embedding(ids, dense_w) * ember.tensor(v)).sum().backward()
    w = ember.tensor(w_init, requires_grad=True)
    (ember.ops.embedding(ids, w, sparse=True) * ember.tensor(v)).sum().backward()
    assert isinstance(w.grad, ember.RowSparse)
    assert w.grad.shape == (6, 3)
    np.testing.assert_allclose(_numpy(w.grad.to_dense()), _numpy(dense_w.grad), rtol=1e-12)
    merged = w.grad.coalesce()
    assert list(merged.indices) == [1, 4]
    np.testing.assert_allclose(_numpy(merged.to_dense()), _numpy(dense_w.grad), rtol=1e-12)
    (ember.ops.embedding(ids, w, sparse=True) * ember.tensor(v)).sum().backward()  # sparse + sparse stays sparse
    assert isinstance(w.grad, ember.RowSparse)
    np.testing.assert_allclose(_numpy(w.grad.to_dense()), 2 * _numpy(dense_w.grad), rtol=1e-12)


def test_reduction_ties_share_the_gradient():
    x = ember.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    ember.max(x).backward()
    np.testing.assert_array_equal(_numpy(x.grad), [0, 0.5, 0.5, 0])
    a, b = ember.tensor([1.0, 2.0], requires_grad=True), ember.tensor([1.0, 3.0], requires_grad=True)
    ember.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(_numpy(a.grad), [0.5, 0.0])
    np.testing.assert_array_equal(_numpy(b.grad), [0.5, 1.0])


def test_kinks_take_pytorch_subgradients():
    x = ember.tensor([0.0, 0.0], requires_grad=True)
    (ember.relu(x) + ember.abs(x)).sum().backward()
    np.testing.assert_array_equal(_numpy(x.grad), [0.0, 0.0])


@pytest.mark.parametrize("fn, points, grads", [
    (lambda x: ember.elu(x), [0.0, -0.0], [1.0, 1.0]),
    (lambda x: ember.elu(x, 0.5), [0.0], [0.5]),
    (ember.relu6, [0.0, 6.0], [0.0, 0.0]),
    (lambda x: ember.hardtanh(x, -2.0, 3.0), [-2.0, 3.0], [0.0, 0.0]),
    (ember.hardswish, [-3.0, 3.0], [0.0, 1.0]),
])
def test_activation_kinks_take_pytorch_gradients(fn, points, grads):
    # PyTorch's elu_backward takes x <= 0 as the exponential side, hardtanh_backward and hardswish_backward
    # give the bounds the outer side's gradient.
    x = ember.tensor(points, requires_grad=True)
    fn(x).sum().backward()
    np.testing.assert_array_equal(_numpy(x.grad), grads)


def test_binary_cross_entropy_of_saturated_probabilities_has_a_finite_gradient():
    # sigmoid rounds to exactly 0 or 1 in float32: the clamped log's term must not give 0 / 0 there
    p = ember.tensor([0.0, 1.0, 0.0, 1.0, 0.5], requires_grad=True)
    t = ember.tensor([0.0, 1.0, 1.0, 0.0, 1.0])
    loss = ember.binary_cross_entropy(p, t, reduction="sum")
    assert float(loss) == pytest.approx(200.0 + np.log(2.0))
    loss.backward()
    assert np.isfinite(_numpy(p.grad)).all()
    assert _numpy(p.grad)[4] == -2.0
    x = ember.tensor([-120.0, 30.0], requires_grad=True)
    ember.binary_cross_entropy(ember.sigmoid(x), ember.tensor([0.0, 1.0])).backward()
    np.testing.assert_allclose(_numpy(x.grad), [0.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_cross_entropy_gradient_is_pytorchs_at_probabilities_of_0_and_1(dtype):
    # PyTorch's backward is (x - t) / max(x (1 - x), 1e-12): the clamped logs' derivative gave a confidently wrong
    # 0 or 1 no gradient (0 where torch gives -1e12) and a right one -1 or 1 (where torch gives 0)
    torch = pytest.importorskip("torch")
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.3, 1e-20, 1 - 1e-9], dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.6, 1.0, 0.0], dtype)
    w = np.linspace(0.5, 2.0, 7).astype(dtype)
    for reduction in ("none", "mean", "sum"):
        ours = [ember.tensor(x, requires_grad=True), ember.tensor(t, requires_grad=True)]
        theirs = [torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)]
        loss = ember.binary_cross_entropy(*ours, weight=ember.tensor(w), reduction=reduction)
        expected = torch.nn.functional.binary_cross_entropy(*theirs, weight=torch.tensor(w), reduction=reduction)
        np.testing.assert_allclose(_numpy(loss), expected.detach().numpy(), rtol=1e-6)
        loss.sum().backward()
        expected.sum().backward()
        for o, e in zip(ours, theirs):
            np.testing.assert_allclose(_numpy(o.grad), e.grad.numpy(), rtol=1e-6)


def test_sigmoid_keeps_its_relative_precision_for_negative_inputs():
    # 0.5 * (1 + tanh(x / 2)) cancels for x < 0: float32 was 2e-4 off at x = -10 and 0 from x = -17 on
    x = np.array([-85.0, -40.0, -17.0, -10.0, -1.0, 0.0, 1.0, 10.0, 40.0])
    want = 1.0 / (1.0 + np.exp(-x))
    for dtype, rtol in ((np.float32, 3e-7), (np.float64, 4e-16)):
        got = _numpy(ember.sigmoid(ember.tensor(x.astype(dtype))))
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=0)
    np.testing.assert_array_equal(_numpy(ember.sigmoid(ember.tensor([-np.inf, np.inf, np.nan]))), [0.0, 1.0, np.nan])


@pytest.mark.parametrize("fn, what", [
    (lambda x, t, w: ember.binary_cross_entropy(x, t, weight=w), "binary_cross_entropy: weight"),
    (lambda x, t, w: ember.binary_cross_entropy_with_logits(x, t, weight=w),
     "binary_cross_entropy_with_logits: weight"),
    (lambda x, t, w: ember.binary_cross_entropy_with_logits(x, t, pos_weight=w),
     "binary_cross_entropy_with_logits: pos_weight"),
])
def test_binary_cross_entropy_weights_must_broadcast_to_the_input(fn, what):
    # a (2, 4, 3) weight of (4, 3) losses made two weighted copies of them ('none': shape [2, 4, 3]); PyTorch
    # refuses it
    x, t = ember.full((4, 3), 0.25), ember.ones(4, 3)
    with pytest.raises(ValueError, match=what + r" of shape \[2, 4, 3\] does not broadcast to the input's shape "
                                              r"\[4, 3\]"):
        fn(x, t, ember.ones(2, 4, 3))
    with pytest.raises(ValueError, match=what + r" of shape \[2\] does not broadcast"):
        fn(x, t, ember.ones(2))
    for shape in [(3,), (4, 1), (1, 3), ()]:
        assert fn(x, t, ember.ones(*shape)).shape == ()


def test_binary_cross_entropy_refuses_values_outside_0_1_as_pytorch():
    # an input of 1.5 gave a loss of -0.41 and a target of 2 a negative loss, silently
    with pytest.raises(ValueError, match=r"binary_cross_entropy: every element of input must lie in \[0, 1\]"):
        ember.binary_cross_entropy(ember.tensor([0.5, 1.5]), ember.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: every element of input must lie in \[0, 1\]"):
        ember.binary_cross_entropy(ember.tensor([0.5, float("nan")]), ember.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: every element of target must lie in \[0, 1\]"):
        ember.binary_cross_entropy(ember.tensor([0.5, 0.5]), ember.tensor([1.0, 2.0]))


def test_cast_gradient_returns_to_input_dtype():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = ember.cast(x, "float64")
    (y * ember.tensor([3.0, 4.0], dtype="float64")).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(_numpy(x.grad), [3.0, 4.0])
    assert not x.long().requires_grad


def test_clip_by_tensor_bounds_gives_them_gradients_and_float_bounds_keep_float32():
    # PyTorch's clamp: a Tensor bound broadcasts and gets the gradient where it is the value
    x = ember.tensor([[1.0, -2.0, 3.0], [0.25, 0.75, -1.0]], requires_grad=True)
    lo = ember.tensor([0.0, -3.0, 0.0], requires_grad=True)
    hi = ember.tensor([[2.0], [0.5]], requires_grad=True)
    y = x.clamp(min=lo, max=hi)
    (y * ember.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(_numpy(y), [[1.0, -2.0, 2.0], [0.25, 0.5, 0.0]])
    np.testing.assert_array_equal(_numpy(x.grad), [[1, 2, 0], [1, 0, 0]])
    np.testing.assert_array_equal(_numpy(lo.grad), [0, 0, 3])
    np.testing.assert_array_equal(_numpy(hi.grad), [[3], [2]])
    ints = ember.tensor([1, -2, 3])
    assert ints.clamp(-1.5, 2.5).dtype == np.float32  # a float bound is a weak scalar
    np.testing.assert_array_equal(_numpy(ints.clamp(-1.5, 2.5)), [1.0, -1.5, 2.5])
    assert ints.clamp(max=2).dtype == np.int64


def test_reductions_of_empty_and_0d_tensors_over_an_axis_follow_pytorch():
    empty = ember.zeros((0, 3), requires_grad=True)
    for reduced in (empty.amax(1), empty.max(dim=-1)[0], empty.argmin(1), empty.amin(dim=1, keepdim=True)):
        assert reduced.shape == ((0, 1) if reduced.ndim == 2 else (0,))
    empty.amax(1).sum().backward()
    assert empty.grad.shape == (0, 3)
    with pytest.raises(ValueError, match="max: the reduction of an empty tensor of shape \\[0, 3\\] over axis 0"):
        empty.amax(0)
    x = ember.tensor(2.0, requires_grad=True)  # a 0-d tensor takes axis 0 and -1
    outs = [x.mean(0), x.mean(-1, keepdim=True), ember.logsumexp(x, (0,)), x.var(0, correction=0),
            x.std(-1, unbiased=False)]
    assert [o.shape for o in outs] == [()] * 5
    np.testing.assert_allclose([float(o) for o in outs], [2.0, 2.0, 2.0, 0.0, 0.0])
    with pytest.warns(RuntimeWarning, match="std: degrees of freedom <= 0"):
        assert np.isnan(float(x.std(0)))  # one element's unbiased estimate, as PyTorch
    (outs[0] + outs[2]).backward()
    np.testing.assert_allclose(_numpy(x.grad), 2.0)
