"""``torch.utils.tensorboard``: ``SummaryWriter`` writing TensorBoard event files, on the optional package
tensorboardX (``pip install "ember[tensorboard]"``); its ``add_*`` methods take Ember Tensors wherever they take
arrays or numbers.

>>> writer = SummaryWriter("runs/exp1")
>>> writer.add_scalar("loss", loss, step)
>>> writer.add_histogram("fc.weight", net.fc.weight, step)
"""

from __future__ import annotations

import functools

import numpy as np

from ember.tensor import Tensor

try:
    import tensorboardX
except ImportError as exc:  # as torch.utils.tensorboard without its package
    raise ImportError('ember.utils.tensorboard needs tensorboardX: pip install tensorboardX (or '
                      '"ember[tensorboard]")') from exc

__all__ = ["SummaryWriter"]


def _plain(value):
    """``value`` with every Tensor in it (also inside lists, tuples and dicts) as a NumPy array (0-d: a number)."""
    if isinstance(value, Tensor):
        array = np.asarray(value.detach().numpy())
        return array.item() if array.ndim == 0 else array
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _taking_tensors(method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        return method(self, *[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})

    return call


class SummaryWriter(tensorboardX.SummaryWriter):
    """tensorboardX's ``SummaryWriter`` (PyTorch's arguments: ``log_dir``, ``comment``, ``purge_step``,
    ``max_queue``, ``flush_secs``, ``filename_suffix``) whose ``add_*`` methods take Ember Tensors."""

    def add_graph(self, model, input_to_model=None, verbose: bool = False, use_strict_trace: bool = True):
        """Refused: TensorBoard's graph view reads PyTorch's traced graphs, which Ember models do not have."""
        raise NotImplementedError("SummaryWriter.add_graph: TensorBoard's graph view reads PyTorch's traced graphs; "
                                  "export the model with ember.onnx.export and open it in Netron instead")


for _name in dir(tensorboardX.SummaryWriter):
    if _name.startswith("add_") and _name != "add_graph":
        setattr(SummaryWriter, _name, _taking_tensors(getattr(tensorboardX.SummaryWriter, _name)))
