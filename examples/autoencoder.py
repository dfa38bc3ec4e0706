"""An autoencoder compresses scikit-learn's digits to 8 numbers and reconstructs them.

    python examples/autoencoder.py [--epochs N]
    python examples/autoencoder.py --compile    # Model(..., compile=True): fit runs traced steps
"""

import argparse

import ember
from ember import nn
from ember.data.datasets import load_digits, train_test_split
from ember.model import Model, Net


def main(epochs: int = 40, compile: bool = False) -> float:
    ember.manual_seed(0)
    x, y = load_digits()
    x_train, x_test, _, _ = train_test_split(x, y, test_fraction=0.2, seed=0)
    net = Net([
        nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8), nn.ReLU(),  # encoder
        nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64), nn.Sigmoid(),  # decoder
    ])
    model = Model(net, nn.MSELoss(), ember.optim.Adam(net.parameters(), lr=3e-3), compile=compile)
    baseline = float(((x_test - x_train.mean(0)) ** 2).mean())
    model.fit(x_train, x_train, epochs=epochs, batch_size=64, verbose=0)
    error = model.evaluate(x_test, x_test)["loss"]
    print(f"reconstruction MSE {error:.4f} (predicting the mean image: {baseline:.4f})")
    return error / baseline


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40, help="epochs to train (default: 40)")
    parser.add_argument("--compile", action="store_true", help="trace the training step with ember.jit "
                        "(default: eager)")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error(f"argument --epochs: must be at least 1, got {args.epochs}")
    main(epochs=args.epochs, compile=args.compile)
