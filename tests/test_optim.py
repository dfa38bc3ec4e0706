"""ember.optim: update rules against torch.optim (and a float64 TensorFlow-formula reference for FTRL), sparse
rules, state_dict round trips, validation, and gradient clipping against torch.nn.utils."""

import copy

import numpy as np
import pytest

import ember
from ember import optim
from ember.optim import functional as F

SHAPES = [(13, 7), (5,), ()]
STEPS = 60


def _grads(seed, shapes=SHAPES, steps=STEPS):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(steps)]


def _start(seed, shapes=SHAPES):
    rng = np.random.default_rng(seed + 1000)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


DENSE_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.02, "betas": (0.4, 0.9), "eps": 1e-6, "maximize": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.01}),
    ("RMSprop", {"lr": 0.005, "alpha": 0.3, "centered": True, "momentum": 0.5, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01}),
    ("Adagrad", {"lr": 0.1, "eps": 1e-6, "maximize": True}),
]


@pytest.mark.parametrize("name,kwargs", DENSE_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(DENSE_CASES)])
def test_dense_optimizers_match_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    start, grads = _start(1), _grads(2)
    ours = [ember.tensor(a, requires_grad=True) for a in start]
    theirs = [torch.tensor(a, requires_grad=True) for a in start]
    buffers = [p.array for p in ours]
    opt = getattr(optim, name)(ours, **kwargs)
    ref = getattr(torch.optim, name)(theirs, **kwargs)
    for step_grads in grads:
        for p, t, g in zip(ours, theirs, step_grads):
            p.grad = ember.tensor(g)
            t.grad = torch.tensor(g)
        opt.step()
        ref.step()
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(p.array, t.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert all(p.array is b for p, b in zip(ours, buffers))  # updated in place
    for p, t in zip(ours, theirs):
        for key, value in ref.state[t].items():
            if key == "step":
                assert opt.state[p][key] == int(value)
            elif value is not None:
                np.testing.assert_allclose(opt.state[p][key], value.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.05, "momentum": 0.9}), ("Adam", {"lr": 0.01}),
                                         ("AdamW", {"lr": 0.01}), ("RMSprop", {"lr": 0.01}), ("Rprop", {"lr": 0.01})])
def test_a_tensor_lr_matches_torch(name, kwargs):
    """PyTorch takes ``lr`` as a 1-element Tensor, in the defaults or a param group (Ember refused it)."""
    torch = pytest.importorskip("torch")
    start, grads = _start(23), _grads(24, steps=10)
    lr = kwargs.pop("lr")
    ours = [ember.tensor(a, requires_grad=True) for a in start]
    theirs = [torch.tensor(a, requires_grad=True) for a in start]
    opt = getattr(optim, name)([{"params": ours[:1], "lr": ember.tensor([lr / 2])}, {"params": ours[1:]}],
                               lr=ember.tensor(lr), **kwargs)
    ref = getattr(torch.optim, name)([{"params": theirs[:1], "lr": torch.tensor([lr / 2])}, {"params": theirs[1:]}],
                                     lr=torch.tensor(lr), **kwargs)
    assert [g["lr"] for g in opt.param_groups] == [float(g["lr"]) for g in ref.param_groups]
    for step_grads in grads:
        for p, t, g in zip(ours, theirs, step_grads):
            p.grad, t.grad = ember.tensor(g), torch.tensor(g)
        opt.step()
        ref.step()
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.array, t.detach().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=f"{name}: a Tensor lr must have 1 element, got shape \\[2\\]"):
        getattr(optim, name)(ours, lr=ember.tensor([lr, lr]), **kwargs)


def test_a_torch_tensor_lr_in_a_torch_state_dict_loads_as_a_number():
    """A torch optimizer built with a Tensor lr saves it as a Tensor: it loads as its value (the group held the torch
    Tensor, so schedulers gave torch Tensors as lrs), as does a torch Tensor lr given to the constructor (a
    TypeError before)."""
    torch = pytest.importorskip("torch")
    theirs = torch.zeros(3, requires_grad=True)
    ref = torch.optim.Adam([theirs], lr=torch.tensor(0.01))
    theirs.grad = torch.ones(3)
    ref.step()
    opt = optim.Adam([ember.zeros(3, requires_grad=True)])
    opt.load_state_dict(ref.state_dict())
    assert type(opt.param_groups[0]["lr"]) is float and opt.param_groups[0]["lr"] == float(torch.tensor(0.01))
    sched = optim.StepLR(opt, step_size=1, gamma=0.5)
    opt.step()
    sched.step()
    assert type(sched.get_last_lr()[0]) is float
    assert optim.SGD([ember.zeros(2, requires_grad=True)], lr=torch.tensor(0.5)).param_groups[0]["lr"] == 0.5


FLOAT64_CASES = [(name, kw) for name, kw in DENSE_CASES if name in ("Adam", "AdamW") or kw.get("centered")]


@pytest.mark.parametrize("name,kwargs", FLOAT64_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FLOAT64_CASES)])
def test_float64_optimizers_match_torch_to_float64_rounding(name, kwargs):
    """The moving averages' lerp weight (1 - beta1, 1 - alpha) is a float64 for float64 parameters, as in torch."""
    torch = pytest.importorskip("torch")
    start, grads = _start(21), _grads(22, steps=30)
    ours = [ember.tensor(a.astype(np.float64), requires_grad=True) for a in start]
    theirs = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in start]
    opt, ref = getattr(optim, name)(ours, **kwargs), getattr(torch.optim, name)(theirs, **kwargs)
    for step_grads in grads:
        for p, t, g in zip(ours, theirs, step_grads):
            p.grad, t.grad = ember.tensor(g.astype(np.float64)), torch.tensor(g.astype(np.float64))
        opt.step()
        ref.step()
    for p, t in zip(ours, theirs):
        assert p.dtype == np.float64
        np.testing.assert_allclose(p.array, t.detach().numpy(), rtol=1e-13, atol=1e-14)


LARGE_SHAPES = [(160, 128), (128, 160), (16400,)]  # at least openblas.AXPBY_MIN_SIZE elements: the one-pass updates


ONE_PASS_CASES = [(name, kw) for name, kw in DENSE_CASES if name in ("SGD", "Adagrad")]


