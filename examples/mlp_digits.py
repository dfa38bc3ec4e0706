"""A PyTorch-style training loop: an MLP on scikit-learn's digits with Module, DataLoader and SGD.

    python examples/mlp_digits.py [--epochs N]
    python examples/mlp_digits.py --compile    # the training step traced by ember.jit
"""

import argparse

import ember
from ember import nn
from ember.data import DataLoader, TensorDataset
from ember.data.datasets import load_digits, train_test_split


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(64, 128)
        self.out = nn.Linear(128, 10)

    def forward(self, x):
        return self.out(ember.relu(self.hidden(x)))


def main(epochs: int = 20, compile: bool = False) -> float:
    ember.manual_seed(0)
    x, y = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_fraction=0.2, seed=0, stratify=True)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True)
    model = MLP()
    optimizer = ember.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def train_step(xb, yb):
        optimizer.zero_grad()
        loss = ember.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        return loss

    if compile:
        train_step = ember.jit(train_step)
    for epoch in range(epochs):
        model.train()
        for xb, yb in loader:
            loss = train_step(xb, yb)
        model.eval()
        with ember.no_grad():
            accuracy = (model(ember.tensor(x_test)).argmax(axis=1).numpy() == y_test).mean()
        print(f"epoch {epoch + 1:2d}  last loss {loss.item():.4f}  test accuracy {accuracy:.4f}")
    return float(accuracy)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="epochs to train (default: 20)")
    parser.add_argument("--compile", action="store_true", help="trace the training step with ember.jit "
                        "(default: eager)")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error(f"argument --epochs: must be at least 1, got {args.epochs}")
    main(epochs=args.epochs, compile=args.compile)
