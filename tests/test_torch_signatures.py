"""PyTorch's keyword arguments that pick an implementation or a convenience (``DataLoader``'s ``pin_memory``,
``generator``, ``prefetch_factor``; the optimizers' ``foreach``/``fused``/``capturable``; Adam's
``decoupled_weight_decay``) against torch."""

import inspect

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

OPTIMIZERS = ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"]


def test_dataloader_takes_torch_positions_and_keywords():
    mine = list(inspect.signature(ember.utils.data.DataLoader.__init__).parameters)
    theirs = list(inspect.signature(torch.utils.data.DataLoader.__init__).parameters)
    assert mine[:len(theirs)] == theirs
    data = ember.utils.data.TensorDataset(ember.arange(10))
    # DataLoader(dataset, batch_size, shuffle, sampler, batch_sampler, num_workers, collate_fn, pin_memory, drop_last)
    loader = ember.utils.data.DataLoader(data, 4, False, None, None, 0, None, True, True)
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert loader.pin_memory and loader.drop_last


def test_dataloader_generator_drives_the_shuffle():
    data = ember.utils.data.TensorDataset(ember.arange(20))

    def order(seed):
        loader = ember.utils.data.DataLoader(data, batch_size=5, shuffle=True, generator=np.random.default_rng(seed))
        return [b[0].tolist() for b in loader]

    assert order(3) == order(3) and order(3) != order(4)
    assert sorted(sum(order(3), [])) == list(range(20))


def test_dataloader_worker_options():
    data = ember.utils.data.TensorDataset(ember.arange(8))
    with pytest.raises(ValueError, match="prefetch_factor is for worker processes"):
        ember.utils.data.DataLoader(data, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers=True needs num_workers > 0"):
        ember.utils.data.DataLoader(data, persistent_workers=True)
    loader = ember.utils.data.DataLoader(data, batch_size=4, num_workers=1, prefetch_factor=3, persistent_workers=True,
                                         in_order=True, pin_memory_device="")
    assert loader.prefetch == 3 and loader.persistent_workers
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizers_take_the_implementation_keywords(name):
    theirs = inspect.signature(getattr(torch.optim, name).__init__).parameters
    options = {k: theirs[k].default for k in ("foreach", "fused", "capturable", "differentiable") if k in theirs}
    w = ember.ones(3, requires_grad=True)
    opt = getattr(ember.optim, name)([w], lr=0.1, **options)
    (w * w).sum().backward()
    opt.step()
    if "foreach" in theirs:
        getattr(ember.optim, name)([w], lr=0.1, foreach=True)
    with pytest.raises(ValueError, match=f"{name}: differentiable=True is not supported"):
        getattr(ember.optim, name)([w], lr=0.1, differentiable=True)
    with pytest.raises(TypeError, match=f"{name}.__init__\\(\\) got an unexpected keyword argument 'colour'"):
        getattr(ember.optim, name)([w], lr=0.1, colour=True)


@pytest.mark.parametrize("name", OPTIMIZERS + ["SparseAdam"])
def test_optimizers_refuse_the_implementation_keywords_torch_refuses(name):
    """Each optimizer takes the implementation keywords its torch optimizer takes, no others (SGD took
    capturable=True, SparseAdam foreach=True), and refuses fused=True with foreach=True as torch (both were taken)."""
    theirs = inspect.signature(getattr(torch.optim, name).__init__).parameters
    w = ember.ones(3, requires_grad=True)
    for key in ("foreach", "fused", "capturable"):
        if key in theirs:
            getattr(ember.optim, name)([w], lr=0.1, **{key: True})
            continue
        with pytest.raises(TypeError, match=f"{name}.__init__\\(\\) got an unexpected keyword argument '{key}'"):
            getattr(torch.optim, name)([torch.ones(3, requires_grad=True)], lr=0.1, **{key: True})
        with pytest.raises(TypeError, match=f"{name}.__init__\\(\\) got an unexpected keyword argument '{key}'"):
            getattr(ember.optim, name)([w], lr=0.1, **{key: True})
    if "fused" in theirs:
        with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together"):
            getattr(torch.optim, name)([torch.ones(3, requires_grad=True)], lr=0.1, fused=True, foreach=True)
        with pytest.raises(RuntimeError, match=f"{name}: `fused` and `foreach` cannot be `True` together"):
            getattr(ember.optim, name)([w], lr=0.1, fused=True, foreach=True)
        getattr(ember.optim, name)([w], lr=0.1, fused=True, foreach=False)


def test_adam_decoupled_weight_decay_is_adamw():
    rng = np.random.default_rng(0)
    start, targets = rng.standard_normal(5), [rng.standard_normal(5) for _ in range(4)]
    w, tw = ember.tensor(start, requires_grad=True), torch.tensor(start, requires_grad=True)
    opt = ember.optim.Adam([w], lr=0.1, weight_decay=0.5, decoupled_weight_decay=True)
    topt = torch.optim.Adam([tw], lr=0.1, weight_decay=0.5, decoupled_weight_decay=True)
    for target in targets:
        for param, optimizer, module in ((w, opt, ember), (tw, topt, torch)):
            optimizer.zero_grad()
            ((param - module.tensor(target)) ** 2).sum().backward()
            optimizer.step()
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-12)
    plain = ember.optim.Adam([ember.ones(2, requires_grad=True)], weight_decay=0.5)
    assert plain.param_groups[0]["decoupled_weight_decay"] is False


