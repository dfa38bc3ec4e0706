"""``ember.func`` against ``torch.func``: grad, vjp, jvp, Jacobians, vmap and functional_call."""

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.func import (
    functional_call,
    grad,
    grad_and_value,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    linearize,
    stack_module_state,
    vjp,
    vmap,
)

torch = pytest.importorskip("torch")
tfunc = torch.func

RNG = np.random.default_rng(0)


def both(array):
    return ember.tensor(array), torch.tensor(array)


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(a.detach().numpy() if hasattr(a, "detach") else a),
                               b.detach().numpy(), rtol=tol, atol=tol)


def f_ember(x, y):
    return (ember.sin(x) * y).sum() + (x ** 3).sum()


def f_torch(x, y):
    return (torch.sin(x) * y).sum() + (x ** 3).sum()


def test_grad_argnums_aux_and_value():
    (xe, xt), (ye, yt) = both(RNG.normal(size=(3,))), both(RNG.normal(size=(3,)))
    close(grad(f_ember)(xe, ye), tfunc.grad(f_torch)(xt, yt))
    ge = grad(f_ember, argnums=(0, 1))(xe, ye)
    gt = tfunc.grad(f_torch, argnums=(0, 1))(xt, yt)
    for a, b in zip(ge, gt):
        close(a, b)
    g, (value, aux) = grad_and_value(lambda x: ((x ** 2).sum(), x * 2), has_aux=True)(xe)
    close(g, 2 * torch.tensor(xe.numpy()))
    assert float(value) == pytest.approx(float((xe.numpy() ** 2).sum()))
    assert not g.requires_grad and not value.requires_grad
    with pytest.raises(ValueError, match="scalar"):
        grad(lambda x: x * 2)(xe)
    with pytest.raises(ValueError, match="out of range"):
        grad(f_ember, argnums=2)(xe, ye)
    for twice in [(0, 0), (1, -1)]:  # (the first gradient was all zeros; PyTorch refuses)
        with pytest.raises(ValueError, match="once"):
            grad(f_ember, argnums=twice)(xe, ye)
        with pytest.raises(ValueError, match="once"):
            jacrev(lambda x, y: x * y, argnums=twice)(xe, ye)


def test_nested_grad_is_the_second_derivative():
    xe, xt = both(RNG.normal(size=()))
    second = grad(grad(lambda x: ember.sin(x) * x ** 3))(xe)
    expected = tfunc.grad(tfunc.grad(lambda x: torch.sin(x) * x ** 3))(xt)
    close(second, expected)
    third = grad(grad(grad(lambda x: x ** 4)))(ember.tensor(2.0))
    assert float(third) == pytest.approx(24 * 2.0)


def test_nested_grad_of_a_closure_over_the_outer_argument():
    # the inner argument is the outer one itself; the closure's use of it is not a use of the inner argument
    xe, xt = both(RNG.normal(size=3))
    ours = grad(lambda a: grad(lambda b: (a * b ** 2).sum())(a).sum())(xe)
    theirs = tfunc.grad(lambda a: tfunc.grad(lambda b: (a * b ** 2).sum())(a).sum())(xt)
    close(ours, theirs)  # 4a (6a when the inner argument aliased the closure's a)
    ours = jacrev(lambda a: vjp(lambda b: a * b ** 2, a)[1](ember.ones(3))[0])(xe)
    theirs = tfunc.jacrev(lambda a: tfunc.vjp(lambda b: a * b ** 2, a)[1](torch.ones(3))[0])(xt)
    close(ours, theirs)


def test_inner_transforms_of_other_arguments_stay_differentiable_for_the_outer_one():
    """An inner transform whose own arguments did not require grad detached its result, though its function
    closed over the outer one's input (or a vjp_fn got a cotangent that did): the outer derivative was zeros."""
    (xe, xt), (ye, yt), (me, mt) = both(RNG.normal(size=3)), both(RNG.normal(size=3)), both(RNG.normal(size=(2, 3)))
    mixed = [lib_jacfwd(lib_jacrev(lambda a, b: (a * b.exp()).sum(), argnums=1), argnums=0)(x, y)
             for lib_jacfwd, lib_jacrev, x, y in ((jacfwd, jacrev, xe, ye), (tfunc.jacfwd, tfunc.jacrev, xt, yt))]
    close(*mixed)
    assert np.abs(mixed[1].numpy()).max() > 0.1  # (ours was all zeros)
    close(grad(lambda a: vmap(lambda r: grad(lambda b: (a * b ** 2).sum())(r))(me).sum())(xe),
          tfunc.grad(lambda a: tfunc.vmap(lambda r: tfunc.grad(lambda b: (a * b ** 2).sum())(r))(mt).sum())(xt))
    close(grad(lambda c: vjp(lambda b: b.exp() * b, xe)[1](c)[0].pow(2).sum())(ye),
          tfunc.grad(lambda c: tfunc.vjp(lambda b: b.exp() * b, xt)[1](c)[0].pow(2).sum())(yt))
    close(grad(lambda a: jvp(lambda b: (a * b.sin()).sum(), (ye,), (ye,))[1])(xe),
          tfunc.grad(lambda a: tfunc.jvp(lambda b: (a * b.sin()).sum(), (yt,), (yt,))[1])(xt))


