"""Run under `ember launch -n 3`: torch.distributed's other collectives, subgroups, point-to-point messages and
object collectives, each against what PyTorch gives."""

import os
import warnings

import numpy as np

import ember
import ember.distributed as dist

dist.init_process_group(timeout=20)
r, n = dist.get_rank(), dist.get_world_size()
assert n == 3
assert dist.group.WORLD is dist.default_group() is dist.GroupMember.WORLD
assert dist.get_process_group_ranks(None) == [0, 1, 2]
assert (os.environ["RANK"], os.environ["WORLD_SIZE"], os.environ["LOCAL_RANK"]) == (str(r), "3", str(r))  # torchrun's

# reduce: only dst's tensor changes; a Work with async_op
t = ember.tensor(np.arange(4, dtype=np.float32) * (r + 1))
work = dist.reduce(t, dst=1, async_op=True)
assert work.wait() is True and work.is_completed() and work.is_success() and work.exception() is None
assert work.result() == [t] and work.result()[0] is t  # PyTorch's Work: wait() is True, result() the tensors written
np.testing.assert_array_equal(t.numpy(), np.arange(4) * 6 if r == 1 else np.arange(4) * (r + 1))
t = ember.tensor(np.full(2, r + 2, dtype=np.int64))
dist.reduce(t, dst=2, op=dist.ReduceOp.PRODUCT)
np.testing.assert_array_equal(t.numpy(), 24 if r == 2 else r + 2)

# gather / scatter
outs = [ember.zeros(2, dtype=ember.int32) for _ in range(n)] if r == 2 else None
dist.gather(ember.tensor(np.array([r, 10 * r], dtype=np.int32)), outs, dst=2)
if r == 2:
    for k, o in enumerate(outs):
        np.testing.assert_array_equal(o.numpy(), [k, 10 * k])
got = ember.zeros((2, 2))
dist.scatter(got, [ember.full((2, 2), float(k) + 0.5) for k in range(n)] if r == 1 else None, src=1)
np.testing.assert_array_equal(got.numpy(), r + 0.5)

# reduce_scatter of lists; all_to_all of differently shaped pieces (rank r sends k+1 rows of 10r+k to rank k)
out = ember.zeros(3)
dist.reduce_scatter(out, [ember.full((3,), float(r * 10 + k)) for k in range(n)])
np.testing.assert_array_equal(out.numpy(), sum(q * 10 + r for q in range(n)))
inputs = [ember.full((k + 1, 2), float(10 * r + k)) for k in range(n)]
outputs = [ember.zeros((r + 1, 2)) for _ in range(n)]
dist.all_to_all(outputs, inputs)
for k, o in enumerate(outputs):
    np.testing.assert_array_equal(o.numpy(), 10 * k + r)

# bools sum as a logical or (no byte leaves {0, 1}); bitwise ops on integers
b = ember.tensor(np.array([True, r == 0, False]))
dist.all_reduce(b)
assert b.numpy().view(np.uint8).tolist() == [1, 1, 0]
b = ember.tensor(np.array([r == 0, True]))
dist.all_reduce(b, op=dist.ReduceOp.PRODUCT)
assert b.numpy().view(np.uint8).tolist() == [0, 1]
for op, expect in (("BAND", 1 & 2 & 4), ("BOR", 1 | 2 | 4), ("BXOR", 1 ^ 2 ^ 4)):
    t = ember.tensor(np.array([1 << r, 7], dtype=np.int64))
    dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
    np.testing.assert_array_equal(t.numpy(), [expect, 7])  # 7 ^ 7 ^ 7 == 7
try:
    dist.all_reduce(ember.ones(2), op=dist.ReduceOp.BAND)
    raise AssertionError("BAND on floats was accepted")
except TypeError as e:
    assert "BAND" in str(e) and "float32" in str(e)

