"""Weight and spectral normalization (the hook forms and the parametrizations) and ``nn.utils.parametrize`` against
PyTorch: state-dict keys, values, gradients and training steps from the same weights."""

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.utils import parametrizations, parametrize

torch = pytest.importorskip("torch")
TP = torch.nn.utils.parametrizations


def _load(ours, theirs):
    """``ours`` given ``theirs``' state (which must have the same keys and shapes)."""
    state = theirs.state_dict()
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in state.items()})


def _pair(torch_layer, ember_layer, wrap_torch, wrap_ember, **kwargs):
    torch.manual_seed(0)
    theirs = wrap_torch(torch_layer(), **kwargs)
    ours = wrap_ember(ember_layer(), **kwargs)
    _load(ours, theirs)
    return ours, theirs


def _steps(ours, theirs, shape, steps=3, lr=0.1):
    """``steps`` SGD steps of a squared-output loss in both frameworks; outputs, gradients and the state agree."""
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    opt, topt = ember.optim.SGD(ours.parameters(), lr=lr), torch.optim.SGD(theirs.parameters(), lr=lr)
    for _ in range(steps):
        y, ty = ours(ember.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
        opt.zero_grad()
        topt.zero_grad()
        (y * y).sum().backward()
        (ty * ty).sum().backward()
        for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-4, err_msg=name)
        opt.step()
        topt.step()
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-4, atol=1e-5, err_msg=key)