@pytest.mark.parametrize("name,kwargs", ONE_PASS_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ONE_PASS_CASES)])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("blas", [True, False], ids=["axpby", "numpy"])
def test_one_pass_updates_of_large_parameters_match_torch(name, kwargs, order, blas, monkeypatch):
    """Parameters large enough for OpenBLAS's axpby (C- and Fortran-ordered): the same numbers as torch, with the
    routine and with the NumPy lines a NumPy on another BLAS runs instead."""
    torch = pytest.importorskip("torch")
    from ember.backend import openblas

    if not blas:
        monkeypatch.setattr(openblas, "_AXPBY", {})
    start, grads = _start(5, LARGE_SHAPES), _grads(6, LARGE_SHAPES, steps=20)
    ours = [ember.tensor(np.asarray(a, order=order), requires_grad=True) for a in start]
    theirs = [torch.tensor(a, requires_grad=True) for a in start]
    buffers = [p.array for p in ours]
    opt, ref = getattr(optim, name)(ours, **kwargs), getattr(torch.optim, name)(theirs, **kwargs)
    for step_grads in grads:
        for p, t, g in zip(ours, theirs, step_grads):
            p.grad = ember.tensor(np.asarray(g, order=order))
            t.grad = torch.tensor(g)
        opt.step()
        ref.step()
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(p.array, t.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert all(p.array is b for p, b in zip(ours, buffers))


def test_sgd_update_on_large_arrays_matches_numpy_formula():
    """The functional rule's one-pass path (plain, momentum, dampening) against the float64 formula."""
    rng = np.random.default_rng(7)
    param = rng.standard_normal((130, 130)).astype(np.float32)
    expected, buf = param.astype(np.float64), None
    state: dict = {}
    for _ in range(5):
        grad = rng.standard_normal((130, 130)).astype(np.float32)
        F.sgd_update(param, grad, state, lr=0.1, momentum=0.9, dampening=0.25)
        buf = grad.astype(np.float64) if buf is None else 0.9 * buf + 0.75 * grad
        expected -= 0.1 * buf
        np.testing.assert_allclose(state["momentum_buffer"], buf, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(param, expected, rtol=1e-5, atol=1e-5)
    plain = param.copy()
    F.sgd_update(plain, grad, {}, lr=0.5)
    np.testing.assert_allclose(plain, param - 0.5 * grad, rtol=1e-6, atol=1e-6)


def test_param_groups_match_torch():
    torch = pytest.importorskip("torch")
    start, grads = _start(3), _grads(4)
    ours = [ember.tensor(a, requires_grad=True) for a in start]
    theirs = [torch.tensor(a, requires_grad=True) for a in start]
    groups = lambda ps: [{"params": ps[:1], "lr": 0.1, "momentum": 0.9}, {"params": ps[1:]}]  # noqa: E731
    opt = optim.SGD(groups(ours), lr=0.01, nesterov=False, momentum=0.5)
    ref = torch.optim.SGD(groups(theirs), lr=0.01, momentum=0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    for step_grads in grads[:20]:
        for p, t, g in zip(ours, theirs, step_grads):
            p.grad, t.grad = ember.tensor(g), torch.tensor(g)
        opt.step()
        ref.step()
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.array, t.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_decoupled_weight_decay_is_a_group_option_as_in_torch():
    """Adam's ``decoupled_weight_decay`` is a param group's key in torch: one group may take AdamW's rule (it was
    read from the optimizer only, so such a group kept L2 decay), and a state dict saves and restores it (AdamW's
    stays True, as torch's)."""
    torch = pytest.importorskip("torch")
    start, grads = _start(5, [(4,), (3,)]), _grads(6, [(4,), (3,)], steps=6)
    ours = [ember.tensor(a, requires_grad=True) for a in start]
    theirs = [torch.tensor(a, requires_grad=True) for a in start]
    groups = lambda ps: [{"params": ps[:1], "decoupled_weight_decay": True}, {"params": ps[1:]}]  # noqa: E731
    opt = optim.Adam(groups(ours), lr=0.1, weight_decay=0.5)
    ref = torch.optim.Adam(groups(theirs), lr=0.1, weight_decay=0.5)
    for step_grads in grads:
        for p, t, g in zip(ours, theirs, step_grads):
            p.grad, t.grad = ember.tensor(g), torch.tensor(g)
        opt.step()
        ref.step()
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.array, t.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert [g["decoupled_weight_decay"] for g in opt.state_dict()["param_groups"]] == [True, False]
    adam = optim.Adam([ember.ones(2, requires_grad=True)], weight_decay=0.5)
    adam.load_state_dict(optim.Adam([ember.ones(2, requires_grad=True)], decoupled_weight_decay=True).state_dict())
    assert adam.param_groups[0]["decoupled_weight_decay"] is True
    adamw = optim.AdamW([ember.ones(2, requires_grad=True)])
    adamw.load_state_dict(optim.Adam([ember.ones(2, requires_grad=True)]).state_dict())
    assert adamw.param_groups[0]["decoupled_weight_decay"] is True


def _ftrl_reference(w, grads, *, lr, power, init, l1, l2, shrink, beta):
    """TensorFlow's FTRL-Proximal update (ApplyFtrlV2), in float64."""
    w = w.astype(np.float64)
    acc = np.full_like(w, init)
    lin = np.zeros_like(w)
    l2 = l2 + beta / (2 * lr)
    for g in grads:
        g = g.astype(np.float64)
        g_shrunk = g + 2 * shrink * w
        new_acc = acc + g**2
        lin = lin + g_shrunk - (new_acc ** (-power) - acc ** (-power)) / lr * w
        quadratic = new_acc ** (-power) / lr + 2 * l2
        w = (np.clip(lin, -l1, l1) - lin) / quadratic
        acc = new_acc
    return w, acc, lin


FTRL_CASES = [
    {"lr": 0.1, "learning_rate_power": -0.5, "initial_accumulator_value": 0.1, "l1": 0.0, "l2": 0.0,
     "l2_shrinkage": 0.0, "beta": 0.0},
    {"lr": 0.05, "learning_rate_power": -0.5, "initial_accumulator_value": 0.1, "l1": 0.5, "l2": 0.1,
     "l2_shrinkage": 0.0, "beta": 0.0},
    {"lr": 0.2, "learning_rate_power": -0.3, "initial_accumulator_value": 0.5, "l1": 0.1, "l2": 0.01,
     "l2_shrinkage": 0.05, "beta": 0.5},
    {"lr": 0.1, "learning_rate_power": 0.0, "initial_accumulator_value": 0.0, "l1": 0.05, "l2": 0.2,
     "l2_shrinkage": 0.1, "beta": 0.0},
]


@pytest.mark.parametrize("hyper", FTRL_CASES)
def test_ftrl_matches_tensorflow_formula(hyper):
    start, grads = _start(5)[0], [g[0] for g in _grads(6)]
    ref = _ftrl_reference(start, grads, lr=hyper["lr"], power=hyper["learning_rate_power"],
                          init=hyper["initial_accumulator_value"], l1=hyper["l1"], l2=hyper["l2"],
                          shrink=hyper["l2_shrinkage"], beta=hyper["beta"])
    w64, state = start.astype(np.float64), {}
    for g in grads:
        F.ftrl_update(w64, g.astype(np.float64), state, **hyper)
    np.testing.assert_allclose(w64, ref[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(state["accumulator"], ref[1], rtol=1e-10)
    np.testing.assert_allclose(state["linear"], ref[2], rtol=1e-10, atol=1e-12)
    w = ember.tensor(start, requires_grad=True)
    opt = optim.Ftrl([w], **hyper)
    for g in grads:
        w.grad = ember.tensor(g)
        opt.step()
    np.testing.assert_allclose(w.array, ref[0], rtol=2e-4, atol=2e-5)
    if hyper["l1"] >= 0.5:
        assert (w.array == 0).any()  # L1 makes exact zeros


def test_ftrl_refuses_an_lr_a_schedule_brought_to_zero():
    # a schedule ending at 0 (PolynomialLR) made the next step divide by zero: a bare ZeroDivisionError
    w = ember.tensor(_start(5)[0], requires_grad=True)
    opt = optim.Ftrl([w], lr=0.1)
    schedule = optim.lr_scheduler.PolynomialLR(opt, total_iters=1)
    w.grad = ember.ones_like(w)
    opt.step()
    schedule.step()
    with pytest.raises(ValueError, match="Ftrl: lr must be > 0, got 0.0"):
        opt.step()


def _sparse_steps(seed, rows=20, dim=3, steps=STEPS, touched=None):
    """Per step: ids (with repeats) and values; ``touched`` fixes the set of rows used every step."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        ids = rng.choice(touched, size=8) if touched is not None else rng.integers(0, rows, size=8)
        if touched is not None:
            ids = np.concatenate([ids, touched])
        out.append((ids.astype(np.int64), rng.standard_normal((len(ids), dim)).astype(np.float32)))
    return out


def _row_sparse(ids, values, shape):
    return ember.RowSparse(ids, ember.tensor(values), shape)


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "SparseAdam"])
@pytest.mark.parametrize("values_shape", [(4, 1), (4,), (4, 3, 1)])
def test_a_row_sparse_grad_whose_rows_only_broadcast_is_refused_as_torch(name, values_shape):
    # values of shape (4, 1) for a (5, 3) parameter were broadcast over each row by the eager update (every
    # column moved by the one value), where a graph's update and PyTorch's sparse tensor refuse them
    torch = pytest.importorskip("torch")
    ids, values = np.array([0, 1, 1, 4]), np.ones(values_shape, np.float32)
    with pytest.raises(RuntimeError):
        torch.sparse_coo_tensor(torch.tensor(ids)[None], torch.tensor(values), (5, 3))
    param = ember.nn.Parameter(ember.zeros((5, 3)))
    param.grad = _row_sparse(ids, values, (5, 3))
    with pytest.raises(ValueError, match=r"sparse_update: the gradient's values must have the parameter's row shape"):
        getattr(optim, name)([param], lr=0.1).step()
    np.testing.assert_array_equal(param.detach().numpy(), np.zeros((5, 3)))


@pytest.mark.parametrize("ids, values_shape", [([0, 1, 1, 4], (1, 3)), ([2], (4, 3)), ([0, 1], (4, 3))])
def test_sparse_update_refuses_values_of_another_row_count_than_the_indices_as_torch(ids, values_shape):
    # one row of values for four indices was spread over all four by the eager rule (and four rows for one index
    # summed into it), where a graph's update and PyTorch's sparse tensor refuse them
    torch = pytest.importorskip("torch")
    from ember.optim.functional import sparse_sgd_update

    ids, values = np.array(ids), np.ones(values_shape)
    with pytest.raises(RuntimeError):
        torch.sparse_coo_tensor(torch.tensor(ids).reshape(1, -1), torch.tensor(values), (5, 3))
    param = ember.zeros((5, 3), dtype="float64")
    with pytest.raises(ValueError, match=r"sparse_update: the gradient's values must have .* one row per index"):
        ember.ops.sparse_update(param, _row_sparse(ids, values, (5, 3)), sparse_sgd_update, {}, {"lr": 0.5})
    np.testing.assert_array_equal(param.numpy(), np.zeros((5, 3)))


SPARSE_TORCH_CASES = [
    ("SparseAdam", {"lr": 0.01}),
    ("SparseAdam", {"lr": 0.05, "betas": (0.5, 0.99), "eps": 1e-6, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.2, "maximize": True}),
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "maximize": True}),
]


@pytest.mark.filterwarnings("ignore:Sparse invariant checks")
@pytest.mark.parametrize("name,kwargs", SPARSE_TORCH_CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(SPARSE_TORCH_CASES)])
def test_sparse_optimizers_match_torch_sparse_grads(name, kwargs):
    torch = pytest.importorskip("torch")
    shape = (20, 3)
    start = _start(7, [shape])[0]
    ours = ember.tensor(start, requires_grad=True)
    theirs = torch.tensor(start, requires_grad=True)
    opt = getattr(optim, name)([ours], **kwargs)
    ref = getattr(torch.optim, name)([theirs], **kwargs)
    for ids, values in _sparse_steps(8):
        ours.grad = _row_sparse(ids, values, shape)
        theirs.grad = torch.sparse_coo_tensor(torch.tensor(ids)[None], torch.tensor(values), shape,
                                           check_invariants=True)
        opt.step()
        ref.step()
        np.testing.assert_allclose(ours.array, theirs.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_sparse_adam_is_lazy():
    shape = (10, 2)
    w = ember.zeros(*shape, requires_grad=True)
    opt = optim.SparseAdam([w], lr=0.1)
    w.grad = _row_sparse(np.array([1, 4, 1]), np.ones((3, 2), np.float32), shape)
    opt.step()
    w.grad = _row_sparse(np.array([4]), np.ones((1, 2), np.float32), shape)
    opt.step()
    state = opt.state[w]
    assert state["step"] == 2
    assert (state["exp_avg"][[0, 2, 3, 5]] == 0).all() and (w.array[[0, 2, 3]] == 0).all()
    assert (state["exp_avg"][1] == np.float32(0.2)).all()  # untouched in step 2: no decay
    assert (w.array[1] != 0).all() and (w.array[4] < w.array[1]).all()


@pytest.mark.parametrize("rule,dense,hyper", [
    (F.sparse_sgd_update, F.sgd_update, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
    (F.sparse_sgd_update, F.sgd_update, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "maximize": True}),
    (F.sparse_sgd_update, F.sgd_update, {"lr": 0.1, "momentum": 0.7, "dampening": 0.2}),
    (F.sparse_adagrad_update, F.adagrad_update, {"lr": 0.1, "weight_decay": 0.05, "lr_decay": 0.01}),
    (F.sparse_ftrl_update, F.ftrl_update, {"lr": 0.1, "l1": 0.05, "l2": 0.01, "l2_shrinkage": 0.02}),
    (F.sparse_ftrl_update, F.ftrl_update, {"lr": 0.1, "learning_rate_power": -0.7, "beta": 0.3}),
])
def test_sparse_rules_equal_dense_rules_on_touched_rows(rule, dense, hyper):
    shape, touched = (12, 4), np.array([0, 3, 4, 9])
    start = _start(9, [shape])[0]
    w_sparse, w_dense, s_sparse, s_dense = start.copy(), start[touched].copy(), {}, {}
    for ids, values in _sparse_steps(10, dim=4, touched=touched):
        grad = _row_sparse(ids, values, shape)
        rule(w_sparse, grad, s_sparse, **hyper)
        dense(w_dense, grad.to_dense().array[touched], s_dense, **hyper)
    np.testing.assert_allclose(w_sparse[touched], w_dense, rtol=1e-5, atol=1e-6)
    untouched = np.setdiff1d(np.arange(shape[0]), touched)
    np.testing.assert_array_equal(w_sparse[untouched], start[untouched])
    for key, value in s_dense.items():
        if key != "step":
            np.testing.assert_allclose(s_sparse[key][touched], value, rtol=1e-5, atol=1e-6)


def test_sparse_gradient_from_embedding_backward():
    table = ember.randn(50, 8, requires_grad=True)
    before = table.array.copy()
    opt = optim.Adagrad([table], lr=0.5)
    ids = ember.tensor([[1, 7, 7], [3, 1, 49]])
    out = ember.ops.embedding(ids, table, sparse=True)
    (out * out).sum().backward()
    assert isinstance(table.grad, ember.RowSparse)
    opt.step()
    changed = np.flatnonzero((table.array != before).any(axis=1))
    np.testing.assert_array_equal(changed, [1, 3, 7, 49])


def test_sparse_gradient_errors():
    w = ember.zeros(6, 2, requires_grad=True)
    w.grad = _row_sparse(np.array([0]), np.ones((1, 2), np.float32), (6, 2))
    for cls in (optim.Adam, optim.AdamW, optim.RMSprop):
        with pytest.raises(TypeError, match=f"{cls.__name__} does not support sparse gradients"):
            cls([w]).step()
    w.grad = ember.ones(6, 2)
    with pytest.raises(TypeError, match="SparseAdam supports only sparse gradients"):
        optim.SparseAdam([w]).step()


STATE_CASES = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    ("Ftrl", {"lr": 0.1, "l1": 0.01}),
    ("Adamax", {"lr": 0.01, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.02, "betas": (0.5, 0.9)}),  # rho_t passes 5 at the seventh step: both branches saved
]


@pytest.mark.parametrize("name,kwargs", STATE_CASES, ids=[n for n, _ in STATE_CASES])
def test_state_dict_round_trip_continues_identically(name, kwargs):
    start, grads = _start(11), _grads(12, steps=30)

    def train(params, opt, steps):
        for step_grads in steps:
            for p, g in zip(params, step_grads):
                p.grad = ember.tensor(g)
            opt.step()

    params = [ember.tensor(a, requires_grad=True) for a in start]
    opt = getattr(optim, name)([{"params": params[:1]}, {"params": params[1:], "lr": 0.02}], **kwargs)
    train(params, opt, grads[:15])
    saved = copy.deepcopy(opt.state_dict())
    assert sorted(saved["state"]) == [0, 1, 2]
    assert [g["params"] for g in saved["param_groups"]] == [[0], [1, 2]]
    middle = [p.array.copy() for p in params]
    train(params, opt, grads[15:])

    resumed = [ember.tensor(a, requires_grad=True) for a in middle]
    opt2 = getattr(optim, name)([{"params": resumed[:1]}, {"params": resumed[1:]}], lr=0.5)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[1]["lr"] == 0.02 and opt2.param_groups[1]["params"][0] is resumed[1]
    train(resumed, opt2, grads[15:])
    for p, q in zip(params, resumed):
        np.testing.assert_array_equal(p.array, q.array)


def _tensor_momentum(module):
    """A torch-style optimizer (``module`` is ember or torch) whose own step() keeps Tensors in its state: a 0-d
    float ``step`` and a per-row momentum of another shape than its parameter's."""

    class RowMomentum(module.optim.Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, {"lr": lr})

        def step(self, closure=None):
            with module.no_grad():
                for group in self.param_groups:
                    for p in group["params"]:
                        state = self.state[p]
                        if not state:
                            state["step"] = module.tensor(0.0)
                            state["rows"] = module.zeros(p.shape[0], dtype=p.dtype)
                        state["step"] += 1
                        state["rows"].mul_(0.9).add_(p.grad.mean(1))
                        p.sub_(group["lr"] * state["rows"].unsqueeze(1) / state["step"].item())

    return RowMomentum


def test_an_optimizer_with_its_own_step_resumes_with_its_tensor_state():
    """A torch-style subclass writes Tensors of its own shapes into self.state; load_state_dict gave them back as
    NumPy arrays (its step() then failed: 'ndarray' has no 'mul_') or refused the per-row shape."""
    start, grads = _start(11)[0], [g[0] for g in _grads(12, steps=6)]

    def train(param, opt, steps):
        for g in steps:
            param.grad = ember.tensor(g)
            opt.step()

    param = ember.tensor(start, requires_grad=True)
    opt = _tensor_momentum(ember)([param])
    train(param, opt, grads[:3])
    saved = copy.deepcopy(opt.state_dict())
    resumed = ember.tensor(param.array.copy(), requires_grad=True)
    opt2 = _tensor_momentum(ember)([resumed])
    opt2.load_state_dict(saved)
    state = opt2.state[resumed]
    assert isinstance(state["rows"], ember.Tensor) and state["rows"] is not saved["state"][0]["rows"]
    assert isinstance(state["step"], ember.Tensor) and state["step"].item() == 3
    train(param, opt, grads[3:])
    train(resumed, opt2, grads[3:])
    np.testing.assert_array_equal(param.array, resumed.array)

    torch = pytest.importorskip("torch")
    theirs = torch.tensor(start, requires_grad=True)
    ref = _tensor_momentum(torch)([theirs])
    for g in grads[:3]:
        theirs.grad = torch.tensor(g)
        ref.step()
    ours = ember.tensor(theirs.detach().numpy().copy(), requires_grad=True)
    opt3 = _tensor_momentum(ember)([ours])
    opt3.load_state_dict(ref.state_dict())
    for g in grads[3:]:
        theirs.grad = torch.tensor(g)
        ref.step()
    train(ours, opt3, grads[3:])
    np.testing.assert_allclose(ours.array, theirs.detach().numpy(), rtol=1e-5, atol=1e-7)


def test_an_optimizer_with_its_own_setstate_copies_as_torch():
    """A torch-style subclass's __setstate__ calls the base's (torch's SGD and Adam do, to fill in an option an older
    pickle lacks); Ember's Optimizer had none, so copy.deepcopy of such an optimizer failed with an AttributeError."""
    start, grads = _start(12)[0], [g[0] for g in _grads(13, steps=6)]

    class Filled(_tensor_momentum(ember)):
        def __setstate__(self, state):
            super().__setstate__(state)
            for group in self.param_groups:
                group.setdefault("nesterov", False)

    param = ember.tensor(start, requires_grad=True)
    opt = Filled([param])
    for g in grads[:3]:
        param.grad = ember.tensor(g)
        opt.step()
    copied = copy.deepcopy(opt)
    twin = copied.param_groups[0]["params"][0]
    assert copied.param_groups[0]["nesterov"] is False and "nesterov" not in opt.param_groups[0]
    for g in grads[3:]:
        param.grad, twin.grad = ember.tensor(g), ember.tensor(g)
        opt.step()
        copied.step()
    np.testing.assert_array_equal(param.array, twin.array)


def _as_numpy(tree, torch):
    """A torch optimizer's state dict with its tensors as NumPy arrays (its layout: 0-d tensors for numbers)."""
    if isinstance(tree, torch.Tensor):
        return tree.numpy()
    if isinstance(tree, dict):
        return {key: _as_numpy(value, torch) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_as_numpy(value, torch) for value in tree]
    return tree


def _resumed_from_torch(torch, name: str, kwargs: dict, start: list, grads: list, switch: int, convert,
                        check=lambda pairs: None):
    """A torch optimizer run for ``switch`` steps, its state dict (through ``convert``) loaded into Ember's, then
    both stepped on the rest of ``grads``, ``check(pairs)`` after each step: (Ember's optimizer, the parameter
    pairs)."""
    theirs = [torch.tensor(a, requires_grad=True) for a in start]
    ref = getattr(torch.optim, name)(theirs, **kwargs)
    for step_grads in grads[:switch]:
        for t, g in zip(theirs, step_grads):
            t.grad = torch.tensor(g)
        ref.step()
    ours = [ember.tensor(t.detach().numpy().copy(), requires_grad=True) for t in theirs]
    opt = getattr(optim, name)(ours, **kwargs)
    opt.load_state_dict(convert(ref.state_dict()))
    for step_grads in grads[switch:]:
        for p, t, g in zip(ours, theirs, step_grads):
            p.grad, t.grad = ember.tensor(g), torch.tensor(g)
        opt.step()
        ref.step()
        check(list(zip(ours, theirs)))
    return opt, list(zip(ours, theirs))


@pytest.mark.parametrize("name,kwargs", [("NAdam", {"lr": 0.05}), ("ASGD", {"lr": 0.1, "lambd": 0.5, "t0": 2})])
def test_loading_a_torch_state_dict_with_scalar_tensors_continues_as_torch(name, kwargs):
    """torch keeps NAdam's mu_product and ASGD's eta and mu as 0-d tensors, Ember as numbers: loaded into a 0-d
    parameter's state they must still change every step (they stayed at their loaded values, or failed)."""
    torch = pytest.importorskip("torch")
    start, grads = _start(31, [(), (4,)]), _grads(32, [(), (4,)], steps=12)
    def same(pairs):
        for p, t in pairs:
            np.testing.assert_allclose(p.array, t.detach().numpy(), rtol=1e-6, atol=1e-7)

    opt, pairs = _resumed_from_torch(torch, name, kwargs, start, grads, 6,
                                     lambda state: _as_numpy(copy.deepcopy(state), torch), same)
    for key in opt.number_state:
        assert all(isinstance(opt.state[p][key], float) for p, _ in pairs)


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {"lr": 0.05, "momentum": 0.9}), ("Adam", {"lr": 0.01, "amsgrad": True}), ("NAdam", {"lr": 0.05}),
    ("ASGD", {"lr": 0.1, "lambd": 0.5, "t0": 2}), ("Rprop", {"lr": 0.01}), ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
])
def test_loading_a_torch_optimizers_own_state_dict_continues_as_torch(name, kwargs):
    """``load_state_dict(torch_optimizer.state_dict())``, its torch tensors as they are (an AttributeError on
    torch's dtype before), resumes torch's run."""
    torch = pytest.importorskip("torch")
    start, grads = _start(35), _grads(36, steps=10)
    opt, pairs = _resumed_from_torch(torch, name, kwargs, start, grads, 5, lambda state: state)
    for p, t in pairs:
        np.testing.assert_allclose(p.array, t.detach().numpy(), rtol=1e-5, atol=1e-6)
        assert all(not isinstance(v, torch.Tensor) for v in opt.state[p].values())


@pytest.mark.parametrize("name,kwargs", [("Adam", {"lr": 0.01, "amsgrad": True}), ("SGD", {"lr": 0.1, "momentum": 0.9}),
                                         ("RMSprop", {"lr": 0.01})])
def test_loading_a_state_dict_without_newer_keys_matches_torch(name, kwargs):
    """A checkpoint from before a hyper-parameter existed (no ``maximize``) loads and steps, the missing key taken
    from the defaults as torch does (the step raised a KeyError)."""
    torch = pytest.importorskip("torch")
    start, grads = _start(33, [(3,)]), _grads(34, [(3,)], steps=4)
    theirs = torch.tensor(start[0], requires_grad=True)
    ours = ember.tensor(start[0], requires_grad=True)
    ref, opt = getattr(torch.optim, name)([theirs], **kwargs), getattr(optim, name)([ours], **kwargs)
    for (g,) in grads[:2]:
        theirs.grad, ours.grad = torch.tensor(g), ember.tensor(g)
        ref.step()
        opt.step()
    saved, saved_torch = copy.deepcopy(opt.state_dict()), copy.deepcopy(ref.state_dict())
    for state in (saved, saved_torch):
        del state["param_groups"][0]["maximize"]
    resumed_torch = torch.tensor(theirs.detach().numpy(), requires_grad=True)
    resumed = ember.tensor(ours.array.copy(), requires_grad=True)
    ref = getattr(torch.optim, name)([resumed_torch], lr=1.0)
    ref.load_state_dict(saved_torch)
    opt = getattr(optim, name)([resumed], lr=1.0)
    opt.load_state_dict(saved)
    assert opt.param_groups[0]["maximize"] is False and opt.param_groups[0]["lr"] == kwargs["lr"]
    for (g,) in grads[2:]:
        resumed_torch.grad, resumed.grad = torch.tensor(g), ember.tensor(g)
        ref.step()
        opt.step()
    np.testing.assert_allclose(resumed.array, resumed_torch.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_sparse_adam_state_dict_round_trip():
    shape = (20, 3)
    steps = _sparse_steps(13)
    w = ember.tensor(_start(14, [shape])[0], requires_grad=True)
    opt = optim.SparseAdam([w], lr=0.05)
    for i, (ids, values) in enumerate(steps):
        if i == 30:
            saved, middle = copy.deepcopy(opt.state_dict()), w.array.copy()
        w.grad = _row_sparse(ids, values, shape)
        opt.step()
    w2 = ember.tensor(middle, requires_grad=True)
    opt2 = optim.SparseAdam([w2], lr=0.05)
    opt2.load_state_dict(saved)
    for ids, values in steps[30:]:
        w2.grad = _row_sparse(ids, values, shape)
        opt2.step()
    np.testing.assert_array_equal(w.array, w2.array)


NARROW_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "maximize": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1, "eps": 1e-4}),  # 1e-8 is 0 in float16
    ("Adam", {"lr": 0.02, "betas": (0.4, 0.9), "eps": 1e-3, "maximize": True}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "eps": 1e-4}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.7), "eps": 0.3}),  # add_(eps) rounds eps to the dtype
    ("RMSprop", {"lr": 0.01, "eps": 1e-4}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.9, "weight_decay": 0.1, "eps": 1e-3}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "maximize": True, "eps": 1e-4}),
    ("Adagrad", {"lr": 0.1, "eps": 1e-4}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.3, "weight_decay": 0.1, "eps": 1e-4}),
    ("Adadelta", {"lr": 1.0}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-3, "weight_decay": 0.1, "maximize": True}),
    ("Adamax", {"lr": 0.01, "eps": 1e-4}),
    ("Adamax", {"lr": 0.01, "betas": (0.5, 0.9), "weight_decay": 0.1, "eps": 1e-3, "maximize": True}),
    ("NAdam", {"lr": 0.01, "eps": 1e-4}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "momentum_decay": 0.01,
               "eps": 1e-3}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3, "maximize": True}),
    ("RAdam", {"lr": 0.01, "eps": 1e-4}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "eps": 1e-3}),
    ("RAdam", {"lr": 0.01, "betas": (0.5, 0.6), "weight_decay": 0.1, "eps": 1e-3}),  # rectified from step 3
    ("ASGD", {"lr": 0.05}),
    ("ASGD", {"lr": 0.05, "t0": 3, "lambd": 0.01, "weight_decay": 0.1, "maximize": True}),
    ("Rprop", {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2), "maximize": True}),
    ("Adafactor", {"lr": 0.01}),
    ("Adafactor", {"lr": 0.01, "weight_decay": 0.1, "beta2_decay": -0.5, "maximize": True}),
    ("Muon", {"lr": 0.02}),
    ("Muon", {"lr": 0.03, "weight_decay": 0.2, "adjust_lr_fn": "match_rms_adamw"}),
    ("Muon", {"lr": 0.01, "weight_decay": 0.5, "ns_steps": 3}),
]
NARROW_SHAPES = {"Muon": (16, 16)}  # a larger matrix's bfloat16 Newton-Schulz sums in another order than torch's


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name,kwargs", NARROW_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(NARROW_CASES)])
def test_float16_and_bfloat16_parameters_round_as_torch(name, kwargs, dtype):
    """The optimizers' ops on float16 and bfloat16 parameters compute in float32 and round once, as torch's CPU
    kernels, ``lerp_`` and ``addcmul_`` with a fused multiply-add and ``add_``'s scalar rounded to the dtype (NumPy
    rounded each product too: 5% to 60% of the elements an ulp or more off after 8 steps): the parameter and its
    state are torch's bits. Torch's scalar loop past its last whole vector rounds ``add_(alpha=)`` twice, so the
    shapes are whole vectors."""
    torch = pytest.importorskip("torch")
    import ml_dtypes

    narrow = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.float16
    shape = NARROW_SHAPES.get(name, (64, 67))
    start, grads = _start(61, [shape])[0], _grads(61, [shape], steps=8)
    ours = ember.tensor(start.astype(narrow), requires_grad=True)
    theirs = torch.tensor(start).to(getattr(torch, dtype)).requires_grad_()
    opt, ref = getattr(optim, name)([ours], **kwargs), getattr(torch.optim, name)([theirs], **kwargs)
    for (g,) in grads:
        ours.grad = ember.tensor(g.astype(narrow))
        theirs.grad = torch.tensor(g).to(getattr(torch, dtype))
        opt.step()
        ref.step()
    got = ours.detach().numpy()
    assert got.dtype == narrow and np.isfinite(got.astype(np.float32)).all()
    np.testing.assert_array_equal(got.astype(np.float32), theirs.detach().float().numpy())
    for key, value in ref.state[theirs].items():
        if torch.is_tensor(value) and value.ndim:
            mine = np.asarray(opt.state[ours][key])
            assert mine.dtype == narrow, key
            np.testing.assert_array_equal(mine.astype(np.float32), value.float().numpy(), err_msg=key)


