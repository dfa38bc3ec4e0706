"""PyTorch's everyday surface on Ember, each call checked against PyTorch itself."""

import warnings

import numpy as np
import pytest
import torch

import ember


def _pair(*shape, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return ember.tensor(x), torch.from_numpy(x.copy())


@pytest.mark.parametrize("call", [
    lambda m, x: m.sum(x, dim=1), lambda m, x: x.sum(dim=(0, 2), keepdim=True), lambda m, x: x.mean(dim=-1),
    lambda m, x: x.prod(dim=0), lambda m, x: m.logsumexp(x, dim=1), lambda m, x: x.argmax(dim=2),
    lambda m, x: x.argmin(dim=1, keepdim=True), lambda m, x: m.softmax(x, dim=1), lambda m, x: x.log_softmax(dim=-1),
    lambda m, x: x.unsqueeze(dim=1), lambda m, x: m.cat([x, x], dim=2), lambda m, x: m.stack([x, x], dim=1),
    lambda m, x: m.flatten(x, start_dim=1), lambda m, x: x.amax(dim=1), lambda m, x: x.amin(dim=(1, 2)),
    lambda m, x: m.split(x, 2, dim=2)[1], lambda m, x: m.chunk(x, 2, dim=2)[0],
    lambda m, x: (x > 0).any(dim=1), lambda m, x: (x > -3).all(dim=0),
    lambda m, x: m.gather(x, 1, m.zeros((2, 1, 4), dtype=m.long)),
])
def test_dim_and_keepdim_match_torch(call):
    ours, theirs = _pair(2, 3, 4)
    np.testing.assert_allclose(np.asarray(call(ember, ours)), call(torch, theirs).numpy(), rtol=1e-5, atol=1e-6)


def test_var_and_std_take_dim_and_default_to_pytorchs_unbiased_estimate():
    ours, theirs = _pair(3, 4)
    np.testing.assert_allclose(ours.var(dim=1).numpy(), theirs.var(dim=1).numpy(), rtol=1e-5)
    np.testing.assert_allclose(ember.std(ours).numpy(), torch.std(theirs).numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.var(dim=1, ddof=0).numpy(), theirs.var(dim=1, unbiased=False).numpy(), rtol=1e-5)
    # PyTorch's positional forms: (dim, unbiased, keepdim), and unbiased alone
    for args in ((0, False), (1, True, True), (False,), (True,)):
        np.testing.assert_allclose(ours.std(*args).numpy(), theirs.std(*args).numpy(), rtol=1e-5)
        np.testing.assert_allclose(ember.var(ours, *args).numpy(), torch.var(theirs, *args).numpy(), rtol=1e-5)
    with pytest.raises(TypeError, match="sum: got both axis= and dim="):
        ours.sum(axis=0, dim=1)


def test_var_and_std_of_too_few_elements_warn_and_give_nan_or_inf_as_torch():
    for values, correction in (([2.0], 1), ([1.0, 3.0], 3), ([1.0, 1.0], 2)):
        with pytest.warns(RuntimeWarning, match="degrees of freedom <= 0"):
            ours = ember.tensor(values).var(correction=correction)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = torch.tensor(values).var(correction=correction)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_max_and_min_with_dim_return_values_and_indices_as_torch():
    ours, theirs = _pair(4, 5)
    for name in ("max", "min"):
        values, indices = getattr(ember, name)(ours, 1)
        expected = getattr(torch, name)(theirs, 1)
        np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
        np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
        kept = getattr(ours, name)(dim=0, keepdim=True)
        assert kept.values.shape == (1, 5) and kept.indices.dtype == np.int64
        assert float(getattr(ours, name)()) == float(getattr(theirs, name)())
        np.testing.assert_array_equal(getattr(ember, name)(ours, axis=1).numpy(), expected.values.numpy())
    _, predicted = ember.max(ours, 1)  # the tutorials' idiom
    np.testing.assert_array_equal(predicted.numpy(), torch.max(theirs, 1)[1].numpy())
    other = ember.zeros(4, 5)
    np.testing.assert_array_equal(ember.max(ours, other).numpy(), torch.max(theirs, torch.zeros(4, 5)).numpy())


def test_transpose_swaps_two_axes_as_torch_and_permutes_as_numpy():
    ours, theirs = _pair(2, 3, 4)
    np.testing.assert_array_equal(ours.transpose(0, 2).numpy(), theirs.transpose(0, 2).numpy())
    np.testing.assert_array_equal(ember.transpose(ours, -1, 1).numpy(), torch.transpose(theirs, -1, 1).numpy())
    np.testing.assert_array_equal(ours.transpose((2, 0, 1)).numpy(), theirs.numpy().transpose(2, 0, 1))
    np.testing.assert_array_equal(ours.transpose(2, 0, 1).numpy(), theirs.numpy().transpose(2, 0, 1))
    assert ember.transpose(ours).shape == (4, 3, 2)
    square = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert square.transpose(0, 1).tolist() == [[1.0, 3.0], [2.0, 4.0]]  # PyTorch's reading of two axes


def test_tensor_methods_match_torch():
    ours, theirs = _pair(3, 4)
    other, other_t = _pair(4, 2, seed=1)
    np.testing.assert_allclose(ours.mm(other).numpy(), theirs.mm(other_t).numpy(), rtol=1e-5)
    np.testing.assert_array_equal(ours.t().numpy(), theirs.t().numpy())
    np.testing.assert_array_equal(ours.narrow(1, 1, 2).numpy(), theirs.narrow(1, 1, 2).numpy())
    np.testing.assert_array_equal(ours.t().contiguous().numpy(), theirs.t().contiguous().numpy())
    assert ours.t().contiguous().is_contiguous() and not ours.t().is_contiguous()
    assert ours.new_zeros(2, 3).shape == (2, 3) and ours.new_ones((2,)).dtype == np.float32
    assert ours.new_full((2,), 7).tolist() == [7.0, 7.0] and ours.new_tensor([1, 2]).dtype == np.float32
    np.testing.assert_array_equal(ours.eq(ours).numpy(), theirs.eq(theirs).numpy())
    np.testing.assert_array_equal(ours.gt(0).numpy(), theirs.gt(0).numpy())
    assert ours.view_as(ember.zeros(12)).shape == (12,) and ours.sum(dim=0).expand_as(ours).shape == (3, 4)
    assert ours.type() == "ember.FloatTensor" and ours.type(ember.long).dtype == np.int64
    assert ours.type("torch.DoubleTensor").dtype == np.float64 and ours.type_as(ember.zeros(1, dtype="int32")).dtype \
        == np.int32
    loss = ours.sum()
    assert f"{loss:.3f}" == f"{theirs.sum():.3f}"
    assert ours.is_cuda is False and ours.is_floating_point() and ours.element_size() == 4
    np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())
    with pytest.raises(IndexError, match="narrow"):
        ours.narrow(1, 3, 2)
    with pytest.raises(ValueError, match="mm: expected two 2-D tensors"):
        ours.mm(ember.zeros(4))


