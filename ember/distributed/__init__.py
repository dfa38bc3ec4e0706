"""Distributed training over MPI, with PyTorch's names: ``import ember.distributed as dist``.

Processes are MPI ranks started by ``ember launch -n N script.py`` (or ``mpiexec``, SLURM's ``srun``, the
Kubernetes MPI Operator). ``init_process_group()`` joins them; collectives work on Tensors in place
(``dist.all_reduce(t)``) or, differentiably, as ops (``dist.functional.all_reduce(t)``);
``DistributedDataParallel`` averages gradients in buckets during backward. Needs the ``dist`` extra.

>>> import ember.distributed as dist
>>> dist.init_process_group()
>>> t = ember.ones(3) * dist.get_rank()
>>> dist.all_reduce(t)      # every rank now holds the sum over ranks
"""

from ember.data.sampler import DistributedSampler
from ember.distributed import (
    algorithms,  # noqa: F401  (dist.algorithms.ddp_comm_hooks)
    checkpoint,  # noqa: F401  (dist.checkpoint.save / load)
    fit,  # noqa: F401  (dist.fit is read by Model.fit)
    ps,  # noqa: F401  (dist.ps: parameter servers)
)
from ember.distributed import ops as functional
from ember.distributed.api import (
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    all_to_all,
    all_to_all_single,
    barrier,
    broadcast,
    gather,
    monitored_barrier,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
)
from ember.distributed.ddp import DistributedDataParallel, GradBucket
from ember.distributed.env import World, world_from_env
from ember.distributed.futures import Future
from ember.distributed.group import (
    DEFAULT_TIMEOUT,
    Backend,
    DistributedError,
    ProcessGroup,
    ReduceOp,
    Work,
    compiled_data_parallel,
    default_group,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_gloo_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
)
from ember.distributed.membership import (
    GroupMember,
    get_global_rank,
    get_group_rank,
    get_process_group_ranks,
    new_group,
)
from ember.distributed.objects import (
    all_gather_object,
    broadcast_object_list,
    gather_object,
    recv_object_list,
    scatter_object_list,
    send_object_list,
)
from ember.distributed.p2p import P2POp, batch_isend_irecv, irecv, isend, recv, send
from ember.distributed.sharded import ShardedHashEmbedding, shard_embeddings, shard_of

__all__ = [
    "DEFAULT_TIMEOUT", "Backend", "DistributedDataParallel", "DistributedError", "DistributedSampler", "Future",
    "GradBucket", "GroupMember", "P2POp", "ProcessGroup", "ReduceOp", "ShardedHashEmbedding", "Work", "World",
    "all_gather", "all_gather_into_tensor", "all_gather_object", "all_reduce", "all_to_all", "all_to_all_single",
    "barrier", "batch_isend_irecv", "broadcast", "broadcast_object_list", "compiled_data_parallel", "default_group",
    "destroy_process_group", "functional", "gather", "gather_object", "get_backend", "get_global_rank",
    "get_group_rank", "get_process_group_ranks", "get_rank", "get_world_size", "init_process_group", "irecv",
    "is_available", "is_gloo_available", "is_initialized", "is_mpi_available", "is_nccl_available", "isend",
    "monitored_barrier", "new_group", "recv", "recv_object_list", "reduce", "reduce_scatter", "reduce_scatter_tensor",
    "scatter", "scatter_object_list", "send", "send_object_list", "shard_embeddings", "shard_of", "world_from_env",
]