def test_lbfgs_state_dict_round_trip_continues_identically():
    """L-BFGS's history (directions, steps, the last gradient) is in the state dict, as in torch, and a resumed
    run continues as the uninterrupted one, its float64 vectors kept for float32 parameters."""
    rng = np.random.default_rng(15)
    a, b = rng.standard_normal((20, 4)).astype(np.float32), rng.standard_normal(20).astype(np.float32)

    def run(x, opt, steps):
        def closure():
            opt.zero_grad()
            loss = ((ember.tensor(a) @ x - ember.tensor(b)) ** 2).mean() + (x**4).sum() * 0.01
            loss.backward()
            return loss
        for _ in range(steps):
            opt.step(closure)

    x = ember.zeros(4, requires_grad=True)
    opt = optim.LBFGS([x], lr=0.5, max_iter=3)
    run(x, opt, 2)
    saved, middle = copy.deepcopy(opt.state_dict()), x.array.copy()
    assert sorted(saved["state"][0]) == ["H_diag", "d", "func_evals", "n_iter", "old_dirs", "old_stps",
                                         "prev_flat_grad", "ro", "t"]
    run(x, opt, 2)
    resumed = ember.tensor(middle, requires_grad=True)
    opt2 = optim.LBFGS([resumed], lr=0.5, max_iter=3)
    opt2.load_state_dict(saved)
    assert opt2.state[resumed]["d"].dtype == np.float64
    run(resumed, opt2, 2)
    np.testing.assert_array_equal(resumed.array, x.array)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_continues_a_torch_lbfgs_from_its_state_dict(line_search_fn):
    """A torch LBFGS's state dict, its tensors as they are (vectors, lists of them, 0-d H_diag and ro), loads and
    the run goes on as torch's (the next step failed: ndarray minus Tensor)."""
    torch = pytest.importorskip("torch")
    start = np.array([-1.2, 1.0, 0.5, -0.3, 2.0])

    def closure_of(x, opt):
        def closure():
            opt.zero_grad()
            loss = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
            loss.backward()
            return loss
        return closure

    theirs = torch.tensor(start.copy(), requires_grad=True)
    ref = torch.optim.LBFGS([theirs], max_iter=5, line_search_fn=line_search_fn)
    for _ in range(2):
        ref.step(closure_of(theirs, ref))
    ours = ember.tensor(theirs.detach().numpy().copy(), requires_grad=True)
    opt = optim.LBFGS([ours], max_iter=5, line_search_fn=line_search_fn)
    opt.load_state_dict(copy.deepcopy(ref.state_dict()))
    for _ in range(3):
        ref.step(closure_of(theirs, ref))
        opt.step(closure_of(ours, opt))
    np.testing.assert_allclose(ours.array, theirs.detach().numpy(), rtol=1e-12, atol=1e-13)
    assert opt.state[ours]["n_iter"] == ref.state[theirs]["n_iter"]


