"""``nn.utils.parametrizations``: weight and spectral normalization as parametrizations (PyTorch's newer forms),
registered with ``nn.utils.parametrize``, with PyTorch's state-dict keys."""

from __future__ import annotations

import functools

from ember.autograd import no_grad
from ember.backend.dtypes import COMPLEX
from ember.nn.functional import normalize
from ember.nn.module import Module
from ember.nn.utils import parametrize
from ember.nn.utils.orthogonal import MAPS, Orthogonal
from ember.nn.utils.spectral_norm import _unit_vector, as_matrix, default_dim, power_iteration, sigma
from ember.nn.utils.weight_norm import _axis, norm_except_dim, weight_from
from ember.tensor import Tensor

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


def _tensor(module: Module, name: str, what: str) -> Tensor:
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"{what}: {type(module).__name__} has no parameter or buffer named '{name}'")
    return weight


class _WeightNorm(Module):
    """``g * v / ||v||`` from the originals ``(g, v)``, the norm over every axis but ``dim`` (-1: one norm)."""

    def __init__(self, dim: int | None = 0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_from(weight_g, weight_v, self.dim)

    def right_inverse(self, weight: Tensor) -> tuple:
        return norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Parametrize ``module.<name>`` as ``g * v / ||v||``: the originals ``parametrizations.<name>.original0`` (g,
    the norm over every axis but ``dim``) and ``original1`` (v). Returns ``module``.

    >>> layer = ember.nn.utils.parametrizations.weight_norm(ember.nn.Linear(20, 40))
    """
    weight = _tensor(module, name, "weight_norm")
    if dim is not None and dim != -1:
        _axis(dim, weight.ndim, "weight_norm")
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    module._register_load_state_dict_pre_hook(functools.partial(_weight_norm_compat_hook, name))  # picklable
    return module


def _weight_norm_compat_hook(name: str, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                             error_msgs) -> None:
    """A load-state-dict pre-hook (bound to ``name``) that renames the older form's ``<name>_g`` and ``<name>_v``
    (``nn.utils.weight_norm``) to ``parametrizations.<name>.original0`` and ``original1``, so its checkpoints load, as
    PyTorch's."""
    g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
    if g_key in state_dict and v_key in state_dict:
        state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
        state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)


class _SpectralNorm(Module):
    """The weight divided by its largest singular value, estimated by power iteration on the buffers ``_u`` and
    ``_v`` (advanced ``n_power_iterations`` times per call in training mode); a 1-D weight is normalized."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12):
        super().__init__()
        ndim = weight.ndim
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: n_power_iterations must be positive, got {n_power_iterations}")
        self.dim = _axis(dim, ndim, "spectral_norm")
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = as_matrix(weight.detach(), self.dim)
            h, w = weight_mat.shape
            with no_grad():
                self.register_buffer("_u", _unit_vector(h, weight, eps))
                self.register_buffer("_v", _unit_vector(w, weight, eps))
            power_iteration(weight_mat, self._u, self._v, 15, eps, u_first=True, adjoint=True)

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        weight_mat = as_matrix(weight, self.dim)
        u, v = self._u, self._v
        if self.training:
            u, v = power_iteration(weight_mat, u, v, self.n_power_iterations, self.eps, u_first=True, adjoint=True)
        return weight / sigma(weight_mat, u, v, conjugate=True)

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Parametrize ``module.<name>`` as itself divided by its spectral norm, estimated by power iteration on the
    buffers ``parametrizations.<name>.0._u`` and ``_v``; ``dim``: the output axis (1 for transposed convolutions,
    else 0). Returns ``module``.

    >>> critic = ember.nn.utils.parametrizations.spectral_norm(ember.nn.Linear(20, 40))
    """
    weight = _tensor(module, name, "spectral_norm")
    dim = default_dim(module) if dim is None else dim
    return parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """Parametrize the real matrix (or batch of matrices) ``module.<name>`` to have orthonormal columns (rows, when
    it is wide): ``orthogonal_map`` is ``"matrix_exp"`` (the default for square weights), ``"cayley"`` or
    ``"householder"`` (the default for rectangular ones). With ``use_trivialization`` the state dict holds
    ``parametrizations.<name>.original`` and the buffer ``parametrizations.<name>.0.base``, as PyTorch's. Under
    ``ember.jit`` the cayley and householder maps trace; matrix_exp reads its matrix's norm and is refused there.

    >>> layer = ember.nn.utils.parametrizations.orthogonal(ember.nn.Linear(20, 40))
    """
    weight = _tensor(module, name, "orthogonal")
    if weight.ndim < 2:
        raise ValueError(f"orthogonal: expected a matrix or batch of matrices, got a tensor of {weight.ndim} "
                         "dimensions")
    if weight.dtype in COMPLEX:  # the maps take X - X^T, not X - X^H: matrix_exp's weight was not unitary
        raise ValueError(f"orthogonal: only real weights are supported, got {weight.dtype}{list(weight.shape)}")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in MAPS:
        raise ValueError(f'orthogonal: orthogonal_map has to be one of "matrix_exp", "cayley", "householder", got '
                         f"{orthogonal_map!r}")
    orth = Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
    return parametrize.register_parametrization(module, name, orth, unsafe=True)
