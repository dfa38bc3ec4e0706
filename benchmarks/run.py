"""Run the benchmark workloads: Ember beside PyTorch (and a NumPy floor) in one process, as ratios.

    python benchmarks/run.py                 # every workload
    python benchmarks/run.py tiny-chain W2   # some of them
    python benchmarks/run.py --seconds 1 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import workloads as w  # noqa: E402
from harness import compare, format_time  # noqa: E402

WORKLOADS = {
    "tiny-chain": {"ember": w.tiny_chain_ember, "torch": w.tiny_chain_torch, "numpy": w.tiny_chain_numpy},
    "W1b1": {"ember": lambda: w.linreg_ember(1), "torch": lambda: w.linreg_torch(1),
             "ember-graph": lambda: w.linreg_graph(1)},
    "W1b32": {"ember": lambda: w.linreg_ember(32), "torch": lambda: w.linreg_torch(32),
              "ember-graph": lambda: w.linreg_graph(32)},
    "Wtab": {
        "ember": lambda: w.mlp_ember((13, 64, 64, 3), 32),
        "torch": lambda: w.mlp_torch((13, 64, 64, 3), 32),
        "numpy": lambda: w.mlp_numpy((13, 64, 64, 3), 32),
        "ember-graph": lambda: w.mlp_graph((13, 64, 64, 3), 32),
    },
    "W2": {
        "ember": lambda: w.mlp_ember((784, 256, 128, 10), 64),
        "torch": lambda: w.mlp_torch((784, 256, 128, 10), 64),
        "numpy": lambda: w.mlp_numpy((784, 256, 128, 10), 64),
        "ember-graph": lambda: w.mlp_graph((784, 256, 128, 10), 64),
    },
    "W3": {
        "ember": lambda: w.mlp_ember((784, 256, 128, 10), 1024),
        "torch": lambda: w.mlp_torch((784, 256, 128, 10), 1024),
        "numpy": lambda: w.mlp_numpy((784, 256, 128, 10), 1024),
        "ember-graph": lambda: w.mlp_graph((784, 256, 128, 10), 1024),
    },
    "W4": {"ember": w.lenet_ember, "torch": w.lenet_torch},
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", help=f"any of {', '.join(WORKLOADS)} (default: all)")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    args = parser.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:
        print("PyTorch is not installed (pip install -e '.[bench]'): showing Ember alone")
        torch = None
    names = args.workloads or list(WORKLOADS)
    print(f"{'workload':<12}{'ember':>12}{'torch':>12}{'numpy':>12}   ember/torch  ember/numpy"
          f"{'ember-graph':>14}  graph/torch")
    for name in names:
        builders = WORKLOADS[name]
        steps = {k: build() for k, build in builders.items() if k != "torch" or torch is not None}
        result = compare(steps, args.seconds, args.rounds)
        row = f"{name:<12}" + "".join(
            f"{format_time(result[k]) if k in result else '-':>12}" for k in ("ember", "torch", "numpy"))
        if "torch" in result:
            row += f"   {result['ember'] / result['torch']:10.2f}x"
        if "numpy" in result:
            row += f"  {result['ember'] / result['numpy']:10.2f}x"
        if "ember-graph" in result:  # the compiled graph runtime (ember.compat.tf), one Session.run per step
            row = row.ljust(74) + f"{format_time(result['ember-graph']):>14}"
            if "torch" in result:
                row += f"  {result['ember-graph'] / result['torch']:10.3f}x"
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
