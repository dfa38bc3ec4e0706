"""Convolutions against PyTorch: padding='same' and 'valid' in the functions and layers of every rank (even
kernels with dilation get the extra element on the far side, as PyTorch pads), unbatched inputs, and the layers'
padding_mode reflect/replicate/circular."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
TF = torch.nn.functional

import ember  # noqa: E402
import ember.nn.functional as F  # noqa: E402
from ember import nn  # noqa: E402

# PyTorch warns that it copies the input for an even 'same' padding, as Ember does
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def _parity(ours, theirs, shapes, dtype=np.float64, seed=0):
    """The result and every input's gradient, for a random output gradient, against torch."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    mine = [ember.tensor(a, requires_grad=True) for a in arrays]
    torch_side = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, expected = ours(*mine), theirs(*torch_side)
    assert y.shape == tuple(expected.shape)
    tol = {"rtol": 1e-10, "atol": 1e-10} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-5}
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), **tol)
    gy = rng.standard_normal(y.shape).astype(dtype)
    (y * ember.tensor(gy)).sum().backward()
    (expected * torch.tensor(gy)).sum().backward()
    for a, b in zip(mine, torch_side):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)


# name: (ember function, torch function, input, weight, keyword arguments)
STRING_PADDING = {
    "conv1d_same_odd": (F.conv1d, TF.conv1d, (2, 3, 9), (4, 3, 3), {"padding": "same"}),
    "conv1d_same_even_dilated": (F.conv1d, TF.conv1d, (2, 3, 9), (4, 3, 4), {"padding": "same", "dilation": 3}),
    "conv1d_valid": (F.conv1d, TF.conv1d, (2, 3, 9), (4, 3, 4), {"padding": "valid", "stride": 2}),
    "conv2d_same_even": (F.conv2d, TF.conv2d, (2, 2, 6, 7), (3, 2, 2, 4), {"padding": "same"}),
    "conv2d_same_dilated_groups": (F.conv2d, TF.conv2d, (1, 4, 7, 6), (4, 2, 2, 3),
                                   {"padding": "same", "dilation": (3, 2), "groups": 2}),
    "conv2d_valid": (F.conv2d, TF.conv2d, (2, 2, 6, 7), (3, 2, 3, 2), {"padding": "valid", "dilation": 2}),
    "conv3d_same_even": (F.conv3d, TF.conv3d, (1, 2, 4, 5, 4), (2, 2, 2, 3, 2), {"padding": "same"}),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(STRING_PADDING))
def test_string_padding_matches_torch(name, dtype):
    ours, theirs, x, w, kwargs = STRING_PADDING[name]
    _parity(lambda a, b, c: ours(a, b, c, **kwargs), lambda a, b, c: theirs(a, b, c, **kwargs),
            [x, w, (w[0],)], dtype)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_same_padding_layer_and_function_agree(rank):
    layer = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[rank](2, 3, 4, padding="same", dilation=2)
    function = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[rank]
    x = ember.randn(2, 2, *(5,) * rank)
    y = layer(x)
    assert y.shape == (2, 3) + (5,) * rank
    np.testing.assert_array_equal(y.detach().numpy(),
                                  function(x, layer.weight, layer.bias, padding="same", dilation=2).detach().numpy())


def test_string_padding_errors_name_the_op():
    x, w = ember.randn(1, 2, 8, 8), ember.randn(3, 2, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d: padding='same' needs stride 1, got stride \(2, 2\)"):
        F.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match=r"conv1d: padding must be 'valid', 'same' or ints, got 'full'"):
        F.conv1d(ember.randn(1, 2, 8), ember.randn(3, 2, 3), padding="full")



@pytest.mark.parametrize("make,message", [
    (lambda: nn.Conv2d(2, 3, 3.0), r"Conv2d: kernel_size must be an int or 2 ints, got 3\.0"),
    (lambda: nn.Conv1d(2, 3, 3, stride=None), r"Conv1d: stride must be an int or 1 ints, got None"),
    (lambda: nn.ConvTranspose2d(2, 3, 3, output_padding=0.5), r"ConvTranspose2d: output_padding must be an int"),
    (lambda: nn.LazyConv3d(3, 3, padding=1.0), r"LazyConv3d: padding must be an int or 3 ints, got 1\.0"),
])
def test_a_size_that_is_not_an_int_is_refused_naming_the_layer_and_argument(make, message):
    with pytest.raises(TypeError, match=message):  # it was "'float' object is not iterable"
        make()