# --- save / load ---------------------------------------------------------------------------------------------


def test_save_and_load_through_file_objects(tmp_path):
    import io

    state = {"w": ember.arange(6.0).reshape(2, 3), "step": 3, "nested": [ember.ones(2, dtype=ember.int64)]}
    buffer = io.BytesIO()
    ember.save(state, buffer, pickle_protocol=2, _use_new_zipfile_serialization=True)
    buffer.seek(0)
    loaded = ember.load(buffer, map_location="cpu", weights_only=True)
    np.testing.assert_array_equal(loaded["w"].numpy(), state["w"].numpy())
    assert loaded["step"] == 3 and loaded["nested"][0].dtype == ember.int64
    path = tmp_path / "ckpt.pt"
    with open(path, "wb") as f:
        ember.save(state, f)
    with open(path, "rb") as f:
        assert ember.load(f)["step"] == 3
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        ember.save(state, buffer, colour=1)


def test_load_map_location_forms(tmp_path):
    path = tmp_path / "m.pt"
    ember.save({"w": ember.ones(2)}, path)
    for location in ("cpu", ember.device("cpu"), {"cpu": "cpu"}, {"cuda:0": "cpu", "cuda:1": "cpu"}):
        assert ember.load(path, map_location=location, weights_only=True, mmap=False)["w"].device.type == "cpu"
    seen = []
    loaded = ember.load(path, map_location=lambda storage, location: seen.append(location) or storage * 2)
    assert seen == ["cpu"] and loaded["w"].tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="several devices"):
        ember.load(path, map_location={"cuda:0": "cpu", "cuda:1": "cuda:0"})
    with pytest.raises(TypeError, match="map_location returned int"):
        ember.load(path, map_location=lambda storage, location: 3)
    with pytest.raises(TypeError, match="map_location or device, not both"):
        ember.load(path, map_location="cpu", device="cpu")


def test_data_submodule_paths():
    from ember.utils.data.dataloader import DataLoader, default_collate
    from ember.utils.data.dataset import Dataset, TensorDataset
    from ember.utils.data.distributed import DistributedSampler
    from ember.utils.data.sampler import RandomSampler, Sampler

    assert DataLoader is ember.data.DataLoader and default_collate is ember.data.default_collate
    assert Dataset is ember.data.Dataset and TensorDataset is ember.data.TensorDataset
    assert DistributedSampler is ember.data.DistributedSampler
    assert Sampler is ember.data.Sampler and RandomSampler is ember.data.RandomSampler


