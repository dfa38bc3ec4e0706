"""Data parallel over 2 ranks against 1 rank with the same total threads, Ember beside PyTorch DDP (gloo).

    python benchmarks/distributed.py                 # W3 (MLP, global batch 1024) and W5s (CTR, sparse Adagrad)
    python benchmarks/distributed.py --seconds 1 --rounds 3

Per workload and framework, as step times and ratios measured in the same runs:
- ``1 rank``: one process with 2 threads steps on the whole global batch;
- ``2 ranks local``: each of 2 ranks (1 thread each) steps on its half without communicating;
- ``2 ranks DP``: the same with gradients averaged (Ember's DistributedDataParallel / torch DDP on gloo).
``speed-up`` = 1 rank / 2 ranks DP; ``comm/step`` = 2 ranks DP - 2 ranks local: the cost of communication.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
GLOBAL_BATCH = {"W3": 1024, "W5s": 512}


def _mlp(nn):
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def _data(name: str, batch: int, rank: int, world: int):
    rng = np.random.default_rng(0)
    g = GLOBAL_BATCH[name]
    if name == "W3":
        x = rng.standard_normal((g, 784)).astype(np.float32)
        y = rng.integers(0, 10, g)
        return (x[rank::world][:batch],), y[rank::world][:batch]
    import workloads as w

    ids = rng.integers(0, w.CTR_VOCAB, (g, w.CTR_FIELDS))
    dense = rng.standard_normal((g, w.CTR_DENSE)).astype(np.float32)
    y = rng.integers(0, 2, g).astype(np.float32)
    return (ids[rank::world][:batch], dense[rank::world][:batch]), y[rank::world][:batch]


def ember_step(name: str, rank: int, world: int, parallel: bool):
    import workloads as w

    import ember
    from ember import nn

    ember.manual_seed(0)
    if name == "W3":
        net, loss_fn = _mlp(nn), ember.cross_entropy
        opt = ember.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    else:
        net, loss_fn = w._ctr_model(nn, ember.cat, True), ember.binary_cross_entropy_with_logits
        opt = ember.optim.Adagrad(net.parameters(), lr=0.01)
    model = net
    if parallel:
        import ember.distributed as dist

        model = dist.DistributedDataParallel(net)
    inputs, y = _data(name, GLOBAL_BATCH[name] // world, rank, world)
    inputs, y = tuple(ember.from_numpy(a) for a in inputs), ember.from_numpy(y)

    def step(i):
        opt.zero_grad()
        loss_fn(model(*inputs), y).backward()
        opt.step()

    return step


def torch_step(name: str, rank: int, world: int, parallel: bool):
    import torch
    import workloads as w

    torch.manual_seed(0)
    if name == "W3":
        net, loss_fn = _mlp(torch.nn), torch.nn.functional.cross_entropy
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    else:
        net = w._ctr_model(torch.nn, torch.cat, True)
        loss_fn = torch.nn.functional.binary_cross_entropy_with_logits
        opt = torch.optim.Adagrad(net.parameters(), lr=0.01)
    model = torch.nn.parallel.DistributedDataParallel(net) if parallel else net
    inputs, y = _data(name, GLOBAL_BATCH[name] // world, rank, world)
    inputs, y = tuple(torch.from_numpy(a) for a in inputs), torch.from_numpy(y)

    def step(i):
        opt.zero_grad()
        loss_fn(model(*inputs), y).backward()
        opt.step()

    return step


def rank_main(names: list, seconds: float, rounds: int) -> None:
    """Inside each of the 2 ranks: local and data-parallel steps of both frameworks, interleaved."""
    import torch
    import torch.distributed as tdist

    import ember.distributed as dist

    dist.init_process_group(timeout=300)
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(1)
    tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{os.environ['BENCH_PORT']}", rank=rank,
                             world_size=world)
    for name in names:
        steps = {
            "ember local": ember_step(name, rank, world, False), "ember DP": ember_step(name, rank, world, True),
            "torch local": torch_step(name, rank, world, False), "torch DP": torch_step(name, rank, world, True),
        }
        # every rank must run the same collectives in the same order: time each step the same number of times
        times = _lockstep(steps, seconds, rounds, dist)
        if rank == 0:
            print(json.dumps({"workload": name, **times}), flush=True)
    tdist.destroy_process_group()


def _lockstep(steps: dict, seconds: float, rounds: int, dist) -> dict:
    """Fastest round's median seconds per step; rank 0 sets every step count so that collectives stay matched."""
    import statistics
    import time

    result = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for i in range(3):
                step(i)
            per_step = (time.perf_counter() - start) / 3
            n = int(dist.default_group().broadcast(np.array([max(5, int(seconds / per_step))]), 0)[0])
            times = []
            for i in range(n):
                t0 = time.perf_counter()
                step(i)
                times.append(time.perf_counter() - t0)
            result[name].append(statistics.median(times))
    return {name: min(values) for name, values in result.items()}


def single_main(names: list, seconds: float, rounds: int) -> None:
    """One process, 2 threads, the whole global batch."""
    import torch
    from harness import compare

    torch.set_num_threads(2)
    for name in names:
        times = compare({"ember 1 rank": ember_step(name, 0, 1, False), "torch 1 rank": torch_step(name, 0, 1, False)},
                        seconds, rounds, best=True)
        print(json.dumps({"workload": name, **times}), flush=True)


def _json_lines(text: str) -> dict:
    rows = {}
    for line in text.splitlines():
        line = line.split("] ", 1)[-1]
        if line.startswith("{"):
            row = json.loads(line)
            rows.setdefault(row.pop("workload"), {}).update(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", default=list(GLOBAL_BATCH))
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--role", choices=["single", "rank"], help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.role == "single":
        single_main(opts.workloads, opts.seconds, opts.rounds)
        return 0
    if opts.role == "rank":
        rank_main(opts.workloads, opts.seconds, opts.rounds)
        return 0
    args = [*opts.workloads, "--seconds", str(opts.seconds), "--rounds", str(opts.rounds)]
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", BENCH_PORT="29517")
    single = subprocess.run([sys.executable, __file__, *args, "--role", "single"], env=env, capture_output=True,
                            text=True, check=True).stdout
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    ranks = subprocess.run([sys.executable, "-m", "ember.distributed.launch", "-n", "2", __file__, *args,
                            "--role", "rank"], env=env, capture_output=True, text=True)
    if ranks.returncode:
        print(ranks.stdout, ranks.stderr, file=sys.stderr)
        return ranks.returncode
    rows = _json_lines(single)
    for name, row in _json_lines(ranks.stdout).items():
        rows[name].update(row)
    print(f"{'workload':<9}{'framework':<10}{'1 rank':>11}{'2 local':>11}{'2 DP':>11}{'speed-up':>10}{'comm/step':>12}")
    for name, row in rows.items():
        for fw in ("ember", "torch"):
            one, local, dp = row[f"{fw} 1 rank"], row[f"{fw} local"], row[f"{fw} DP"]
            print(f"{name:<9}{fw:<10}{one * 1e3:>9.2f}ms{local * 1e3:>9.2f}ms{dp * 1e3:>9.2f}ms{one / dp:>9.2f}x"
                  f"{(dp - local) * 1e3:>10.2f}ms")
        comm = {fw: row[f"{fw} DP"] - row[f"{fw} local"] for fw in ("ember", "torch")}
        print(f"{name:<9}Ember comm/step / PyTorch comm/step: {comm['ember'] / comm['torch']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
