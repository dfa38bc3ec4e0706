"""L-BFGS: quasi-Newton steps from the last ``history_size`` gradient differences, as ``torch.optim.LBFGS``: a fixed
step ``lr`` (the first one scaled by the gradient's size), or one a strong Wolfe line search finds from it."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from ember.autograd import enable_grad
from ember.backend.devices import from_torch, is_torch_tensor
from ember.optim.line_search import strong_wolfe
from ember.optim.optimizer import Optimizer, _as_real
from ember.sparse import RowSparse
from ember.tensor import Tensor

__all__ = ["LBFGS"]


class LBFGS(Optimizer):
    """L-BFGS over all parameters as one vector; ``step(closure)`` re-evaluates the loss up to ``max_iter`` times.

    >>> opt = ember.optim.LBFGS(model.parameters(), lr=1.0)
    >>> def closure():
    ...     opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); return loss
    >>> opt.step(closure)
    """

    def __init__(self, params, lr: float = 1.0, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None):
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                                  "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change,
                                  "history_size": history_size, "line_search_fn": line_search_fn})
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS: takes one parameter group")
        self._params = self.param_groups[0]["params"]

    def validate(self, group: dict) -> None:
        for name in ("lr", "tolerance_grad", "tolerance_change"):
            if group[name] < 0:
                raise ValueError(f"LBFGS: {name} must be >= 0, got {group[name]}")
        for name in ("max_iter", "max_eval", "history_size"):
            if group[name] < 1:
                raise ValueError(f"LBFGS: {name} must be >= 1, got {group[name]}")

    def takes_complex(self) -> bool:
        """Complex parameters are vectors of their real and imaginary parts, as in PyTorch."""
        return True

    def state_shape(self, key: str, param) -> tuple:
        """The flat vectors (``d``, ``prev_flat_grad``) span every parameter; the state is the first one's."""
        return (sum(_numel(p) for p in self._params),)

    def keeps_tensor_state(self) -> bool:
        return False  # NumPy histories, checked against state_shape

    def load_state_dict(self, state_dict: dict) -> None:
        """As the base class, but the flat vectors stay float64 NumPy arrays (the base class would cast them to
        the parameters' dtype); a torch LBFGS's tensors (its vectors, lists of them, 0-d ``H_diag`` and ``ro``)
        are read as such arrays and numbers."""
        super().load_state_dict(state_dict)
        by_index = dict(zip((int(k) for k in state_dict["param_groups"][0]["params"]), self._params))
        for key, values in state_dict["state"].items():
            self.state[by_index[int(key)]] = {k: _history(v) for k, v in values.items()}

    def _flat_grad(self) -> np.ndarray:
        """Every parameter's gradient as one float64 vector: zeros for a missing one, a row-sparse one made dense
        (as torch's ``to_dense``)."""
        parts = []
        for p in self._params:
            grad = p.grad
            if grad is None:
                parts.append(np.zeros(_numel(p), np.float64))
                continue
            if grad.__class__ is RowSparse:
                grad = grad.to_dense()
            parts.append(np.asarray(_real(grad.detach().numpy()), np.float64).reshape(-1))
        return np.concatenate(parts)

    def _add(self, step: float, direction: np.ndarray) -> None:
        start = 0
        for p in self._params:
            n = _numel(p)
            target = _real(p.array)
            target[...] += (step * direction[start:start + n]).reshape(target.shape).astype(target.dtype)
            start += n

    def _line_search(self, closure: Callable, t: float, d: np.ndarray, loss: float, grad: np.ndarray, slope: float,
                     tolerance_change: float, max_tries: int) -> tuple:
        """``strong_wolfe`` from the parameters as they are, which it leaves moved by the step it returns."""
        start = [p.array.copy() for p in self._params]

        def evaluate(step: float) -> tuple[float, np.ndarray]:
            self._reset(start)
            self._add(step, d)
            with enable_grad():
                value = float(closure())
            return value, self._flat_grad()

        loss, grad, t, tries = strong_wolfe(evaluate, t, d, loss, grad, slope, tolerance_change=tolerance_change,
                                            max_tries=max_tries)
        self._reset(start)
        self._add(t, d)
        return loss, grad, t, tries

    def _reset(self, arrays: list) -> None:
        for p, array in zip(self._params, arrays):
            p.array[...] = array

    def step(self, closure: Callable | None = None):
        """Run up to ``max_iter`` L-BFGS iterations; ``closure`` recomputes the loss and its gradients."""
        if closure is None:
            raise ValueError("LBFGS.step needs a closure that recomputes the loss and calls backward()")
        self.stepped = True
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        state = self.state[self._params[0]]  # all of it on the first parameter, as in torch (state_dict saves it)
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with enable_grad():
            first_loss = closure()
        loss = float(first_loss)
        evals = 1
        state["func_evals"] += 1
        grad = self._flat_grad()
        if np.abs(grad).max() <= tolerance_grad:
            return first_loss
        d, t = state.get("d"), state.get("t")
        dirs, steps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_grad = state.get("H_diag"), state.get("prev_flat_grad")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, dirs, steps, ro, h_diag = -grad, [], [], [], 1.0
            else:
                y, s = grad - prev_grad, d * t
                ys = float(y @ s)
                if ys > 1e-10:  # keep the pair only when it keeps the curvature estimate positive
                    if len(dirs) == group["history_size"]:
                        dirs.pop(0), steps.pop(0), ro.pop(0)
                    dirs.append(y), steps.append(s), ro.append(1.0 / ys)
                    h_diag = ys / float(y @ y)
                alphas = [0.0] * len(dirs)
                q = -grad
                for i in range(len(dirs) - 1, -1, -1):
                    alphas[i] = float(steps[i] @ q) * ro[i]
                    q = q - alphas[i] * dirs[i]
                d = q * h_diag
                for i in range(len(dirs)):
                    beta = float(dirs[i] @ d) * ro[i]
                    d = d + (alphas[i] - beta) * steps[i]
            prev_grad = grad.copy()
            prev_loss = loss
            t = min(1.0, 1.0 / np.abs(grad).sum()) * lr if state["n_iter"] == 1 else lr
            slope = float(grad @ d)
            if slope > -tolerance_change:  # not a descent direction
                break
            done = False
            if group["line_search_fn"] == "strong_wolfe":
                loss, grad, t, tries = self._line_search(closure, t, d, loss, grad, slope, tolerance_change,
                                                         max_eval - evals)
                done = np.abs(grad).max() <= tolerance_grad
                evals += tries
                state["func_evals"] += tries
            else:
                self._add(t, d)
            if n_iter != max_iter and group["line_search_fn"] is None:
                with enable_grad():
                    loss = float(closure())
                grad = self._flat_grad()
                done = np.abs(grad).max() <= tolerance_grad
                evals += 1
                state["func_evals"] += 1
            if n_iter == max_iter or evals >= max_eval or done:
                break
            if np.abs(d * t).max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break
        state.update(d=d, t=t, old_dirs=dirs, old_stps=steps, ro=ro, H_diag=h_diag, prev_flat_grad=prev_grad)
        return first_loss


def _history(value):
    """A value of a saved L-BFGS state, copied: tensors and arrays (also in lists) as float64 NumPy arrays, 0-d
    ones as Python floats; numbers and the rest as they are."""
    if isinstance(value, list):
        return [_history(v) for v in value]
    if isinstance(value, Tensor):
        value = value.detach().numpy()
    elif is_torch_tensor(value):  # a torch LBFGS's: bfloat16 too, which NumPy cannot read from torch
        value = from_torch(value)
    if hasattr(value, "__array__") and not isinstance(value, (bool, int, float)):
        array = np.array(value, dtype=np.float64)
        return float(array) if array.ndim == 0 else array
    return copy.deepcopy(value)


def _real(array):
    """A complex array's real view (``view_as_real``); a real array as it is."""
    return _as_real(array) if array.dtype.kind == "c" else array


def _numel(p) -> int:
    """How many real numbers ``p`` holds: two an element for a complex parameter."""
    return p.numel() * (2 if p.dtype.kind == "c" else 1)
