"""Run under `ember launch -n 2 --servers 1`: a table on a parameter server with an admission policy trains as
one table in one process: each pull counts every lookup of its keys (ids repeated in a batch included), and a
push neither counts them again nor admits them: the same ids admitted, the same rows. A distributed checkpoint of
it is refused on every rank (it was written without the served rows)."""

import tempfile

import numpy as np

import ember
import ember.distributed as dist
from ember.embedding import CountThreshold, HashEmbedding

dist.init_process_group(timeout=30)


def options() -> dict:
    return {"seed": 1, "admission": CountThreshold(2)}


served = dist.ps.place_embeddings(HashEmbedding(4, **options()))
if dist.ps.is_server():
    dist.ps.serve(lambda params: ember.optim.Adagrad(params, lr=0.1))
else:
    single = HashEmbedding(4, **options())
    opt = ember.optim.Adagrad(single.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    for step in range(4):
        ids = rng.integers(0, 30, (6, 3))
        weights = ember.tensor(rng.standard_normal((6, 3, 4)).astype(np.float32))
        opt.zero_grad()
        (single(ids) * weights).sum().backward()
        opt.step()
        if step % 2:
            served.prefetch(ids)  # a prefetched pull counts as the lookup would
        (served(ids) * weights).sum().backward()
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
