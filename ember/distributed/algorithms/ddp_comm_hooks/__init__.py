"""Hooks for ``DistributedDataParallel.register_comm_hook`` (PyTorch's ``ddp_comm_hooks``)."""

from ember.distributed.algorithms.ddp_comm_hooks import default_hooks

__all__ = ["default_hooks"]