def test_to_an_unknown_device_says_which_devices_exist():
    with pytest.raises(ValueError, match="no 'gpu' device; its devices are 'cpu' and 'cuda'"):
        ember.zeros(2).to("gpu")


def test_dtype_aliases_utils_data_and_inference_mode():
    assert ember.long == np.int64 and ember.int == np.int32 and ember.short == np.int16
    assert ember.float == np.float32 and ember.double == np.float64 and ember.half == np.float16
    from ember.utils.data import DataLoader, TensorDataset

    assert DataLoader is ember.data.DataLoader
    loader = DataLoader(TensorDataset(ember.arange(6)), batch_size=4)
    assert [len(b[0]) for b in loader] == [4, 2]
    w = ember.ones(2, requires_grad=True)
    with ember.inference_mode():
        assert not (w * 2).requires_grad
    assert (w * 2).requires_grad

    @ember.inference_mode()
    def predict(x):
        return x * w

    assert not predict(ember.ones(2)).requires_grad


def test_parameter_list_registers_its_parameters():
    class Net(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = ember.nn.ParameterList([ember.nn.Parameter(ember.ones(2)) for _ in range(3)])

        def forward(self, x):
            for w in self.weights:
                x = x * w
            return x

    net = Net()
    assert len(list(net.parameters())) == 3 and list(net.state_dict()) == ["weights.0", "weights.1", "weights.2"]
    net.weights.append(ember.zeros(2))
    assert isinstance(net.weights[-1], ember.nn.Parameter) and len(net.weights) == 4
    net(ember.ones(2)).sum().backward()
    assert net.weights[0].grad.tolist() == [0.0, 0.0]


def test_parameter_list_holds_other_objects_as_they_are_as_torch():
    # a number became a trainable Parameter (and an int failed: "only floating-point ... can require gradients")
    ours, theirs = ember.nn.ParameterList([3.0, ember.ones(2), 4]), torch.nn.ParameterList([3.0, torch.ones(2), 4])
    assert [p.shape for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()] == [(2,)]
    assert (ours[0], ours[2]) == (theirs[0], theirs[2]) == (3.0, 4)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["1"]
    for holder in (ours, theirs):
        with pytest.raises(TypeError, match=r"cannot assign '?int'? as parameter '1'"):
            holder[1] = 5
    ours[0], theirs[0] = 5, 5
    assert ours[0] == theirs[0] == 5
    assert "(0): Object of type: int" in repr(ours)


def test_parameter_list_takes_integer_indices_only_as_torch():
    # p[1.0] = t registered a new parameter "1.0" next to "1"; p[1.0] raised an AttributeError naming '1.0'
    ours, theirs = ember.nn.ParameterList([ember.ones(1), ember.ones(2)]), torch.nn.ParameterList([torch.ones(1)] * 2)
    for holder, made in ((ours, ember.zeros(3)), (theirs, torch.zeros(3))):
        with pytest.raises(TypeError, match="'float' object cannot be interpreted as an integer"):
            holder[1.0] = made
        with pytest.raises(TypeError, match="'float' object cannot be interpreted as an integer"):
            holder[1.0]  # noqa: B018
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0", "1"]
    ours[np.int64(-1)] = ember.zeros(3)
    assert ours[1].shape == (3,)


def test_clip_grad_norm_under_nn_utils_matches_torch():
    ours, theirs = _pair(5, seed=3)
    ours.requires_grad_()
    theirs.requires_grad_()
    (ours * ours * 3).sum().backward()
    (theirs * theirs * 3).sum().backward()
    total = ember.nn.utils.clip_grad_norm_([ours], 1.0)
    expected = torch.nn.utils.clip_grad_norm_([theirs], 1.0)
    np.testing.assert_allclose(float(total), float(expected), rtol=1e-5)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5)
    vector = ember.nn.utils.parameters_to_vector([ours, ember.ones(2)])
    assert vector.shape == (7,)