def test_lbfgs_loads_a_bfloat16_torch_lbfgs_state_dict():
    """A torch LBFGS's state over bfloat16 parameters loads, its vectors read as float64 (a TypeError before:
    "Got unsupported ScalarType BFloat16"), and stepping goes on."""
    torch = pytest.importorskip("torch")
    theirs = torch.tensor([1.5, -0.5, 2.0], dtype=torch.bfloat16, requires_grad=True)
    ref = torch.optim.LBFGS([theirs], max_iter=3)

    def closure():
        ref.zero_grad()
        loss = ((theirs - 1) ** 2).sum()
        loss.backward()
        return loss

    ref.step(closure)
    saved = ref.state_dict()
    ours = ember.tensor(theirs.detach().float().numpy(), requires_grad=True).to("bfloat16").detach().requires_grad_()
    opt = optim.LBFGS([ours], max_iter=3)
    opt.load_state_dict(saved)
    state = opt.state[ours]
    np.testing.assert_array_equal(state["d"], saved["state"][0]["d"].double().numpy())
    assert [v.dtype for v in state["old_dirs"]] == [np.float64] * len(saved["state"][0]["old_dirs"])

    def ours_closure():
        opt.zero_grad()
        loss = ((ours - 1) ** 2).sum()
        loss.backward()
        return loss

    opt.step(ours_closure)
    np.testing.assert_allclose(ours.detach().float().numpy(), 1.0, atol=2e-2)


