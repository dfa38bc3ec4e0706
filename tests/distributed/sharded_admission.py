"""Run under `ember launch -n N`: a sharded table with an admission policy and lookup counts trains as one table
in one process on the global batch, ids repeated within a rank's batch included (each distinct id travels with
how often the rank looks it up): the same ids admitted, the same rows, slots and counts, with a count threshold and
with Probability admission (whose draws depend on the id, not on the other ids a shard sees). Float ids are refused
naming the layer."""

import numpy as np

import ember
import ember.distributed as dist
from ember.embedding import CountThreshold, HashEmbedding, Probability

dist.init_process_group(timeout=30)
rank, world = dist.get_rank(), dist.get_world_size()
group = dist.default_group()


def check(admission) -> None:
    def options() -> dict:
        return {"seed": 1, "admission": admission(), "metadata": True}

    single = HashEmbedding(4, **options())
    sharded = dist.ShardedHashEmbedding(4, **options())
    optimizers = [ember.optim.Adagrad(m.parameters(), lr=0.1) for m in (single, sharded)]
    rng = np.random.default_rng(0)
    local = 6
    for _ in range(4):
        ids = rng.integers(0, 12, (local * world, 3))  # ids repeat within every rank's rows
        weights = rng.standard_normal((local * world, 3, 4)).astype(np.float32)
        mine = slice(rank * local, (rank + 1) * local)
        for opt in optimizers:
            opt.zero_grad()
        (single(ids) * ember.tensor(weights)).sum(axis=(1, 2)).mean().backward()
        (sharded(ids[mine]) * ember.tensor(weights[mine])).sum(axis=(1, 2)).mean().backward()
        for opt in optimizers:
            opt.step()

    shard, reference = sharded.shard.state_dict(), single.state_dict()
    assert group.all_reduce(np.array([len(shard["keys"])]))[0] == len(reference["keys"]), "admitted ids differ"
    where = {k: i for i, k in enumerate(reference["keys"].tolist())}
    rows = np.array([where[k] for k in shard["keys"].tolist()], np.int64)
    for name in ["values", "meta.freq"] + [k for k in shard if k.startswith("slot.")]:
        np.testing.assert_allclose(shard[name], reference[name][rows], rtol=1e-6, atol=1e-7, err_msg=name)
    return sharded


check(lambda: CountThreshold(2))
sharded = check(lambda: Probability(0.2, seed=4))
try:  # ids that are no ids are refused naming the layer, before any collective
    sharded(np.array([0.5]))
    raise AssertionError("float ids were taken")
except TypeError as exc:
    assert str(exc).startswith("ShardedHashEmbedding: ids must be integers"), exc
print(f"sharded admission ok on rank {rank} of {world}")