def test_grad_over_a_dict_of_parameters_with_functional_call():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()
    model = model.double()
    with torch.no_grad():
        for (_, pe), (_, pt) in zip(model.named_parameters(), tmodel.named_parameters()):
            pt.copy_(torch.tensor(pe.detach().numpy()))
    (xe, xt), (ye, yt) = both(RNG.normal(size=(6, 4))), both(RNG.normal(size=(6, 2)))
    params = {k: v.detach() for k, v in model.named_parameters()}
    tparams = {k: v.detach() for k, v in tmodel.named_parameters()}
    ge = grad(lambda p: F.mse_loss(functional_call(model, p, (xe,)), ye))(params)
    gt = tfunc.grad(lambda p: torch.nn.functional.mse_loss(tfunc.functional_call(tmodel, p, (xt,)), yt))(tparams)
    assert list(ge) == list(gt)
    for k in ge:
        close(ge[k], gt[k])
    for p in model.parameters():  # the module's own parameters are back, untouched, with no .grad
        assert p.grad is None and isinstance(p, nn.Parameter)


def test_per_example_gradients_with_vmap_of_grad():
    model = nn.Linear(3, 1).double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    xs, ys = ember.tensor(RNG.normal(size=(5, 3))), ember.tensor(RNG.normal(size=(5, 1)))

    def loss_of_one(p, x, y):
        return ((functional_call(model, p, (x[None],)) - y[None]) ** 2).sum()

    per_example = vmap(grad(loss_of_one), in_dims=(None, 0, 0))(params, xs, ys)
    assert per_example["weight"].shape == (5, 1, 3)
    for i in range(5):
        one = grad(loss_of_one)(params, xs[i], ys[i])
        close(per_example["weight"][i], torch.tensor(one["weight"].numpy()))
        close(per_example["bias"][i], torch.tensor(one["bias"].numpy()))


def test_vjp_and_jvp_match_torch():
    (xe, xt), (ve, vt) = both(RNG.normal(size=(2, 3))), both(RNG.normal(size=(2, 3)))
    out_e, fn_e = vjp(lambda x: ember.exp(x) * x, xe)
    out_t, fn_t = tfunc.vjp(lambda x: torch.exp(x) * x, xt)
    close(out_e, out_t)
    close(fn_e(ve)[0], fn_t(vt)[0])
    value_e, tangent_e = jvp(lambda x, y: ember.sin(x) * y, (xe, ve), (ve, xe))
    value_t, tangent_t = tfunc.jvp(lambda x, y: torch.sin(x) * y, (xt, vt), (vt, xt))
    close(value_e, value_t)
    close(tangent_e, tangent_t)
    # logcumsumexp's gradient rule takes log |g|: a jvp taken at a zero cotangent was all zeros
    value_e, tangent_e = jvp(lambda x: ember.logcumsumexp(x, 1), (xe,), (ve,))
    value_t, tangent_t = tfunc.jvp(lambda x: torch.logcumsumexp(x, 1), (xt,), (vt,))
    close(tangent_e, tangent_t)
    # an integer output has a zero tangent, as PyTorch's (was an error from requires_grad on an int64 tensor)
    _close_trees(jvp(lambda x: (x * 2, x.argmax()), (xe,), (ve,)),
                 tfunc.jvp(lambda x: (x * 2, x.argmax()), (xt,), (vt,)))
    with pytest.raises(ValueError, match="cotangent"):
        fn_e(ember.ones(3))
    with pytest.raises(ValueError, match="tangent of shape"):
        jvp(lambda x: x, (xe,), (ember.ones(3),))