UNBATCHED = {
    "conv1d": (F.conv1d, TF.conv1d, (3, 9), (4, 3, 3), {"stride": 2, "padding": 1}),
    "conv1d_same": (F.conv1d, TF.conv1d, (3, 9), (4, 3, 4), {"padding": "same"}),
    "conv2d": (F.conv2d, TF.conv2d, (2, 6, 7), (4, 2, 3, 2), {"padding": 1}),
    "conv2d_same_groups": (F.conv2d, TF.conv2d, (4, 6, 7), (4, 2, 2, 2), {"padding": "same", "groups": 2}),
    "conv3d": (F.conv3d, TF.conv3d, (2, 4, 5, 4), (3, 2, 2, 3, 2), {"stride": (1, 2, 1)}),
    "conv_transpose1d": (F.conv_transpose1d, TF.conv_transpose1d, (3, 5), (3, 2, 3), {"stride": 2}),
    "conv_transpose2d": (F.conv_transpose2d, TF.conv_transpose2d, (3, 4, 5), (3, 2, 3, 3), {"stride": 2}),
    "conv_transpose3d": (F.conv_transpose3d, TF.conv_transpose3d, (2, 3, 3, 4), (2, 2, 2, 2, 2), {}),
}


@pytest.mark.parametrize("name", sorted(UNBATCHED))
def test_unbatched_convolution_matches_torch(name):
    ours, theirs, x, w, kwargs = UNBATCHED[name]
    _parity(lambda a, b: ours(a, b, **kwargs), lambda a, b: theirs(a, b, **kwargs), [x, w])


@pytest.mark.parametrize("layer", ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d"])
def test_unbatched_convolution_layers_match_torch(layer):
    rank = int(layer[-2])
    ours = getattr(nn, layer)(2, 3, 3, padding="same" if "Transpose" not in layer else 1)
    theirs = getattr(torch.nn, layer)(2, 3, 3, padding="same" if "Transpose" not in layer else 1).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.detach().numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.detach().numpy()))
    x = np.random.default_rng(0).standard_normal((2,) + (5,) * rank)
    y = ours(ember.tensor(x.astype(np.float32)))
    expected = theirs(torch.tensor(x))
    assert y.shape == tuple(expected.shape)
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-4, atol=1e-5)


PADDING_MODES = [
    (1, {"padding": 2, "padding_mode": "reflect"}),
    (2, {"padding": (1, 2), "padding_mode": "circular", "stride": 2}),
    (2, {"padding": "same", "padding_mode": "reflect", "dilation": 2}),  # an even kernel: the odd pad on the far side
    (2, {"padding": 1, "padding_mode": "replicate", "groups": 2}),
    (3, {"padding": (2, 1, 1), "padding_mode": "circular"}),
    (3, {"padding": "same", "padding_mode": "replicate"}),
]


@pytest.mark.parametrize("rank, kwargs", PADDING_MODES)
def test_convolution_padding_modes_match_torch(rank, kwargs):
    """padding_mode reflect/replicate/circular pads the input in that mode, then convolves without padding."""
    name = f"Conv{rank}d"
    ours = getattr(nn, name)(4, 6, 4, **kwargs).double()
    theirs = getattr(torch.nn, name)(4, 6, 4, **kwargs).double()
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in ours.state_dict().items()})
    assert repr(ours) == repr(theirs)
    rng = np.random.default_rng(0)
    for shape in [(2, 4) + (9, 8, 7)[:rank], (4,) + (9, 8, 7)[:rank]]:
        x = rng.standard_normal(shape)
        a, b = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, expected = ours(a), theirs(b)
        np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = rng.standard_normal(tuple(expected.shape))
        (y * ember.tensor(g)).sum().backward()
        (expected * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
        ours.zero_grad()
        theirs.zero_grad()


@pytest.mark.parametrize("rank, kwargs", PADDING_MODES + [(2, {"padding": "same", "dilation": 3})])
def test_conv_forward_override_with_a_standardized_weight_matches_torch(rank, kwargs):
    """A subclass that standardizes its weight and calls _conv_forward (timm's StdConv2d), and PyTorch's
    _reversed_padding_repeated_twice."""
    def standardized(nn_, functional, base):
        class StdConv(base):
            def forward(self, x):
                flat = self.weight.reshape(1, self.out_channels, -1)
                w = functional.batch_norm(flat, None, None, training=True, momentum=0.0, eps=1e-6)
                return self._conv_forward(x, w.reshape_as(self.weight), self.bias)
        return StdConv

    name = f"Conv{rank}d"
    ours = standardized(nn, F, getattr(nn, name))(4, 6, 4, **kwargs).double()
    theirs = standardized(torch.nn, TF, getattr(torch.nn, name))(4, 6, 4, **kwargs).double()
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in ours.state_dict().items()})
    assert tuple(ours._reversed_padding_repeated_twice) == tuple(theirs._reversed_padding_repeated_twice)
    x = np.random.default_rng(0).standard_normal((2, 4) + (9, 8, 7)[:rank])
    np.testing.assert_allclose(ours(ember.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("rank, mode", [(1, "zeros"), (2, "zeros"), (3, "zeros"), (2, "reflect"), (1, "circular")])
def test_padding_set_after_construction_is_read_as_torch_reads_it(rank, mode):
    """Dilating a trained layer (DeepLab/PSPNet code sets m.dilation, m.padding, m.stride): the zeros mode reads
    padding on each call (it was fixed at construction: 7x7 for 9x9), another mode the attribute it pads by."""
    name = f"Conv{rank}d"
    ours = getattr(nn, name)(2, 3, 3, padding=1, stride=2, padding_mode=mode).double()
    theirs = getattr(torch.nn, name)(2, 3, 3, padding=1, stride=2, padding_mode=mode).double()
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 2) + (9, 8, 7)[:rank])
    for layer in (ours, theirs):
        layer.dilation, layer.stride = (2,) * rank, (1,) * rank
    if mode != "zeros":
        for layer in (ours, theirs):
            layer._reversed_padding_repeated_twice = [2, 2] * rank
    for padding in ((2,) * rank, "same"):  # the zeros mode reads 'same' at the call too
        ours.padding = theirs.padding = padding
        y, expected = ours(ember.tensor(x)), theirs(torch.tensor(x))
        assert y.shape == tuple(expected.shape) == (2, 3) + (9, 8, 7)[:rank]
        np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_a_layer_pickled_with_its_pads_in_pad_input_pads_alike():
    layer = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="reflect")
    x = ember.randn(1, 2, 6, 7)
    state = dict(layer.__dict__, _pad_input=((1, 1), (2, 2)), _op_padding=(0, 0))
    del state["_reversed_padding_repeated_twice"]
    old = nn.Conv2d.__new__(nn.Conv2d)
    old.__setstate__(state)
    np.testing.assert_array_equal(old(x).detach().numpy(), layer(x).detach().numpy())


