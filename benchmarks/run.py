"""Run the benchmark workloads: Ember beside PyTorch, JAX (and a NumPy floor) in one process, as ratios.

    python benchmarks/run.py                     # every workload
    python benchmarks/run.py tiny-chain W2       # some of them
    python benchmarks/run.py --seconds 1 --rounds 3
    python benchmarks/run.py --seconds 0.3 --rounds 15 --best   # fastest rounds: steadier on a noisy VM
    python benchmarks/run.py --torch-compile     # add torch.compile (compiles for 10-30 s per workload)
    python benchmarks/run.py --compile-time      # seconds to the first compiled step, for W2 and Wtab
    python benchmarks/run.py --device cuda       # on a GPU: Ember and PyTorch eager, each step synchronized

Ember's graph columns: ``ember-graph`` is the TF-1 Session running the training op alone (one-hot labels fed);
on the MLPs ``ember-graph-loss`` does the eager and jit steps' work (class-index labels, the loss fetched too);
on W1b1 ``ember-graph-np`` / ``ember-graph-float`` feed each sample as a NumPy scalar / Python float.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("OMP_NUM_THREADS", "2")
THREADS = int(os.environ["OMP_NUM_THREADS"])  # every framework's: OMP_NUM_THREADS=1 compares them on one core
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import workloads as w  # noqa: E402
from harness import compare, first_step, format_time, machine_line  # noqa: E402

from ember.backend import onednn  # noqa: E402

MLPS = {"Wtab": ((13, 64, 64, 3), 32), "W2": ((784, 256, 128, 10), 64), "W3": ((784, 256, 128, 10), 1024)}


def _linreg(batch):
    steps = {
        "ember": lambda: w.linreg_ember(batch),
        "torch": lambda: w.linreg_torch(batch),
        "ember-graph": lambda: w.linreg_graph(batch),
        "jax": lambda: w.linreg_jax(batch),
    }
    if batch == 1:  # MiniFlow's graph computes on Python numbers; Ember's Session takes them too
        steps["miniflow"] = lambda: w.linreg_miniflow(batch)
        steps["ember-graph-np"] = lambda: w.linreg_graph(batch, numbers=np.float32)
        steps["ember-graph-float"] = lambda: w.linreg_graph(batch, numbers=float)
    return steps


def _mlp(sizes, batch):
    return {
        "ember": lambda: w.mlp_ember(sizes, batch),
        "torch": lambda: w.mlp_torch(sizes, batch),
        "numpy": lambda: w.mlp_numpy(sizes, batch),
        "ember-graph": lambda: w.mlp_graph(sizes, batch),
        "ember-graph-loss": lambda: w.mlp_graph(sizes, batch, fetch_loss=True),
        "ember-jit": lambda: w.mlp_ember(sizes, batch, jit=True),
        "jax": lambda: w.mlp_jax(sizes, batch),
        "torch-compile": lambda: w.mlp_torch(sizes, batch, compiled=True),
    }


WORKLOADS = {
    "tiny-chain": {"ember": w.tiny_chain_ember, "torch": w.tiny_chain_torch, "numpy": w.tiny_chain_numpy},
    "W1b1": _linreg(1),
    "W1b32": _linreg(32),
    **{name: _mlp(*shape) for name, shape in MLPS.items()},
    "W4": {"ember": w.lenet_ember, "torch": w.lenet_torch, "ember-jit": lambda: w.lenet_ember(jit=True),
           "jax": w.lenet_jax},
    "W5s": {"ember": lambda: w.ctr_ember(sparse=True), "torch": lambda: w.ctr_torch(sparse=True),
            "ember-jit": lambda: w.ctr_ember(sparse=True, jit=True), "jax": w.ctr_jax},
    "W5d": {"ember": lambda: w.ctr_ember(sparse=False), "torch": lambda: w.ctr_torch(sparse=False)},
    "W6": {"ember": w.transformer_ember, "torch": w.transformer_torch,
           "ember-jit": lambda: w.transformer_ember(jit=True)},
    "R18": {"ember": w.resnet18_ember, "torch": w.resnet18_torch},
    "T512": {"ember": w.transformer512_ember, "torch": w.transformer512_torch},
}
GPU_SIZED = ("R18", "T512")  # the GPU anchors: seconds per step on 2 CPU cores, so not in the CPU default
GPU_DEFAULT = ("W2", "W3", "W4", "W5s", "W5d", "W6", "R18", "T512")
GPU_COLUMNS = ("ember", "torch", "torch-compile")  # NumPy, JAX and Ember's compiled modes run on the CPU
COLUMNS = ("ember", "torch", "numpy", "ember-graph", "ember-graph-loss", "ember-graph-np", "ember-graph-float",
           "ember-jit", "jax", "torch-compile", "miniflow")
COMPILED = ("ember-graph", "ember-jit", "jax", "torch-compile")
RATIOS = [(c, "torch") for c in COLUMNS if c not in ("torch", "ember-graph-loss", "ember-graph-np",
                                                     "ember-graph-float")] + [
    ("ember", "numpy"), ("ember-graph", "jax"), ("ember-jit", "jax"), ("ember-graph", "miniflow"),
    ("ember-graph-np", "miniflow"), ("ember-graph-float", "miniflow"), ("ember-jit", "ember-graph"),
    ("ember-jit", "ember-graph-loss")]
# The speed Ember holds itself to on every CPU, as (workload, column, against, bound, bound included): the
# Session's batch-1 step against MiniFlow's with either feed, eager W2 against the hand-written NumPy step, and
# the eager and compiled modes ahead of PyTorch eager and JAX's jit.
TARGETS = [
    ("W1b1", "ember-graph-np", "miniflow", 0.67, True), ("W1b1", "ember-graph-float", "miniflow", 0.67, True),
    ("W2", "ember", "numpy", 1.10, True), ("W4", "ember", "torch", 1.0, False), ("W4", "ember-jit", "jax", 1.0, False),
    ("R18", "ember", "torch", 1.0, False), ("W5s", "ember-jit", "jax", 1.0, False),
    ("W5d", "ember", "torch", 1.0, False), ("W6", "ember", "torch", 1.0, False),
]
IMPORTS = {"ember-graph": "ember.compat.tf", "ember-jit": "ember", "jax": "jax.numpy", "torch-compile": "torch._dynamo"}
SHORT = {"ember-graph": "graph", "ember-graph-loss": "graph-loss", "ember-graph-np": "graph-np",
         "ember-graph-float": "graph-float", "ember-jit": "jit", "torch-compile": "compile"}


def _width(heading: str) -> int:
    return max(14, len(heading) + 2)


def available(torch_compile: bool, device: str = "cpu") -> set[str]:
    """The columns the installed frameworks can run (and that were asked for)."""
    columns = {c for c in COLUMNS if (torch_compile or c != "torch-compile") and (device == "cpu" or c in GPU_COLUMNS)}
    for module, needs in (("torch", {"torch", "torch-compile"}), ("jax", {"jax"}), ("miniflow", {"miniflow"})):
        try:
            w._miniflow() if module == "miniflow" else importlib.import_module(module)
        except ImportError:
            print(f"{module} is not installed (pip install -e '.[bench]'): no {', '.join(sorted(needs))} column")
            columns -= needs
    if "torch" in columns:
        import torch

        torch.set_num_threads(THREADS)
    return columns


def _gpu_name() -> str:
    import cupy

    return cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)["name"].decode()


def first_steps(name: str, column: str, repeats: int) -> list[float]:
    """Seconds to the first finished step, ``repeats`` times with fresh objects (run in a fresh process)."""
    importlib.import_module(IMPORTS[column])  # importing is not compiling
    if column == "torch-compile":
        import torch

        torch.set_num_threads(THREADS)
    return [first_step(WORKLOADS[name][column])[0] for _ in range(repeats)]


def compile_report(names: list[str], columns: set[str], repeats: int) -> None:
    """Fresh graph to first finished training step, each framework in its own fresh process."""
    shown = [c for c in COMPILED if c in columns]
    print("seconds from a fresh graph to the first finished training step, as 'cold / again': cold in a fresh "
          f"process (libraries imported), again the median of {max(repeats - 1, 1)} more with fresh objects")
    both = {"ember-graph", "jax"} <= set(shown)
    print(f"{'workload':<12}" + "".join(f"{c:>22}" for c in shown) + ("   graph/jax" if both else ""))
    spawn = multiprocessing.get_context("spawn")
    for name in names:
        cells = {}
        for column in shown:
            if column in WORKLOADS[name]:
                with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                    times = pool.submit(first_steps, name, column, repeats).result()
                cells[column] = (times[0], statistics.median(times[1:] or times))
        row = f"{name:<12}" + "".join(
            f"{f'{cells[c][0]:.3f} s / {cells[c][1]:.3f} s' if c in cells else '-':>22}" for c in shown)
        if "ember-graph" in cells and "jax" in cells:
            (graph_cold, graph_again), (jax_cold, jax_again) = cells["ember-graph"], cells["jax"]
            row += f"   {graph_cold / jax_cold:.3f}x / {graph_again / jax_again:.3f}x"
        if "ember-jit" in cells and "jax" in cells:
            (jit_cold, jit_again), (jax_cold, jax_again) = cells["ember-jit"], cells["jax"]
            row += f"   jit/jax {jit_cold / jax_cold:.3f}x / {jit_again / jax_again:.3f}x"
        print(row, flush=True)


def _positive(kind):
    """An argparse type: a positive finite ``kind`` (int or float)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{' whole' if kind is int else ''} number") from None
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", help=f"any of {', '.join(WORKLOADS)} (default: all)")
    parser.add_argument("--seconds", type=_positive(float), default=3.0,
                        help="timed seconds per round (default: 3.0)")
    parser.add_argument("--rounds", type=_positive(int), default=3,
                        help="interleaved rounds; the median is reported (default: 3)")
    parser.add_argument("--best", action="store_true",
                        help="report each framework's fastest round (use many short rounds: steadier ratios "
                             "through a shared machine's slow spells)")
    parser.add_argument("--torch-compile", action="store_true", help="add torch.compile columns (slow to build)")
    parser.add_argument("--compile-time", action="store_true", help="time the first compiled step instead")
    parser.add_argument("--repeats", type=_positive(int), default=3,
                        help="first steps timed per framework (--compile-time; default: 3)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="where Ember and PyTorch run (cuda: both eager, every step synchronized)")
    args = parser.parse_args(argv)
    if args.device == "cuda":
        import ember

        if not ember.cuda.is_available():
            parser.error("--device cuda: no GPU visible to CuPy (install the 'gpu' extra on a machine with one)")
        if args.compile_time:
            parser.error("--compile-time times the CPU compilers; leave out --device cuda")
    unknown = [n for n in args.workloads if n not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {', '.join(WORKLOADS)}")
    w.DEVICE = args.device
    columns = available(args.torch_compile, args.device)
    if args.compile_time:
        compile_report(args.workloads or ["W2", "Wtab"], columns, args.repeats)
        return 0
    names = args.workloads or (list(GPU_DEFAULT) if args.device == "cuda" else
                               [n for n in WORKLOADS if n not in GPU_SIZED])
    if args.device == "cuda":
        cpu_only = [n for n in names if n not in GPU_DEFAULT]
        if cpu_only:
            parser.error(f"{cpu_only} run on the CPU only; on cuda choose from {', '.join(GPU_DEFAULT)}")
        print(f"device: {_gpu_name()}")
    print(f"# {machine_line()}")
    print(f"{'workload':<12}" + "".join(f"{c:>{_width(c)}}" for c in COLUMNS))
    results, compile_times = {}, {}
    for name in names:
        steps = {}
        for column, build in WORKLOADS[name].items():
            if column in columns:
                seconds, steps[column] = first_step(build)
                if column == "torch-compile":
                    compile_times[name] = seconds
        results[name] = result = compare(steps, args.seconds, args.rounds, args.best)
        onednn.release_cores()  # the next workload starts with OpenBLAS's threads, as it would alone
        cells = [f"{format_time(result[c]) if c in result else '-':>{_width(c)}}" for c in COLUMNS]
        print(f"{name:<12}" + "".join(cells), flush=True)
    for name, seconds in compile_times.items():
        print(f"torch-compile {name}: first step (compiling) {seconds:.1f} s")
    print("\nratios (time / time: below 1 is faster than the second framework)")
    names = [SHORT.get(a, a) + "/" + SHORT.get(b, b) for a, b in RATIOS]
    print(f"{'workload':<12}" + "".join(f"{n:>{_width(n) + 1}}" for n in names))
    for name, result in results.items():
        print(f"{name:<12}" + "".join(
            f"{f'{result[a] / result[b]:.3f}x' if a in result and b in result else '-':>{_width(n) + 1}}"
            for n, (a, b) in zip(names, RATIOS)))
    print_targets(results)
    return 0


def print_targets(results: dict) -> None:
    """One line per target whose workload ran: the ratio, its bound, and whether it holds."""
    lines = []
    for name, a, b, bound, included in TARGETS:
        result = results.get(name, {})
        if a in result and b in result:
            ratio = result[a] / result[b]
            holds = ratio <= bound if included else ratio < bound
            relation = "<=" if included else "<"
            lines.append(f"{name:<8}{SHORT.get(a, a) + '/' + SHORT.get(b, b):<24}{ratio:>8.3f}  "
                         f"{relation} {bound:<5}{'holds' if holds else 'MISSED':>8}")
    if lines:
        print("\ntargets")
        print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