def test_linearize_matches_torch():
    """``torch.func.linearize`` was missing (an AttributeError): its jvp_fn gives J t at the primals, for every
    tangent it is called with, from one call of the function."""
    (xe, xt), (ye, yt) = both(RNG.normal(size=3)), both(RNG.normal(size=(2, 3)))
    calls = []

    def f_e(x, y):
        calls.append(1)
        return y @ ember.sin(x), (x * y).sum()

    out_e, fn_e = linearize(f_e, xe, ye)
    out_t, fn_t = tfunc.linearize(lambda x, y: (y @ torch.sin(x), (x * y).sum()), xt, yt)
    _close_trees(out_e, out_t)
    for _ in range(2):
        (te, tt), (se, st) = both(RNG.normal(size=3)), both(RNG.normal(size=(2, 3)))
        _close_trees(fn_e(te, se), fn_t(tt, st))
    assert len(calls) == 1
    with pytest.raises(ValueError, match="tangent of shape"):
        fn_e(ye, ye)


def test_jvp_and_vjp_refuse_tangents_of_another_structure_as_torch():
    """Tangents (cotangents) were paired with primals (outputs) by position alone: a dict in another key order
    gave the derivative along the swapped tangents (2 t_b + 3 t_a for 2 a + 3 b); torch.func refuses it."""
    (xe, xt), (ye, yt) = both(RNG.normal(size=3)), both(RNG.normal(size=3))

    def f(d):
        return d["a"] * 2 + d["b"] * 3

    with pytest.raises(RuntimeError, match="structure"):
        tfunc.jvp(f, ({"a": xt, "b": yt},), ({"b": yt, "a": xt},))
    with pytest.raises(ValueError, match="structure"):
        jvp(f, ({"a": xe, "b": ye},), ({"b": ye, "a": xe},))
    with pytest.raises(ValueError, match="structure"):
        jvp(lambda p: p[0] * p[1][0], ((xe, (ye,)),), (((xe, ye),),))
    _, vjp_fn = vjp(lambda a: {"p": a * 2, "q": a * 3}, xe)
    with pytest.raises(ValueError, match="structure"):
        vjp_fn({"q": ye, "p": xe})
    close(vjp_fn({"p": xe, "q": ye})[0], 2 * xt + 3 * yt)


def test_jacobians_and_hessian_match_torch():
    xe, xt = both(RNG.normal(size=(3,)))
    close(jacrev(lambda x: ember.sin(x) * x.sum())(xe), tfunc.jacrev(lambda x: torch.sin(x) * x.sum())(xt))
    close(jacfwd(lambda x: x[None, :] * x[:, None])(xe), tfunc.jacfwd(lambda x: x[None, :] * x[:, None])(xt))
    close(hessian(lambda x: (x ** 3).sum() * x[0])(xe), tfunc.hessian(lambda x: (x ** 3).sum() * x[0])(xt))
    je = jacrev(lambda x, y: x * y, argnums=(0, 1))(xe, xe)
    jt = tfunc.jacrev(lambda x, y: x * y, argnums=(0, 1))(xt, xt)
    for a, b in zip(je, jt):
        close(a, b)
    # PyTorch's chunk_size keyword (was a TypeError)
    close(jacrev(lambda x: x.sin(), chunk_size=2)(xe), tfunc.jacrev(lambda x: x.sin(), chunk_size=2)(xt))
    with pytest.raises(ValueError, match="chunk_size"):
        jacrev(lambda x: x, chunk_size=0)


def _close_trees(ours, theirs):
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and set(ours) == set(theirs)
        for key in theirs:
            _close_trees(ours[key], theirs[key])
    elif isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _close_trees(a, b)
    else:
        assert tuple(ours.shape) == tuple(theirs.shape)
        close(ours, theirs)


def test_jacobians_refuse_complex_inputs_and_outputs_as_torch():
    # a complex function has no real Jacobian: the rows of vjps were conjugates (2 - 4j for z**2 at 1 + 2j) or zeros
    z = ember.tensor(np.array([1 + 2j, 3 - 1j]))
    for transform in (jacrev, jacfwd, hessian):
        with pytest.raises(RuntimeError, match="inputs to be real"):
            transform(lambda a: (a * a).abs().sum())(z)
    with pytest.raises(RuntimeError, match="outputs to be real"):
        jacrev(lambda a: a.to(ember.complex128) * 1j)(ember.ones(2))
    with pytest.raises(RuntimeError, match="outputs to be real"):
        jacfwd(lambda a: a.to(ember.complex128) * 1j)(ember.ones(2))


