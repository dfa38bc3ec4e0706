"""Run under `ember launch -n N`: every collective against what it must give, on every rank."""

import numpy as np

import ember
import ember.distributed as dist

dist.init_process_group(timeout=20)
r, n = dist.get_rank(), dist.get_world_size()

t = ember.tensor(np.arange(3, dtype=np.float32) + r)
dist.all_reduce(t)
np.testing.assert_array_equal(t.numpy(), n * np.arange(3) + n * (n - 1) / 2)
for op, expect in (("max", n - 1), ("min", 0), ("avg", (n - 1) / 2)):
    t = ember.tensor(np.full(2, r, dtype=np.float64))
    dist.all_reduce(t, op=op)
    np.testing.assert_allclose(t.numpy(), expect)
work = dist.all_reduce(t := ember.ones(4), async_op=True)
assert work.wait() is True  # PyTorch's Work.wait (it returned the tensor)
np.testing.assert_array_equal(t.numpy(), n)
assert work.result()[0] is t and work.is_completed() and work.is_success() and work.exception() is None
# get_future, as a DDP comm hook chains it: then() is a new Future of the callback's result
work = dist.all_reduce(t := ember.ones(4), async_op=True)
fut = work.get_future()
halved = fut.then(lambda f: f.value()[0] / 2)
np.testing.assert_array_equal(halved.wait().numpy(), n / 2)
assert fut.done() and fut.value()[0] is t and work.is_completed()
failing = dist.all_reduce(ember.ones(2), async_op=True).get_future().then(lambda f: 1 / 0)
try:
    failing.wait()
    raise AssertionError("the callback's error was lost")
except RuntimeError as e:
    assert "ZeroDivisionError" in str(e)
done = dist.broadcast(b := ember.ones(2), src=0, async_op=True)
assert done.wait() is True and done.result()[0] is b and done.get_future().value()[0] is b

# bfloat16 travels as raw words and is reduced in float32: 0.1 summed n times, rounded once
b = ember.tensor(np.full(5, 0.1, dtype=ember.bfloat16))
dist.all_reduce(b)
assert b.dtype == ember.bfloat16
np.testing.assert_allclose(b.numpy().astype(np.float32), np.float32(np.array(0.1, dtype=ember.bfloat16)) * n, rtol=1e-2)

x = ember.tensor(np.full((2, 3), r, dtype=np.int64))
dist.broadcast(x, src=n - 1)
np.testing.assert_array_equal(x.numpy(), n - 1)

parts = [ember.zeros(2) for _ in range(n)]
dist.all_gather(parts, ember.full((2,), float(r)))
for k, p in enumerate(parts):
    np.testing.assert_array_equal(p.numpy(), k)
out = ember.zeros(2 * n)
dist.all_gather_into_tensor(out, ember.full((2,), float(r)))
np.testing.assert_array_equal(out.numpy(), np.repeat(np.arange(n), 2))

big = ember.tensor(np.arange(2 * n, dtype=np.float32))
shard = ember.zeros(2)
dist.reduce_scatter_tensor(shard, big)
np.testing.assert_array_equal(shard.numpy(), n * np.arange(2 * r, 2 * r + 2))

# all_to_all with uneven pieces: rank r sends k+1 rows of value 10r+k to rank k
sizes = [k + 1 for k in range(n)]
send = ember.tensor(np.concatenate([np.full(k + 1, 10 * r + k) for k in range(n)]).astype(np.int64))
recv = ember.zeros(n * (r + 1), dtype=ember.int64)
dist.all_to_all_single(recv, send, output_split_sizes=[r + 1] * n, input_split_sizes=sizes)
np.testing.assert_array_equal(recv.numpy(), np.repeat(10 * np.arange(n) + r, r + 1))

if n >= 2:
    if r == 0:
        dist.send(ember.tensor([1.5, 2.5]), dst=1, tag=7)
    elif r == 1:
        got = ember.zeros(2)
        dist.recv(got, src=0, tag=7)
        np.testing.assert_array_equal(got.numpy(), [1.5, 2.5])
dist.barrier()

# differentiable collectives: the global loss is the sum of every rank's loss
v = ember.tensor(np.arange(4, dtype=np.float64) + r, requires_grad=True)
(dist.functional.all_gather(v) ** 2).sum().backward()
np.testing.assert_allclose(v.grad.numpy(), 2 * n * v.detach().numpy())
v = ember.tensor(np.arange(2.0 * n) * (r + 1), requires_grad=True)
w = dist.functional.reduce_scatter(v)
(w * (r + 1.0)).sum().backward()  # d/dv_r = sum over ranks k of (k+1) on k's slice
np.testing.assert_allclose(v.grad.numpy(), np.repeat(np.arange(1.0, n + 1), 2))
v = ember.tensor(np.ones(3) * r, requires_grad=True)
(dist.functional.all_reduce(v, "avg") * (r + 1.0)).sum().backward()
np.testing.assert_allclose(v.grad.numpy(), (n + 1) / 2)
v = ember.tensor(np.ones(2) * r, requires_grad=True)
(dist.functional.broadcast(v, src=0) * 2.0).sum().backward()
np.testing.assert_allclose(v.grad.numpy(), 2.0 * n if r == 0 else 0.0)
v = ember.tensor(np.arange(n, dtype=np.float64) + 10 * r, requires_grad=True)
moved = dist.functional.all_to_all(v)
np.testing.assert_array_equal(moved.detach().numpy(), 10 * np.arange(n) + r)
(moved * moved).sum().backward()
np.testing.assert_allclose(v.grad.numpy(), 2 * v.detach().numpy())
# tensors of more than 8 dimensions (refused: 'at most 8 dimensions'), as PyTorch's take them
t = ember.tensor(np.full((1, 2, 1, 1, 1, 1, 1, 1, 3), r + 1.0))
dist.all_reduce(t)
np.testing.assert_array_equal(t.numpy(), n * (n + 1) / 2)
parts = [ember.zeros((2,) * 9) for _ in range(n)]
dist.all_gather(parts, ember.full((2,) * 9, float(r)))
for k, part in enumerate(parts):
    np.testing.assert_array_equal(part.numpy(), k)
print(f"collectives ok on rank {r} of {n}")
