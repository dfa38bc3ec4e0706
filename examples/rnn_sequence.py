"""An LSTM learns a sequence task: is the running sum of a +1/-1 sequence positive at the end?

    python examples/rnn_sequence.py [--epochs N]
    python examples/rnn_sequence.py --compile    # the training step traced by ember.jit
"""

import argparse

import numpy as np

import ember
from ember import nn


def make_data(n: int, length: int, rng):
    x = rng.choice([-1.0, 1.0], size=(n, length, 1)).astype(np.float32)
    y = (x.sum(axis=(1, 2)) > 0).astype(np.int64)
    return x, y


class SequenceClassifier(nn.Module):
    def __init__(self, hidden: int = 16):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def main(epochs: int = 30, length: int = 9, compile: bool = False) -> float:
    ember.manual_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = make_data(2048, length, rng)
    x_test, y_test = make_data(512, length, rng)
    model = SequenceClassifier()
    optimizer = ember.optim.Adam(model.parameters(), lr=1e-2)

    def train_step(xb, yb):
        optimizer.zero_grad()
        loss = ember.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        return loss

    if compile:
        train_step = ember.jit(train_step)
    for epoch in range(epochs):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), 64):
            idx = order[start:start + 64]
            loss = train_step(ember.tensor(x_train[idx]), ember.tensor(y_train[idx]))
        with ember.no_grad():
            accuracy = (model(ember.tensor(x_test)).argmax(axis=1).numpy() == y_test).mean()
        print(f"epoch {epoch + 1:2d}  loss {loss.item():.4f}  test accuracy {accuracy:.4f}")
    return float(accuracy)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="epochs to train (default: 30)")
    parser.add_argument("--compile", action="store_true", help="trace the training step with ember.jit "
                        "(default: eager)")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error(f"argument --epochs: must be at least 1, got {args.epochs}")
    main(epochs=args.epochs, compile=args.compile)