def test_strong_wolfe_steps_meet_both_conditions():
    from ember.optim.line_search import _cubic_minimizer, _Trial, strong_wolfe

    # the cubic through two points of t**3 - 3 t (losses and slopes) is itself: its minimizer is 1
    cubic = [_Trial(t, t**3 - 3 * t, np.zeros(1), 3 * t**2 - 3) for t in (0.0, 2.0)]
    assert _cubic_minimizer(*cubic) == pytest.approx(1.0)
    assert _cubic_minimizer(*cubic, low=1.5, high=4.0) == 1.5
    c1, c2 = 1e-4, 0.9
    for start, first in [(-3.0, 1.0), (-3.0, 1e-3), (-0.2, 50.0), (4.0, 1.0)]:
        def evaluate(t, start=start):  # f(x) = x**4 / 4 - x along d = -f'(start) from start
            x = start + t * direction[0]
            return x**4 / 4 - x, np.array([x**3 - 1])
        grad = np.array([start**3 - 1])
        direction = -grad
        loss, slope = start**4 / 4 - start, float(grad @ direction)
        new_loss, new_grad, t, evals = strong_wolfe(evaluate, first, direction, loss, grad, slope, c1=c1, c2=c2)
        assert new_loss <= loss + c1 * t * slope  # sufficient decrease
        assert abs(float(new_grad @ direction)) <= -c2 * slope  # curvature
        assert new_loss == evaluate(t)[0] and new_grad[0] == evaluate(t)[1][0]  # the values at the step returned
        assert 1 <= evals <= 26