def test_jacfwd_takes_the_output_dtype_and_jacrev_the_argument_dtype_as_torch():
    xe, xt = both(np.array([0.1, 0.2]))
    ye, yt = both(np.array([0.3, 0.4], np.float32))
    for mine, theirs in ((jacrev, tfunc.jacrev), (jacfwd, tfunc.jacfwd)):
        got = mine(lambda a, b: (a.float() * b).exp(), argnums=(0, 1))(xe, ye)
        want = theirs(lambda a, b: (a.float() * b).exp(), argnums=(0, 1))(xt, yt)
        assert [str(g.dtype) for g in got] == [str(w.dtype).replace("torch.", "") for w in want]
        for g, w in zip(got, want):
            close(g, w, tol=1e-6)


def test_jacfwd_checks_its_randomness_as_torch():
    x = ember.ones(3)
    with pytest.raises(RuntimeError, match="randomness"):
        jacfwd(lambda a: a + ember.randn(3))(x)
    with pytest.raises(RuntimeError, match="randomness"):
        hessian(lambda a: (a * ember.randn(3)).sum())(x)
    with pytest.raises(ValueError, match="randomness"):
        jacfwd(lambda a: a, randomness="sometimes")
    close(jacfwd(lambda a: a + ember.randn(3), randomness="same")(x), torch.eye(3))


def test_jacobians_and_hessian_of_structured_arguments_and_outputs_match_torch():
    # a dict of parameters or a tuple of outputs was refused ("must be a Tensor"), and so was hessian's argnums tuple
    x, w = RNG.normal(size=(3,)), RNG.normal(size=(2, 3))
    for ours, theirs in ((jacrev, tfunc.jacrev), (jacfwd, tfunc.jacfwd)):
        results = [[
            jac(lambda p: (p["w"] @ p["x"]).sin())({"w": lib.tensor(w), "x": lib.tensor(x)}),
            jac(lambda a: {"s": a * 2, "t": (a.sin(), (a ** 2).sum())})(lib.tensor(x)),
            jac(lambda a, b: (a.sum() * b, a * b.sum()), argnums=(0, 1))(lib.tensor(x), lib.tensor(w[0])),
        ] for lib, jac in ((ember, ours), (torch, theirs))]
        _close_trees(*results)
    h = [lib_hessian(lambda a, b: (a * a * b).sum() + (b ** 3).sum(), argnums=(0, 1))(lib.tensor(x), lib.tensor(2 * x))
         for lib, lib_hessian in ((ember, hessian), (torch, tfunc.hessian))]
    _close_trees(*h)


def test_vmap_dims_and_structures_match_torch():
    (ae, at), (be, bt) = both(RNG.normal(size=(4, 3))), both(RNG.normal(size=(3, 4)))
    close(vmap(lambda a, b: a * b, in_dims=(0, 1))(ae, be), tfunc.vmap(lambda a, b: a * b, in_dims=(0, 1))(at, bt))
    close(vmap(lambda a: a.sum(), out_dims=0)(ae), tfunc.vmap(lambda a: a.sum())(at))
    close(vmap(lambda a: a * 2, in_dims=1, out_dims=1)(ae), tfunc.vmap(lambda a: a * 2, in_dims=1, out_dims=1)(at))
    outer = vmap(vmap(lambda a, b: a * b, in_dims=(None, 0)), in_dims=(0, None))(ae[:, 0], ae[0])
    close(outer, torch.outer(at[:, 0], at[0]))
    pair = vmap(lambda d: (d["x"] + 1, d["x"].sum()))({"x": ae})
    close(pair[0], at + 1)
    close(pair[1], at.sum(1))
    with pytest.raises(ValueError, match="different sizes"):
        vmap(lambda a, b: a + b)(ae, be)
    with pytest.raises(ValueError, match="at least one argument"):
        vmap(lambda a: a, in_dims=None)(ae)
    c, ct = both(RNG.normal(size=2))
    kept = vmap(lambda a, b: (a * 2, b * 3), in_dims=(0, None), out_dims=(0, None))(ae, c)
    _close_trees(kept, tfunc.vmap(lambda a, b: (a * 2, b * 3), in_dims=(0, None), out_dims=(0, None))(at, ct))
    with pytest.raises(ValueError, match="out_dims None"):  # (was the first element's result; PyTorch refuses)
        vmap(lambda a: a * 2, out_dims=None)(ae)


