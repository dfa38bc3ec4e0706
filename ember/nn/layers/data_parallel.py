"""``nn.DataParallel`` on one device: the wrapped module runs as it is (what PyTorch does without GPUs).

Ember runs a model on one device per process; training over several uses MPI ranks (``ember.distributed``), so the
wrapper here keeps PyTorch's interface (``.module``, state-dict keys under ``module.``) without replicating.
"""

from __future__ import annotations

from ember.nn.module import Module

__all__ = ["DataParallel"]


class DataParallel(Module):
    """``module`` wrapped as ``torch.nn.DataParallel`` leaves it on a machine without GPUs: ``forward`` calls it
    with the same arguments, ``device_ids`` is empty, and ``state_dict`` keys start with ``module.``.

    >>> net = ember.nn.DataParallel(ember.nn.Linear(2, 3))
    >>> net(ember.ones(4, 2)).shape, list(net.state_dict())
    ((4, 3), ['module.weight', 'module.bias'])
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: module must be an ember.nn.Module, got {type(module).__name__}")
        self.module = module
        self.device_ids: list = []  # (no replicas: the module runs once, on its own device)

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
