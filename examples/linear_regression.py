"""Fit y = w * x + b with two scalar parameters and plain autograd (MiniFlow's first example).

    python examples/linear_regression.py [--epochs N]
    python examples/linear_regression.py --compile    # the same step, traced by ember.jit
"""

import argparse

import numpy as np

import ember


def main(steps: int = 300, lr: float = 0.1, compile: bool = False) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 256).astype(np.float32)
    y = 3.0 * x + 0.5 + rng.normal(0, 0.05, 256).astype(np.float32)
    x, y = ember.from_numpy(x), ember.from_numpy(y)
    w = ember.zeros((), requires_grad=True)
    b = ember.zeros((), requires_grad=True)
    optimizer = ember.optim.SGD([w, b], lr=lr)

    def train_step():
        optimizer.zero_grad()
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        optimizer.step()  # w -= lr * w.grad, b -= lr * b.grad
        return loss

    if compile:
        train_step = ember.jit(train_step)
    for step in range(steps):
        loss = train_step()
        if step % 50 == 0:
            print(f"step {step:3d}  loss {loss.item():.5f}  w {w.item():.3f}  b {b.item():.3f}")
    print(f"learned w = {w.item():.3f} (true 3.0), b = {b.item():.3f} (true 0.5)")
    return w.item(), b.item()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", "--epochs", type=int, default=300,
                        help="full-batch steps (epochs) to train (default: 300)")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate (default: 0.1)")
    parser.add_argument("--compile", action="store_true", help="trace the training step with ember.jit "
                        "(default: eager)")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error(f"argument --steps: must be at least 1, got {args.steps}")
    main(steps=args.steps, lr=args.lr, compile=args.compile)
