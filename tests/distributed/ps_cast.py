"""Run under `ember launch -n 3 --servers 1`: a model cast with double() (on every rank) gets float64 rows from its
parameter-server table, as from a HashEmbedding, and trains as one table."""

import numpy as np

import ember
import ember.distributed as dist
from ember.embedding import HashEmbedding

dist.init_process_group(timeout=30)
model = ember.nn.ModuleDict({"emb": dist.ps.PSEmbedding(4, seed=0)}).double()
assert "emb.rows_dtype" not in model.state_dict()
if dist.ps.is_server():
    dist.ps.serve(lambda params: ember.optim.SGD(params, lr=0.5))
else:
    workers, rank = len(dist.ps.worker_ranks()), dist.get_rank()
    single = HashEmbedding(4, seed=0).double()
    opt = ember.optim.SGD(single.parameters(), lr=0.5)
    ids = np.arange(4 * workers).reshape(workers, 4)
    for _ in range(2):
        expected = single(ids.reshape(-1))
        got = model["emb"](ids[rank])
        assert got.dtype == expected.dtype == ember.float64, (got.dtype, expected.dtype)
        np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy().reshape(workers, 4, 4)[rank],
                                   rtol=1e-6)
        opt.zero_grad()
        (expected * expected).sum().backward()
        opt.step()
        (got * got * workers).sum().backward()  # a push is averaged over the workers
    model.float()
    assert model["emb"](ids[rank]).dtype == ember.float32
    dist.ps.shutdown()
    print("ps cast ok")
