"""nn.SyncBatchNorm in one process against PyTorch's: BatchNorm's numbers (values, gradients, running statistics,
under ember.jit too), convert_sync_batchnorm's result, and the errors. The multi-rank statistics are tested under
MPI (tests/distributed/sync_batch_norm.py, run by tests/test_distributed.py)."""

import numpy as np
import pytest

import ember
from ember import nn

torch = pytest.importorskip("torch")


def _pair(momentum=0.1, affine=True, track=True):
    bn = nn.SyncBatchNorm(3, momentum=momentum, affine=affine, track_running_stats=track, dtype="float64")
    ref = torch.nn.SyncBatchNorm(3, momentum=momentum, affine=affine, track_running_stats=track, dtype=torch.float64)
    if affine:
        rng = np.random.default_rng(1)
        for p, q in ((bn.weight, ref.weight), (bn.bias, ref.bias)):
            p.array[...] = rng.standard_normal(3)
            with torch.no_grad():
                q.copy_(torch.tensor(p.array))
    return bn, ref


@pytest.mark.parametrize("momentum, affine, track, shape", [
    (0.1, True, True, (5, 3, 4, 2)), (None, True, True, (6, 3)), (0.3, False, True, (4, 3, 5)),
    (0.1, True, False, (4, 3, 2, 2, 2)),
])
def test_one_process_sync_batch_norm_is_pytorch_s(momentum, affine, track, shape):
    bn, ref = _pair(momentum, affine, track)
    rng = np.random.default_rng(0)
    for train in (True, True, False):
        bn.train(train)
        ref.train(train)
        x = rng.standard_normal(shape) * 2 + 1
        g = rng.standard_normal(shape)
        ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ey, ty = bn(ex), ref(tx)
        (ey * ember.tensor(g)).sum().backward()
        (ty * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
        for p, q in zip(bn.parameters(), ref.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12)
        for (name, b), (tname, tb) in zip(bn.named_buffers(), ref.named_buffers()):
            assert name == tname
            np.testing.assert_allclose(b.numpy(), tb.numpy(), rtol=1e-12)
    assert list(bn.state_dict()) == list(ref.state_dict())


def test_one_process_sync_batch_norm_under_jit_equals_eager():
    bn, eager = nn.SyncBatchNorm(3), nn.SyncBatchNorm(3)
    step = ember.jit(lambda x: (bn(x) ** 2).sum())
    x = ember.randn(4, 3, 5)
    for _ in range(2):
        np.testing.assert_allclose(step(x).item(), (eager(x) ** 2).sum().item(), rtol=1e-6)
    for a, b in zip(bn.buffers(), eager.buffers()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def _nets(lib):
    return lib.Sequential(lib.Conv2d(2, 4, 3), lib.BatchNorm2d(4, momentum=0.2), lib.ReLU(),
                          lib.Sequential(lib.Flatten(), lib.Linear(16, 5), lib.BatchNorm1d(5, affine=False)),
                          lib.InstanceNorm1d(1) if lib is nn else torch.nn.InstanceNorm1d(1))


def test_convert_sync_batchnorm_replaces_every_batch_norm_keeping_its_state():
    net = _nets(nn)
    ref = _nets(torch.nn)
    net[1].running_mean.array[...] = 0.5
    net[3][2].eval()
    weight, bias, running = net[1].weight, net[1].bias, net[1].running_mean
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    torch_converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(ref)
    kinds = [type(m).__name__ for m in converted.modules()]
    assert kinds == [type(m).__name__ for m in torch_converted.modules()]
    assert kinds.count("SyncBatchNorm") == 2 and "InstanceNorm1d" in kinds
    assert converted is net  # the container itself is kept, its children replaced
    sync = converted[1]
    assert sync.weight is weight and sync.bias is bias and sync.running_mean is running
    assert (sync.num_features, sync.eps, sync.momentum, sync.affine) == (4, 1e-5, 0.2, True)
    assert converted[3][2].weight is None and not converted[3][2].training and converted[1].training
    assert list(converted.state_dict()) == list(torch_converted.state_dict())
    alone = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(3))
    assert type(alone).__name__ == "SyncBatchNorm"


def test_sync_batch_norm_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"SyncBatchNorm: expected at least 2-D input .*\[4\]"):
        nn.SyncBatchNorm(4)(ember.randn(4))
    with pytest.raises(TypeError, match="SyncBatchNorm: process_group must be None or a ProcessGroup, got str"):
        nn.SyncBatchNorm(4, process_group="world")
    with pytest.raises(TypeError, match="process_group"):
        nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(3), process_group=3)
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.SyncBatchNorm(4)(ember.randn(1, 4))