def test_dropout2d_zeros_whole_channels_and_scales_the_rest():
    ember.manual_seed(0)
    out = ember.nn.Dropout2d(0.5)(ember.ones(8, 16, 3, 3)).numpy()
    per_channel = out.reshape(8, 16, 9)
    assert set(np.unique(out)) == {0.0, 2.0} and (per_channel == per_channel[..., :1]).all()
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7
    drop = ember.nn.Dropout2d(0.5).eval()
    assert (drop(ember.ones(2, 3, 2, 2)).numpy() == 1).all()


def test_adadelta_matches_torch():
    ours, theirs = _pair(6, seed=4)
    ours.requires_grad_()
    theirs.requires_grad_()
    opt, ref = ember.optim.Adadelta([ours], lr=0.5, weight_decay=0.01), torch.optim.Adadelta([theirs], lr=0.5,
                                                                                              weight_decay=0.01)
    for _ in range(5):
        for x, o in ((ours, opt), (theirs, ref)):
            o.zero_grad()
            ((x - 1.0) ** 2).sum().backward()
            o.step()
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_lbfgs_matches_torch_on_least_squares():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((20, 4)), rng.standard_normal(20)
    ours = ember.zeros(4, dtype="float64", requires_grad=True)
    theirs = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    opt, ref = ember.optim.LBFGS([ours], lr=1.0, max_iter=15), torch.optim.LBFGS([theirs], lr=1.0, max_iter=15)

    def closure_for(x, o, lib):
        def closure():
            o.zero_grad()
            loss = ((lib.from_numpy(a) @ x - lib.from_numpy(b)) ** 2).mean()
            loss.backward()
            return loss
        return closure

    for _ in range(2):
        first = opt.step(closure_for(ours, opt, ember))
        expected = ref.step(closure_for(theirs, ref, torch))
        np.testing.assert_allclose(float(first), float(expected.detach()), rtol=1e-8)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.detach().numpy(), np.linalg.lstsq(a, b, rcond=None)[0], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="LBFGS: line_search_fn must be None or 'strong_wolfe', got 'wolfe'"):
        ember.optim.LBFGS([ours], line_search_fn="wolfe")