# complex numbers sum and average, as PyTorch's (they were refused: 'cannot reduce complex128 arrays'); MAX, MIN,
# PRODUCT and the bitwise ops are refused, naming the op
for dtype in (np.complex64, np.complex128):
    z = np.array([1 + 2j, -3j, 0.5], dtype=dtype)
    for op, expect in (("SUM", z * 6), ("AVG", z * 2)):
        t = ember.tensor(z * (r + 1))
        dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
        assert t.dtype == dtype
        np.testing.assert_allclose(t.numpy(), expect, rtol=1e-6)
    out = ember.tensor(np.zeros(1, dtype))
    dist.reduce_scatter_tensor(out, ember.tensor(z * (r + 1)))
    np.testing.assert_allclose(out.numpy(), z[r : r + 1] * 6, rtol=1e-6)
    np.testing.assert_allclose(dist.functional.all_reduce(ember.tensor(z)).numpy(), z * 3, rtol=1e-6)
try:
    dist.all_reduce(ember.tensor(np.ones(2, np.complex64)), op=dist.ReduceOp.MAX)
    raise AssertionError("MAX on complex numbers was accepted")
except TypeError as e:
    assert "MAX" in str(e) and "complex64" in str(e)

# a subgroup of ranks 0 and 2: src / dst are job ranks, group_src / group_dst ranks in the group
g = dist.new_group([2, 0])
assert dist.get_rank(g) == {0: 0, 1: -1, 2: 1}[r] and dist.get_world_size(g) == (2 if r != 1 else -1)
if r == 1:
    assert g is dist.GroupMember.NON_GROUP_MEMBER
    t = ember.ones(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert dist.all_reduce(t, group=g) is None
    assert "not a member" in str(caught[0].message)
    np.testing.assert_array_equal(t.numpy(), 1)
    # the rank lookups of a group this rank is outside: an error naming the call (was 'NoneType' has no 'ranks')
    for lookup in (lambda: dist.get_process_group_ranks(g), lambda: dist.get_global_rank(g, 0),
                   lambda: dist.get_group_rank(g, 0)):
        try:
            lookup()
            raise AssertionError("a rank outside the group looked up its ranks")
        except ValueError as e:
            assert str(e).startswith("get_") and "not a member of the group" in str(e), e
else:
    assert dist.get_process_group_ranks(g) == [0, 2]
    assert dist.get_global_rank(g, 1) == 2 and dist.get_group_rank(g, 2) == 1
    t = ember.tensor([float(r)] * 2)
    dist.broadcast(t, src=2, group=g)
    np.testing.assert_array_equal(t.numpy(), 2)
    t = ember.tensor([float(r)] * 2)
    dist.broadcast(t, group=g, group_src=0)
    np.testing.assert_array_equal(t.numpy(), 0)
    t = ember.tensor([float(r + 1)])
    dist.all_reduce(t, group=g)
    np.testing.assert_array_equal(t.numpy(), 4)  # ranks 0 and 2 only
    t = ember.tensor([float(r + 1)])
    dist.reduce(t, dst=2, group=g)
    np.testing.assert_array_equal(t.numpy(), 4 if r == 2 else 1)
    try:
        dist.broadcast(t, src=1, group=g)
        raise AssertionError("a source outside the group was accepted")
    except ValueError as e:
        assert "rank 1 is not a member" in str(e) and "[0, 2]" in str(e)
dist.barrier()

# point to point: a ring of isend / irecv, a receive from any rank, batch_isend_irecv
right, left = (r + 1) % n, (r - 1) % n
send_work = dist.isend(ember.tensor([float(r)] * 3), dst=right, tag=3)
box = ember.zeros(3)
recv_work = dist.irecv(box, src=left, tag=3)
assert recv_work.wait() is True and recv_work.source_rank() == left  # as PyTorch's (it returned the sender's rank)
assert send_work.wait() is True
try:
    send_work.source_rank()
    raise AssertionError("a send's Work gave a source rank")
except RuntimeError as e:
    assert "only the Work of a recv" in str(e)
np.testing.assert_array_equal(box.numpy(), left)
if r == 0:
    senders = set()
    for _ in range(n - 1):
        box = ember.zeros(1, dtype=ember.int64)
        sender = dist.recv(box, tag=5)  # (tag 5: the batch below sends to rank 0 on tag 0)
        assert box.numpy()[0] == 100 + sender
        senders.add(sender)
    assert senders == {1, 2}
else:
    dist.send(ember.tensor(np.array([100 + r])), dst=0, tag=5)
into_left, into_right = ember.zeros(2), ember.zeros(2)
works = dist.batch_isend_irecv([
    dist.P2POp(dist.irecv, into_left, left), dist.P2POp(dist.irecv, into_right, right),
    dist.P2POp(dist.isend, ember.full((2,), float(r)), right), dist.P2POp(dist.isend, ember.full((2,), float(r)), left),
])
for w in works:
    w.wait()
np.testing.assert_array_equal(into_left.numpy(), left)
np.testing.assert_array_equal(into_right.numpy(), right)
# a message shorter than the receiving tensor is refused (MPI would leave the tensor's tail as it found it)
if r == 1:
    dist.send(ember.zeros(2), dst=0, tag=9)
elif r == 0:
    try:
        dist.recv(ember.full((3,), 7.0), src=1, tag=9)
        raise AssertionError("recv took 2 floats into a tensor of 3")
    except ValueError as exc:
        assert "sent 8 bytes" in str(exc) and "float32[3]" in str(exc), exc

# objects
config = {"from": r}
objects = [config, [r] * 2] if r == 2 else [None, None]
dist.broadcast_object_list(objects, src=2)
assert objects == [{"from": 2}, [2, 2]]
assert (objects[0] is config) == (r == 2)  # the source keeps its own objects, the others get copies (PyTorch's)
gathered = [None] * n if r == 1 else None
dist.gather_object(("rank", r), gathered, dst=1)
assert gathered == ([("rank", k) for k in range(n)] if r == 1 else None)
mine = [None]
dist.scatter_object_list(mine, [f"for {k}" for k in range(n)] if r == 0 else None, src=0)
assert mine == [f"for {r}"]
everyone = [None] * n
dist.all_gather_object(everyone, r * r)
assert everyone == [0, 1, 4]
if r == 0:
    dist.send_object_list(["hello", 2.5], dst=2)
elif r == 2:
    inbox = [None, None]
    assert dist.recv_object_list(inbox) == 0 and inbox == ["hello", 2.5]
# a message to or from this rank itself is refused, as PyTorch's (MPI delivered a small one: it went unnoticed)
for call in (lambda: dist.send(ember.zeros(2), dst=r), lambda: dist.send_object_list([1], dst=r),
             lambda: dist.recv_object_list([None], src=r)):
    try:
        call()
        raise AssertionError("a message to this rank itself was accepted")
    except ValueError as exc:
        assert f"rank {r} is this process's own rank" in str(exc), exc

# DistributedDataParallel with PyTorch's arguments, by keyword and by position
net = ember.nn.Linear(3, 2)
ember.nn.init.constant_(net.weight, float(r))
kept = ember.nn.Linear(3, 2)
ember.nn.init.constant_(kept.weight, float(r))
ddp = dist.DistributedDataParallel(net, None, None, 0, True, True, None, 0.001, gradient_as_bucket_view=True,
                                   static_graph=True)
np.testing.assert_array_equal(net.weight.detach().numpy(), 0.0)  # rank 0's weights
dist.DistributedDataParallel(kept, init_sync=False, process_group=dist.group.WORLD)
np.testing.assert_array_equal(kept.weight.detach().numpy(), float(r))  # each rank's own
x = ember.full((4, 3), float(r + 1))
ddp(x).sum().backward()
np.testing.assert_allclose(net.weight.grad.numpy(), 4 * (1 + 2 + 3) / 3)  # averaged over ranks
for bad, words in ((dict(device_mesh=object()), "device_mesh"),
                   (dict(device_ids=[0]), "device_ids [0]"), (dict(mixed_precision=object()), "mixed_precision")):
    try:
        dist.DistributedDataParallel(ember.nn.Linear(3, 2), **bad)
        raise AssertionError(f"{bad} was accepted")
    except ValueError as e:
        assert words in str(e), str(e)

# find_unused_parameters: what a rank's forward does not reach counts as zeros (it has no gradient yet); what no rank
# used keeps .grad None


class Heads(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.never = ember.nn.Linear(3, 2), ember.nn.Linear(3, 2), ember.nn.Linear(3, 2)
        self.emb = ember.nn.Embedding(10, 2, sparse=True)

    def forward(self, x, use_b, ids):
        out = self.a(x)
        if use_b:
            out = out + self.b(x)
        if ids is not None:
            out = out + self.emb(ids).sum(0)
        return out


def usage(rank, step):
    ids = ember.tensor(np.array([1, 2, 2]) + step) if rank == step % 3 else None
    return ember.full((4, 3), float(rank + 1 + step)), rank != 1 + step % 2, ids


ember.manual_seed(0)
heads = Heads()
replica = Heads()
replica.load_state_dict(heads.state_dict())
ddp = dist.DistributedDataParallel(heads, find_unused_parameters=True)
for step in range(2):
    expected = {}
    for k in range(n):  # every rank's local gradients, on a replica here, averaged over the ranks
        replica.zero_grad()
        (replica(*usage(k, step)) ** 2).sum().backward()
        for name, p in replica.named_parameters():
            if p.grad is not None:
                g = p.grad.to_dense().numpy() if hasattr(p.grad, "to_dense") else p.grad.numpy()
                expected[name] = expected.get(name, 0) + g / n
    heads.zero_grad()
    (ddp(*usage(r, step)) ** 2).sum().backward()
    for name, p in heads.named_parameters():
        if name not in expected:
            assert p.grad is None, name
            continue
        assert p.grad is not None, (name, step, r)
        got = p.grad.to_dense().numpy() if hasattr(p.grad, "to_dense") else p.grad.numpy()
        np.testing.assert_allclose(got, expected[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert "never.weight" not in expected and "b.weight" in expected and "emb.weight" in expected



# a rank whose forward skips the first layer has its bucket full at the forward, before the last layer's; the
# buckets' all-reduces still start in bucket order on every rank (they were matched to each other's)
class Skip(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.first, self.last = ember.nn.Linear(3, 3), ember.nn.Linear(3, 2)

    def forward(self, x, use_first):
        return self.last(self.first(x) if use_first else x)


ember.manual_seed(1)
chain, replica = Skip(), Skip()
replica.load_state_dict(chain.state_dict())
ddp = dist.DistributedDataParallel(chain, bucket_cap_mb=1e-6, find_unused_parameters=True)  # a bucket each
expected = {}
for k in range(n):
    replica.zero_grad()
    replica(ember.full((2, 3), float(k + 1)), k == 0).sum().backward()
    for name, p in replica.named_parameters():
        expected[name] = expected.get(name, 0) + (0 if p.grad is None else p.grad.numpy()) / n
ddp(ember.full((2, 3), float(r + 1)), r == 0).sum().backward()
for name, p in chain.named_parameters():
    np.testing.assert_allclose(p.grad.numpy(), expected[name], rtol=1e-5, atol=1e-6, err_msg=f"skipped {name}")

# a parameter a rank's synchronized forward does not reach counts with the gradient it accumulated under no_sync(),
# read when backward starts, as PyTorch's reducer (it counted as zeros: b's average 2.0 where PyTorch's is 2.5); a
# forward never backpropagated (a validation pass with gradients enabled) leaves no step half done
ember.manual_seed(2)
heads, replica = Heads(), Heads()
replica.load_state_dict(heads.state_dict())
ddp = dist.DistributedDataParallel(heads, find_unused_parameters=True)
all_used = (ember.full((4, 3), 0.5), True, ember.tensor(np.array([3, 4])))
expected = {}
for k in range(n):
    replica.zero_grad()
    (replica(*all_used) ** 2).sum().backward()
    (replica(*usage(k, 0)) ** 2).sum().backward()
    for name, p in replica.named_parameters():
        if p.grad is not None:
            g = p.grad.to_dense().numpy() if hasattr(p.grad, "to_dense") else p.grad.numpy()
            expected[name] = expected.get(name, 0) + g / n
heads.zero_grad()
with ddp.no_sync():
    (ddp(*all_used) ** 2).sum().backward()
ddp(*usage(r, 1))  # never backpropagated
(ddp(*usage(r, 0)) ** 2).sum().backward()
for name, p in heads.named_parameters():
    if name not in expected:
        assert p.grad is None, name
        continue
    got = p.grad.to_dense().numpy() if hasattr(p.grad, "to_dense") else p.grad.numpy()
    np.testing.assert_allclose(got, expected[name], rtol=1e-5, atol=1e-6, err_msg=f"accumulated {name}")

dist.monitored_barrier(timeout=20)
assert dist.barrier(async_op=True).wait() is True
print(f"torch collectives ok on rank {r}")
