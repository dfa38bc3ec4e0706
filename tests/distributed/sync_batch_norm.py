"""Run under `ember launch -n N`: nn.SyncBatchNorm on N ranks, each with a slice of one batch (slices of different
sizes), gives the outputs, running statistics and gradients of torch's BatchNorm over the whole batch; eagerly,
in a DistributedDataParallel step, and under ember.jit (an unknown batch dimension)."""

import numpy as np
import torch

import ember
import ember.distributed as dist
from ember import nn

dist.init_process_group(timeout=30)
r, n = dist.get_rank(), dist.get_world_size()
rng = np.random.default_rng(0)
group = dist.default_group()


def mine(full, sizes):
    """This rank's rows of ``full``: ``sizes[k]`` rows for rank k, in rank order."""
    start = sum(sizes[:r])
    return full[start : start + sizes[r]]


def torch_bn(shape, weight, bias, momentum):
    cls = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d, 5: torch.nn.BatchNorm3d}
    bn = cls[len(shape)](shape[1], momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(weight))
        bn.bias.copy_(torch.tensor(bias))
    return bn


def check_module(shape, sizes, momentum, steps=2, dtype="float64", tol=1e-10):
    channels = shape[1]
    weight, bias = rng.standard_normal(channels), rng.standard_normal(channels)
    ref = torch_bn(shape, weight, bias, momentum)
    bn = nn.SyncBatchNorm(channels, momentum=momentum, dtype=dtype)
    bn.weight.array[...] = weight
    bn.bias.array[...] = bias
    for step in range(steps):
        x = rng.standard_normal((sum(sizes),) + shape[1:]) * 3 + 5  # far from 0: the variance is not cancellation
        w = rng.standard_normal(x.shape)
        tx = torch.tensor(x, requires_grad=True)
        ty = ref(tx)
        (ty * torch.tensor(w)).sum().backward()
        ex = ember.tensor(mine(x, sizes).astype(dtype), requires_grad=True)
        ey = bn(ex)
        bn.weight.grad = bn.bias.grad = None
        (ey * ember.tensor(mine(w, sizes).astype(dtype))).sum().backward()
        what = f"{shape} {sizes} momentum={momentum} {dtype} step {step}"
        np.testing.assert_allclose(ey.detach().numpy(), mine(ty.detach().numpy(), sizes), rtol=tol, atol=tol,
                                   err_msg=what)
        np.testing.assert_allclose(ex.grad.numpy(), mine(tx.grad.numpy(), sizes), rtol=tol, atol=tol, err_msg=what)
        # each rank's parameter gradient is its batch's share: their sum is the whole batch's
        for p, q in ((bn.weight, ref.weight), (bn.bias, ref.bias)):
            total = group.all_reduce(p.grad.numpy().astype(np.float64))
            np.testing.assert_allclose(total, q.grad.numpy(), rtol=tol, atol=tol, err_msg=what)
            q.grad = None
        for a, b in ((bn.running_mean, ref.running_mean), (bn.running_var, ref.running_var)):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=tol, atol=tol, err_msg=what)
        assert int(bn.num_batches_tracked.item()) == int(ref.num_batches_tracked) == step + 1
    bn.eval()  # evaluation: the running statistics, as BatchNorm's
    ref.eval()
    x = rng.standard_normal((3,) + shape[1:])
    expect = ref(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(bn(ember.tensor(x.astype(dtype))).detach().numpy(), expect, rtol=tol, atol=tol)


uneven = [3 + k for k in range(n)]
check_module((sum(uneven), 3, 5, 4), uneven, 0.1)
check_module((sum(uneven), 4), uneven, None)  # (N, C), a cumulative average
check_module((sum(uneven), 2, 6), [2] * n, 0.3)
check_module((sum(uneven), 2, 3, 2, 2), uneven, 0.1)
check_module((sum(uneven), 3, 5, 4), uneven, 0.1, dtype="float32", tol=2e-4)
if n > 1:
    one = [1] * n  # one value per channel on each rank: enough together
    check_module((n, 3), one, 0.1)
    empty = [3] * (n - 1) + [0]  # the last rank has no rows this step: it joins with count 0, as in PyTorch
    check_module((sum(empty), 3, 4), empty, 0.1)

# one collective forward (the statistics' all_gather) and one backward (its vjp's reduce_scatter)
calls = []
for name in ("all_gather", "reduce_scatter", "all_reduce", "broadcast", "all_to_all"):
    setattr(group, name, (lambda f, name: lambda *a, **k: calls.append(name) or f(*a, **k))(getattr(group, name), name))
bn = nn.SyncBatchNorm(3)
x = ember.randn(4, 3, 2, requires_grad=True)
out = bn(x)
assert calls == ["all_gather"], calls
(out * out).sum().backward()
assert calls == ["all_gather", "reduce_scatter"], calls
bn.eval()
bn(x)
assert len(calls) == 2, calls
for name in ("all_gather", "reduce_scatter", "all_reduce", "broadcast", "all_to_all"):
    delattr(group, name)

# --- a DistributedDataParallel step of a converted network equals torch's on the whole batch ---
def torch_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 4 * 4, 3)).double()