NN_SUBMODULES = ["activation", "adaptive", "batchnorm", "channelshuffle", "conv", "distance", "dropout", "flatten",
                 "fold", "instancenorm", "linear", "loss", "normalization", "padding", "pixelshuffle", "pooling", "rnn",
                 "sparse", "transformer", "upsampling", "utils"]


@pytest.mark.parametrize("name", NN_SUBMODULES)
def test_nn_modules_paths_hold_torch_names(name):
    import importlib

    mine = importlib.import_module(f"ember.nn.modules.{name}")
    theirs = importlib.import_module(f"torch.nn.modules.{name}")
    assert mine.__all__ and all(hasattr(theirs, n) for n in mine.__all__)
    public = [n for n in getattr(theirs, "__all__", []) if hasattr(ember.nn, n)]
    assert set(public) <= set(mine.__all__)


def test_layer_class_hierarchy_matches_torch():
    from ember.nn.modules.batchnorm import _BatchNorm, _NormBase
    from ember.nn.modules.conv import _ConvNd
    from ember.nn.modules.instancenorm import _InstanceNorm
    from ember.nn.modules.loss import _Loss, _WeightedLoss

    cases = [(ember.nn.ConvTranspose2d(2, 3, 3), torch.nn.ConvTranspose2d(2, 3, 3)),
             (ember.nn.Conv1d(2, 3, 3), torch.nn.Conv1d(2, 3, 3)),
             (ember.nn.InstanceNorm2d(3), torch.nn.InstanceNorm2d(3)),
             (ember.nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)),
             (ember.nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()), (ember.nn.MSELoss(), torch.nn.MSELoss())]
    bases = [(_ConvNd, torch.nn.modules.conv._ConvNd), (_NormBase, torch.nn.modules.batchnorm._NormBase),
             (_BatchNorm, torch.nn.modules.batchnorm._BatchNorm),
             (_InstanceNorm, torch.nn.modules.instancenorm._InstanceNorm),
             (_Loss, torch.nn.modules.loss._Loss), (_WeightedLoss, torch.nn.modules.loss._WeightedLoss)]
    for mine, theirs in cases:
        for my_base, their_base in bases:
            assert isinstance(mine, my_base) == isinstance(theirs, their_base), (type(mine).__name__, my_base)


def test_ntuple_helpers_and_prefix_consumption():
    from torch.nn.modules import utils as theirs

    from ember.nn.modules.utils import _pair, _quadruple, _single, _triple, consume_prefix_in_state_dict_if_present

    for value in (3, (1, 2), [4, 5, 6]):
        assert _single(value) == theirs._single(value) and _pair(value) == theirs._pair(value)
        assert _triple(value) == theirs._triple(value) and _quadruple(value) == theirs._quadruple(value)
    net = ember.nn.Linear(2, 2)
    state = {f"module.{k}": v for k, v in net.state_dict().items()}
    consume_prefix_in_state_dict_if_present(state, "module.")
    ember.nn.Linear(2, 2).load_state_dict(state)
    assert list(state) == ["weight", "bias"]


def test_losses_take_torch_signatures_and_legacy_flags():
    from torch.nn.modules.loss import _Loss as TorchLoss

    for name in sorted(dir(torch.nn)):
        cls = getattr(torch.nn, name)
        if isinstance(cls, type) and issubclass(cls, TorchLoss) and hasattr(ember.nn, name):
            mine = list(inspect.signature(getattr(ember.nn, name).__init__).parameters)
            assert mine == list(inspect.signature(cls.__init__).parameters), name
            assert issubclass(getattr(ember.nn, name), ember.nn.modules.loss._Loss), name
    for size_average, reduce in ((False, None), (None, False), (True, True), (False, True)):
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            mine = ember.nn.MSELoss(size_average=size_average, reduce=reduce)
        with pytest.warns(UserWarning):
            theirs = torch.nn.MSELoss(size_average=size_average, reduce=reduce)
        assert mine.reduction == theirs.reduction
        with pytest.warns(UserWarning):
            assert ember.nn.CrossEntropyLoss(None, size_average, -1, reduce).reduction == theirs.reduction


