"""The DLRM-shaped CTR training step, Ember with hash tables beside PyTorch's sparse EmbeddingBag + Adagrad.

26 categorical fields of 100,000 ids each, embedding dim 16, 13 dense features, batch 512; the MLP of
the W5 workload (429-400-400-1, ReLU), sigmoid BCE, Adagrad lr 0.01 on everything. One step = forward,
loss, backward, update on the next of 8 pre-generated batches (uniform ids, as W5s).

- ``torch``: 26 ``nn.EmbeddingBag(100_000, 16, mode="sum", sparse=True)`` (one id per bag) + ``torch.optim.Adagrad``.
- ``ember-hash``: one ``ember.embedding.HashEmbedding`` for all fields (keys salted by field), pre-filled with
  the same 2.6M rows (no per-row metadata; ``CTR_METADATA=1`` keeps it); the step looks up the batch's
  keys (the table deduplicates them), trains and updates.
- ``ember-hash-loader``: the same, with deduplication and row lookup done by the data loader's thread
  (``CTRDataset`` + ``model.prefetch``), as ``ember train`` runs it; not timed here, like data loading.
- ``ember-hash-overlap``: the loader's work done for real, in one worker thread that prepares the next batch
  (deduplication, row lookup) while the current step runs: the step's time includes waiting for it and
  sharing the cores with it.
- ``ember-fixed``: the W5s Ember step (26 fixed ``nn.Embedding(sparse=True)`` tables), for reference.

Each thread count runs in its own process; inside it the steps alternate round by round.

    python benchmarks/ctr_step.py                  # 1 and 2 threads
    python benchmarks/ctr_step.py --threads 2 --seconds 1 --rounds 5
    python benchmarks/ctr_step.py --seconds 0.3 --rounds 15 --best   # fastest rounds: steadier on a busy machine
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from harness import machine_line

FIELDS, VOCAB, DIM, DENSE, BATCH, POOL, LR = 26, 100_000, 16, 13, 512, 8, 0.01
METADATA = os.environ.get("CTR_METADATA", "0") == "1"


def _batches(seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed + 1)
    ids = [rng.integers(0, VOCAB, (BATCH, FIELDS)) for _ in range(POOL)]
    dense = [rng.standard_normal((BATCH, DENSE)).astype(np.float32) for _ in range(POOL)]
    labels = [rng.integers(0, 2, BATCH).astype(np.float32) for _ in range(POOL)]
    return ids, dense, labels


def torch_step():
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(0)
    tables = nn.ModuleList([nn.EmbeddingBag(VOCAB, DIM, mode="sum", sparse=True) for _ in range(FIELDS)])
    mlp = nn.Sequential(nn.Linear(FIELDS * DIM + DENSE, 400), nn.ReLU(), nn.Linear(400, 400), nn.ReLU(),
                        nn.Linear(400, 1))
    opt = torch.optim.Adagrad(list(tables.parameters()) + list(mlp.parameters()), lr=LR)
    ids, dense, labels = _batches()
    ids = [[torch.from_numpy(np.ascontiguousarray(b[:, f])) for f in range(FIELDS)] for b in ids]
    dense = [torch.from_numpy(d) for d in dense]
    labels = [torch.from_numpy(y) for y in labels]
    offsets = torch.arange(BATCH)

    def step(i):
        k = i % POOL
        opt.zero_grad()
        emb = [table(ids[k][f], offsets) for f, table in enumerate(tables)]
        logits = mlp(torch.cat(emb + [dense[k]], 1))[:, 0]
        loss = nn.functional.binary_cross_entropy_with_logits(logits, labels[k])
        loss.backward()
        opt.step()
        return loss

    return step


def _ember_model():
    import ember
    from ember.nn import Module
    from ember.recsys import FieldEmbedding, make_table, mlp

    class DLRMShaped(Module):
        def __init__(self):
            super().__init__()
            self.embedding = FieldEmbedding(make_table(DIM, "hash", init_std=0.01, seed=0, metadata=METADATA))
            self.mlp = mlp(FIELDS * DIM + DENSE, [400, 400], 1)

        def forward(self, batch):
            fields = self.embedding(batch)
            x = ember.concat([ember.reshape(fields, (len(batch), FIELDS * DIM)), batch.dense], 1)
            return ember.reshape(self.mlp(x), (-1,))

    ember.manual_seed(0)
    return DLRMShaped()


def ember_hash_step(loader: bool, overlap: bool = False):
    import numpy as np

    import ember
    from ember.data.ctr_dataset import CTRBatch
    from ember.data.features import field_keys

    model = _ember_model()
    opt = ember.optim.Adagrad(model.parameters(), lr=LR)
    ids, dense, labels = _batches()
    keys = [np.stack([field_keys(b[:, f], f) for f in range(FIELDS)], 1) for b in ids]
    with ember.no_grad():  # every row of the 26 x 100k ids exists, as in the fixed tables
        model.embedding.table(np.concatenate([field_keys(np.arange(VOCAB), f) for f in range(FIELDS)]))
    dense = [ember.from_numpy(d) for d in dense]
    labels = [ember.from_numpy(y) for y in labels]

    def make_batch(k: int) -> CTRBatch:
        batch = CTRBatch(labels[k], dense[k], keys[k], dedup=loader)  # in the step, the table dedups
        if loader:
            model.embedding.prefetch(batch)
        return batch

    if overlap:  # the next batch is prepared in a worker thread while this step runs
        from concurrent.futures import ThreadPoolExecutor

        worker = ThreadPoolExecutor(1)
        pending = [None, None]  # (pool index, future)

        def next_batch(k: int):
            if pending[0] != k:  # the first step, or out of turn
                pending[:] = k, worker.submit(make_batch, k)
            batch = pending[1].result()
            pending[:] = (k + 1) % POOL, worker.submit(make_batch, (k + 1) % POOL)
            return batch
    elif loader:
        # The loader's work (dedup, row lookup) happens once per pool batch, outside the timed step; with every
        # row present and no eviction the rows it found stay valid.
        ready = [make_batch(k) for k in range(POOL)]

    def step(i):
        k = i % POOL
        batch = next_batch(k) if overlap else ready[k] if loader else make_batch(k)
        opt.zero_grad()
        loss = ember.binary_cross_entropy_with_logits(model(batch), batch.labels)
        loss.backward()
        opt.step()
        return loss

    return step


def ember_fixed_step():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import workloads

    return workloads.ctr_ember(sparse=True, lr=LR)


def measure(threads: int, seconds: float, rounds: int, best: bool = False) -> dict:
    """Seconds per step of each variant at ``threads`` threads (this process's BLAS was set up for them)."""
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from harness import compare

    steps = {"torch": torch_step(), "ember-hash": ember_hash_step(loader=False),
             "ember-hash-loader": ember_hash_step(loader=True),
             "ember-hash-overlap": ember_hash_step(loader=True, overlap=True), "ember-fixed": ember_fixed_step()}
    return compare(steps, seconds, rounds, best)


def _child(threads: int, seconds: float, rounds: int, best: bool) -> None:
    print(json.dumps(measure(threads, seconds, rounds, best)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--best", action="store_true", help="each variant's fastest round instead of the median")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.threads[0], args.seconds, args.rounds, args.best)
        return 0
    print(f"# {machine_line()}")
    print(f"DLRM-shaped step: {FIELDS} tables of {VOCAB:,} x {DIM}, {DENSE} dense, batch {BATCH}, MLP 429-400-400-1, "
          f"Adagrad lr {LR}")
    for threads in args.threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads))
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--threads", str(threads),
                              "--seconds", str(args.seconds), "--rounds", str(args.rounds)]
                             + (["--best"] if args.best else []),
                             env=env, capture_output=True, text=True)
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            return out.returncode
        times = json.loads(out.stdout.strip().splitlines()[-1])
        base = times["torch"]
        print(f"\n{threads} thread(s)")
        for name, seconds in times.items():
            print(f"  {name:<20}{seconds * 1e3:8.2f} ms   {seconds / base:6.3f}x torch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
