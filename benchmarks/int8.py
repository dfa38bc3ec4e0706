"""int8 post-training quantization of the digits CNN against float32: accuracy and time per batch, both as
compiled graphs (Ember's runtime), interleaved in one process.

    python benchmarks/int8.py [--epochs 5] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import ember
from ember import nn
from ember.data.datasets import load_digits, train_test_split
from ember.model import Model, Net
from ember.runtime import GraphFunction


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    ember.manual_seed(0)
    x, y = load_digits(images=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_fraction=0.2, seed=0, stratify=True)
    net = Net([  # examples/cnn_digits.py
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10),
    ])
    Model(net, nn.CrossEntropyLoss(), ember.optim.Adam(net.parameters(), lr=2e-3), compile=True).fit(
        x_train, y_train, epochs=args.epochs, batch_size=32, verbose=0)
    net.eval()
    qnet = ember.quantize.quantize_model(net, [x_train[i:i + 128] for i in range(0, 512, 128)])
    float_graph = ember.passes.run_passes(
        ember.export.trace(net, [x_test], dynamic_axes={"input0": {0: "batch"}}),
        ("prune", "fold_constants", "cse", "prune"))
    float_fn = GraphFunction(float_graph, passes=("prune", "cse", "plan_memory"))
    float_acc = (float_fn(x_test)[0].argmax(1) == y_test).mean()
    int8_acc = (qnet(x_test).argmax(1) == y_test).mean()
    print(f"test accuracy: float32 {float_acc:.4f}, int8 {int8_acc:.4f} ({100 * (int8_acc - float_acc):+.2f} points)")
    for batch in (64, len(x_test)):
        xb = x_test[:batch]
        times = {"float32": [], "int8": []}
        for _ in range(args.rounds):
            for name, fn in (("float32", lambda: float_fn(xb)), ("int8", lambda: qnet(xb))):
                fn()
                start = time.perf_counter()
                n = 0
                while time.perf_counter() - start < 0.3:
                    fn()
                    n += 1
                times[name].append((time.perf_counter() - start) / n)
        f, q = statistics.median(times["float32"]), statistics.median(times["int8"])
        print(f"batch {batch:4d}: float32 {f * 1e3:.3f} ms, int8 {q * 1e3:.3f} ms, int8/float32 {q / f:.2f}x")
    size_f = sum(p.array.nbytes for p in net.parameters())
    size_q = sum(np.asarray(n.attrs["value"]).nbytes for n in qnet.graph.nodes if n.op.name == "const")
    print(f"constants: float32 {size_f} bytes of parameters, int8 graph {size_q} bytes")


if __name__ == "__main__":
    main()
