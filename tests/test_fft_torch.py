"""ember.fft against torch.fft: values, dtypes and gradients of real losses for every transform, size argument and
normalization, the frequency helpers, errors, and one training step under ember.jit."""

import zlib

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

NORMS = [None, "backward", "ortho", "forward"]


def _loss(out, lib):
    """A real loss that reads every part of the result (and is not linear, so the gradient depends on it)."""
    if out.is_complex():
        out = lib.view_as_real(out.resolve_conj() if lib is torch else out)
    return (out * out * out).sum() + out.sum()


def _compare(name, args, kwargs, shape, complex_input=False, dtype=np.float64):
    rng = np.random.default_rng(zlib.crc32(f"{name} {kwargs} {shape}".encode()))
    a = rng.standard_normal(shape)
    if complex_input:
        a = a + 1j * rng.standard_normal(shape)
    a = a.astype(np.result_type(a.dtype, dtype))
    ours, theirs = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out = getattr(ember.fft, name)(ours, *args, **kwargs)
    expected = getattr(torch.fft, name)(theirs, *args, **kwargs)
    assert str(out.dtype) == str(expected.dtype).removeprefix("torch.")
    assert out.shape == tuple(expected.shape)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().resolve_conj().numpy(), atol=tol, rtol=tol)
    _loss(out, ember).backward()
    _loss(expected, torch).backward()
    assert ours.grad.dtype == ours.dtype
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.resolve_conj().numpy(), atol=tol * 10, rtol=tol)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("n", [None, 5, 11])
@pytest.mark.parametrize(("name", "complex_input"), [
    (name, complex_input) for name in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")
    for complex_input in (False, True) if not (complex_input and name in ("rfft", "ihfft"))])  # real inputs only
def test_one_dimensional_transforms_match_torch(name, n, norm, complex_input):
    _compare(name, (), {"n": n, "dim": 0 if name in ("ifft", "hfft") else -1, "norm": norm}, (6, 3) if name in (
        "ifft", "hfft") else (3, 6), complex_input)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("s", [None, (3, 6), (5, -1)])
@pytest.mark.parametrize(("name", "complex_input"), [
    ("fft2", False), ("fft2", True), ("ifft2", False), ("ifft2", True), ("rfft2", False), ("irfft2", False),
    ("irfft2", True)])
def test_two_dimensional_transforms_match_torch(name, s, norm, complex_input):
    _compare(name, (), {"s": s, "norm": norm}, (2, 4, 5), complex_input)


@pytest.mark.parametrize(("s", "dim"), [(None, None), ((4, 6), None), (None, (2, 0)), ((3, 7), (0, 2)), (None, 1)])
@pytest.mark.parametrize("name", ["fftn", "ifftn", "rfftn", "irfftn"])
def test_n_dimensional_transforms_match_torch(name, s, dim):
    _compare(name, (), {"s": s, "dim": dim, "norm": "ortho"}, (2, 3, 5), complex_input=name in ("ifftn", "irfftn"))


@pytest.mark.parametrize("name", ["fft", "rfft", "irfft", "fft2", "irfftn"])
def test_float32_inputs_give_complex64_and_float32_results(name):
    _compare(name, (), {}, (4, 6), complex_input=name.startswith("i"), dtype=np.float32)


def test_integer_and_half_inputs_transform_in_the_default_precision():
    assert ember.fft.fft(ember.arange(4)).dtype == ember.complex64
    half = ember.fft.rfft(ember.ones(4, dtype=ember.float16))
    assert half.dtype == ember.complex64
    np.testing.assert_allclose(half.numpy(), [4, 0, 0])


def test_frequencies_and_shifts_match_torch():
    for n, d in [(5, 1.0), (8, 0.25)]:
        np.testing.assert_allclose(ember.fft.fftfreq(n, d).numpy(), torch.fft.fftfreq(n, d).numpy())
        np.testing.assert_allclose(ember.fft.rfftfreq(n, d).numpy(), torch.fft.rfftfreq(n, d).numpy())
    assert ember.fft.fftfreq(4, dtype=ember.float64).dtype == ember.float64
    x = np.arange(30.0).reshape(5, 6)
    for dim in (None, 0, (1,), (0, 1)):
        np.testing.assert_array_equal(ember.fft.fftshift(ember.tensor(x), dim).numpy(),
                                      torch.fft.fftshift(torch.tensor(x), dim).numpy())
        np.testing.assert_array_equal(ember.fft.ifftshift(ember.tensor(x), dim).numpy(),
                                      torch.fft.ifftshift(torch.tensor(x), dim).numpy())


