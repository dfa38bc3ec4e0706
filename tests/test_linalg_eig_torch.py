"""ember.linalg.eig and eigvals against torch.linalg: complex results for real and complex matrices, and gradients of
real losses of the eigenvalues and of phase-invariant functions of the eigenvectors."""

import numpy as np
import pytest

import ember
from ember.ops.eig import complex_solve

torch = pytest.importorskip("torch")


def _compare(fn, arrays, atol=1e-8):
    ours = [ember.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = fn(ember, *ours), fn(torch, *theirs)
    assert str(out.dtype) == str(expected.dtype).removeprefix("torch.")
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), atol=atol)
    (out.abs() ** 3).sum().backward()
    (expected.abs() ** 3).sum().backward()
    for a, b in zip(ours, theirs):
        assert a.grad.dtype == a.dtype
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=atol)


def _matrices(complex_input: bool, dtype=np.float64):
    rng = np.random.default_rng(int(complex_input))
    a = rng.standard_normal((2, 4, 4))
    return a + 1j * rng.standard_normal((2, 4, 4)) if complex_input else a.astype(dtype)


@pytest.mark.parametrize("complex_input", [False, True])
def test_eigvals_and_their_gradient_match_torch(complex_input):
    _compare(lambda lib, a: lib.linalg.eigvals(a), [_matrices(complex_input)])


@pytest.mark.parametrize("complex_input", [False, True])
def test_eig_values_and_vectors_and_their_gradients_match_torch(complex_input):
    _compare(lambda lib, a: lib.linalg.eig(a).eigenvalues, [_matrices(complex_input)])
    # |v| is invariant under each eigenvector's phase, the freedom eig leaves
    _compare(lambda lib, a: lib.linalg.eig(a).eigenvectors.abs(), [_matrices(complex_input)])
    _compare(lambda lib, a: (lambda w, v: w * v.abs().sum(-2))(*lib.linalg.eig(a)), [_matrices(complex_input)])


def test_float32_matrices_give_complex64():
    a = _matrices(False, np.float32)
    result = ember.linalg.eig(a)
    assert result.eigenvalues.dtype == result.eigenvectors.dtype == ember.complex64
    assert ember.linalg.eigvals(a).dtype == ember.complex64
    np.testing.assert_allclose(result.eigenvalues.numpy(), torch.linalg.eig(torch.tensor(a)).eigenvalues.numpy(),
                               atol=1e-5)


def test_eig_rebuilds_the_matrix():
    a = ember.tensor(_matrices(False))
    values, vectors = ember.linalg.eig(a)
    rebuilt = complex_solve(vectors.transpose(-1, -2), (vectors * values.unsqueeze(-2)).transpose(-1, -2))
    np.testing.assert_allclose(rebuilt.transpose(-1, -2).numpy(), a.numpy(), atol=1e-12)


def test_complex_solve_gradient_matches_torch():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    b = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    _compare(lambda lib, a, b: complex_solve(a, b) if lib is ember else torch.linalg.solve(a, b), [a, b])


def test_eig_under_jit_equals_eager_mode():
    a = _matrices(False)

    def step(x):
        loss = ember.linalg.eigvals(x).abs().sum()
        loss.backward()
        return loss

    traced = ember.jit(step)
    for _ in range(2):
        x = ember.tensor(a, requires_grad=True)
        loss = traced(x)
    eager = ember.tensor(a, requires_grad=True)
    assert loss.item() == step(eager).item()
    np.testing.assert_array_equal(x.grad.numpy(), eager.grad.numpy())


@pytest.mark.parametrize(("call", "error", "fragment"), [
    (lambda: ember.linalg.eig(ember.ones(2, 3)), ValueError, "eig: expects square matrices"),
    (lambda: ember.linalg.eigvals(ember.ones(3)), ValueError, "eigvals: expects a matrix"),
    (lambda: ember.linalg.eig(ember.ones(2, 2, dtype=ember.int64)), TypeError, "eig: expects float32, float64"),
])
def test_bad_inputs_are_refused_naming_the_function(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()
