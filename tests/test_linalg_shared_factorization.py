"""One LAPACK call per ``svd`` and ``eigh`` call: their results are parts of one op, and inside one call the parts'
forwards share the factorization (each part's node still has its own vjp, and a graph runs each node alone)."""

import numpy as np
import pytest

import ember


@pytest.fixture
def lapack_calls(monkeypatch):
    counts = {"svd": 0, "eigh": 0, "eigvalsh": 0}
    for name in counts:
        original = getattr(np.linalg, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(np.linalg, name, counted)
    return counts


@pytest.mark.parametrize("full_matrices", [False, True])
def test_svd_factors_once_per_call(lapack_calls, full_matrices):
    a = np.random.default_rng(0).standard_normal((2, 4, 3))
    u, s, vh = ember.linalg.svd(ember.tensor(a), full_matrices=full_matrices)
    assert lapack_calls["svd"] == 1
    np.testing.assert_allclose((u[..., :, :3] * s.unsqueeze(-2)).matmul(vh[..., :3, :]).numpy(), a, atol=1e-12)
    ember.linalg.svd(ember.tensor(a + 1.0))  # a new call factors anew
    assert lapack_calls["svd"] == 2


def test_eigh_factors_once_per_call_and_gradients_stay_whole(lapack_calls):
    a = np.random.default_rng(1).standard_normal((3, 3))
    x = ember.tensor(a + a.T, requires_grad=True)
    w, v = ember.linalg.eigh(x)
    assert lapack_calls["eigh"] + lapack_calls["eigvalsh"] == 1
    (w.sum() + (v * v).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.eye(3), atol=1e-10)  # d tr(A) / dA; (v * v).sum() is constant


def test_the_values_alone_keep_their_cheaper_call(lapack_calls):
    a = np.random.default_rng(2).standard_normal((3, 3))
    ember.linalg.svdvals(ember.tensor(a))
    ember.linalg.eigvalsh(ember.tensor(a))
    assert lapack_calls == {"svd": 1, "eigh": 0, "eigvalsh": 1}
