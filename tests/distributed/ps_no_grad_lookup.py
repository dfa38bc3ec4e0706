"""Run under `ember launch -n 3 --servers 1`: a lookup in training mode under no_grad() (a metric on the batch,
a look at the next one) admits, creates and counts rows as one table's does: it reads the new rows' initial values,
not the default value, and its lookups count towards admission; the table trains as one table in one process.
Float ids are refused naming the layer."""

import numpy as np

import ember
import ember.distributed as dist
from ember.embedding import CountThreshold, HashEmbedding

dist.init_process_group(timeout=30)


def options() -> dict:
    return {"seed": 1, "admission": CountThreshold(2)}


served = dist.ps.place_embeddings(HashEmbedding(4, **options()))
if dist.ps.is_server():
    dist.ps.serve(lambda params: ember.optim.SGD(params, lr=0.5))
else:
    workers, rank = len(dist.ps.worker_ranks()), dist.get_rank()
    mine = slice(rank * 4, (rank + 1) * 4)
    single = HashEmbedding(4, **options())
    opt = ember.optim.SGD(single.parameters(), lr=0.5)
    rng = np.random.default_rng(0)
    for _ in range(3):
        ids = rng.integers(0, 12, (4 * workers, 2))
        weights = ember.tensor(rng.standard_normal((4 * workers, 2, 4)).astype(np.float32))
        with ember.no_grad():  # every id twice: admitted by this lookup alone
            expected, got = single(np.repeat(ids + 100, 2)).numpy(), served(np.repeat(ids[mine] + 100, 2)).numpy()
        np.testing.assert_allclose(got, expected.reshape(4 * workers, 4, 4)[mine].reshape(-1, 4), rtol=1e-6)
        opt.zero_grad()
        (single(ids) * weights).sum(axis=(1, 2)).mean().backward()
        opt.step()
        (served(ids[mine]) * weights[mine]).sum(axis=(1, 2)).mean().backward()
    single.eval()
    served.eval()
    with ember.no_grad():
        every = np.arange(120)
        np.testing.assert_allclose(served(every).numpy(), single(every).numpy(), rtol=1e-6, atol=1e-7)
    for call, name in [(served, "PSEmbedding"), (served.prefetch, "PSEmbedding.prefetch")]:
        try:  # ids that are no ids are refused naming the layer, before any request
            call(np.array([0.5]))
            raise AssertionError("float ids were taken")
        except TypeError as exc:
            assert str(exc).startswith(f"{name}: ids must be integers"), exc
    dist.ps.shutdown()
    print("ps no-grad lookup ok")
