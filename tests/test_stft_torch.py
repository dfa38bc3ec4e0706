"""ember.stft and ember.istft against torch.stft/torch.istft: values and gradients (signal and window) for every
padding mode, centring, normalization and sidedness, round trips, errors, and one step under ember.jit."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _cube_loss(out, lib):
    out = lib.view_as_real(out.resolve_conj() if lib is torch else out) if out.is_complex() else out
    return (out ** 3).sum()


def _compare(fn_ember, fn_torch, arrays, atol=1e-9):
    ours = [ember.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = fn_ember(*ours), fn_torch(*theirs)
    assert out.shape == tuple(expected.shape) and str(out.dtype) == str(expected.dtype).removeprefix("torch.")
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().resolve_conj().numpy(), atol=atol)
    _cube_loss(out, ember).backward()
    _cube_loss(expected, torch).backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=atol)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("normalized", [False, True])
@pytest.mark.parametrize("pad_mode", ["reflect", "constant", "replicate", "circular"])
def test_stft_matches_torch_with_a_shorter_window(pad_mode, normalized, center):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 40)), rng.random(12) + 0.5

    def call(lib):
        return lambda x, w: lib.stft(x, 16, 5, 12, w, center, pad_mode, normalized, return_complex=True)

    _compare(call(ember), call(torch), [x, w])


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's: the rectangular window, return_complex=False
def test_stft_defaults_two_sided_real_view_and_complex_input_match_torch():
    rng = np.random.default_rng(1)
    x, z = rng.standard_normal((2, 40)), rng.standard_normal(30) + 1j * rng.standard_normal(30)
    _compare(lambda x: ember.stft(x[0], 8, return_complex=True),
             lambda x: torch.stft(x[0], 8, return_complex=True), [x])
    _compare(lambda x: ember.stft(x, 8, onesided=False, return_complex=False),
             lambda x: torch.stft(x, 8, onesided=False, return_complex=False), [x])
    _compare(lambda z: ember.stft(z, 8, 3), lambda z: torch.stft(z, 8, 3, return_complex=True), [z])


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's, once: the signal is padded to length
@pytest.mark.parametrize("length", [None, 30, 60])
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("normalized", [False, True])
def test_istft_matches_torch(length, center, normalized):
    rng = np.random.default_rng(2)
    window = np.hanning(16) + 0.1
    spectrum = torch.stft(torch.tensor(rng.standard_normal((2, 40))), 16, 4, window=torch.tensor(window),
                          return_complex=True).numpy()

    def call(lib):
        return lambda s, w: lib.istft(s, 16, 4, None, w, center, normalized, length=length)

    _compare(call(ember), call(torch), [spectrum, window])


@pytest.mark.parametrize("return_complex", [False, True])
def test_istft_of_two_sided_spectra_matches_torch(return_complex):
    rng = np.random.default_rng(3)
    window = np.hanning(16) + 0.1
    spectrum = torch.stft(torch.tensor(rng.standard_normal((2, 40))), 16, 4, window=torch.tensor(window),
                          return_complex=True, onesided=False).numpy()

    def call(lib):
        return lambda s, w: lib.istft(s, 16, 4, None, w, onesided=False, return_complex=return_complex)

    _compare(call(ember), call(torch), [spectrum, window])


def test_stft_then_istft_gives_the_signal_back():
    x = ember.randn(3, 50, dtype=ember.float64)
    window = ember.hann_window(16, dtype=ember.float64)
    back = ember.istft(ember.stft(x, 16, 4, window=window, return_complex=True), 16, 4, window=window, length=50)
    np.testing.assert_allclose(back.numpy(), x.numpy(), atol=1e-12)
    assert x[0].stft(16, 4, window=window, return_complex=True).istft(16, 4, window=window).shape == (48,)


@pytest.mark.parametrize(("call", "error", "fragment"), [
    (lambda: ember.stft(ember.ones(20), 8), RuntimeError, "stft: return_complex must be given for real inputs"),
    (lambda: ember.stft(ember.ones(20), 8, pad_mode="edge", return_complex=True), ValueError, "stft: pad_mode"),
    (lambda: ember.stft(ember.ones(4), 8, return_complex=True), ValueError, "stft: reflect padding of 4"),
    (lambda: ember.stft(ember.ones(20), 8, win_length=9, return_complex=True), ValueError, "stft: win_length"),
    (lambda: ember.stft(ember.ones(20), 8, window=ember.ones(7), return_complex=True), ValueError,
     r"stft: window must be 1-D of win_length = 8 elements, got shape \[7\]"),
    (lambda: ember.stft(ember.ones(2, 2, 20), 8, return_complex=True), ValueError, "stft: expected a 1-D or 2-D"),
    (lambda: ember.istft(ember.ones(5, 4), 8), TypeError, "istft: expects a complex input"),
    (lambda: ember.istft(ember.ones(6, 4) * 1j, 8), ValueError, "istft: one-sided spectra of n_fft = 8 have 5"),
    (lambda: ember.istft(ember.ones(5, 4) * 1j, 8, 2, window=ember.zeros(8)), RuntimeError, "istft: .*NOLA"),
    # these failed inside NumPy ("zero-size array to reduction operation minimum"), as PyTorch's fail in min()
    (lambda: ember.istft(ember.ones(5, 4) * 1j, 8, 2, length=0), ValueError, "istft: length must be a positive int"),
    (lambda: ember.istft(ember.ones(5, 4) * 1j, 8, 2, length=-3), ValueError, "istft: length must be a positive"),
    (lambda: ember.istft(ember.ones(5, 1) * 1j, 8, 2), ValueError, "istft: 1 frames of n_fft = 8 every 2 samples "
     "leave no signal"),
    (lambda: ember.istft(ember.ones(2, 5, 0) * 1j, 8, 2), ValueError, r"istft: the input has no frames \(shape"),
    # a complex window returned a complex128 signal under return_complex=False
    (lambda: ember.istft(ember.ones(5, 4) * 1j, 8, 2, window=ember.ones(8) * (1 + 1j)), RuntimeError,
     r"istft: a complex window \(complex64\) gives a complex signal; pass return_complex=True"),
])
def test_bad_arguments_are_refused_naming_the_function(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_a_complex_numpy_window_gives_the_two_sided_transform_of_its_tensor():
    # a NumPy complex window was taken for a real one: rfft refused the complex frames, or return_complex was asked for
    x, w = np.random.default_rng(6).standard_normal(40), (np.hanning(8) + 0.1) * (1 + 0.5j)
    want = torch.stft(torch.tensor(x), 8, 2, window=torch.tensor(w), return_complex=True)
    for got in (ember.stft(ember.tensor(x), 8, 2, window=w), ember.stft(ember.tensor(x), 8, 2, window=w,
                                                                       return_complex=True)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-12)


def test_numpy_integer_sizes_are_taken_as_torch():
    # NumPy integers (a shape's entry, a computed hop) were refused: "stft: n_fft must be a positive int, got 8"
    x = np.random.default_rng(5).standard_normal((2, 40))
    got = ember.stft(ember.tensor(x), np.int64(8), np.int32(3), np.int64(6), return_complex=True)
    want = torch.stft(torch.tensor(x), 8, 3, 6, return_complex=True)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-12)
    back = ember.istft(got, np.int64(8), np.int64(3), np.int64(6), window=ember.ones(6, dtype=ember.float64),
                       length=np.int64(40))
    expected = torch.istft(want, 8, 3, 6, window=torch.ones(6, dtype=torch.float64), length=40)
    np.testing.assert_allclose(back.numpy(), expected.numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="stft: hop_length must be a positive int, got True"):
        ember.stft(ember.tensor(x), 8, True, return_complex=True)


def test_a_spectrogram_loss_trains_under_jit_as_eagerly():
    rng = np.random.default_rng(4)
    signal, weights = rng.standard_normal((2, 64)), rng.random(16) + 0.5

    def step(w):
        spectrum = ember.stft(ember.tensor(signal), 16, 4, window=w, return_complex=True)
        loss = spectrum.abs().mean() + ember.istft(spectrum * 0.5, 16, 4, window=w, length=64).pow(2).mean()
        loss.backward()
        return loss

    traced = ember.jit(step)
    for _ in range(2):
        w = ember.tensor(weights, requires_grad=True)
        loss = traced(w)
    eager_w = ember.tensor(weights, requires_grad=True)
    assert loss.item() == step(eager_w).item()
    np.testing.assert_array_equal(w.grad.numpy(), eager_w.grad.numpy())
