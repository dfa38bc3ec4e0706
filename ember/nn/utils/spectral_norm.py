"""Spectral normalization, PyTorch's older hook form (``nn.utils.spectral_norm`` / ``remove_spectral_norm``): the
weight divided by its largest singular value, estimated by power iteration on the buffers ``weight_u`` and
``weight_v``, which each call in training mode advances."""

from __future__ import annotations

from ember import ops
from ember.autograd import no_grad
from ember.creation import randn
from ember.nn.functional import normalize
from ember.nn.layers.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from ember.nn.parameter import Parameter
from ember.nn.utils.weight_norm import _axis, _parameter
from ember.tensor import Tensor

__all__ = ["remove_spectral_norm", "spectral_norm"]


def default_dim(module) -> int:
    """The output axis of ``module``'s weight: 1 for a transposed convolution, else 0."""
    return 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0


def as_matrix(weight: Tensor, dim: int) -> Tensor:
    """``weight`` with axis ``dim`` moved first and the others flattened: (size of dim, rest)."""
    if dim != 0:
        weight = ops.permute(weight, dim, *(d for d in range(weight.ndim) if d != dim))
    return ops.reshape(weight, (weight.shape[0], -1))


def _unit_vector(n: int, like: Tensor, eps: float) -> Tensor:
    return normalize(randn(n, dtype=like.dtype, device=like.device), dim=0, eps=eps)


def sigma(weight_mat: Tensor, u: Tensor, v: Tensor, conjugate: bool = False) -> Tensor:
    """The largest singular value's estimate ``u . (W v)`` (``conj(u) . (W v)`` with ``conjugate``), from copies of
    ``u`` and ``v`` (a later in-place power-iteration step must not change what this value's gradient reads)."""
    first = ops.clone(u)
    return ops.dot(ops.conj(first) if conjugate else first, ops.matmul(weight_mat, ops.clone(v)))


def power_iteration(weight_mat: Tensor, u: Tensor, v: Tensor, steps: int, eps: float, u_first: bool,
                    adjoint: bool = False) -> tuple:
    """``steps`` power-iteration steps from the buffers ``u`` and ``v`` (each step ``v`` from ``u`` then ``u`` from
    ``v``, or the other way round when ``u_first``), the results written into the buffers (``assign`` ops, which
    ``ember.jit`` traces) and returned. ``v`` comes from ``W^T u``, or ``W^H u`` with ``adjoint`` (a complex weight;
    the hook form, as PyTorch's, takes the plain transpose)."""
    new_u, new_v = u, v
    with no_grad():
        transposed = ops.transpose(weight_mat)
        if adjoint:
            transposed = ops.conj(transposed)  # (a real weight as it is)
        for _ in range(steps):
            if u_first:
                new_u = normalize(ops.matmul(weight_mat, new_v), dim=0, eps=eps)
            new_v = normalize(ops.matmul(transposed, new_u), dim=0, eps=eps)
            if not u_first:
                new_u = normalize(ops.matmul(weight_mat, new_v), dim=0, eps=eps)
        if new_u.symbolic:  # a graph differentiates whatever it holds, grad mode or not
            new_u, new_v = ops.stop_gradient(new_u), ops.stop_gradient(new_v)
        ops.assign(u, new_u)
        ops.assign(v, new_v)
    return new_u, new_v


class SpectralNorm:
    """The forward pre-hook that ``spectral_norm`` registers."""

    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float):
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: n_power_iterations must be positive, got {n_power_iterations}")
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def compute_weight(self, module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        weight_mat = as_matrix(weight, self.dim)
        if do_power_iteration:
            u, v = power_iteration(weight_mat, u, v, self.n_power_iterations, self.eps, u_first=False)
        return weight / sigma(weight_mat, u, v)

    def __call__(self, module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))


def spectral_norm(module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None):
    """Divide the parameter ``name`` by its spectral norm before each call: the parameter becomes ``name_orig``, the
    power iteration's vectors the buffers ``name_u`` and ``name_v``, advanced ``n_power_iterations`` times per call
    in training mode. ``dim``: the output axis (1 for transposed convolutions, else 0). Returns ``module``.

    >>> critic = ember.nn.utils.spectral_norm(ember.nn.Linear(20, 40))
    """
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, SpectralNorm) and hook.name == name:
            raise RuntimeError(f"spectral_norm: cannot register two spectral_norm hooks on the same parameter {name}")
    weight = _parameter(module, name, "spectral_norm")
    dim = default_dim(module) if dim is None else _axis(dim, weight.ndim, "spectral_norm")
    fn = SpectralNorm(name, n_power_iterations, dim, eps)
    h, w = as_matrix(weight.detach(), dim).shape
    with no_grad():
        u, v = _unit_vector(h, weight, eps), _unit_vector(w, weight, eps)
    del module._parameters[name]  # (the attribute goes with it)
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, weight.detach())
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module, name: str = "weight"):
    """Undo ``spectral_norm``: the parameter ``name`` holds the normalized weight (from the stored vectors).
    Returns ``module``.

    >>> critic = ember.nn.utils.remove_spectral_norm(critic)
    """
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, SpectralNorm) and hook.name == name:
            with no_grad():
                weight = hook.compute_weight(module, do_power_iteration=False)
            object.__delattr__(module, name)
            for suffix in ("_orig", "_u", "_v"):
                delattr(module, name + suffix)
            module.register_parameter(name, Parameter(weight.array))
            module._remove_hook(module._forward_pre_hooks, key)
            return module
    raise ValueError(f"remove_spectral_norm: spectral_norm of '{name}' not found in {type(module).__name__}")
