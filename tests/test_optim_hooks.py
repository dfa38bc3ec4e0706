"""Optimizer hooks (PyTorch's): step pre/post hooks and the state_dict / load_state_dict hooks."""

import copy

import numpy as np
import pytest

import ember


def _sgd():
    p = ember.nn.Parameter(ember.ones(2))
    p.grad = ember.ones(2)
    return p, ember.optim.SGD([p], lr=0.1)


def test_step_hooks_run_around_the_step_in_order_and_come_off():
    p, optimizer = _sgd()
    seen = []
    first = optimizer.register_step_pre_hook(lambda opt, args, kwargs: seen.append(("pre", opt is optimizer)))
    optimizer.register_step_post_hook(lambda opt, args, kwargs: seen.append(("post", round(p.tolist()[0], 5))))
    optimizer.step()
    assert seen == [("pre", True), ("post", 0.9)]
    first.remove()
    optimizer.step()
    assert seen[2:] == [("post", 0.8)]


def test_a_pre_hook_may_replace_the_arguments():
    p, optimizer = _sgd()
    closure_calls = []

    def closure():
        closure_calls.append(1)
        return ember.tensor(3.0)

    optimizer.register_step_pre_hook(lambda opt, args, kwargs: ((opt, closure), {}))
    assert float(optimizer.step()) == 3.0 and closure_calls == [1]
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: "nonsense")
    with pytest.raises(RuntimeError, match="must return None or \\(args, kwargs\\)"):
        optimizer.step()


def test_state_dict_hooks_can_add_and_strip_entries():
    p, optimizer = _sgd()
    optimizer.register_state_dict_pre_hook(lambda opt: None)
    optimizer.register_state_dict_post_hook(lambda opt, state: {**state, "note": "v2"})
    saved = optimizer.state_dict()
    assert saved["note"] == "v2"
    _, other = _sgd()
    loaded = []
    other.register_load_state_dict_pre_hook(lambda opt, state: {k: v for k, v in state.items() if k != "note"})
    other.register_load_state_dict_post_hook(lambda opt: loaded.append(opt.param_groups[0]["lr"]))
    saved["param_groups"][0]["lr"] = 0.5
    other.load_state_dict(saved)
    assert loaded == [0.5]


def test_prepend_puts_a_hook_first_and_a_deep_copy_keeps_hooks_on_the_copy():
    p, optimizer = _sgd()
    order = []
    optimizer.register_state_dict_pre_hook(lambda opt: order.append("second"))
    optimizer.register_state_dict_pre_hook(lambda opt: order.append("first"), prepend=True)
    optimizer.state_dict()
    assert order == ["first", "second"]
    copied = copy.deepcopy(optimizer)
    steps = []
    copied.register_step_post_hook(lambda opt, args, kwargs: steps.append(opt is copied))
    copied.step()
    assert steps == [True] and np.allclose(p.tolist(), [1.0, 1.0])  # the original's parameter is untouched


def test_the_hooks_match_torchs_calls():
    torch = pytest.importorskip("torch")
    calls = {}
    for name, lib in (("ember", ember), ("torch", torch)):
        p = lib.nn.Parameter(lib.ones(2))
        p.grad = lib.ones(2)
        optimizer = lib.optim.Adam([p], lr=0.1)
        log = calls[name] = []

        def note(when, opt, args, kwargs, log=log):
            log.append((when, [a is opt for a in args], kwargs))

        optimizer.register_step_pre_hook(lambda opt, args, kwargs, note=note: note("pre", opt, args, kwargs))
        optimizer.register_step_post_hook(lambda opt, args, kwargs, note=note: note("post", opt, args, kwargs))
        optimizer.register_state_dict_post_hook(lambda opt, state, log=log: log.append(("saved", sorted(state))))
        optimizer.step()
        optimizer.state_dict()
    assert calls["ember"] == calls["torch"]
