"""PyTorch's ``torch.distributed.algorithms``: DDP communication hooks."""

from ember.distributed.algorithms import ddp_comm_hooks

__all__ = ["ddp_comm_hooks"]
