"""A CNN on scikit-learn's 8x8 digits with Model.fit and a callback (the network `make demo` trains).

    python examples/cnn_digits.py [--epochs N]
    python examples/cnn_digits.py --compile    # Model(..., compile=True): fit runs traced steps
"""

import argparse

import ember
from ember import nn
from ember.callbacks import EarlyStopping
from ember.data.datasets import load_digits, train_test_split
from ember.model import Model, Net


def main(epochs: int = 15, compile: bool = False) -> float:
    ember.manual_seed(0)
    x, y = load_digits(images=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_fraction=0.2, seed=0, stratify=True)
    net = Net([
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10),
    ])
    print(net)
    model = Model(net, nn.CrossEntropyLoss(), ember.optim.Adam(net.parameters(), lr=2e-3), compile=compile)
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, metrics=["accuracy"],
              validation_data=(x_test, y_test), callbacks=[EarlyStopping("val_accuracy", patience=4)])
    result = model.evaluate(x_test, y_test, metrics=["accuracy"])
    print(f"test accuracy {result['accuracy']:.4f}")
    return result["accuracy"]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15, help="epochs to train (default: 15)")
    parser.add_argument("--compile", action="store_true", help="trace the training step with ember.jit "
                        "(default: eager)")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error(f"argument --epochs: must be at least 1, got {args.epochs}")
    main(epochs=args.epochs, compile=args.compile)