def test_lbfgs_with_strong_wolfe_minimizes_and_resumes_from_its_state_dict():
    def run(x, opt, steps):
        def closure():
            opt.zero_grad()
            loss = ((1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2).sum()
            loss.backward()
            return loss
        for _ in range(steps):
            opt.step(closure)

    x = ember.tensor(np.array([-1.2, 1.0]), requires_grad=True)
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=5)
    run(x, opt, 2)
    saved, middle = copy.deepcopy(opt.state_dict()), x.array.copy()
    run(x, opt, 8)
    np.testing.assert_allclose(x.array, [1.0, 1.0], atol=1e-4)  # from a loss of 24
    resumed = ember.tensor(middle, requires_grad=True)
    opt2 = optim.LBFGS([resumed], line_search_fn="strong_wolfe", max_iter=5)
    opt2.load_state_dict(saved)
    run(resumed, opt2, 8)
    np.testing.assert_array_equal(resumed.array, x.array)


def test_load_state_dict_casts_and_checks():
    w = ember.zeros(3, 2, requires_grad=True)
    opt = optim.Adam([w])
    saved = {"state": {"0": {"step": np.array(4), "exp_avg": np.ones((3, 2)), "exp_avg_sq": np.ones((3, 2))}},
             "param_groups": [{"lr": 0.1, "betas": [0.9, 0.99], "eps": 1e-8, "weight_decay": 0.0,
                               "amsgrad": False, "maximize": False, "params": [0]}]}
    opt.load_state_dict(saved)
    state = opt.state[w]
    assert state["step"] == 4 and isinstance(state["step"], int)
    assert state["exp_avg"].dtype == np.float32 and state["exp_avg"] is not saved["state"]["0"]["exp_avg"]
    w.grad = ember.ones(3, 2)
    opt.step()
    assert state["step"] == 5
    with pytest.raises(ValueError, match="1 param groups"):
        optim.Adam([{"params": [w]}, {"params": [ember.zeros(1, requires_grad=True)]}]).load_state_dict(saved)
    with pytest.raises(ValueError, match="param group 0 has 1 parameters"):
        optim.Adam([w, ember.zeros(1, requires_grad=True)]).load_state_dict(saved)



def test_load_state_dict_checks_state_shapes_before_changing_anything():
    w = ember.zeros(3, 2, requires_grad=True)
    opt = optim.Adam([w])
    w.grad = ember.ones(3, 2)
    opt.step()
    saved = copy.deepcopy(opt.state_dict())
    saved["state"][0]["exp_avg"] = np.ones((1, 2), np.float32)  # would broadcast, or fail at the next step
    with pytest.raises(ValueError, match=r"Adam: the state dict's 'exp_avg' of parameter 0 has shape \[1, 2\], "
                                         r"expected \[3, 2\] for a parameter of shape \[3, 2\]"):
        opt.load_state_dict(saved)
    assert opt.state[w]["exp_avg"].shape == (3, 2) and opt.state[w]["step"] == 1

    table = ember.zeros(5, 4, requires_grad=True)  # one accumulator a row
    rowwise = optim.RowWiseAdagrad([table], lr=0.1)
    table.grad = ember.ones(5, 4)
    rowwise.step()
    optim.RowWiseAdagrad([table], lr=0.1).load_state_dict(rowwise.state_dict())

    x, y = ember.zeros(2, requires_grad=True), ember.zeros(3, requires_grad=True)  # flat vectors of 5
    lbfgs = optim.LBFGS([x, y], max_iter=2)

    def closure():
        lbfgs.zero_grad()
        loss = ((x - 1.0) ** 2).sum() + ((y + 1.0) ** 2).sum()
        loss.backward()
        return loss

    lbfgs.step(closure)
    optim.LBFGS([x, y], max_iter=2).load_state_dict(lbfgs.state_dict())


VALIDATION_CASES = [
    (optim.SGD, {"lr": -1}, ValueError, "SGD: lr must be >= 0, got -1"),
    (optim.SGD, {"lr": 0.1, "momentum": -0.5}, ValueError, "SGD: momentum must be >= 0, got -0.5"),
    (optim.SGD, {"lr": 0.1, "nesterov": True}, ValueError, "SGD: nesterov=True needs momentum > 0"),
    (optim.SGD, {"lr": 0.1, "weight_decay": float("nan")}, ValueError, "SGD: weight_decay must be >= 0"),
    (optim.SGD, {"lr": "0.1"}, TypeError, "SGD: lr must be a real number, got '0.1'"),
    (optim.Adam, {"betas": (1.0, 0.9)}, ValueError, r"Adam: betas\[0\] must be in \[0, 1\), got 1.0"),
    (optim.Adam, {"betas": (0.9,)}, ValueError, "Adam: betas must be a pair"),
    (optim.Adam, {"eps": -1e-8}, ValueError, "Adam: eps must be >= 0"),
    (optim.AdamW, {"weight_decay": -0.1}, ValueError, "AdamW: weight_decay must be >= 0, got -0.1"),
    (optim.SparseAdam, {"lr": 0.0}, ValueError, "SparseAdam: lr must be > 0, got 0.0"),
    (optim.RMSprop, {"alpha": -0.1}, ValueError, "RMSprop: alpha must be >= 0, got -0.1"),
    (optim.Adagrad, {"lr_decay": -1}, ValueError, "Adagrad: lr_decay must be >= 0, got -1"),
    (optim.Adagrad, {"initial_accumulator_value": -1}, ValueError, "Adagrad: initial_accumulator_value"),
    (optim.Ftrl, {"learning_rate_power": 0.5}, ValueError, "Ftrl: learning_rate_power must be <= 0, got 0.5"),
    (optim.Ftrl, {"l1": -1.0}, ValueError, "Ftrl: l1 must be >= 0, got -1.0"),
    (optim.Ftrl, {"lr": 0}, ValueError, "Ftrl: lr must be > 0, got 0"),
]


