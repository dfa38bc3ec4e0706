"""Python state a traced function reads or writes outside its Tensors: an optimizer's hyper-parameters written in
the function are refused (``ember.compile``: a graph break), and a captured Python number or Tensor rebound between
calls makes the next call trace again, so jit and compile give what eager mode gives."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember

X = ember.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))
Y = ember.tensor(np.ones((4, 1), np.float32))


def _net_and_opt():
    ember.manual_seed(0)
    net = ember.nn.Linear(3, 1)
    return net, ember.optim.SGD(net.parameters(), lr=0.1, momentum=0.5)


def _train(net, opt, x, y):
    opt.zero_grad()
    loss = ((net(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    return loss


def _lr_written_inside(wrap):
    net, opt = _net_and_opt()

    def step(x, y, lr):
        for group in opt.param_groups:
            group["lr"] = lr
        return _train(net, opt, x, y)

    step = wrap(step)
    for lr in (0.1, 0.01, 0.1):
        step(X, Y, lr)
    return net.bias.array.copy()


def test_lr_written_in_a_jit_function_is_refused():
    with pytest.raises(TypeError, match=r"SGD: param_groups\[...\]\['lr'\] written in a traced function"):
        _lr_written_inside(ember.jit)


def test_lr_written_in_a_compiled_function_breaks_the_graph_and_matches_eager():
    eager = _lr_written_inside(lambda f: f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = _lr_written_inside(ember.compile)
    np.testing.assert_array_equal(compiled, eager)


def test_update_of_a_group_in_a_traced_function_is_refused_and_writes_outside_still_work():
    net, opt = _net_and_opt()

    @ember.jit
    def step(x, y):
        opt.param_groups[0].update(momentum=0.9)
        return _train(net, opt, x, y)

    with pytest.raises(TypeError, match="'momentum'"):
        step(X, Y)
    opt.param_groups[0]["lr"] = 0.2  # outside a trace: a dict's own write
    opt.param_groups[0].update(lr=0.3)
    assert opt.param_groups[0]["lr"] == 0.3


def test_lr_written_between_calls_is_read_by_every_call():
    results = []
    for wrap in (lambda f: f, ember.jit):
        net, opt = _net_and_opt()
        step = wrap(lambda x, y, net=net, opt=opt: _train(net, opt, x, y))
        for lr in (0.1, 0.01, 0.1, 0.0, 0.3):
            for group in opt.param_groups:
                group["lr"] = lr
            step(X, Y)
        results.append(net.bias.array.copy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-6, atol=1e-7)


def test_param_groups_survive_deepcopy_and_state_dict():
    import copy

    net, opt = _net_and_opt()
    opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert isinstance(opt.param_groups[0], dict) and copy.deepcopy(opt.param_groups[0])["lr"] == 0.1


SCALE = 2.0
SHIFT = ember.tensor(np.full(3, 3.0, np.float32))
MODE = "add"


def _reads_globals(x):
    y = x * SCALE + SHIFT
    return y + 1 if MODE == "add" else y - 1


def _rebinding(wrap, x=X):
    global SCALE, SHIFT, MODE
    saved = SCALE, SHIFT, MODE
    cell = 1.0

    def reads_a_cell(x):
        return _reads_globals(x) * cell

    step = wrap(reads_a_cell)
    out = [step(x).array.copy()]
    try:
        for change in range(5):
            if change == 0:
                cell = 5.0  # a nonlocal rebound
            elif change == 1:
                SCALE = 10.0
            elif change == 2:
                SHIFT = ember.tensor(np.zeros(3, np.float32))  # another Tensor
            elif change == 3:
                MODE = "sub"
            else:
                SCALE = 10  # an int, equal to 10.0: gives an int product with an int argument
            out.append(step(x).array.copy())
    finally:
        SCALE, SHIFT, MODE = saved
    return out


@pytest.mark.parametrize("wrap", [ember.jit, ember.compile], ids=["jit", "compile"])
def test_rebound_closure_cells_and_globals_retrace(wrap):
    for x in (X[:, :3], ember.tensor(np.arange(12).reshape(4, 3))):
        eager = _rebinding(lambda f: f, x)
        compiled = _rebinding(wrap, x)
        for got, want in zip(compiled, eager):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)


def test_a_function_rebinding_what_it_reads_is_refused():
    calls = 0

    @ember.jit
    def counts(x):
        nonlocal calls
        calls += 1
        return x * calls

    with pytest.raises(TypeError, match="rebinds its closure variable 'calls'"):
        counts(X)


def test_unchanged_values_keep_the_trace():
    step = ember.jit(_reads_globals)
    for _ in range(3):
        step(X)
    assert step.traces == 1


class _Config:
    def __init__(self, **values):
        self.__dict__.update(values)


CFG = _Config()


@pytest.mark.parametrize("wrap", [ember.jit, ember.compile], ids=["jit", "compile"])
def test_attributes_of_global_and_closure_objects_retrace(wrap):
    CFG.scale, CFG.optim = 2.0, _Config(shift=1.0)
    box = _Config(mode="add", drop=ember.nn.Dropout(0.0))

    def reads_attributes(x):
        y = (x * CFG.scale + CFG.optim.shift) * (1 - box.drop.p)
        return y + 1 if box.mode == "add" else y - 1

    step = wrap(reads_attributes)
    changes = [lambda: None, lambda: setattr(CFG, "scale", 3.0), lambda: setattr(CFG.optim, "shift", -2.0),
               lambda: setattr(box, "mode", "sub"), lambda: setattr(box.drop, "p", 0.5),
               lambda: setattr(CFG, "optim", _Config(shift=4.0)), lambda: None]
    for change in changes:
        change()
        np.testing.assert_array_equal(step(X).array, reads_attributes(X).array)
    if wrap is ember.jit:
        assert step.traces == 6


def test_a_parameter_replaced_on_a_module_read_without_calling_it_retraces():
    net = ember.nn.Linear(3, 2)
    step = ember.jit(lambda x: x @ net.weight.T)
    step(X)
    net.weight = ember.nn.Parameter(ember.ones(2, 3))
    np.testing.assert_array_equal(step(X).array, (X @ net.weight.T).detach().array)


def test_a_function_rebinding_an_attribute_it_reads_is_refused():
    state = _Config()
    state.calls = 0

    @ember.jit
    def counts(x):
        state.calls += 1
        return x * state.calls

    with pytest.raises(TypeError, match="rebinds its attribute 'state.calls'"):
        counts(X)


class _Scaler:
    def __init__(self):
        self.scale = 2.0

    def apply(self, x):
        return x * self.scale

    @ember.jit
    def jitted(self, x):
        return x * self.scale


def test_attributes_of_the_instance_of_a_jit_method_retrace():
    scaler = _Scaler()
    bound = ember.jit(scaler.apply)
    for scale in (2.0, 5.0, 5):
        scaler.scale = scale
        for got in (bound(X), scaler.jitted(X)):
            np.testing.assert_array_equal(got.array, scaler.apply(X).array)
    assert bound.traces == 3


SCALES = [1.0]
SETTINGS = {"shift": 1}


@pytest.mark.parametrize("wrap", [ember.jit, ember.compile], ids=["jit", "compile"])
def test_what_a_global_list_or_dict_holds_retraces(wrap):
    SCALES[:] = [1.0]
    SETTINGS["shift"] = 1
    box = _Config(steps=(1, 2))

    def reads_contents(x):
        return x * sum(SCALES) + SETTINGS["shift"] + box.steps[-1]

    step = wrap(reads_contents)
    x = ember.tensor(np.arange(3))
    changes = [lambda: None, lambda: SCALES.append(2.0), lambda: SETTINGS.update(shift=0.5),
               lambda: setattr(box, "steps", (1, 4)), lambda: SCALES.__setitem__(0, 1)]
    for change in changes:
        change()
        want = reads_contents(x)
        got = step(x)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.array, want.array)


def test_a_list_the_function_appends_to_keeps_its_trace():
    seen = []

    @ember.jit
    def records(x):
        seen.append(len(seen))  # a side effect: runs once, while tracing
        return x * 2

    for _ in range(3):
        np.testing.assert_array_equal(records(X).array, (X * 2).array)
    assert records.traces == 1 and seen == [0]


NET = ember.nn.Linear(3, 2)
ACT = ember.relu


@pytest.mark.parametrize("wrap", [ember.jit, ember.compile], ids=["jit", "compile"])
def test_a_rebound_module_or_function_retraces(wrap):
    # net = Net() again (a notebook cell run twice) or cfg.model = ... kept calling the traced module
    global NET, ACT
    saved = NET, ACT
    box = _Config(model=ember.nn.Linear(3, 2), act=ember.tanh)

    def calls(x):
        return ACT(NET(x)) + box.act(box.model(x))

    step = wrap(calls)
    changes = [lambda: None, lambda: globals().update(NET=ember.nn.Linear(3, 2)),
               lambda: globals().update(ACT=ember.sin), lambda: setattr(box, "model", ember.nn.Linear(3, 2)),
               lambda: setattr(box, "act", ember.exp)]
    try:
        with ember.no_grad():  # (results that require grad make a compiled function run eagerly)
            for change in changes:
                change()
                np.testing.assert_allclose(step(X).array, calls(X).array, rtol=1e-6)
    finally:
        NET, ACT = saved
    if wrap is ember.jit:
        assert step.traces == 5


def test_keyword_arguments_are_taken_as_the_positional_ones_they_name():
    # ember.jit(f)(x, s=3.0) was a TypeError ("unexpected keyword argument"); torch.compile takes keywords
    def scaled(x, w, s=2.0):
        return (x @ w) * s

    step = ember.jit(scaled)
    x, w = ember.randn(3, 4), ember.randn(4, 2, requires_grad=True)
    for call, expected in [(lambda: step(x, w, s=3.0), scaled(x, w, 3.0)), (lambda: step(x, w=w), scaled(x, w)),
                           (lambda: step(w=w, x=x, s=0.5), scaled(x, w, 0.5)), (lambda: step(x, w), scaled(x, w))]:
        np.testing.assert_allclose(call().detach().numpy(), expected.detach().numpy(), rtol=1e-6)
    assert step.traces == 4  # s=3.0, the default filled in, s=0.5, and the two-argument call: a signature each
    with pytest.raises(TypeError, match="jit scaled: got an unexpected keyword argument 'q'"):
        step(x, w, q=1)
    with pytest.raises(TypeError, match=r"jit only_keywords: keyword-only arguments \(t\) are not traced"):
        _only_keywords(x)


def _only_keywords(x):
    def only_keywords(x, *, t=1.0):
        return x * t

    return ember.jit(only_keywords)(x, t=2.0)


def test_keyword_arguments_of_a_jit_method():
    class Scaled(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = ember.nn.Linear(4, 2)

        @ember.jit
        def run(self, x, scale=1.0):
            return self.fc(x) * scale

    model, x = Scaled(), ember.randn(3, 4)
    np.testing.assert_allclose(model.run(x, scale=2.0).detach().numpy(), (model.fc(x) * 2.0).detach().numpy(),
                               rtol=1e-6)