def _rosenbrock(x):
    return ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()


@pytest.mark.parametrize("kwargs", [{}, {"history_size": 3, "max_iter": 7},
                                    {"lr": 0.5, "max_iter": 30, "max_eval": 40}])
def test_lbfgs_strong_wolfe_takes_torchs_steps(kwargs):
    """The strong Wolfe line search (refused before): in float64 the same steps, evaluations and iterations as torch's
    on the Rosenbrock function."""
    start = np.array([-1.2, 1.0, -0.5, 0.8])
    ours, theirs = ember.tensor(start, requires_grad=True), torch.tensor(start, requires_grad=True)
    opt = ember.optim.LBFGS([ours], line_search_fn="strong_wolfe", **kwargs)
    ref = torch.optim.LBFGS([theirs], line_search_fn="strong_wolfe", **kwargs)

    def closure_for(x, o):
        def closure():
            o.zero_grad()
            loss = _rosenbrock(x)
            loss.backward()
            return loss
        return closure

    for _ in range(4):
        first, expected = opt.step(closure_for(ours, opt)), ref.step(closure_for(theirs, ref))
        # float64 rounding, grown where the minimum is flat (losses near 1e-11)
        np.testing.assert_allclose(float(first.detach()), float(expected.detach()), rtol=1e-8, atol=1e-9)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-7, atol=1e-8)
        assert opt.state[ours]["func_evals"] == ref.state[theirs]["func_evals"]
        assert opt.state[ours]["n_iter"] == ref.state[theirs]["n_iter"]
    assert opt.param_groups[0]["line_search_fn"] == "strong_wolfe"


def test_cuda_helpers_in_torchs_names():
    assert ember.cuda.is_available() in (True, False) and isinstance(ember.cuda.device_count(), int)
    device = ember.device("cuda" if ember.cuda.is_available() else "cpu")
    assert ember.zeros(1, device=device).device == device
    ember.cuda.manual_seed_all(1)
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            ember.cuda.current_device()


def test_tensor_repeat_tiles_as_torch_and_numpys_form_needs_axis():
    ours, theirs = _pair(2, 3)
    np.testing.assert_array_equal(ours.repeat(2, 3).numpy(), theirs.repeat(2, 3).numpy())
    np.testing.assert_array_equal(ours.repeat(4, 1, 1).numpy(), theirs.repeat(4, 1, 1).numpy())
    np.testing.assert_array_equal(ours.repeat_interleave(2).numpy(), theirs.repeat_interleave(2).numpy())
    np.testing.assert_array_equal(ours.repeat(2, axis=1).numpy(), np.repeat(theirs.numpy(), 2, axis=1))
    with pytest.raises(ValueError, match="one per dimension"):
        ours.repeat(2)


