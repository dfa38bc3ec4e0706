"""Run under `ember launch -n N`: data-parallel training equals one process on the same global batch."""

import numpy as np

import ember
import ember.distributed as dist
from ember import nn
from ember.model import Model

dist.init_process_group(timeout=30)
r, n = dist.get_rank(), dist.get_world_size()
rng = np.random.default_rng(0)


def mlp():
    ember.manual_seed(1 + r * 100)  # different on each rank: DDP must broadcast rank 0's weights
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))


def cnn():
    ember.manual_seed(2 + r * 100)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


def params(net):
    return [p.detach().numpy().copy() for p in net.parameters()]


def check(name, net_fn, x, y, steps=4, accumulate=1):
    net = net_fn()
    ddp = dist.DistributedDataParallel(net, bucket_cap_mb=0.0005)  # several buckets
    ref = net_fn()
    for p, q in zip(ref.parameters(), net.parameters()):
        p.array[...] = q.array  # rank 0's weights, as broadcast
    opt = ember.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    ref_opt = ember.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    g = len(x) // (steps * accumulate)  # global micro-batch
    for step in range(steps):
        opt.zero_grad()
        ref_opt.zero_grad()
        for k in range(accumulate):
            lo = (step * accumulate + k) * g
            xs, ys = x[lo : lo + g], y[lo : lo + g]
            ember.cross_entropy(ref(ember.tensor(xs)), ember.tensor(ys)).backward()
            mine = slice(r, None, n)
            if k < accumulate - 1:
                with ddp.no_sync():
                    ember.cross_entropy(ddp(ember.tensor(xs[mine])), ember.tensor(ys[mine])).backward()
            else:
                ember.cross_entropy(ddp(ember.tensor(xs[mine])), ember.tensor(ys[mine])).backward()
        opt.step()
        ref_opt.step()
    for a, b in zip(params(net), params(ref)):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6, err_msg=name)
    return params(net)


x = rng.standard_normal((64, 8)).astype(np.float32)
y = rng.integers(0, 3, 64)
final = check("mlp", mlp, x, y)
check("mlp accumulated", mlp, x, y, steps=2, accumulate=2)
images = rng.standard_normal((32, 1, 8, 8)).astype(np.float32)
labels = rng.integers(0, 3, 32)
check("cnn", cnn, images, labels, steps=2)


def embedding_model():
    ember.manual_seed(3 + r * 100)
    return nn.Sequential(nn.Embedding(50, 4, sparse=True), nn.Flatten(), nn.Linear(12, 3))


ids = rng.integers(0, 50, (32, 3))
net, ref = embedding_model(), embedding_model()
ddp = dist.DistributedDataParallel(net)
for p, q in zip(ref.parameters(), net.parameters()):
    p.array[...] = q.array
opt, ref_opt = ember.optim.Adagrad(net.parameters(), lr=0.3), ember.optim.Adagrad(ref.parameters(), lr=0.3)
for lo in range(0, 32, 8):
    opt.zero_grad()
    ref_opt.zero_grad()
    ember.cross_entropy(ref(ember.tensor(ids[lo : lo + 8])), ember.tensor(labels[lo : lo + 8])).backward()
    mine = slice(lo + r, lo + 8, n)
    ember.cross_entropy(ddp(ember.tensor(ids[mine])), ember.tensor(labels[mine])).backward()
    assert type(net[0].weight.grad).__name__ == "RowSparse"
    opt.step()
    ref_opt.step()
for a, b in zip(params(net), params(ref)):
    np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6, err_msg="sparse embedding")

# sparse tables of different dtypes share the exchange of their rows, each keeping its dtype
class TwoTables(nn.Module):
    def __init__(self):
        super().__init__()
        ember.manual_seed(6)
        self.a, self.b = nn.Embedding(20, 3, sparse=True), nn.Embedding(20, 2, sparse=True).double()

    def forward(self, rows, wa, wb):
        return (self.a(rows) * wa).sum() + ember.cast((self.b(rows) * wb).sum(), "float32")


rows = ember.tensor(rng.integers(0, 20, (4 * n, 2)))
wa, wb = ember.tensor(rng.standard_normal((4 * n, 2, 3)).astype(np.float32)), ember.tensor(rng.random((4 * n, 2, 2)))
ref, tables = TwoTables(), TwoTables()
ddp = dist.DistributedDataParallel(tables)
ref(rows, wa, wb).backward()
mine = slice(4 * r, 4 * r + 4)
(ddp(rows[mine], wa[mine], wb[mine]) * n).backward()
for got, expect in zip(tables.parameters(), ref.parameters()):
    assert got.grad.values.dtype == expect.dtype
    np.testing.assert_allclose(got.grad.to_dense().numpy(), expect.grad.to_dense().numpy(), rtol=1e-6, atol=1e-6,
                               err_msg="sparse tables of two dtypes")

# every rank ends with the same weights
gathered = dist.default_group().all_gather(np.concatenate([p.ravel() for p in final]))
assert all(np.array_equal(gathered[0], gathered[k]) for k in range(n))

# Model.fit: per-rank batch b over a DistributedSampler equals one process with batch b * n
net = mlp()
model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.2))
ref = mlp()
ember.manual_seed(0)
history = model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
# the reference starts from rank 0's initial weights: rebuild it as rank 0 did
ember.manual_seed(1)
ref = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
ref_opt = ember.optim.SGD(ref.parameters(), lr=0.2)
losses = []
for _epoch in range(2):
    total = 0.0
    for lo in range(0, 64, 4 * n):
        ref_opt.zero_grad()
        loss = ember.cross_entropy(ref(ember.tensor(x[lo : lo + 4 * n])), ember.tensor(y[lo : lo + 4 * n]))
        loss.backward()
        ref_opt.step()
        total += loss.item()
    losses.append(total / (64 / (4 * n)))
for a, b in zip(params(net), params(ref)):
    np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6, err_msg="Model.fit")
np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-5)

# the forward decides whether its backward averages, as PyTorch's: a backward inside no_sync() of a forward run
# outside averages, one outside no_sync() of a forward run inside does not
ember.manual_seed(4)
lin = nn.Linear(3, 1, bias=False)
ddp = dist.DistributedDataParallel(lin)
x_rank = ember.ones((1, 3)) * (r + 1)
out = ddp(x_rank).sum()
with ddp.no_sync():
    out.backward()
np.testing.assert_allclose(lin.weight.grad.numpy(), np.full((1, 3), (n + 1) / 2), err_msg="backward in no_sync")
lin.weight.grad = None
with ddp.no_sync():
    out = ddp(x_rank).sum()
out.backward()
np.testing.assert_allclose(lin.weight.grad.numpy(), np.full((1, 3), r + 1.0), err_msg="forward in no_sync")
print(f"data parallel ok on rank {r} of {n}")