@pytest.mark.parametrize("n", [0, np.int64(5), np.int32(4)])
def test_frequencies_take_numpy_integers_and_zero_points_as_torch(n):
    # NumPy integers and n = 0 were refused ("n must be a positive int, got 5"); fftfreq(0) is empty in PyTorch
    for name in ("fftfreq", "rfftfreq"):
        got, want = getattr(ember.fft, name)(n, 0.5), getattr(torch.fft, name)(n, 0.5)
        assert got.shape == tuple(want.shape)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(ValueError, match="fftfreq: n must be a non-negative int, got True"):
        ember.fft.fftfreq(True)


@pytest.mark.parametrize("n", [1, 4, 5])
def test_frequencies_of_a_zero_spacing_are_nan_and_infinite_as_torch(n):
    # NumPy's 1 / (n d) raised ZeroDivisionError; PyTorch's frequencies are k * inf
    for name in ("fftfreq", "rfftfreq"):
        got = getattr(ember.fft, name)(n, 0.0, dtype=ember.float64).numpy()
        np.testing.assert_array_equal(got, getattr(torch.fft, name)(n, 0.0, dtype=torch.float64).numpy())
        assert np.isnan(got[0]) and np.isinf(got[1:]).all()


def test_transforms_round_trip():
    x = ember.randn(3, 8, dtype=ember.float64)
    np.testing.assert_allclose(ember.fft.irfft(ember.fft.rfft(x), n=8).numpy(), x.numpy(), atol=1e-12)
    np.testing.assert_allclose(ember.fft.ifftn(ember.fft.fftn(x)).real.numpy(), x.numpy(), atol=1e-12)


@pytest.mark.parametrize(("name", "shape", "kwargs"), [
    ("fftn", (), {}), ("ifftn", (), {"norm": "ortho"}), ("fftn", (2, 3), {"dim": ()}), ("ifft2", (4,), {"dim": []}),
    ("fftn", (3,), {"s": ()})])
def test_complex_transforms_over_no_axes_are_the_input_as_torch(name, shape, kwargs):
    # a 0-d input (or dim=()) was refused for needing an axis; PyTorch's complex transforms return it, complex
    x = np.arange(1.0, 1.0 + np.prod(shape, dtype=int)).reshape(shape)
    got, want = getattr(ember.fft, name)(ember.tensor(x), **kwargs), getattr(torch.fft, name)(torch.tensor(x), **kwargs)
    assert got.dtype == ember.complex128 and got.shape == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(ValueError, match="rfftn: needs at least one axis"):  # (PyTorch's refuses it too)
        ember.fft.rfftn(ember.tensor(x), dim=())


