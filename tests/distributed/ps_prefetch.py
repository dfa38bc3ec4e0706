"""Run under `ember launch -n 3 --servers 1`: a prefetch stands for the next training lookup. An evaluation lookup
between the two reads its own rows and leaves the prefetched ones to that lookup (which trains as one table, the
prefetch's pull counting each id once: admission as one table's); a second prefetch before that lookup and a
training lookup of other ids are RuntimeErrors (the first read another prefetch's rows, the second counted its ids
twice), after which the prefetched lookup still gets its own rows. A prefetch made between two lookups of a step
stands for the next step's first: the step's next lookup is a RuntimeError at once (it waited for the timeout)."""

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
    single = HashEmbedding(4, **options())
    opt = ember.optim.SGD(single.parameters(), lr=0.5)
    batches = [np.arange(6 * workers).reshape(workers, 6) % 9 + 10 * (s % 2) for s in range(4)]

    def refused(call, message: str) -> None:
        try:
            call()
        except RuntimeError as exc:
            assert message in str(exc), exc
        else:
            raise AssertionError(f"not refused: {message}")

    for s, ids in enumerate(batches):
        opt.zero_grad()
        (single(ids.reshape(-1)).sum() * (1.0 / workers)).backward()  # a push is averaged over the workers
        opt.step()
        if s == 2:
            refused(lambda: served(ids[rank] + 100), "other than the")
        rows = served(ids[rank])
        if s == 3:  # a prefetch during a step asks for the next step's rows: no further lookup of this step reads them
            served.prefetch(ids[rank] + 200)
            refused(lambda: served(ids[rank] + 200), "prefetch() made during the step")
            refused(lambda: served(ids[rank] + 300), "prefetch() made during the step")
        rows.sum().backward()
        if s + 1 < len(batches):
            served.prefetch(batches[s + 1][rank])
            if s == 1:
                refused(lambda: served.prefetch(batches[s + 1][rank] + 1), "not looked up yet")
            served.eval()
            with ember.no_grad():  # an evaluation read between: its own rows (this step's ids, updated)
                np.testing.assert_allclose(served(ids[rank]).numpy(), single.eval()(ids[rank]).numpy(),
                                           rtol=1e-6, atol=1e-7)
            served.train()
            single.train()
    single.eval()
    served.eval()
    with ember.no_grad():
        every = np.arange(24)
        np.testing.assert_allclose(served(every).numpy(), single(every).numpy(), rtol=1e-6, atol=1e-7)
    dist.ps.shutdown()
    print("ps prefetch ok")
