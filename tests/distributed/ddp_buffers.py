"""Run under `ember launch -n N`: DistributedDataParallel's buffers. With broadcast_buffers (the default) a forward
starts from rank 0's buffers, in one broadcast, when PyTorch's does (after a forward with gradients enabled outside
no_sync(), in training and evaluation mode alike), eagerly, under ember.jit (one message for all dtypes) and in
Model.fit (eager and compiled); without it each rank keeps its own."""

import numpy as np

import ember
import ember.distributed as dist
from ember import nn
from ember.data import DistributedSampler, TensorDataset
from ember.model import Model

dist.init_process_group(timeout=30)
r, n = dist.get_rank(), dist.get_world_size()
rng = np.random.default_rng(0)
x_all = (rng.standard_normal((64, 6)) * 2 + 1).astype(np.float32)
labels = rng.integers(0, 3, 64)


def net_fn():
    ember.manual_seed(5)  # BatchNorm first: its running statistics depend on the data alone
    return nn.Sequential(nn.BatchNorm1d(6), nn.Linear(6, 3))


def buffers(net):
    return [b.detach().numpy().copy() for b in net.buffers()]


def gathered(net):
    """Every rank's buffers, in rank order."""
    return dist.default_group().all_gather_object(buffers(net))


def updated(start, x):
    """The buffers a BatchNorm holding ``start`` has after a training forward on ``x``."""
    bn = net_fn()[0]
    for b, value in zip(bn.buffers(), start):
        b.array[...] = value
    bn(ember.tensor(x))
    return buffers(bn)


def assert_buffers(got, expect, what):
    for a, b in zip(got, expect):
        np.testing.assert_array_equal(a, b, err_msg=what)


