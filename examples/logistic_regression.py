"""Logistic regression on scikit-learn's breast-cancer data with the tinynn-style Model API.

    python examples/logistic_regression.py [--epochs N]
    python examples/logistic_regression.py --compile    # Model(..., compile=True): fit runs traced steps
"""

import argparse

import ember
from ember import nn
from ember.data.datasets import load_breast_cancer, train_test_split
from ember.model import Model, Net


def main(epochs: int = 30, compile: bool = False) -> float:
    ember.manual_seed(0)
    x, y = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_fraction=0.2, seed=0, stratify=True)
    mu, sigma = x_train.mean(0), x_train.std(0) + 1e-8
    x_train, x_test = (x_train - mu) / sigma, (x_test - mu) / sigma
    net = Net([nn.Linear(x.shape[1], 1), nn.Flatten(0)])
    model = Model(net, nn.BCEWithLogitsLoss(), ember.optim.SGD(net.parameters(), lr=0.05), compile=compile)
    model.fit(x_train, y_train.astype("float32"), epochs=epochs, batch_size=32, metrics=["accuracy"])
    result = model.evaluate(x_test, y_test.astype("float32"), metrics=["accuracy"])
    print(f"test accuracy {result['accuracy']:.4f}")
    return result["accuracy"]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="epochs to train (default: 30)")
    parser.add_argument("--compile", action="store_true", help="trace the training step with ember.jit "
                        "(default: eager)")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error(f"argument --epochs: must be at least 1, got {args.epochs}")
    main(epochs=args.epochs, compile=args.compile)
