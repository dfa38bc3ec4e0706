"""``tf.ConfigProto``, ``tf.GPUOptions`` and ``tf.device``: the Session options and device placements TF-1
scripts give (``allow_growth``, ``with tf.device('/cpu:0')``...). Options are kept as given and read back;
Ember's Session places operations and sizes memory itself, so none of them changes what it computes."""

from __future__ import annotations

import contextlib


class GPUOptions:
    """GPU memory options, as given (``config.gpu_options.allow_growth = True`` sets one)."""

    def __init__(self, allow_growth: bool = False, per_process_gpu_memory_fraction: float = 0.0,
                 visible_device_list: str = "", **options):
        self.allow_growth = allow_growth
        self.per_process_gpu_memory_fraction = per_process_gpu_memory_fraction
        self.visible_device_list = visible_device_list
        self.__dict__.update(options)

    def __repr__(self) -> str:
        return f"GPUOptions({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class ConfigProto:
    """Session options, as given; ``gpu_options`` is a ``GPUOptions`` (a fresh one when not given)."""

    def __init__(self, allow_soft_placement: bool = False, log_device_placement: bool = False,
                 gpu_options: GPUOptions | None = None, device_count: dict | None = None,
                 intra_op_parallelism_threads: int = 0, inter_op_parallelism_threads: int = 0, **options):
        self.allow_soft_placement = allow_soft_placement
        self.log_device_placement = log_device_placement
        self.gpu_options = gpu_options if gpu_options is not None else GPUOptions()
        self.device_count = dict(device_count or {})
        self.intra_op_parallelism_threads = intra_op_parallelism_threads
        self.inter_op_parallelism_threads = inter_op_parallelism_threads
        self.__dict__.update(options)

    def __repr__(self) -> str:
        return f"ConfigProto({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


@contextlib.contextmanager
def device(device_name):
    """``with tf.device('/cpu:0'):`` accepted for TF-1 scripts; the ops built inside are placed as any other."""
    if device_name is not None and not isinstance(device_name, str) and not callable(device_name):
        raise TypeError(f"tf.device: expected a device name string, a function or None, got {device_name!r}")
    yield
