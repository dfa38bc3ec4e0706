"""Run under `ember launch -n N`: DistributedDataParallel after its model is cast (ddp.double(), ddp.to(dtype),
ddp.half()), a parameter is replaced, or a layer is frozen or unfrozen: the next forward makes the gradient buckets
anew (a new parameter gets rank 0's values), and backward averages gradients of the parameters' new dtype."""

import numpy as np

import ember
import ember.distributed as dist
from ember import nn

dist.init_process_group(timeout=30)
r, n = dist.get_rank(), dist.get_world_size()
group = dist.default_group()


def net_fn():
    ember.manual_seed(3)
    return nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))


def check_step(ddp, net, dtype, what):
    """One backward on this rank's batch: every gradient has ``dtype`` and is the mean of the ranks' own."""
    x = np.random.default_rng(r).standard_normal((5, 4)).astype(dtype)
    for p in net.parameters():
        p.grad = None
    (ddp(ember.tensor(x)) ** 2).sum().backward()
    plain = net_fn().to(dtype)  # the parameters as the forward found them (backward changes none)
    plain.load_state_dict(net.state_dict())
    (plain(ember.tensor(x)) ** 2).sum().backward()
    everyone = group.all_gather_object([p.grad.numpy().astype(np.float64) for p in plain.parameters()])
    expected = [np.mean(grads, axis=0) for grads in zip(*everyone)]
    tolerance = 1e-3 if dtype == np.float16 else 1e-6
    for p, want in zip(net.parameters(), expected):
        if not p.requires_grad:
            assert p.grad is None, what
            continue
        assert p.grad.dtype == dtype, (what, p.grad.dtype)
        np.testing.assert_allclose(p.grad.numpy().astype(np.float64), want, rtol=tolerance, atol=tolerance,
                                   err_msg=what)


net = net_fn()
ddp = dist.DistributedDataParallel(net)
check_step(ddp, net, np.float32, "float32")
ddp.double()
check_step(ddp, net, np.float64, "after ddp.double()")
check_step(ddp, net, np.float64, "a second step")
ddp.to(ember.float32)
check_step(ddp, net, np.float32, "after ddp.to(float32)")
ddp.half()
check_step(ddp, net, np.float16, "after ddp.half()")
ddp.float()

# a parameter replaced after the wrapping: rank 0's values everywhere, and its gradient averaged too
net[2].weight = nn.Parameter(ember.full((2, 3), 0.5 + r))
check_step(ddp, net, np.float32, "a replaced parameter")
np.testing.assert_array_equal(net[2].weight.detach().numpy(), 0.5)

# a layer frozen, then unfrozen, after the wrapping: the buckets follow requires_grad, so the other gradients are
# still averaged in the frozen step, and the unfrozen layer's are averaged again (each rank kept its own before)
for p in net[0].parameters():
    p.requires_grad_(False)
check_step(ddp, net, np.float32, "a frozen layer")
for p in net[0].parameters():
    p.requires_grad_(True)
check_step(ddp, net, np.float32, "an unfrozen layer")
print(f"ddp recast ok on rank {r} of {n}")
