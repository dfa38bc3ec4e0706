"""PyTorch's default DDP comm hooks: ``state`` is the process group to average over (the default group when
None); each returns a Future of the bucket's averaged flat gradients."""

from __future__ import annotations

from ember.backend.dtypes import bfloat16, float16
from ember.distributed.api import all_reduce
from ember.distributed.ddp import GradBucket
from ember.distributed.futures import Future
from ember.distributed.group import ProcessGroup, default_group
from ember.tensor import Tensor


def _group(process_group: ProcessGroup | None) -> ProcessGroup:
    return default_group() if process_group is None else process_group


def _allreduce_fut(process_group: ProcessGroup | None, tensor: Tensor) -> Future:
    """``tensor`` divided by the group's size, summed over its ranks (in place): a Future of it."""
    group = _group(process_group)
    tensor.div_(group.size)
    return all_reduce(tensor, group=group, async_op=True).get_future().then(lambda fut: fut.value()[0])


def allreduce_hook(process_group: ProcessGroup | None, bucket: GradBucket) -> Future:
    """What DDP does without a hook: the bucket's gradients averaged over the ranks."""
    return _allreduce_fut(process_group, bucket.buffer())


def _compress_hook(dtype, process_group: ProcessGroup | None, bucket: GradBucket) -> Future:
    group = _group(process_group)
    buffer = bucket.buffer()
    compressed = buffer.to(dtype).div_(group.size)

    def decompress(fut: Future) -> Tensor:
        buffer.copy_(fut.value()[0])
        return buffer

    return all_reduce(compressed, group=group, async_op=True).get_future().then(decompress)


def fp16_compress_hook(process_group: ProcessGroup | None, bucket: GradBucket) -> Future:
    """The average computed in float16 (the gradients cast to it, divided by the group's size and summed), cast
    back to the bucket's dtype: half the bytes on the wire, float16's rounding in the result."""
    return _compress_hook(float16, process_group, bucket)


def bf16_compress_hook(process_group: ProcessGroup | None, bucket: GradBucket) -> Future:
    """``fp16_compress_hook`` in bfloat16."""
    return _compress_hook(bfloat16, process_group, bucket)


__all__ = ["allreduce_hook", "bf16_compress_hook", "fp16_compress_hook"]