def test_convolution_padding_mode_traces_under_jit_and_transposed_refuses_it():
    layer = nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular")
    x = ember.randn(2, 2, 5, 6)
    traced = ember.jit(layer)
    for _ in range(2):
        np.testing.assert_array_equal(traced(x).numpy(), layer(x).detach().numpy())
    with pytest.raises(ValueError, match=r"ConvTranspose2d: only padding_mode='zeros' is supported, got 'reflect'"):
        nn.ConvTranspose2d(2, 3, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"Conv1d: padding_mode must be one of 'zeros', 'reflect', 'replicate', "
                                         r"'circular', got 'mirror'"):
        nn.Conv1d(2, 3, 3, padding_mode="mirror")


@pytest.mark.parametrize("rank, kwargs, output_size", [
    (1, {"stride": 2}, (12,)),
    (2, {"stride": 3, "padding": 1, "dilation": 2}, (2, 6, 15, 13)),  # batch and channels in front, as PyTorch allows
    (3, {"stride": (2, 3, 2), "groups": 2}, (12, 13, 8)),
])
def test_transposed_convolution_output_size_picks_the_output_padding_as_torch(rank, kwargs, output_size):
    name = f"ConvTranspose{rank}d"
    ours = getattr(nn, name)(4, 6, 3, **kwargs).double()
    theirs = getattr(torch.nn, name)(4, 6, 3, **kwargs).double()
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 4) + (5, 4, 3)[:rank])
    for batch in (x, x[0]):
        a, b = ember.tensor(batch, requires_grad=True), torch.tensor(batch, requires_grad=True)
        size = output_size if len(output_size) in (rank, batch.ndim) else output_size[-rank:]
        y, expected = ours(a, output_size=size), theirs(b, output_size=size)
        assert y.shape[-rank:] == tuple(output_size[-rank:])
        np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
        y.sum().backward()
        expected.sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=rf"{name}: output_size .* is out of reach for input \[2, 4, "):
        ours(ember.tensor(x), output_size=(40,) * rank)


@pytest.mark.parametrize("name, shapes, kwargs", [
    ("conv2d", [(1, 2, 8, 8), (3, 2, 3, 3)], dict(stride=[2], padding=[1], dilation=(2,))),
    ("conv3d", [(1, 2, 5, 5, 5), (3, 2, 3, 3, 3)], dict(stride=[2], padding=[1])),
    ("conv_transpose2d", [(1, 3, 5, 5), (3, 2, 3, 3)], dict(stride=[2], padding=[1])),
    ("max_pool2d", [(1, 2, 8, 8)], dict(kernel_size=[2], stride=[1])),
    ("avg_pool2d", [(1, 2, 8, 8)], dict(kernel_size=[3], stride=[2], padding=[1])),
])
def test_one_element_size_lists_spread_over_every_axis_as_pytorch(name, shapes, kwargs):
    _parity(lambda *a: getattr(F, name)(*a, **kwargs), lambda *a: getattr(TF, name)(*a, **kwargs), shapes)