def test_vmap_dims_given_for_a_whole_subtree_match_torch():
    """An int in in_dims/out_dims serves a whole nested argument or output, as PyTorch's broadcast (out_dims=(0, 1)
    for an (a, (b, c)) output was refused: 'does not match the 3 outputs')."""
    (ae, at), (be, bt) = both(RNG.normal(size=(4, 3))), both(RNG.normal(size=(3, 4)))

    def f(lib, pair, c):
        return pair[0], (pair[1] * c, lib.sin(pair[0]))

    ours = vmap(lambda p, c: f(ember, p, c), in_dims=((0, 1), None), out_dims=(0, 1))((ae, be), ae[0])
    theirs = tfunc.vmap(lambda p, c: f(torch, p, c), in_dims=((0, 1), None), out_dims=(0, 1))((at, bt), at[0])
    _close_trees(ours, theirs)
    nested = vmap(lambda p: p[0][0] + p[0][1] * p[1], in_dims=((0, 1),))(((ae, ae), be))
    close(nested, tfunc.vmap(lambda p: p[0][0] + p[0][1] * p[1], in_dims=((0, 1),))(((at, at), bt)))
    with pytest.raises(ValueError, match="out_dims"):
        vmap(lambda a: (a, (a, a)), out_dims=(0, (1, 0, 0)))(ae)


def test_vmap_refuses_dict_dims_naming_other_keys_as_torch():
    # {'b': 0, 'c': None} for {'a', 'b'} mapped 'a' (by position), silently
    (ae, at), (be, bt) = both(RNG.normal(size=(3, 4))), both(RNG.normal(size=(4, 3)))
    dims = ({"b": 0, "c": None},)
    with pytest.raises(ValueError):
        tfunc.vmap(lambda d: d["a"] * 2, in_dims=dims)({"a": at, "b": bt})
    with pytest.raises(ValueError, match="in_dims"):
        vmap(lambda d: d["a"] * 2, in_dims=dims)({"a": ae, "b": be})
    with pytest.raises(ValueError, match="out_dims"):
        vmap(lambda x: {"p": x, "q": x}, out_dims={"p": 0, "r": 1})(ae)


def test_vmap_refuses_an_in_place_write_into_an_argument_passed_whole():
    """Each element's call wrote into the unmapped b again: every row of the result was the sum of all rows of a
    (PyTorch refuses it: 'output with shape [4] doesn't match the broadcast shape [3, 4]')."""
    (ae, at), (be, bt) = both(RNG.normal(size=(3, 4))), both(RNG.normal(size=4))
    with pytest.raises(RuntimeError):
        tfunc.vmap(lambda a, b: b.add_(a), in_dims=(0, None))(at, bt)
    with pytest.raises(RuntimeError, match="in place"):
        vmap(lambda a, b: b.add_(a), in_dims=(0, None))(ae, be)
    with pytest.raises(RuntimeError, match="in place"):
        vmap(lambda a, b=None: b.mul_(2) + a)(ae, b=be)
    (written, theirs), (be, bt) = both(RNG.normal(size=(3, 4))), both(RNG.normal(size=4))
    kept = vmap(lambda a, b: a.add_(b), in_dims=(0, None))(written, be)  # a mapped argument may be written
    close(kept, tfunc.vmap(lambda a, b: a.add_(b), in_dims=(0, None))(theirs, bt))
    close(written, theirs)


def test_vmap_randomness_modes():
    x = ember.zeros(4, 3)
    with pytest.raises(RuntimeError, match="randomness"):
        vmap(lambda a: a + ember.rand(3))(x)
    same = vmap(lambda a: a + ember.rand(3), randomness="same")(x)
    assert np.allclose(same.numpy(), same.numpy()[0])
    different = vmap(lambda a: a + ember.rand(3), randomness="different")(x)
    assert not np.allclose(different.numpy(), different.numpy()[0])


def test_vmap_randomness_covers_a_given_generator():
    # a generator= passed in: 'error' refuses its draws, 'same' restarts it per element, as PyTorch
    x = ember.zeros(4, 3)
    g = ember.Generator().manual_seed(0)
    with pytest.raises(RuntimeError, match="randomness"):
        vmap(lambda a: a + ember.randn(3, generator=g))(x)
    same = vmap(lambda a: a + ember.randn(3, generator=g), randomness="same")(x)
    assert np.array_equal(same.numpy(), np.broadcast_to(same.numpy()[0], (4, 3)))
    different = vmap(lambda a: a + ember.randn(3, generator=g), randomness="different")(x)
    assert not np.allclose(different.numpy(), different.numpy()[0])


