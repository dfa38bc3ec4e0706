"""Laying out the weights of a model's convolutions in a memory format (``torch.nn.utils.memory_format``)."""

from __future__ import annotations

from ember.memory_format import memory_format as MemoryFormat
from ember.nn.layers.conv import Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d
from ember.nn.module import Module

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _convert(module: Module, memory_format: MemoryFormat, kinds: tuple) -> Module:
    if isinstance(module, kinds):
        # the same Parameter, its data re-laid (an optimizer holding it keeps it)
        module.weight.data = module.weight.detach().clone(memory_format=memory_format)
    for child in module.children():
        _convert(child, memory_format, kinds)
    return module


def convert_conv2d_weight_memory_format(module: Module, memory_format: MemoryFormat) -> Module:
    """Lay out the weight of every ``Conv2d`` and ``ConvTranspose2d`` in ``module`` (itself included) as
    ``memory_format`` (``ember.channels_last``, say); the values do not change. Returns ``module``.

    >>> model = ember.nn.utils.convert_conv2d_weight_memory_format(model, ember.channels_last)
    """
    return _convert(module, memory_format, (Conv2d, ConvTranspose2d))


def convert_conv3d_weight_memory_format(module: Module, memory_format: MemoryFormat) -> Module:
    """Lay out the weight of every ``Conv3d`` and ``ConvTranspose3d`` in ``module`` (itself included) as
    ``memory_format`` (``ember.channels_last_3d``, say); the values do not change. Returns ``module``.

    >>> model = ember.nn.utils.convert_conv3d_weight_memory_format(model, ember.channels_last_3d)
    """
    return _convert(module, memory_format, (Conv3d, ConvTranspose3d))
