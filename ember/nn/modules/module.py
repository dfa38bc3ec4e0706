"""PyTorch's ``torch.nn.modules.module``: ``Module`` and the global module hooks (``ember.nn.global_hooks``).

>>> from ember.nn.modules.module import register_module_forward_hook
>>> handle = register_module_forward_hook(lambda module, args, output: None)
>>> handle.remove()
"""

from ember.nn.global_hooks import (
    RemovableHandle,
    register_module_forward_hook,
    register_module_forward_pre_hook,
    register_module_full_backward_hook,
    register_module_full_backward_pre_hook,
)
from ember.nn.module import Module

__all__ = ["Module", "RemovableHandle", "register_module_forward_hook", "register_module_forward_pre_hook",
           "register_module_full_backward_hook", "register_module_full_backward_pre_hook"]