def test_vmap_gradients_flow_to_the_inputs():
    xe = ember.tensor(RNG.normal(size=(4, 3)), requires_grad=True)
    xt = torch.tensor(xe.detach().numpy(), requires_grad=True)
    vmap(lambda a: (a.exp() * a).sum())(xe).sum().backward()
    tfunc.vmap(lambda a: (a.exp() * a).sum())(xt).sum().backward()
    close(xe.grad, xt.grad)


def test_functional_call_tied_weights_strict_and_buffers():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2, bias=False)
            self.b = nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight
            self.register_buffer("scale", ember.ones(2))

        def forward(self, x):
            return self.b(self.a(x)) * self.scale

    model = Tied()
    x = ember.ones(1, 2)
    w = ember.tensor([[2.0, 0.0], [0.0, 3.0]])
    out = functional_call(model, {"a.weight": w}, x)
    np.testing.assert_allclose(out.numpy(), [[4.0, 9.0]])
    untied = functional_call(model, {"a.weight": w}, x, tie_weights=False)
    assert not np.allclose(untied.detach().numpy(), out.numpy())
    doubled = functional_call(model, ({"a.weight": w}, {"scale": ember.full((2,), 2.0)}), (x,))
    np.testing.assert_allclose(doubled.numpy(), [[8.0, 18.0]])
    assert model.a.weight is model.b.weight and isinstance(model.a.weight, nn.Parameter)
    np.testing.assert_allclose(model.scale.numpy(), [1.0, 1.0])
    with pytest.raises(ValueError, match="no parameter or buffer"):
        functional_call(model, {"a.wieght": w}, x)
    with pytest.raises(ValueError, match="strict"):
        functional_call(model, {"a.weight": w}, x, strict=True)
    with pytest.raises(ValueError, match="which are tied"):  # b.weight's value was used for b alone
        functional_call(model, {"a.weight": w, "b.weight": w * 2}, x)
    np.testing.assert_allclose(functional_call(model, {"a.weight": w, "b.weight": w}, x).numpy(), [[4.0, 9.0]])
    both = functional_call(model, {"a.weight": w, "b.weight": w * 2}, x, tie_weights=False)
    np.testing.assert_allclose(both.numpy(), [[8.0, 18.0]])


def test_stack_module_state_for_an_ensemble():
    models = [nn.Linear(3, 2).double() for _ in range(4)]
    params, buffers = stack_module_state(models)
    assert params["weight"].shape == (4, 2, 3) and params["weight"].requires_grad and buffers == {}
    x = ember.tensor(RNG.normal(size=(5, 3)))
    base = models[0]
    out = vmap(lambda p, b: functional_call(base, (p, b), (x,)), in_dims=(0, 0))(params, buffers)
    for i, m in enumerate(models):
        np.testing.assert_allclose(out[i].detach().numpy(), m(x).detach().numpy(), rtol=1e-12)


def test_stack_module_state_keeps_a_frozen_parameter_frozen_as_torch():
    """A parameter frozen in every model came back requiring grad (an optimizer over the stack trained it); it
    stays frozen, and a mix of frozen and trainable is refused, as torch.func.stack_module_state does."""
    models, reference = [nn.Linear(3, 2) for _ in range(3)], [torch.nn.Linear(3, 2) for _ in range(3)]
    for m in models + reference:
        m.weight.requires_grad_(False)
    params, _ = stack_module_state(models)
    theirs, _ = tfunc.stack_module_state(reference)
    assert {k: v.requires_grad for k, v in params.items()} == {k: v.requires_grad for k, v in theirs.items()}
    assert not params["weight"].requires_grad and params["bias"].requires_grad
    models[0].weight.requires_grad_(True)
    with pytest.raises(ValueError, match="weight"):
        stack_module_state(models)


def test_functional_call_fills_a_parameter_registered_as_none():
    # Linear(bias=False)'s bias was refused ("has no parameter or buffer"); PyTorch's functional_call uses the value
    x = RNG.normal(size=(3, 2))
    outs = []
    for lib, call in ((ember, functional_call), (torch, torch.func.functional_call)):
        layer = lib.nn.Linear(2, 2, bias=False).double()
        values = {"weight": lib.tensor(np.array([[1.0, 2.0], [0.5, -1.0]])), "bias": lib.tensor(np.array([1.0, -2.0]))}
        outs.append(call(layer, values, (lib.tensor(x),)).detach().numpy())
        assert layer.bias is None
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-12)
