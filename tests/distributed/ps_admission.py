"""Run under `ember launch -n 3 --servers 1`: a table on a parameter server with an admission policy trains as
one table in one process on the global batch: each pull counts every lookup of its keys (ids repeated in a batch
included), the workers' pulls of the same lookup of a step are counted together (an id each worker looks up once
is admitted for both, whichever pull came first), a lookup that read the default value of an id (not yet
admitted) gives it no gradient, though a later lookup of the step admits it, and a push neither counts them again
nor admits them: the same ids admitted, the same rows. A distributed checkpoint of it is refused on every rank (it
was written without the served rows)."""

import sys
import tempfile

import numpy as np

import ember
import ember.distributed as dist
from ember.embedding import CountThreshold, HashEmbedding, Probability

dist.init_process_group(timeout=30)


def options() -> dict:
    admission = Probability(0.3, seed=4) if sys.argv[1:] == ["probability"] else CountThreshold(2)
    return {"seed": 1, "admission": admission}


served = dist.ps.place_embeddings(HashEmbedding(4, **options()))
if dist.ps.is_server():
    dist.ps.serve(lambda params: ember.optim.Adagrad(params, lr=0.1))
else:
    workers, rank = len(dist.ps.worker_ranks()), dist.get_rank()
    mine = slice(rank * 6, (rank + 1) * 6)
    single = HashEmbedding(4, **options())
    opt = ember.optim.Adagrad(single.parameters(), lr=0.1)
    rng = np.random.default_rng(0)

    def loss(table, ids, weights):  # two lookups a step (fields, then a bag); tanh: the rows read matter
        rows = ember.cat([table(ids[:, :2]), table(ids[:, 2:])], 1)
        return (ember.tanh(rows * 3.0) * weights).sum() * (1.0 / workers)

    for step in range(4):
        ids = rng.integers(0, 30, (6 * workers, 3))
        weights = ember.tensor(rng.standard_normal((6 * workers, 3, 4)).astype(np.float32))
        opt.zero_grad()
        loss(single, ids, weights).backward()
        opt.step()
        if step % 2:
            served.prefetch(ids[mine, :2])  # a prefetched pull counts as the lookup would
        loss(served, ids[mine], weights[mine]).backward()
    single.eval()
    served.eval()
    with ember.no_grad():
        expected, got = single(np.arange(30)).numpy(), served(np.arange(30)).numpy()
    admitted = np.abs(expected).sum(1) > 0
    assert 0 < admitted.sum() < 30
    np.testing.assert_array_equal(np.abs(got).sum(1) > 0, admitted)  # pushes admitted more ids
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    dist.ps.shutdown()

# a distributed checkpoint would hold none of the served rows (it was written without them): refused on every rank
try:
    dist.checkpoint.save(tempfile.mkdtemp(prefix="ps_checkpoint"), served)
except ValueError as exc:
    assert "keep their rows on the parameter servers" in str(exc), exc
else:
    raise AssertionError("a checkpoint without the served rows was written")
if not dist.ps.is_server():
    print("ps admission ok")