def test_set_default_device_is_where_creation_functions_put_tensors():
    assert ember.get_default_device() == ember.device("cpu")
    ember.set_default_device("cpu")
    assert ember.zeros(2).device.type == "cpu" and ember.tensor([1.0]).device.type == "cpu"
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        ember.set_default_device("gpu")


@pytest.mark.parametrize("source, target", [("float32", "int32"), ("float32", "uint8"), ("float32", "float16"),
                                            ("float32", "float64"), ("float64", "int64"), ("float32", "bfloat16")])
def test_view_as_a_dtype_reads_the_same_bytes_as_torch(source, target):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(source)
    ours, theirs = ember.tensor(x).view(getattr(ember, target)), torch.from_numpy(x).view(getattr(torch, target))
    assert ours.shape == tuple(theirs.shape) and ours.dtype == getattr(ember, target)
    np.testing.assert_array_equal(ours.numpy().view(np.uint8), theirs.view(torch.uint8).numpy())
    grad_source = ember.tensor(x, requires_grad=True)
    assert not grad_source.view(getattr(ember, target)).requires_grad  # as torch: the bytes carry no gradient


def test_view_as_a_dtype_refuses_what_torch_refuses():
    with pytest.raises(ValueError, match="view_dtype: .* needs its last dimension contiguous"):
        ember.ones(3, 4).T.view(ember.float16)
    with pytest.raises(ValueError, match="do not divide into float64 elements"):
        ember.ones(3).view(ember.float64)
    with pytest.raises(ValueError, match="a 0-d tensor can only be viewed as a dtype of its element size"):
        ember.tensor(1.0).view(ember.float16)
    with pytest.raises(TypeError, match="view: give a shape or a dtype"):
        ember.ones(4).view(2, 2, dtype=ember.int32)


def test_sdpa_kernel_switches_the_backends_flags_and_restores_them():
    from ember.nn.attention import SDPBackend, sdpa_kernel

    theirs = torch.nn.attention.SDPBackend.__members__
    assert {m.name: m.value for m in SDPBackend} == {name: int(member) for name, member in theirs.items()}
    flags = ember.backends.cuda
    q = ember.tensor(np.random.default_rng(0).standard_normal((1, 2, 4, 8)).astype(np.float32))
    expected = ember.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True).numpy()
    with pytest.raises(ZeroDivisionError), sdpa_kernel(SDPBackend.MATH):
        assert flags.math_sdp_enabled() and not flags.flash_sdp_enabled() and not flags.cudnn_sdp_enabled()
        np.testing.assert_array_equal(
            ember.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True).numpy(), expected)
        raise ZeroDivisionError  # the flags come back after an error too
    assert flags.math_sdp_enabled() and flags.flash_sdp_enabled() and flags.mem_efficient_sdp_enabled()
    with pytest.raises(TypeError, match="sdpa_kernel: backends must be SDPBackend members"):
        with sdpa_kernel(["math"]):
            pass


def test_grad_fn_walks_to_the_leaves_and_takes_prehooks_as_torch():
    def build(m, x):
        return ((x * 2 + m.ones(2)).exp()).sum()

    ours_x, theirs_x = ember.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    ours, theirs = build(ember, ours_x), build(torch, theirs_x)
    assert ours.grad_fn.name() == theirs.grad_fn.name() == "SumBackward0"

    def leaves(fn):  # a torchviz-style walk
        found, stack = [], [fn]
        while stack:
            node = stack.pop()
            if hasattr(node, "variable"):
                found.append(node.variable)
            stack.extend(n for n, _ in node.next_functions if n is not None)
        return found

    assert [v is ours_x for v in leaves(ours.grad_fn)] == [True]
    assert len(leaves(theirs.grad_fn)) == 1
    handle = ours.grad_fn.register_prehook(lambda grads: (grads[0] * 3,))
    theirs.grad_fn.register_prehook(lambda grads: (grads[0] * 3,))
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-6)
    handle.remove()
    assert ours.grad_fn.next_functions == ()  # freed by the backward