def test_user_losses_subclass_loss_as_in_torch():
    from ember.nn.modules.loss import _Loss, _WeightedLoss

    class Focal(_Loss):
        def __init__(self, gamma=2.0, size_average=None, reduce=None, reduction="mean"):
            super().__init__(size_average, reduce, reduction)
            self.gamma = gamma

        def forward(self, p, y):
            loss = -((1 - p) ** self.gamma) * ember.log(p) * y
            return loss.sum() if self.reduction == "sum" else loss.mean()

    assert Focal(reduction="sum").reduction == "sum"
    assert float(Focal()(ember.tensor([0.5, 0.9]), ember.tensor([1.0, 1.0]))) > 0
    weighted = _WeightedLoss(ember.ones(3), None, None, "none")
    assert weighted.reduction == "none" and weighted.weight.shape == (3,)
    with pytest.raises(ValueError, match="reduction must be one of"):
        Focal(reduction="avg")


def test_a_reduction_given_by_position_is_refused_not_misread():
    with pytest.raises(TypeError, match="size_average is PyTorch's old True/False flag, got 'sum'; pass reduction="):
        ember.nn.MSELoss("sum")
    with pytest.raises(TypeError, match="reduce is PyTorch's old"):
        ember.nn.NLLLoss(None, None, -100, "none")


def test_set_grad_enabled_exit_without_enter_restores_the_mode():
    guard = ember.set_grad_enabled(False)
    assert not ember.is_grad_enabled()
    guard.__exit__(None, None, None)
    assert ember.is_grad_enabled()
    assert hasattr(ember.utils.data, "distributed") and hasattr(ember.utils.data, "sampler")


def test_as_tensor_is_torch_s():
    import numpy as np

    assert str(ember.as_tensor([1, 2], dtype=ember.float32).dtype) == "float32"
    shared = np.ones(3)
    t = ember.as_tensor(shared)
    shared[0] = 5.0
    assert t.tolist() == [5.0, 1.0, 1.0]  # shares memory, as torch.as_tensor
    x = ember.ones(2)
    assert ember.as_tensor(x) is x and ember.as_tensor(x, dtype=ember.float64).dtype == ember.float64


def test_autograd_backward_of_several_outputs_as_torch():
    w, tw = ember.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    ember.autograd.backward([(w * w).sum(), (w * 3).sum()])
    torch.autograd.backward([(tw * tw).sum(), (tw * 3).sum()])
    assert w.grad.tolist() == tw.grad.tolist()
    ember.autograd.backward([w * 2, w * w], grad_tensors=[ember.ones(2), ember.tensor([1.0, 0.0])])
    torch.autograd.backward([tw * 2, tw * tw], grad_tensors=[torch.ones(2), torch.tensor([1.0, 0.0])])
    assert w.grad.tolist() == tw.grad.tolist()
    with pytest.raises(ValueError, match="got 1 gradients for 2 tensors"):
        ember.autograd.backward([w * 2, w * 3], [ember.ones(2)])


LEGACY_FLAG_LOSSES = {  # name: inputs (as NumPy) and the arguments before size_average, by position
    "binary_cross_entropy": lambda rng: ([rng.uniform(0.1, 0.9, (4, 3)), rng.uniform(0, 1, (4, 3)), None]),
    "cosine_embedding_loss": lambda rng: ([rng.normal(size=(4, 3)), rng.normal(size=(4, 3)),
                                           np.array([1.0, -1, 1, -1]), 0.1]),
    "hinge_embedding_loss": lambda rng: ([rng.normal(size=(4, 3)), np.sign(rng.normal(size=(4, 3))), 1.0]),
    "kl_div": lambda rng: ([np.log(rng.uniform(0.1, 1, (4, 3))), rng.uniform(0.1, 1, (4, 3))]),
    "l1_loss": lambda rng: ([rng.normal(size=(4, 3)), rng.normal(size=(4, 3))]),
    "margin_ranking_loss": lambda rng: ([rng.normal(size=4), rng.normal(size=4), np.array([1.0, -1, 1, -1]), 0.2]),
    "mse_loss": lambda rng: ([rng.normal(size=(4, 3)), rng.normal(size=(4, 3))]),
    "multi_margin_loss": lambda rng: ([rng.normal(size=(4, 3)), np.array([0, 2, 1, 0]), 1, 1.0, None]),
    "multilabel_margin_loss": lambda rng: ([rng.normal(size=(2, 3)), np.array([[2, -1, 0], [0, 1, -1]])]),
    "multilabel_soft_margin_loss": lambda rng: ([rng.normal(size=(4, 3)), (rng.normal(size=(4, 3)) > 0) * 1.0,
                                                 None]),
    "soft_margin_loss": lambda rng: ([rng.normal(size=(4, 3)), np.sign(rng.normal(size=(4, 3)))]),
    "triplet_margin_loss": lambda rng: ([rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=(4, 3)),
                                         1.0, 2.0, 1e-6, False]),
}


