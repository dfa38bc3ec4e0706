"""L-BFGS: quasi-Newton steps from the last ``history_size`` gradient differences, as ``torch.optim.LBFGS``
(without a line search: a fixed step ``lr``, the first one scaled by the gradient's size)."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from ember.autograd import enable_grad
from ember.optim.optimizer import Optimizer

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
        if line_search_fn is not None:
            raise ValueError(f"LBFGS: line_search_fn={line_search_fn!r} is not supported; Ember's LBFGS takes fixed "
                             "steps (line_search_fn=None, PyTorch's default)")
        max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                                  "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change,
                                  "history_size": history_size, "line_search_fn": None})
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

    def state_shape(self, key: str, param) -> tuple:
        """The flat vectors (``d``, ``prev_flat_grad``) span every parameter; the state is the first one's."""
        return (sum(p.numel() for p in self._params),)

    def load_state_dict(self, state_dict: dict) -> None:
        """As the base class, but the flat vectors stay float64 NumPy arrays (the base class would cast them to
        the parameters' dtype)."""
        super().load_state_dict(state_dict)
        by_index = dict(zip((int(k) for k in state_dict["param_groups"][0]["params"]), self._params))
        for key, values in state_dict["state"].items():
            self.state[by_index[int(key)]] = copy.deepcopy(values)

    def _flat_grad(self) -> np.ndarray:
        parts = [np.zeros(p.numel(), np.float64) if p.grad is None else
                 np.asarray(p.grad.detach().numpy(), np.float64).reshape(-1) for p in self._params]
        return np.concatenate(parts)

    def _add(self, step: float, direction: np.ndarray) -> None:
        start = 0
        for p in self._params:
            n = p.numel()
            p.array[...] += (step * direction[start:start + n]).reshape(p.shape).astype(p.dtype)
            start += n

    def step(self, closure: Callable | None = None):
        """Run up to ``max_iter`` L-BFGS iterations; ``closure`` recomputes the loss and its gradients."""
        if closure is None:
            raise ValueError("LBFGS.step needs a closure that recomputes the loss and calls backward()")
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
            if float(grad @ d) > -tolerance_change:  # not a descent direction
                break
            self._add(t, d)
            done = False
            if n_iter != max_iter:
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