def test_grad_fn_prehooks_run_after_the_tensor_hooks_and_retain_grad_as_torch():
    def run(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3
        log = []
        y.grad_fn.register_prehook(lambda grads: (log.append(("pre1", grads[0].tolist())), (grads[0] * 10,))[1])
        y.grad_fn.register_prehook(lambda grads: log.append(("pre2", grads[0].tolist())))
        y.retain_grad()
        y.register_hook(lambda g: (log.append(("tensor", g.tolist())), g + 1)[1])
        (y * y).sum().backward()
        return log, y.grad.numpy(), x.grad.numpy()

    (ours_log, ours_y, ours_x), (theirs_log, theirs_y, theirs_x) = run(ember), run(torch)
    assert ours_log == theirs_log  # tensor hook, then the pre-hooks in registration order
    np.testing.assert_allclose(ours_y, theirs_y)  # [7, 13]: before the pre-hooks
    np.testing.assert_allclose(ours_x, theirs_x)  # [210, 390]


def test_grad_fn_register_hook_sees_and_replaces_the_input_gradients_as_torch():
    def run(m):
        x = m.tensor([1.0, 2.0], dtype=m.float64, requires_grad=True)
        y = m.tensor([3.0], dtype=m.float64, requires_grad=True)
        c = m.cat([x.exp(), y, x], 0)
        log = []

        def post(grad_inputs, grad_outputs):
            log.append(([None if g is None else g.tolist() for g in grad_inputs], grad_outputs[0].tolist()))
            return grad_inputs[0] * 2, None, grad_inputs[2] * 3  # None: y gets no gradient

        c.grad_fn.register_hook(post)
        c.grad_fn.register_prehook(lambda grads: (grads[0] * 5,))
        (c * c).sum().backward()
        return log, x.grad.numpy(), y.grad

    (ours_log, ours_x, ours_y), (theirs_log, theirs_x, theirs_y) = run(ember), run(torch)
    assert len(ours_log) == len(theirs_log) == 1
    for ours, theirs in zip(ours_log[0][0] + [ours_log[0][1]], theirs_log[0][0] + [theirs_log[0][1]]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    np.testing.assert_allclose(ours_x, theirs_x, rtol=1e-12)  # [219.96, 1240.85]
    assert ours_y is None and theirs_y is None
    z = ember.ones(2, requires_grad=True) * ember.ones(2, requires_grad=True)
    z.grad_fn.register_hook(lambda grad_inputs, grad_outputs: grad_inputs[:1])
    with pytest.raises(RuntimeError, match="MulBackward0.register_hook: hook '<lambda>' returned 1 gradients"):
        z.sum().backward()
    z = ember.ones(2, requires_grad=True) * 2.0
    z.grad_fn.register_hook(lambda grad_inputs, grad_outputs: (grad_inputs[0].double(), None))
    with pytest.raises(RuntimeError, match=r"returned a gradient of float64\[2\] for an input of float32\[2\]"):
        z.sum().backward()  # (PyTorch: "hook has changed the type of value")


def test_expanding_to_its_own_shape_gives_a_new_view_whose_hooks_see_only_its_gradients_as_torch():
    def run(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x.expand_as(x)
        leaf = y.grad_fn.next_functions[0][0].variable is x  # (the idiom that reaches a parameter's AccumulateGrad)
        seen = []
        y.register_hook(lambda g: (seen.append(g.tolist()), g * 10)[1])
        ((y * 2).sum() + (x * 3).sum()).backward()
        h = x * 1
        e = h.expand(2)
        e.register_hook(lambda g: g * 0)
        ((e * 2).sum() + (h * 3).sum()).backward()
        return seen, x.grad.tolist(), leaf

    ours, theirs = run(ember), run(torch)
    assert ours == theirs  # ([[2, 2]], [26, 26], True); the hooks were x's own: [[5, 5]], [50, 50]


def test_accumulate_grad_hooks_reached_through_expand_as_run_as_torch():
    def run(m):
        p = m.tensor([1.0, 2.0], requires_grad=True)
        acc = p.expand_as(p).grad_fn.next_functions[0][0]  # DDP-style per-parameter gradient-ready hooks
        log = []
        handle = acc.register_hook(lambda grad_inputs, grad_outputs: log.append(
            ("post", grad_inputs, grad_outputs[0].tolist(), p.grad.tolist())))
        acc.register_prehook(lambda grads: (log.append(("pre", grads[0].tolist())), (grads[0] * 2,))[1])
        p.register_hook(lambda g: (log.append(("tensor", g.tolist())), g + 1)[1])
        (p * 3).sum().backward()
        (p * 5).sum().backward()
        handle.remove()
        (p * 1).sum().backward()
        return acc.name(), log, p.grad.tolist()

    assert run(ember) == run(torch)  # post: the gradient after the pre-hook ([8, 8], [12, 12]); .grad [24, 24]


def test_a_0d_tensor_beside_one_with_dimensions_promotes_as_torch():
    import itertools

    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64",
             "complex64", "complex128"]
    for a, b in itertools.product(names, names):
        for shape_a, shape_b in (((3,), ()), ((), (3,)), ((), ()), ((3,), (3,))):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = (torch.ones(shape_a, dtype=getattr(torch, a)) + torch.ones(shape_b, dtype=getattr(torch, b)))
            if expected.dtype == torch.complex32:  # Ember has no complex32: complex64 instead
                continue
            ours, theirs = ember.ones(shape_a, dtype=getattr(ember, a)), ember.ones(shape_b, dtype=getattr(ember, b))
            got = (ours + theirs).dtype
            assert str(got) == str(expected.dtype).removeprefix("torch."), (a, shape_a, b, shape_b)
            assert ember.result_type(ours, theirs) == got


def test_storages_show_the_shared_memory_as_torch():
    base, theirs = _pair(2, 3)
    views, their_views = (base[1], base.T, base.reshape(-1)), (theirs[1], theirs.T, theirs.reshape(-1))
    for ours, expected in zip(views, their_views):
        assert ours.untyped_storage().data_ptr() == base.untyped_storage().data_ptr()
        assert ours.untyped_storage().nbytes() == expected.untyped_storage().nbytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch: TypedStorage is deprecated
            assert ours.storage().size() == expected.storage().size()
            np.testing.assert_array_equal(ours.storage().tolist(), expected.storage().tolist())
    assert base.clone().untyped_storage().data_ptr() != base.untyped_storage().data_ptr()
    with pytest.raises(RuntimeError, match="UntypedStorage.resize_: Ember cannot resize memory"):
        base.untyped_storage().resize_(0)


def test_all_and_any_keep_uint8_as_torch():
    values = np.array([[1, 0], [2, 3]], np.uint8)
    for name in ("all", "any"):
        for args in ((), (1,)):
            ours = getattr(ember.tensor(values), name)(*args)
            theirs = getattr(torch.tensor(values), name)(*args)
            assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ember.tensor([1, 0]).all().dtype == ember.bool


@pytest.mark.parametrize("name", ["new_zeros", "new_ones", "new_empty"])
def test_new_zeros_ones_and_empty_take_size_as_a_keyword_as_pytorch(name):
    # x.new_zeros(size=(2, 3)), PyTorch's keyword, was a TypeError
    ours = getattr(ember.zeros(2, dtype="int32"), name)(size=(2, 3))
    theirs = getattr(torch.zeros(2, dtype=torch.int32), name)(size=(2, 3))
    assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == "int32"
    with pytest.raises(TypeError, match=f"{name}: got size= and sizes as arguments"):
        getattr(ember.zeros(2), name)(2, size=(2, 3))