LAYERS = {
    "linear": (lambda: torch.nn.Linear(4, 3), lambda: nn.Linear(4, 3), (5, 4)),
    "conv2d": (lambda: torch.nn.Conv2d(2, 3, 3), lambda: nn.Conv2d(2, 3, 3), (2, 2, 5, 5)),
    "conv_transpose2d": (lambda: torch.nn.ConvTranspose2d(2, 3, 3), lambda: nn.ConvTranspose2d(2, 3, 3),
                         (2, 2, 4, 4)),
}


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("layer", sorted(LAYERS))
@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_hook_matches_torch(layer, dim):
    make_torch, make_ember, shape = LAYERS[layer]
    ours, theirs = _pair(make_torch, make_ember, torch.nn.utils.weight_norm, nn.utils.weight_norm, dim=dim)
    assert [k for k in ours.state_dict()] == ["bias", "weight_g", "weight_v"]
    _steps(ours, theirs, shape)
    nn.utils.remove_weight_norm(ours)
    torch.nn.utils.remove_weight_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_spectral_norm_hook_matches_torch_in_training_and_eval(layer):
    make_torch, make_ember, shape = LAYERS[layer]
    ours, theirs = _pair(make_torch, make_ember, torch.nn.utils.spectral_norm, nn.utils.spectral_norm)
    assert list(ours.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    u = ours.weight_u.numpy().copy()
    _steps(ours, theirs, shape)
    assert not np.array_equal(u, ours.weight_u.numpy())  # training calls advance the power iteration
    ours.eval()
    theirs.eval()
    u = ours.weight_u.numpy().copy()
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(ours(ember.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(u, ours.weight_u.numpy())
    nn.utils.remove_spectral_norm(ours)
    torch.nn.utils.remove_spectral_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_the_hooks_refuse_twice_and_name_what_is_missing():
    layer = nn.utils.weight_norm(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="cannot register two weight_norm hooks"):
        nn.utils.weight_norm(layer)
    with pytest.raises(ValueError, match="remove_spectral_norm: spectral_norm of 'weight' not found in Linear"):
        nn.utils.remove_spectral_norm(layer)
    with pytest.raises(ValueError, match="spectral_norm: Linear has no parameter named 'kernel'"):
        nn.utils.spectral_norm(nn.Linear(2, 2), name="kernel")
    with pytest.raises(IndexError, match="weight_norm: dim 2 is out of range"):
        nn.utils.weight_norm(nn.Linear(2, 2), dim=2)
    with pytest.raises(ValueError, match="n_power_iterations must be positive"):
        nn.utils.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)


@pytest.mark.parametrize("layer", sorted(LAYERS))
@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_parametrization_matches_torch(layer, dim):
    make_torch, make_ember, shape = LAYERS[layer]
    ours, theirs = _pair(make_torch, make_ember, TP.weight_norm, parametrizations.weight_norm, dim=dim)
    assert list(ours.state_dict()) == ["bias", "parametrizations.weight.original0",
                                       "parametrizations.weight.original1"]
    assert type(ours).__name__ == type(theirs).__name__
    _steps(ours, theirs, shape)
    parametrize.remove_parametrizations(ours, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(theirs, "weight")
    assert type(ours) is LAYERS[layer][1]().__class__ and list(ours.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_weight_norm_parametrization_loads_a_checkpoint_of_the_hook_form():
    # weight_g and weight_v (nn.utils.weight_norm's keys) were unexpected keys; PyTorch renames them on loading
    torch.manual_seed(0)
    old = torch.nn.Sequential(torch.nn.utils.weight_norm(torch.nn.Linear(5, 4), dim=1))
    state = {k: ember.tensor(v.detach().numpy().copy()) for k, v in old.state_dict().items()}
    ours = nn.Sequential(parametrizations.weight_norm(nn.Linear(5, 4), dim=1))
    ours.load_state_dict(state)
    theirs = torch.nn.Sequential(TP.weight_norm(torch.nn.Linear(5, 4), dim=1))
    theirs.load_state_dict(old.state_dict())
    np.testing.assert_array_equal(ours[0].parametrizations.weight.original0.detach().numpy(),
                                  old[0].weight_g.detach().numpy())
    np.testing.assert_allclose(ours[0].weight.detach().numpy(), theirs[0].weight.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("frozen", [(), (0,), (1,), (0, 1)])
def test_removing_weight_norm_keeps_the_weight_trainable_as_torch(frozen):
    # the weight took original0's (g's) requires_grad: g frozen gave a frozen weight, where PyTorch's requires grad
    # (v does); both frozen, PyTorch leaves a buffer
    kinds = []
    for library, layer, wrap, remove in [(torch.nn, torch.nn.Linear(3, 2), TP.weight_norm,
                                          torch.nn.utils.parametrize.remove_parametrizations),
                                         (nn, nn.Linear(3, 2), parametrizations.weight_norm,
                                          parametrize.remove_parametrizations)]:
        wrap(layer)
        for i in frozen:
            getattr(layer.parametrizations.weight, f"original{i}").requires_grad_(False)
        remove(layer, "weight")
        kinds.append((isinstance(layer.weight, library.Parameter), layer.weight.requires_grad,
                      "weight" in dict(layer.named_buffers())))
    assert kinds[1] == kinds[0]


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_spectral_norm_parametrization_matches_torch(layer):
    make_torch, make_ember, shape = LAYERS[layer]
    ours, theirs = _pair(make_torch, make_ember, TP.spectral_norm, parametrizations.spectral_norm)
    assert list(ours.state_dict()) == ["bias", "parametrizations.weight.original", "parametrizations.weight.0._u",
                                       "parametrizations.weight.0._v"]
    _steps(ours, theirs, shape)
    original = ours.parametrizations.weight.original
    parametrize.remove_parametrizations(ours, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(theirs, "weight")
    assert ours.weight is original  # the same Parameter object: an optimizer holding it goes on
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("hook_form", [False, True])
def test_weight_norm_of_a_complex_weight_keeps_a_real_norm_as_torch(hook_form):
    # g was sqrt(sum(v * v)), a complex number (1.09+2.22j for a weight of norm 6.13): a checkpoint's real g then
    # scaled the weight by a complex factor
    torch.manual_seed(0)
    wrap_torch, wrap_ember = ((torch.nn.utils.weight_norm, nn.utils.weight_norm) if hook_form
                              else (TP.weight_norm, parametrizations.weight_norm))
    theirs = wrap_torch(torch.nn.Linear(3, 4, dtype=torch.complex128), dim=None)
    ours = wrap_ember(nn.Linear(3, 4, dtype="complex128"), dim=None)
    g = ours.weight_g if hook_form else ours.parametrizations.weight.original0
    assert g.dtype == np.float64
    ours.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3)) * (1 + 0.5j)
    np.testing.assert_allclose(ours(ember.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-12)


def test_spectral_norm_parametrization_of_a_complex_weight_matches_torch():
    # the power iteration took W^T u and sigma u . W v, where PyTorch's parametrization takes W^H u and vdot(u, W v):
    # the weights were 1.8 apart (the hook form, whose PyTorch original transposes plainly, already matched)
    torch.manual_seed(0)
    theirs = TP.spectral_norm(torch.nn.Linear(3, 4, dtype=torch.complex128), n_power_iterations=2)
    ours = parametrizations.spectral_norm(nn.Linear(3, 4, dtype="complex128"), n_power_iterations=2)
    ours.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    for training in (True, True, False):
        ours.train(training)
        theirs.train(training)
        y_ours, y_theirs = ours(ember.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(y_ours.detach().numpy(), y_theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    (y_ours.abs() ** 2).sum().backward()
    (y_theirs.abs() ** 2).sum().backward()
    np.testing.assert_allclose(ours.parametrizations.weight.original.grad.numpy(),
                               theirs.parametrizations.weight.original.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_the_initial_power_iteration_gives_the_spectral_norm():
    ember.manual_seed(0)  # 15 iterations converge to 1e-3 for most draws, not all (PyTorch's as well)
    layer = parametrizations.spectral_norm(nn.Linear(6, 5))
    with ember.no_grad():
        largest = np.linalg.svd(layer.weight.numpy(), compute_uv=False)[0]
    np.testing.assert_allclose(largest, 1.0, rtol=1e-3)


class Symmetric(nn.Module):
    calls = 0

    def forward(self, x):
        Symmetric.calls += 1
        return x.triu() + x.triu(1).T

    def right_inverse(self, a):
        return a.triu()


class TorchSymmetric(torch.nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).T

    def right_inverse(self, a):
        return a.triu()


class Scale(nn.Module):
    def forward(self, x):
        return x * 2.0

    def right_inverse(self, y):
        return y / 2.0


def test_a_parametrization_of_ones_own_with_assignment_and_a_chain():
    torch.manual_seed(0)
    theirs = torch.nn.utils.parametrize.register_parametrization(torch.nn.Linear(3, 3), "weight", TorchSymmetric())
    ours = parametrize.register_parametrization(nn.Linear(3, 3), "weight", Symmetric())
    _load(ours, theirs)
    assert parametrize.is_parametrized(ours) and parametrize.is_parametrized(ours, "weight")
    assert not parametrize.is_parametrized(ours, "bias") and not parametrize.is_parametrized(nn.Linear(3, 3))
    assert parametrize.type_before_parametrizations(ours) is nn.Linear
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy())
    a = np.random.default_rng(3).standard_normal((3, 3)).astype(np.float32)
    a = a + a.T
    ours.weight = ember.tensor(a)
    np.testing.assert_allclose(ours.weight.detach().numpy(), a, rtol=1e-6)
    parametrize.register_parametrization(ours, "weight", Scale())
    np.testing.assert_allclose(ours.weight.detach().numpy(), 2 * a, rtol=1e-6)
    ours.weight = ember.tensor(4 * a)  # through both right inverses, in reverse order
    np.testing.assert_allclose(ours.parametrizations.weight.original.detach().numpy(), np.triu(2 * a), rtol=1e-6)
    _steps_plain(ours)
    parametrize.remove_parametrizations(ours, "weight", leave_parametrized=False)
    assert type(ours) is nn.Linear and not hasattr(ours, "parametrizations")


def _steps_plain(layer):
    x = ember.randn(4, 3)
    (layer(x) ** 2).sum().backward()
    assert layer.parametrizations.weight.original.grad is not None


def test_cached_computes_each_parametrized_tensor_once():
    layer = parametrize.register_parametrization(nn.Linear(3, 3), "weight", Symmetric())
    Symmetric.calls = 0
    with parametrize.cached():
        first = layer.weight
        assert layer.weight is first
        with parametrize.cached():
            assert layer.weight is first
    assert Symmetric.calls == 1
    assert layer.weight is not first and Symmetric.calls == 2


def test_a_parametrization_may_not_change_the_shape_unless_unsafe():
    class Row(nn.Module):
        def forward(self, x):
            return x[0]

    with pytest.raises(ValueError, match="may not change the dtype or shape"):
        parametrize.register_parametrization(nn.Linear(3, 3), "weight", Row())
    layer = parametrize.register_parametrization(nn.Linear(3, 3), "weight", Row(), unsafe=True)
    assert layer.weight.shape == (3,)
    with pytest.raises(ValueError, match="has no parameter or buffer named 'kernel'"):
        parametrize.register_parametrization(nn.Linear(3, 3), "kernel", Symmetric())
    with pytest.raises(ValueError, match="does not have a parametrization on bias"):
        parametrize.remove_parametrizations(layer, "bias")


@pytest.mark.parametrize("wrap", [parametrizations.weight_norm, parametrizations.spectral_norm, nn.utils.weight_norm,
                                  nn.utils.spectral_norm])
def test_a_parametrized_layer_trains_under_jit_as_in_eager_mode(wrap):
    def run(compiled):
        ember.manual_seed(0)
        net = nn.Sequential(wrap(nn.Linear(4, 6)), nn.Tanh(), nn.Linear(6, 2))
        opt = ember.optim.SGD(net.parameters(), lr=0.1)
        x = ember.tensor(np.random.default_rng(4).standard_normal((5, 4)).astype(np.float32))

        def step(x):
            opt.zero_grad()
            loss = (net(x) ** 2).sum()
            loss.backward()
            opt.step()
            return loss

        step = ember.jit(step) if compiled else step
        losses = [step(x).item() for _ in range(3)]
        return losses, {k: v.numpy().copy() for k, v in net.state_dict().items()}

    eager, traced = run(False), run(True)
    np.testing.assert_allclose(traced[0], eager[0], rtol=1e-5)
    for key, value in eager[1].items():
        np.testing.assert_allclose(traced[1][key], value, rtol=1e-5, atol=1e-6, err_msg=key)


ORTHOGONAL = [((4, 4), None), ((6, 3), None), ((3, 6), None), ((4, 4), "cayley"), ((6, 3), "cayley"),
              ((3, 6), "cayley"), ((5, 5), "householder"), ((3, 6), "matrix_exp")]


@pytest.mark.parametrize("shape, orthogonal_map", ORTHOGONAL)
def test_orthogonal_matches_torch(shape, orthogonal_map):
    torch.manual_seed(0)
    theirs = TP.orthogonal(torch.nn.Linear(shape[1], shape[0]), orthogonal_map=orthogonal_map)
    ours = parametrizations.orthogonal(nn.Linear(shape[1], shape[0]), orthogonal_map=orthogonal_map)
    assert list(ours.state_dict()) == ["bias", "parametrizations.weight.original", "parametrizations.weight.0.base"]
    weight = ours.weight.detach().numpy()
    gram = weight @ weight.T if shape[0] < shape[1] else weight.T @ weight
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-5)  # orthonormal from the start
    with torch.no_grad():  # away from the starting point -I, where every map's gradient is simplest
        theirs.parametrizations.weight.original.add_(torch.randn(shape) * 0.1)
    _load(ours, theirs)
    _steps(ours, theirs, (5, shape[1]), lr=0.05)


def test_orthogonal_without_the_trivialization_matches_torch():
    ours, theirs = _pair(lambda: torch.nn.Linear(4, 4), lambda: nn.Linear(4, 4), TP.orthogonal,
                         parametrizations.orthogonal, use_trivialization=False)
    assert list(ours.state_dict()) == ["bias", "parametrizations.weight.original"]
    _steps(ours, theirs, (5, 4), lr=0.05)


def test_orthogonal_assignment_and_refusals():
    layer = parametrizations.orthogonal(nn.Linear(3, 5))
    q = np.linalg.qr(np.random.default_rng(5).standard_normal((5, 3)))[0].astype(np.float32)
    layer.weight = ember.tensor(q)
    np.testing.assert_allclose(layer.weight.detach().numpy(), q, atol=1e-5)
    with pytest.raises(ValueError, match="expected a matrix or batch of matrices, got a tensor of 1"):
        parametrizations.orthogonal(nn.Linear(3, 5), "bias")
    with pytest.raises(ValueError, match='orthogonal_map has to be one of "matrix_exp"'):
        parametrizations.orthogonal(nn.Linear(3, 3), orthogonal_map="polar")
    # a complex weight went through X - X^T (not X - X^H): without the trivialization matrix_exp's weight was not
    # unitary (W^H W 0.8 off the identity), with it QR refused with a message that did not name orthogonal
    for trivialization in (True, False):
        with pytest.raises(ValueError, match=r"orthogonal: only real weights are supported, got complex128\[4, 4\]"):
            parametrizations.orthogonal(nn.Linear(4, 4, dtype="complex128"), use_trivialization=trivialization)


@pytest.mark.parametrize("shape", [(4, 4), (6, 3), (3, 6)])
def test_the_householder_map_without_the_trivialization_stores_what_torch_stores(shape):
    ours, theirs = _pair(lambda: torch.nn.Linear(shape[1], shape[0]), lambda: nn.Linear(shape[1], shape[0]),
                         TP.orthogonal, parametrizations.orthogonal, orthogonal_map="householder",
                         use_trivialization=False)
    big = max(shape)
    q = np.linalg.qr(np.random.default_rng(6).standard_normal((big, big)))[0][:shape[0], :shape[1]]
    q = (q if shape[0] >= shape[1] else np.linalg.qr(q.T)[0].T).astype(np.float32)  # orthonormal rows when wide
    ours.weight = ember.tensor(q)
    with torch.no_grad():
        theirs.weight = torch.tensor(q)
    np.testing.assert_allclose(ours.weight.detach().numpy(), q, atol=1e-5)  # assigned through geqrf, read back
    np.testing.assert_allclose(ours.parametrizations.weight.original.detach().numpy(),
                               theirs.parametrizations.weight.original.detach().numpy(), atol=1e-5)
    _steps(ours, theirs, (5, shape[1]), lr=0.05)


@pytest.mark.parametrize("orthogonal_map", ["cayley", "householder"])
def test_an_orthogonal_layer_trains_under_jit_as_in_eager_mode(orthogonal_map):
    test_a_parametrized_layer_trains_under_jit_as_in_eager_mode(
        lambda layer: parametrizations.orthogonal(layer, orthogonal_map=orthogonal_map))


def test_the_matrix_exponential_is_refused_under_jit():
    layer = parametrizations.orthogonal(nn.Linear(3, 3))
    with pytest.raises(TypeError, match="matrix_exp map scales the matrix by its norm"):
        ember.jit(lambda x: layer(x).sum())(ember.ones(2, 3))


def test_the_matrix_exponential_and_householder_product_match_torch():
    from ember.nn.utils.orthogonal import householder_product, matrix_exp_skew

    rng = np.random.default_rng(6)
    a = rng.standard_normal((2, 5, 5)) * 3.0  # norms past 1/2: several squarings
    np.testing.assert_allclose(matrix_exp_skew(ember.tensor(a - a.swapaxes(-1, -2))).numpy(),
                               torch.matrix_exp(torch.tensor(a - a.swapaxes(-1, -2))).numpy(), rtol=1e-9, atol=1e-9)
    reflectors, tau = rng.standard_normal((6, 4)), rng.standard_normal(4)
    np.testing.assert_allclose(householder_product(ember.tensor(reflectors), ember.tensor(tau)).numpy(),
                               torch.linalg.householder_product(torch.tensor(reflectors), torch.tensor(tau)).numpy(),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("wrap", ["weight_norm", "orthogonal"])
def test_transfer_parametrizations_and_params_shares_the_originals_as_torch(wrap):
    ours, theirs = _pair(lambda: torch.nn.Linear(4, 4), lambda: nn.Linear(4, 4), getattr(TP, wrap),
                         getattr(parametrizations, wrap))
    ours_to, theirs_to = nn.Linear(4, 4), torch.nn.Linear(4, 4)
    _load(ours_to, theirs_to)  # (the orthogonal map's base becomes the target weight's, in both)
    assert parametrize.transfer_parametrizations_and_params(ours, ours_to) is ours_to
    torch.nn.utils.parametrize.transfer_parametrizations_and_params(theirs, theirs_to)
    assert list(ours_to.state_dict()) == list(theirs_to.state_dict())
    assert all(a is b for a, b in zip(ours.parametrizations.weight.originals(),
                                      ours_to.parametrizations.weight.originals()))
    np.testing.assert_allclose(ours_to.weight.detach().numpy(), theirs_to.weight.detach().numpy(), atol=1e-6)
    assert parametrize.transfer_parametrizations_and_params(nn.Linear(2, 2), ours_to) is ours_to
