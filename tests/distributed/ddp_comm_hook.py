"""Run under `ember launch -n 2`: DistributedDataParallel.register_comm_hook with PyTorch's default hooks, against
the gradients of the whole batch in one process."""

import numpy as np

import ember
import ember.distributed as dist
from ember import nn
from ember.distributed.algorithms.ddp_comm_hooks import default_hooks

dist.init_process_group(timeout=20)
r, n = dist.get_rank(), dist.get_world_size()
rng = np.random.default_rng(0)
x = rng.standard_normal((4 * n, 5)).astype(np.float32)
y = rng.standard_normal((4 * n, 3)).astype(np.float32)
mine = slice(4 * r, 4 * (r + 1))


def model():
    ember.manual_seed(1)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))


whole = model()
((whole(ember.tensor(x)) - ember.tensor(y)) ** 2).mean().backward()
expected = [p.grad.numpy() for p in whole.parameters()]


def step(hook=None, state=None, **options):
    net = model()
    ddp = dist.DistributedDataParallel(net, **options)
    if hook is not None:
        ddp.register_comm_hook(state, hook)
    ((ddp(ember.tensor(x[mine])) - ember.tensor(y[mine])) ** 2).mean().backward()
    return ddp, [p.grad.numpy() for p in net.parameters()]


_, plain = step()
_, hooked = step(default_hooks.allreduce_hook)
_, small = step(default_hooks.allreduce_hook, bucket_cap_mb=1e-4)  # a bucket per parameter
for e, a, b, c in zip(expected, plain, hooked, small):
    np.testing.assert_allclose(c, a, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
# float16 on the wire: the average to float16's precision, written back in float32
_, half = step(default_hooks.fp16_compress_hook)
for e, h in zip(expected, half):
    assert h.dtype == np.float32
    np.testing.assert_allclose(h, e, rtol=5e-3, atol=1e-3)
    assert np.array_equal(h, h.astype(np.float16).astype(np.float32))
_, brain = step(default_hooks.bf16_compress_hook, dist.group.WORLD)
for e, h in zip(expected, brain):
    np.testing.assert_allclose(h, e, rtol=2e-2, atol=1e-2)

# a hook of one's own gets the GradBucket (buffer, parameters, index) and returns a Future of the averaged buffer
seen = []


def doubled(state, bucket):
    seen.append((bucket.index(), bucket.is_last(), [tuple(p.shape) for p in bucket.parameters()],
                 tuple(bucket.buffer().shape), [tuple(g.shape) for g in bucket.gradients()]))
    fut = dist.all_reduce(bucket.buffer(), async_op=True).get_future()
    return fut.then(lambda f: f.value()[0] * (state / n))


net_ddp, twice = step(doubled, 2.0)
for e, t in zip(expected, twice):
    np.testing.assert_allclose(t, 2 * e, rtol=1e-5, atol=1e-6)
assert len(seen) == 1 and seen[0][0] == 0 and seen[0][1] and seen[0][3] == (5 * 7 + 7 + 7 * 3 + 3,)
assert sorted(seen[0][2]) == sorted(tuple(p.shape) for p in whole.parameters()) and seen[0][4] == seen[0][2]
try:
    net_ddp.register_comm_hook(None, default_hooks.allreduce_hook)
    raise AssertionError("a second hook was accepted")
except RuntimeError as e:
    assert "can only be called once" in str(e)
try:
    step(lambda state, bucket: bucket.buffer())
    raise AssertionError("a hook returning a tensor was accepted")
except TypeError as e:
    assert "must return a dist.Future" in str(e) and "Tensor" in str(e)
print(f"ddp comm hooks ok on rank {r}")