@pytest.mark.parametrize("name", sorted(LEGACY_FLAG_LOSSES))
def test_functional_losses_take_the_old_flags_where_torch_does(name):
    # the classic VAE example's F.binary_cross_entropy(recon, x, size_average=False) raised a TypeError
    args = LEGACY_FLAG_LOSSES[name](np.random.default_rng(0))
    mine_fn, theirs_fn = getattr(ember.nn.functional, name), getattr(torch.nn.functional, name)
    assert list(inspect.signature(mine_fn).parameters)[:len(args) + 3] == \
        list(inspect.signature(theirs_fn).parameters)[:len(args) + 3]

    def convert(module, value):
        if isinstance(value, np.ndarray):
            return module.tensor(value if value.dtype.kind == "i" else value.astype(np.float32))
        return value

    mine_args = [convert(ember, a) for a in args]
    theirs_args = [convert(torch, a) for a in args]
    for size_average, reduce in ((False, None), (None, False), (True, True)):
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            mine = mine_fn(*mine_args, size_average=size_average, reduce=reduce)
        with pytest.warns(UserWarning):
            theirs = theirs_fn(*theirs_args, size_average=size_average, reduce=reduce)
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.warns(UserWarning):  # by position: PyTorch's place for the flags
        mine = mine_fn(*mine_args, False, True)
    np.testing.assert_allclose(mine.numpy(), theirs_fn(*theirs_args, reduction="sum").numpy(), rtol=1e-5)
    np.testing.assert_allclose(mine_fn(*mine_args, reduction="none").numpy(),
                               theirs_fn(*theirs_args, reduction="none").numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match=name):
        mine_fn(*mine_args, size_average=False, bogus=1)


def _weighted_reference(name, x, y, w, reduction):
    """PyTorch's weighted mse/l1/huber in float64 (its weighted forms run as plain tensor code, which a torch
    function mode left by another test can skip: l1_loss then drops weight)."""
    err = np.abs(x - y)
    losses = {"mse_loss": err ** 2, "l1_loss": err, "huber_loss": np.where(err < 1, 0.5 * err ** 2, err - 0.5)}[name]
    losses = losses * w
    if reduction == "none":
        return losses
    if reduction == "sum" or name == "huber_loss":
        return losses.sum() if reduction == "sum" else losses.mean()
    return losses.sum() / w.sum()


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_weight_of_regression_losses(name, reduction):
    rng = np.random.default_rng(1)
    x, y, w = (rng.normal(size=(5, 2)) for _ in range(3))
    w = np.abs(w)
    loss = getattr(ember.nn.functional, name)
    mine = loss(ember.tensor(x), ember.tensor(y), reduction=reduction, weight=ember.tensor(w))
    np.testing.assert_allclose(mine.numpy(), _weighted_reference(name, x, y, w, reduction), rtol=1e-12)
    assert ember.autograd.gradcheck(lambda a: loss(a, ember.tensor(y), reduction=reduction, weight=ember.tensor(w)),
                                    (ember.tensor(x, requires_grad=True),))
    with pytest.raises(ValueError, match=rf"{name}: weight of shape \[2\] must have the input's shape \[5, 2\]"):
        loss(ember.tensor(x), ember.tensor(y), weight=ember.ones(2))
