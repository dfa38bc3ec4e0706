"""Run under `ember launch -n 3 --servers 1`: the ranks' parts of a sharded or parameter-server table must be built
alike. A storage dtype, seed or admission setting that differs on one rank is a ValueError on every rank naming the
setting and both values; a seed drawn on each rank (seed=None, Probability(seed=None)) becomes rank 0's."""

import numpy as np

import ember
import ember.distributed as dist
from ember.embedding import HashEmbedding, Probability

dist.init_process_group(timeout=30)
rank, group = dist.get_rank(), dist.default_group()


def refused(build, setting: str, first, other) -> None:
    try:
        build()
    except ValueError as exc:
        text = str(exc)
        assert f"{setting} is {first!r} on rank 0 but {other!r} on rank 1" in text, text
    else:
        raise AssertionError(f"ranks with different {setting} were accepted")


odd = rank == 1
refused(lambda: dist.ShardedHashEmbedding(4, seed=0, dtype=np.float16 if odd else np.float32), "storage dtype",
        "float32", "float16")
refused(lambda: dist.ShardedHashEmbedding(4, seed=1 if odd else 0), "seed", 0, 1)
refused(lambda: dist.ShardedHashEmbedding(4, seed=0, admission=Probability(0.5 if odd else 0.2, seed=0)),
        "admission", "Probability(0.2, seed=0)", "Probability(0.5, seed=0)")
refused(lambda: dist.ps.PSEmbedding(4, seed=0, capacity=10 if odd else None), "capacity", None, 10)
refused(lambda: dist.ps.place_embeddings(HashEmbedding(4, seed=2 if odd else 0)), "seed", 0, 2)

# drawn seeds: every rank takes rank 0's, so the shards make the rows one table would
sharded = dist.ShardedHashEmbedding(4, admission=Probability(0.5), initializer=lambda k, d, s: np.ones((k.size, d)))
seeds = group.all_gather_object((sharded.shard.table.seed, sharded.shard.table.admission.seed))
assert len(set(seeds)) == 1, seeds
served = dist.ps.PSEmbedding(4, admission=Probability(0.5))
if dist.ps.is_server():
    assert served.shard.table.seed_given and served.shard.table.admission.seed_given
    dist.ps.serve(lambda params: ember.optim.SGD(params, lr=0.1))
else:
    served(np.arange(5))
    dist.ps.shutdown()
    print("table settings ok")