def ember_net(ref):
    net = nn.Sequential(nn.Conv2d(2, 4, 3, dtype="float64"), nn.BatchNorm2d(4, dtype="float64"), nn.ReLU(),
                        nn.Flatten(), nn.Linear(4 * 4 * 4, 3, dtype="float64"))
    for p, q in zip(net.parameters(), ref.parameters()):
        p.array[...] = q.detach().numpy()
    return nn.SyncBatchNorm.convert_sync_batchnorm(net)


ref = torch_net()
net = ember_net(ref)
assert type(net[1]).__name__ == "SyncBatchNorm"
ddp = dist.DistributedDataParallel(net)
opt = ember.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
sizes = [4] * n  # DDP averages the ranks' gradients: equal shares of the batch make that the batch's mean
for _ in range(3):
    x = rng.standard_normal((sum(sizes), 2, 6, 6))
    y = rng.integers(0, 3, sum(sizes))
    ref_opt.zero_grad()
    torch.nn.functional.cross_entropy(ref(torch.tensor(x)), torch.tensor(y)).backward()
    ref_opt.step()
    opt.zero_grad()
    ember.cross_entropy(ddp(ember.tensor(mine(x, sizes))), ember.tensor(mine(y, sizes))).backward()
    opt.step()
for p, q in zip(net.parameters(), ref.parameters()):
    np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-9, atol=1e-10, err_msg="DDP")
for a, b in zip(net.buffers(), ref.buffers()):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-10, err_msg="DDP buffers")

# --- ember.jit of the same step (any batch size: the count is read when the step runs) ---
ref = torch_net()
net = ember_net(ref)
ddp = dist.DistributedDataParallel(net)
opt = ember.optim.SGD(net.parameters(), lr=0.1)
ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1)


@ember.jit(dynamic=True)
def step(xb, yb):
    opt.zero_grad()
    loss = ember.cross_entropy(ddp(xb), yb)
    loss.backward()
    opt.step()
    return loss


for k, size in enumerate((4, 4, 6)):
    x = rng.standard_normal((size * n, 2, 6, 6))
    y = rng.integers(0, 3, size * n)
    ref_opt.zero_grad()
    torch.nn.functional.cross_entropy(ref(torch.tensor(x)), torch.tensor(y)).backward()
    ref_opt.step()
    step(ember.tensor(mine(x, [size] * n)), ember.tensor(mine(y, [size] * n)))
    for p, q in zip(net.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-9, atol=1e-10,
                                   err_msg=f"ember.jit step {k}")
    for a, b in zip(net.buffers(), ref.buffers()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-10, err_msg=f"ember.jit buffers {k}")
print(f"sync batch norm ok on rank {r} of {n}")