@pytest.mark.parametrize("cls,kwargs,error,message", VALIDATION_CASES)
def test_hyper_parameter_validation(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        cls([ember.zeros(2, requires_grad=True)], **kwargs)


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}), ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}), ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.3, "lr_decay": 0.1}), ("Adadelta", {}), ("Adamax", {}),
    ("NAdam", {}), ("RAdam", {}), ("ASGD", {"t0": 2}), ("Rprop", {}),
])
def test_complex_parameters_step_as_torch(name, kwargs):
    """Complex parameters step their real and imaginary parts as separate elements, as torch's optimizers (on
    ``view_as_real``); the state stays complex, so a torch state dict loads mid-run (they were refused)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(29)
    shapes = [(3, 4), (5,), ()]
    def draw(s):
        return (rng.standard_normal(s) + 1j * rng.standard_normal(s)).astype(np.complex64)
    start, grads = [draw(s) for s in shapes], [[draw(s) for s in shapes] for _ in range(8)]
    opt, pairs = _resumed_from_torch(torch, name, kwargs, start, grads, 4, lambda state: state)
    for p, t in pairs:
        np.testing.assert_allclose(p.array, t.detach().numpy(), rtol=1e-5, atol=1e-6)
        assert all(v.dtype == np.complex64 for v in opt.state[p].values() if hasattr(v, "dtype"))


def test_complex_parameters_in_lbfgs_and_where_they_are_refused():
    torch = pytest.importorskip("torch")
    start = np.array([0.5 - 1j, 2 + 0.3j, -1j])
    pairs = []
    for module, opt_module in ((ember, optim), (torch, torch.optim)):
        z = module.tensor(start.copy(), requires_grad=True)
        opt = opt_module.LBFGS([z], line_search_fn="strong_wolfe")

        def closure(z=z, opt=opt):
            opt.zero_grad()
            loss = ((z - (1 + 2j)).abs() ** 2).sum() + (z.real ** 4).sum()
            loss.backward()
            return loss

        opt.step(closure)
        pairs.append(z.detach().numpy())
    np.testing.assert_allclose(pairs[0], pairs[1], rtol=1e-6, atol=1e-8)
    for cls in (optim.SparseAdam, optim.Adafactor, optim.RowWiseAdagrad):
        with pytest.raises(TypeError, match=f"{cls.__name__}: params\\[0\\] is complex \\(complex64\\)"):
            cls([ember.zeros(2, 2, dtype="complex64", requires_grad=True)])
    with pytest.raises(TypeError, match="must be floating point or complex, got dtype int64"):
        optim.SGD([ember.zeros(2, dtype="int64")])


def test_lbfgs_takes_a_sparse_embedding_gradient_as_torch():
    """LBFGS reads a row-sparse gradient as its dense form, as torch's (an AttributeError before: RowSparse has no
    ``detach``)."""
    torch = pytest.importorskip("torch")
    weight = np.random.default_rng(31).standard_normal((5, 3))
    ids = np.array([1, 2, 1])
    out = []
    for module, opt_module, emb in ((ember, optim, ember.nn.Embedding(5, 3, sparse=True, dtype="float64")),
                                    (torch, torch.optim, torch.nn.Embedding(5, 3, sparse=True, dtype=torch.float64))):
        with module.no_grad():
            emb.weight.copy_(module.tensor(weight))
        opt = opt_module.LBFGS(emb.parameters(), lr=0.5, max_iter=5)

        def closure(emb=emb, opt=opt, module=module):
            opt.zero_grad()
            rows = emb(module.tensor(ids))
            loss = (rows ** 2).sum() + rows.sum()
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
        out.append(emb.weight.detach().numpy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-12, atol=1e-12)


def test_named_parameters_as_torch():
    """``Optimizer(model.named_parameters())`` steps as torch's and keeps the names in ``param_names`` (a TypeError
    before: "params[0] must be a Tensor, got tuple"); groups must all be named or all unnamed."""
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Linear(3, 2)
    ours = ember.nn.Linear(3, 2)
    ours.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    ref, opt = torch.optim.Adam(theirs.named_parameters(), lr=0.1), optim.Adam(ours.named_parameters(), lr=0.1)
    x = _start(41, [(4, 3)])[0]
    for _ in range(3):
        ref.zero_grad()
        (theirs(torch.tensor(x)) ** 2).sum().backward()
        ref.step()
        opt.zero_grad()
        (ours(ember.tensor(x)) ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(ours.weight.array, theirs.weight.detach().numpy(), rtol=1e-6, atol=1e-7)
    assert opt.state_dict()["param_groups"][0]["param_names"] == ref.state_dict()["param_groups"][0]["param_names"]
    resumed = optim.Adam(ember.nn.Linear(3, 2).named_parameters())
    resumed.load_state_dict(copy.deepcopy(ref.state_dict()))
    assert resumed.param_groups[0]["param_names"] == ["weight", "bias"] and resumed.param_groups[0]["lr"] == 0.1
    with pytest.raises(ValueError, match="every param group must have parameter names or none"):
        opt.add_param_group({"params": [ember.zeros(2, requires_grad=True)]})
    with pytest.raises(ValueError, match="name all or none"):
        optim.SGD([("a", ember.zeros(2, requires_grad=True)), ember.zeros(2, requires_grad=True)])


def test_param_validation():
    w = ember.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match=r"params\[1\] must be a Tensor"):
        optim.SGD([w, np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="more than one param group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD([{"params": {w}}], lr=0.1)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="SGD: lr must be >= 0, got -2"):
        opt.add_param_group({"params": [ember.zeros(1, requires_grad=True)], "lr": -2})


def test_zero_grad_step_closure_and_repr():
    w = ember.tensor([1.0, -2.0], requires_grad=True)
    table = ember.zeros(4, 2, requires_grad=True)
    opt = optim.SGD([w, table], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss) == 5.0
    np.testing.assert_allclose(w.array, [0.5, -1.0])  # w - 0.25 * 2w
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and (grad.array == 0).all()
    table.grad = _row_sparse(np.array([1]), np.ones((1, 2), np.float32), (4, 2))
    opt.zero_grad(set_to_none=False)
    assert isinstance(table.grad, ember.RowSparse) and len(table.grad.indices) == 0
    opt.step()  # an empty sparse gradient changes nothing
    assert (table.array == 0).all()
    opt.zero_grad()
    assert w.grad is None and table.grad is None
    assert "Parameter Group 0" in repr(opt) and "lr: 0.25" in repr(opt)


def test_update_functions_accept_zero_dim_and_keep_state_shapes():
    for rule, hyper in [(F.sgd_update, {"lr": 0.1, "momentum": 0.9}), (F.adam_update, {"lr": 0.1}),
                        (F.rmsprop_update, {"lr": 0.1, "centered": True, "momentum": 0.5}),
                        (F.adagrad_update, {"lr": 0.1}), (F.ftrl_update, {"lr": 0.1})]:
        p, g, state = np.array(1.0, np.float32), np.array(0.5, np.float32), {}
        vector, vector_state = np.ones(1, np.float32), {}
        for _ in range(3):
            rule(p, g, state, **hyper)
            rule(vector, g.reshape(1), vector_state, **hyper)
        assert p.shape == () and p == vector[0], rule.__name__
        assert all(getattr(v, "shape", ()) == () for v in state.values()), rule.__name__


CLIP_NORMS = [(2.0, 0.5), (2.0, 100.0), (1.0, 1.0), (float("inf"), 0.3), (3.0, 0.7)]


@pytest.mark.parametrize("norm_type,max_norm", CLIP_NORMS)
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    grads = _grads(15, steps=1)[0]
    ours = [ember.zeros(*g.shape, requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad, t.grad = ember.tensor(g), torch.tensor(g)
    ours.append(ember.zeros(3, requires_grad=True))  # no gradient: ignored
    total = optim.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, ember.Tensor) and total.dtype == np.float32
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.array, t.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("norm_type,max_norm", CLIP_NORMS)
def test_clip_grad_norm_of_float64_gradients_matches_torch_in_float64(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    grads = [g.astype(np.float64) * 3 for g in _grads(17, steps=1)[0]]
    ours = [ember.zeros(*g.shape, dtype="float64", requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad, t.grad = ember.tensor(g), torch.tensor(g)
    total = optim.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.dtype == np.float64
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-13)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.array, t.grad.numpy(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("norm_type,max_norm", CLIP_NORMS)
def test_clip_grad_norm_of_complex_gradients_matches_torch(norm_type, max_norm):
    """A complex gradient's norm is that of its moduli, as torch's (its imaginary part was dropped: 3.16 for 5.5),
    float64 with a complex128 gradient."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(19)
    grads = [(rng.standard_normal(s) + 1j * rng.standard_normal(s)).astype(dtype)
             for s, dtype in (((4, 3), np.complex64), ((5,), np.complex128))]
    grads.append(rng.standard_normal(2).astype(np.float32))
    ours = [ember.tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad, t.grad = ember.tensor(g), torch.tensor(g)
    total = optim.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.dtype == np.float64
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.array, t.grad.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ember.nn.utils.get_total_norm([ember.tensor(grads[0])]).item(),
                               torch.nn.utils.get_total_norm([torch.tensor(grads[0])]).item(), rtol=1e-6)
    with pytest.raises(TypeError, match="clip_grad_value_: complex gradients cannot be clamped, got dtype complex64"):
        optim.clip_grad_value_(ours, 0.5)


def test_clip_grad_norm_sparse_shared_and_nonfinite():
    table = ember.zeros(6, 2, requires_grad=True)
    ids, values = np.array([1, 4, 1]), np.array([[3.0, 0.0], [0.0, 1.0], [1.0, 0.0]], np.float32)
    table.grad = _row_sparse(ids, values, (6, 2))
    dense = table.grad.to_dense().array
    total = optim.clip_grad_norm_([table], max_norm=1.0)
    np.testing.assert_allclose(total.item(), np.linalg.norm(dense), rtol=1e-6)  # repeated rows summed first
    np.testing.assert_allclose(table.grad.to_dense().array, dense / (np.linalg.norm(dense) + 1e-6), rtol=1e-6)

    x, b = ember.ones(3, requires_grad=True), ember.ones(3, requires_grad=True)
    (x + b).sum().backward()  # both leaves may receive the same gradient array
    optim.clip_grad_norm_([x, b], max_norm=1.0)
    np.testing.assert_allclose(x.grad.array, np.full(3, 1 / np.sqrt(6)), rtol=1e-5)
    np.testing.assert_allclose(b.grad.array, np.full(3, 1 / np.sqrt(6)), rtol=1e-5)

    x.grad = ember.tensor([np.inf, 1.0, 0.0])
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total 2.0-norm"):
        optim.clip_grad_norm_(x, 1.0, error_if_nonfinite=True)
    assert optim.clip_grad_norm_([], 1.0).item() == 0.0
    with pytest.raises(ValueError, match="norm_type"):
        optim.clip_grad_norm_(x, 1.0, norm_type=-1)