@pytest.mark.parametrize(("call", "error", "fragment"), [
    (lambda: ember.fft.fft(ember.ones(4), norm="unitary"), ValueError, "fft: norm must be one of"),
    (lambda: ember.fft.rfft(ember.ones(4) * 1j), TypeError, "rfft: expects a real input tensor, got complex64"),
    (lambda: ember.fft.fft(ember.ones(4), n=0), ValueError, r"fft: invalid number of data points \(0\)"),
    (lambda: ember.fft.fft2(ember.ones(4), s=(2, 2), dim=(0,)), ValueError, "fft2: s"),
    (lambda: ember.fft.fftn(ember.ones(2, 3), dim=(0, 0)), ValueError, "fftn: dim"),
    (lambda: ember.fft.irfft(ember.ones(1)), ValueError, r"irfft: invalid number of data points \(0\)"),
    (lambda: ember.fft.fft(ember.ones(4), dim=2), ValueError, "fft: axis 2 is out of range"),
    # a tuple dim made the one-dimensional transforms multi-dimensional; PyTorch refuses it
    (lambda: ember.fft.rfft(ember.ones(3, 4), dim=(0, 1)), TypeError, r"rfft: dim must be an int, got \(0, 1\)"),
    (lambda: ember.fft.ihfft(ember.ones(3, 4), dim=[0]), TypeError, r"ihfft: dim must be an int, got \[0\]"),
    # dim=None transformed over every axis (fft of a (3, 4) tensor was fft2's)
    (lambda: ember.fft.fft(ember.ones(3, 4), dim=None), TypeError, "fft: dim must be an int, got None"),
    (lambda: ember.fft.irfft(ember.ones(3, 4), dim=None), TypeError, "irfft: dim must be an int, got None"),
    (lambda: ember.fft.fft2(ember.ones(2, 3, 4), dim=None), TypeError, "fft2: dim must be a tuple of ints, got None"),
    (lambda: ember.fft.irfft2(ember.ones(2, 3, 4), dim=None), TypeError, "irfft2: dim must be a tuple of ints"),
    (lambda: ember.fft.fft(ember.ones(4), n=True), TypeError, "fft: n must be an int, got True"),
    (lambda: ember.fft.irfft(ember.ones(4), n=5.0), TypeError, "irfft: n must be an int, got 5.0"),
    (lambda: ember.fft.fft2(ember.ones(4, 4), s=(2, False)), TypeError, "fft2: each size in s must be an int"),
    (lambda: ember.fft.fft(ember.ones(4), dim=1.0), TypeError, "fft: axis must be an int, got 1.0"),
    (lambda: ember.fft.rfft(ember.tensor(2.0)), ValueError, "rfft: dim -1 is out of range for a 0-d input"),
    (lambda: ember.fft.fftshift(ember.tensor(2.0), dim=0), ValueError, "fftshift: dim 0 is out of range for a 0-d"),
])
def test_bad_arguments_are_refused_naming_the_function(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_numpy_integer_sizes_and_an_int_s_are_taken_as_torch():
    # NumPy integers for n or s were refused as "invalid number of data points (5)", and an int s crashed on len()
    x = np.random.default_rng(3).standard_normal((3, 4, 6))
    for name, kwargs in [("rfft", {"n": np.int64(5)}), ("irfft", {"n": np.int32(7)}), ("fftn", {"s": 4}),
                         ("irfftn", {"s": (np.int64(3), 5)}), ("rfft2", {"s": 4, "dim": 1})]:
        got = getattr(ember.fft, name)(ember.tensor(x), **kwargs)
        want = getattr(torch.fft, name)(torch.tensor(x), **kwargs)
        assert got.shape == tuple(want.shape)
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-12)


def test_a_spectral_loss_trains_under_jit_as_eagerly_and_as_torch():
    rng = np.random.default_rng(0)
    signal, weights = rng.standard_normal((4, 16)), rng.standard_normal((4, 9))

    def step(lib, w):
        spectrum = lib.fft.rfft(lib.tensor(signal) if lib is ember else torch.tensor(signal), norm="ortho")
        filtered = lib.fft.irfft(spectrum * w, n=16)
        loss = (filtered ** 2).mean() + lib.fft.fft2(filtered).abs().mean()
        loss.backward()
        return loss

    traced = ember.jit(lambda w: step(ember, w))
    for _ in range(2):
        w = ember.tensor(weights, requires_grad=True)
        loss = traced(w)
    eager_w, torch_w = ember.tensor(weights, requires_grad=True), torch.tensor(weights, requires_grad=True)
    eager, expected = step(ember, eager_w), step(torch, torch_w)
    assert loss.item() == eager.item()
    np.testing.assert_array_equal(w.grad.numpy(), eager_w.grad.numpy())
    np.testing.assert_allclose(eager.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), torch_w.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("name, kwargs", [
    ("hfftn", {}), ("hfftn", {"s": (4, 8)}), ("hfftn", {"dim": (0, 2), "norm": "ortho"}), ("hfft2", {}),
    ("hfft2", {"s": (3, 7), "norm": "forward"}), ("ihfftn", {}), ("ihfftn", {"dim": (1, 2), "norm": "ortho"}),
    ("ihfft2", {}), ("ihfft2", {"s": (5, 5)}),
])
def test_the_multi_dimensional_hermitian_transforms_are_torch_s(name, kwargs):
    # hfft2/hfftn/ihfft2/ihfftn were missing (AttributeError): irfftn of the conjugate and the conjugate of rfftn,
    # with the dual normalization, as the one-dimensional hfft/ihfft
    rng = np.random.default_rng(0)
    data = rng.standard_normal((3, 4, 5)) + 1j * rng.standard_normal((3, 4, 5)) if name.startswith("h") else \
        rng.standard_normal((3, 4, 6))
    x, tx = ember.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, want = getattr(ember.fft, name)(x, **kwargs), getattr(torch.fft, name)(tx, **kwargs)
    assert out.dtype == ember.float64 if name.startswith("h") else out.dtype == ember.complex128
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), atol=1e-12)
    out.abs().sum().backward()
    want.abs().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-12)