class Counted:
    """Counts the DDP group's buffer broadcasts."""

    def __init__(self, ddp):
        self.calls = 0
        group = ddp._group
        original = group.broadcast_unchecked

        def counted(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        group.broadcast_unchecked = counted


# --- eager: each training forward starts from rank 0's buffers, one broadcast each ---
net = net_fn()
for b in net.buffers():  # different on every rank: the construction broadcast makes them rank 0's
    b.array[...] = r + 1
ddp = dist.DistributedDataParallel(net)
assert_buffers(buffers(net), [np.ones_like(b) for b in buffers(net)], "construction")
counter = Counted(ddp)
for step in range(3):
    before = gathered(net)[0]
    xs = x_all[step * 16 + r : (step + 1) * 16 : n]
    ember.cross_entropy(ddp(ember.tensor(xs)), ember.tensor(labels[step * 16 + r : (step + 1) * 16 : n])).backward()
    assert_buffers(buffers(net), updated(before, xs), f"eager step {step}")
assert counter.calls == 3, counter.calls
if n > 1:
    assert not np.array_equal(gathered(net)[0][0], gathered(net)[1][0])  # each rank's last update is its own

# PyTorch's rule, whatever the mode: a forward after one with gradients enabled outside no_sync() broadcasts,
# a forward after one under no_grad or inside no_sync() does not
ddp.eval()
x4 = ember.tensor(x_all[:4])
ddp(x4)  # evaluation mode, after a training forward: rank 0's buffers everywhere
everyone = gathered(net)
for other in everyone[1:]:
    assert_buffers(other, everyone[0], "eval forward after a training one")
assert counter.calls == 4, counter.calls
with ember.no_grad():
    ddp(x4)  # after a forward with gradients: broadcast
    ddp(x4)  # after one under no_grad: none
assert counter.calls == 5, counter.calls
ddp(x4)  # after one under no_grad: none
ddp(x4)  # after one with gradients: broadcast
assert counter.calls == 6, counter.calls
with ddp.no_sync():
    ddp(x4)  # after one with gradients outside no_sync: broadcast
ddp(x4)  # after one inside no_sync: none
assert counter.calls == 7, counter.calls
for b in net.buffers():  # each rank's own again: an evaluation forward keeps them
    b.array[...] = r + 1
ddp(x4)
assert counter.calls == 8 and all(np.all(b == 1) for b in buffers(net)), counter.calls
ddp.train()

# a buffer replaced after the wrapping is the one shared; a new layout is checked on every rank first
class WithExtra(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(6, 3)
        self.register_buffer("extra", ember.full((3,), float(r)))

    def forward(self, x):
        return self.linear(x)


net = WithExtra()
ddp = dist.DistributedDataParallel(net)
np.testing.assert_array_equal(net.extra.numpy(), 0.0)
net.register_buffer("extra", ember.full((5,), 10.0 + r, dtype="float64"))
ddp(ember.tensor(x_all[:4])).sum().backward()
assert net.extra.dtype == np.float64
np.testing.assert_array_equal(net.extra.numpy(), np.full(5, 10.0))
if n > 1:
    net.register_buffer("extra", ember.zeros(4 + r))
    try:
        ddp(ember.tensor(x_all[:4]))
        raise AssertionError("buffers of different shapes were broadcast")
    except ValueError as exc:
        assert f"rank {r} and rank {1 - r} have different buffers (('extra', ({4 + r},), 'float32') vs " \
            f"('extra', ({5 - r},), 'float32'))" in str(exc), exc

# broadcast_buffers=False: each rank's buffers follow its own data alone
net = net_fn()
ddp = dist.DistributedDataParallel(net, broadcast_buffers=False)
own = buffers(net)
for step in range(2):
    xs = x_all[step * 16 + r : (step + 1) * 16 : n]
    ddp(ember.tensor(xs)).sum().backward()
    own = updated(own, xs)
    assert_buffers(buffers(net), own, f"broadcast_buffers=False step {step}")

# no buffers: no broadcast at all
plain = dist.DistributedDataParallel(nn.Linear(6, 3))
counter = Counted(plain)
plain(ember.tensor(x_all[:4])).sum().backward()
assert counter.calls == 0

# --- ember.jit: the same broadcast as graph nodes, on every call ---
for broadcast in (True, False):
    net = net_fn()
    ddp = dist.DistributedDataParallel(net, broadcast_buffers=broadcast)
    opt = ember.optim.SGD(net.parameters(), lr=0.1)

    @ember.jit
    def step(xb, yb):
        opt.zero_grad()
        loss = ember.cross_entropy(ddp(xb), yb)
        loss.backward()
        opt.step()
        return loss

    net[0].num_batches_tracked.array[...] = 2**40 + 7 + r  # an int64 past float64's 2^53 after the scaling below
    net[0].num_batches_tracked.array[...] *= 2**20
    own = buffers(net)
    for k in range(3):
        before = gathered(net)[0] if broadcast else own
        xs, ys = x_all[k * 16 + r : (k + 1) * 16 : n], labels[k * 16 + r : (k + 1) * 16 : n]
        step(ember.tensor(xs), ember.tensor(ys))
        own = updated(before, xs)
        assert_buffers(buffers(net), own, f"ember.jit broadcast_buffers={broadcast} step {k}")
    # one message for the float32 statistics and the int64 count together
    sent = [node for node in step._last.graph.nodes if node.op.name == "broadcast"]
    assert len(sent) == (1 if broadcast and n > 1 else 0), [str(node) for node in sent]


# --- Model.fit, eager and compiled: rank r's buffers after each batch are rank 0's before it, updated by r's batch
def emulated_fit(batch_size):
    """Every rank's buffers after one epoch, emulated here: the DistributedSampler's shares, batch by batch."""
    data = TensorDataset(x_all, labels)
    shares = [list(DistributedSampler(data, num_replicas=n, rank=k, shuffle=False)) for k in range(n)]
    states = [buffers(net_fn()) for _ in range(n)]
    for lo in range(0, len(shares[0]), batch_size):
        start = states[0]
        states = [updated(start, x_all[shares[k][lo : lo + batch_size]]) for k in range(n)]
    return states[r]


for compile in (False, True):
    net = net_fn()
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.1), compile=compile)
    model.fit(x_all, labels, epochs=1, batch_size=4, shuffle=False, verbose=0)
    expect = emulated_fit(4)
    for a, b in zip(buffers(net), expect):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=f"Model.fit(compile={compile})")
print(f"ddp buffers ok on rank {r} of {n}")
