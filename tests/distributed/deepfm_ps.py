"""Run under `ember launch -n 4 --servers 2` with `STALENESS SEED [SEED...]`: ember.recsys.DeepFM with both
hash tables on the parameter servers, trained by 2 workers on the synthetic Criteo-shaped set (26 fields and
a bag field), once per seed; worker 0 then trains the single-process model on the same global batches.
Synchronous (staleness 0): losses, dense weights, served rows and predictions equal the single process's.
Asynchronous: prints the held-out AUC of both, to be compared by the caller."""

import sys

import numpy as np

import ember
import ember.distributed as dist
from ember.data.ctr_dataset import CTRBatch
from ember.data.features import Bag, FeatureColumns, criteo_columns
from ember.data.synthetic_ctr import make_synthetic_ctr
from ember.metrics import roc_auc
from ember.recsys import DeepFM

dist.init_process_group(timeout=60)
staleness, seeds = int(sys.argv[1]), [int(s) for s in sys.argv[2:]]
TRAIN, HELD_OUT, GLOBAL_BATCH = 16384, 8192, 512
EPOCHS = 1 if staleness == 0 else 3  # equality to rounding is checked over 32 steps, convergence over 96
SPARSE_LR, DENSE_LR = 0.05, 3e-3


def sparse_optimizer(params) -> ember.optim.Adagrad:
    # a starting accumulator (TF-1's Adagrad has one) keeps a row's first steps proportional to its gradient:
    # from zero, the first step is lr * sign(gradient), and rounding decides the sign of a near-zero gradient
    return ember.optim.Adagrad(params, lr=SPARSE_LR, initial_accumulator_value=1e-3)


columns = FeatureColumns(criteo_columns().columns + [Bag("tags")])


class Task:
    """One seed's model with its tables on the servers (every rank builds every seed's), and its data (on
    workers)."""

    def __init__(self, seed: int):
        self.seed = seed
        self.model = dist.ps.place_embeddings(self.build())
        if dist.ps.is_server():
            return
        data = make_synthetic_ctr(TRAIN + HELD_OUT, seed=seed, max_vocab=50)
        rng = np.random.default_rng(seed)
        tags = [rng.integers(0, 50, rng.integers(0, 4)) for _ in range(len(data.table))]
        self.features = columns.transform({**data.table.columns(), "tags": tags})
        self.labels = data.table.labels

    def build(self) -> DeepFM:
        ember.manual_seed(self.seed)
        return DeepFM(columns.num_fields, columns.num_dense, embedding_dim=8, hidden=[32, 16], seed=self.seed)

    def batch(self, rows: np.ndarray) -> CTRBatch:
        f = self.features
        return CTRBatch(self.labels[rows], f.dense[rows], f.keys[rows], tuple(b.take_rows(rows) for b in f.bags))


def step(model, opts: list, b: CTRBatch, before_backward=None) -> float:
    for o in opts:
        o.zero_grad()
    loss = ember.binary_cross_entropy_with_logits(model(b), b.labels)
    if before_backward is not None:
        before_backward()
    loss.backward()
    for o in opts:
        o.step()
    return loss.item()


tasks = [Task(seed) for seed in seeds]
workers = dist.ps.worker_group()
if dist.ps.is_server():
    dist.ps.serve(sparse_optimizer, staleness=staleness)
    sys.exit(0)

rank, world = workers.rank, workers.size
local = GLOBAL_BATCH // world
for task in tasks:
    model = task.model
    tables = [m for m in model.modules() if isinstance(m, dist.ps.PSEmbedding)]
    assert len(tables) == 2 and not model.sparse_parameters()
    ddp = dist.DistributedDataParallel(model, group=workers)
    opts = [ember.optim.Adam(model.dense_parameters(), lr=DENSE_LR)]
    starts = [lo for _ in range(EPOCHS) for lo in range(0, TRAIN, GLOBAL_BATCH)]
    mine = [np.arange(lo + rank * local, lo + (rank + 1) * local) for lo in starts]
    pulls = []
    for table in tables:  # count the pulls each table sends: a used prefetch saves one per step
        send = table._requests
        table._requests = lambda keys, kind, *rest, send=send: (pulls.append(kind), send(keys, kind, *rest))[1]

    def prefetch(i: int) -> None:  # between forward and backward: the rows of the next step's fields
        if i + 1 < len(starts):
            for table in tables:
                table.prefetch(task.features.keys[mine[i + 1]])

    losses = [step(ddp, opts, task.batch(mine[i]), lambda i=i: prefetch(i)) for i in range(len(starts))]
    losses = workers.all_reduce(np.array(losses), dist.ReduceOp.AVG)
    # per table: the first step's fields, then every step's bag lookup and (but the last) its prefetch
    assert pulls.count(dist.ps._PULL) == len(tables) * (1 + 2 * len(starts) - 1), pulls.count(dist.ps._PULL)
    if rank != 0:
        continue

    # worker 0 trains the single-process model on the global batches, after the job (not to slow its steps)
    single = task.build()
    single_opts = [sparse_optimizer(single.sparse_parameters()),
                   ember.optim.Adam(single.dense_parameters(), lr=DENSE_LR)]
    expected = [step(single, single_opts, task.batch(np.arange(lo, lo + GLOBAL_BATCH))) for lo in starts]
    model.eval()
    single.eval()
    held_out = task.batch(np.arange(TRAIN, TRAIN + HELD_OUT))
    with ember.no_grad():
        scores, reference = model(held_out).numpy(), single(held_out).numpy()
    if staleness == 0:
        np.testing.assert_allclose(losses, expected, rtol=1e-5, err_msg=f"losses of seed {task.seed}")
        dense = {id(p) for p in single.dense_parameters()}
        served = dict(model.named_parameters())
        for name, p in single.named_parameters():
            if id(p) in dense:
                np.testing.assert_allclose(served[name].detach().numpy(), p.detach().numpy(), rtol=1e-5, atol=1e-6,
                                           err_msg=name)
        for field in ("linear.weights", "embedding"):
            local_table = single.get_submodule(field).table
            keys = local_table.state_dict()["keys"]
            with ember.no_grad():
                rows, expected_rows = model.get_submodule(field).table(keys).numpy(), local_table(keys).numpy()
            np.testing.assert_allclose(rows, expected_rows, rtol=1e-5, atol=1e-6, err_msg=field)
        np.testing.assert_allclose(scores, reference, rtol=1e-4, atol=1e-5)
    auc, single_auc = roc_auc(scores, held_out.labels.numpy()), roc_auc(reference, held_out.labels.numpy())
    print(f"seed {task.seed} staleness {staleness} auc {auc:.5f} single {single_auc:.5f} gap {single_auc - auc:+.5f}")
if staleness == 0:  # a step whose backward misses one of its lookups is named at the next step (every worker
    # makes the step's lookups: synchronous servers answer a lookup once all workers have made it)
    table = tasks[0].model.embedding.table
    table.train()
    table(np.array([1, 2]))
    table(np.array([3])).sum().backward()
    try:
        table(np.array([4]))
        raise AssertionError("a lookup without its gradient went unnoticed")
    except RuntimeError as exc:
        assert "gave gradients to 1 of its 2 training lookups" in str(exc), exc
dist.ps.shutdown()