@pytest.mark.parametrize("clip", [lambda w: optim.clip_grad_norm_([w], 1.0), lambda w: optim.clip_grad_value_(w, 1.0)],
                         ids=["norm", "value"])
def test_clipping_a_zero_dim_gradient_keeps_an_array(clip):
    w = ember.tensor(3.0, requires_grad=True)
    (w * w).backward()
    clip(w)
    assert w.grad.array.__class__ is np.ndarray and w.grad.shape == ()
    np.testing.assert_allclose(w.grad.numpy(), 1.0, rtol=1e-6)
    optim.SGD([w], lr=0.5, momentum=0.9).step()
    np.testing.assert_allclose(w.item(), 2.5, rtol=1e-6)


def test_clip_grad_value_matches_torch_and_coalesces():
    torch = pytest.importorskip("torch")
    g = _grads(16, steps=1)[0][0]
    w, t = ember.zeros(*g.shape, requires_grad=True), torch.zeros(g.shape, requires_grad=True)
    w.grad, t.grad = ember.tensor(g), torch.tensor(g)
    optim.clip_grad_value_(w, 0.5)
    torch.nn.utils.clip_grad_value_(t, 0.5)
    np.testing.assert_array_equal(w.grad.array, t.grad.numpy())
    table = ember.zeros(5, 1, requires_grad=True)
    table.grad = _row_sparse(np.array([2, 2, 0]), np.array([[0.4], [0.4], [-3.0]], np.float32), (5, 1))
    optim.clip_grad_value_([table], 0.5)
    np.testing.assert_allclose(table.grad.to_dense().array[:, 0], [-0.5, 0, 0.5, 0, 0])
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        optim.clip_grad_value_([table], -1)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, float("inf")])
def test_clip_grad_norm_of_a_nan_gradient_makes_every_gradient_nan_as_torch(norm_type):
    """torch's coefficient max_norm / (nan + 1e-6), clamped to 1, stays NaN: every gradient becomes NaN (the
    finite ones were left alone)."""
    torch = pytest.importorskip("torch")
    grads = _grads(18, steps=1)[0]
    grads[1][2] = np.nan
    ours = [ember.zeros(*g.shape, requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad, t.grad = ember.tensor(g), torch.tensor(g)
    total = optim.clip_grad_norm_(ours, 1.0, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type)
    assert np.isnan(total.item()) and np.isnan(expected.item())
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.array, t.grad.numpy())


@pytest.mark.parametrize("clip", ["norm", "value"])
def test_clipping_writes_the_gradient_tensors_in_place_as_torch(clip):
    """A gradient Tensor taken before clipping holds the clipped values afterwards, as in torch (clipping
    replaced it with a new Tensor, so a reference kept the unclipped gradient)."""
    torch = pytest.importorskip("torch")
    grads = _grads(19, steps=1)[0]
    ours = [ember.zeros(*g.shape, requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad, t.grad = ember.tensor(g), torch.tensor(g)
    held, held_torch = [p.grad for p in ours], [t.grad for t in theirs]
    if clip == "norm":
        optim.clip_grad_norm_(ours, 0.5, foreach=False)
        torch.nn.utils.clip_grad_norm_(theirs, 0.5, foreach=False)
    else:
        optim.clip_grad_value_(ours, 0.3, foreach=False)
        torch.nn.utils.clip_grad_value_(theirs, 0.3, foreach=False)
    for p, g, t in zip(ours, held, held_torch):
        assert p.grad is g
        np.testing.assert_allclose(g.array, t.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("clip", ["norm", "value", "with_norm"])
def test_clipping_keeps_bfloat16_gradients_bfloat16_as_torch(clip):
    """NumPy widens a bfloat16 array times a Python float to float32: clipping turned bfloat16 gradients into float32
    ones (torch clips them in place, in bfloat16); the values as torch's, to bfloat16's resolution."""
    torch = pytest.importorskip("torch")
    grads = [g * 4 for g in _grads(20, steps=1)[0]]
    ours = [ember.zeros(*g.shape, dtype="bfloat16", requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.bfloat16, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad, t.grad = ember.tensor(g).to("bfloat16"), torch.tensor(g).to(torch.bfloat16)
    if clip == "norm":
        optim.clip_grad_norm_(ours, 0.5)
        torch.nn.utils.clip_grad_norm_(theirs, 0.5)
    elif clip == "value":
        optim.clip_grad_value_(ours, 0.3)
        torch.nn.utils.clip_grad_value_(theirs, 0.3)
    else:
        ember.nn.utils.clip_grads_with_norm_(ours, 0.5, ember.tensor(8.0))
        torch.nn.utils.clip_grads_with_norm_(theirs, 0.5, torch.tensor(8.0))
    for p, t in zip(ours, theirs):
        assert p.grad.dtype == "bfloat16"
        np.testing.assert_allclose(p.grad.float().numpy(), t.grad.float().numpy(), rtol=2e-2, atol=1e-3)


def test_exports_are_sorted_and_documented():
    assert optim.__all__ == sorted(optim.__all__)
    for name in optim.__all__:
        assert getattr(optim, name).__doc__, name


SPARSE_NARROW_CASES = [("SGD", {"lr": 0.1}), ("SGD", {"lr": 0.3, "maximize": True}), ("Adagrad", {"lr": 0.1}),
                       ("Adagrad", {"lr": 0.05, "lr_decay": 0.1}), ("SparseAdam", {"lr": 0.01}),
                       ("SparseAdam", {"lr": 0.02, "betas": (0.8, 0.9), "eps": 1e-3})]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name,kwargs", SPARSE_NARROW_CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(SPARSE_NARROW_CASES)])
def test_sparse_updates_of_float16_and_bfloat16_tables_round_as_torch(name, kwargs, dtype):
    """An nn.Embedding(sparse=True) table in float16 or bfloat16 steps as torch's: the scalars rounded as its kernels
    round them (NumPy's bfloat16 times a Python float kept an unrounded lr: 207 of 1600 elements an ulp or more off
    after 5 SGD steps) and, for SGD, each occurrence of a repeated id added on its own as torch's ``add_`` of an
    uncoalesced gradient. Ids repeat at most twice for the coalescing rules (torch sums 3 or more in its sort's
    order)."""
    torch = pytest.importorskip("torch")
    import ml_dtypes

    narrow = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.float16
    rng = np.random.default_rng(62)
    start = rng.standard_normal((40, 32)).astype(np.float32)
    ours = ember.nn.Embedding(40, 32, sparse=True, _weight=ember.tensor(start.astype(narrow)))
    theirs = torch.nn.Embedding(40, 32, sparse=True, _weight=torch.tensor(start).to(getattr(torch, dtype)))
    opt = getattr(optim, name)(ours.parameters(), **kwargs)
    ref = getattr(torch.optim, name)(theirs.parameters(), **kwargs)
    for _ in range(5):
        if name == "SGD":
            ids = rng.integers(0, 10, 24)
        else:
            ids = rng.permutation(40)[:12].repeat(2)
            rng.shuffle(ids)
        g = rng.standard_normal((ids.size, 32)).astype(narrow)
        (ours(ember.tensor(ids)) * ember.tensor(g)).sum().backward()
        (theirs(torch.tensor(ids)) * torch.tensor(g.astype(np.float32)).to(getattr(torch, dtype))).sum().backward()
        opt.step()
        ref.step()
        opt.zero_grad()
        ref.zero_grad()
    got = ours.weight.detach().numpy()
    assert got.dtype == narrow
    np.testing.assert_array_equal(got.astype(np.float32), theirs.weight.detach().float().numpy())
    for key, value in ref.state[theirs.weight].items():
        if torch.is_tensor(value) and value.ndim:
            mine = np.asarray(opt.state[ours.weight][key])
            np.testing.assert_array_equal(mine.astype(np.float32), value.float().numpy(), err_msg=key)
