"""Data-parallel training: each rank runs the model on its share of the batch; gradients are averaged.

``DistributedDataParallel`` broadcasts rank 0's parameters and buffers at the start, then, during each
backward pass, copies every parameter's gradient into a bucket as soon as it is final and starts that
bucket's all-reduce (non-blocking) when the bucket is full, while backward goes on with the earlier layers.
When the last gradient is in, it waits for the buckets and writes the averaged gradients back into ``.grad``.

Buffers (batch norm's running statistics) are updated by each rank from its own batch, so they would drift
apart: with ``broadcast_buffers`` (the default, as PyTorch's), a forward first copies rank 0's buffers to the other
ranks, all of them packed into one message, when PyTorch's would: the first forward and each one after a forward
with gradients enabled outside ``no_sync()``, whatever the module's mode. Under ``ember.jit`` the forward records
the same copy as graph nodes: one ``broadcast`` (of float64, which carries the usual buffer dtypes exactly) and an
``assign`` per buffer, run on every call.
"""

from __future__ import annotations

import contextlib

import numpy as np

from ember.autograd import building, is_grad_enabled, no_grad
from ember.backend.dtypes import FLOATING, bool_, int16, int32, uint8
from ember.distributed import ops as collectives
from ember.distributed.futures import Future
from ember.distributed.group import ProcessGroup, ReduceOp, default_group
from ember.nn.module import Module
from ember.ops import assign, cast, concat, reshape
from ember.sparse import RowSparse
from ember.tensor import Tensor


class _Bucket:
    """Parameters whose gradients travel together in one flat array."""

    def __init__(self, params: list, dtype):
        self.params = params
        self.offsets = np.cumsum([0] + [p.array.size for p in params]).tolist()
        self.flat = np.empty(self.offsets[-1], dtype=dtype)
        self.pending = len(params)
        self.work = None
        self.future = None  # what a comm hook returned, in place of ``work``

    def reset(self) -> None:
        self.pending = len(self.params)
        self.work = None
        self.future = None


class GradBucket:
    """One bucket of gradients as a comm hook gets it (PyTorch's ``dist.GradBucket``): ``buffer()`` is the
    bucket's gradients flattened into one tensor, in the order of ``parameters()``."""

    def __init__(self, index: int, buffer: Tensor, params: list, offsets: list, last: bool):
        self._index, self._buffer, self._params, self._offsets, self._last = index, buffer, params, offsets, last

    def index(self) -> int:
        """The bucket's number (0 is the first whose all-reduce starts)."""
        return self._index

    def buffer(self) -> Tensor:
        """The flat gradients of the bucket (a hook may change it in place)."""
        return self._buffer

    def set_buffer(self, buffer: Tensor) -> None:
        """Replace the flat gradients the bucket holds (same size)."""
        if tuple(buffer.shape) != tuple(self._buffer.shape):
            raise ValueError(f"GradBucket.set_buffer: expected a tensor of shape {list(self._buffer.shape)}, "
                             f"got {list(buffer.shape)}")
        self._buffer.array[...] = buffer.array

    def parameters(self) -> list:
        """The parameters whose gradients the bucket holds."""
        return list(self._params)

    def gradients(self) -> list:
        """Each parameter's gradient: a view of ``buffer()`` shaped like it."""
        flat = self._buffer.array
        return [Tensor._make(flat[start:stop].reshape(p.shape), None)
                for p, start, stop in zip(self._params, self._offsets, self._offsets[1:])]

    def is_last(self) -> bool:
        """Whether it is the last bucket of the step."""
        return self._last


def _check_devices(module: Module, device_ids, output_device) -> None:
    """PyTorch's check: ``device_ids`` and ``output_device`` are None or name the one device the module is on
    (an int k is ``cuda:k``)."""
    if device_ids is None and output_device is None:
        return
    named = [] if device_ids is None else list(device_ids)
    named += [] if output_device is None else [output_device]
    devices = {str(p.device) for p in module.parameters()}
    wanted = {f"cuda:{d}" if isinstance(d, int) else str(d) for d in named}
    if (device_ids is not None and len(device_ids) != 1) or len(devices) != 1 or wanted != devices:
        raise ValueError(f"DistributedDataParallel: device_ids {device_ids} and output_device {output_device} must "
                         f"be None or name the one device the module's parameters are on ({sorted(devices)}); each "
                         "process trains on one device")


def _refuse_unsupported(**options) -> None:
    for name, value in options.items():
        if value not in (None, False):
            raise ValueError(f"DistributedDataParallel: {name}={value!r} is not supported; gradients are averaged "
                             "in their own dtype, in buckets that start as backward fills them")


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the process group (PyTorch's DDP).

    >>> dist.init_process_group()
    >>> model = dist.DistributedDataParallel(net)
    >>> loss = loss_fn(model(x_shard), y_shard); loss.backward(); optimizer.step()   # grads averaged

    PyTorch's arguments: ``bucket_cap_mb`` (25 by default) bounds the bytes per all-reduce; ``no_sync()`` skips
    the averaging (gradient accumulation: the next synchronized backward averages the accumulated gradients).
    ``broadcast_buffers``: a forward gives every rank rank 0's buffers first (one broadcast of them all) when
    PyTorch's does (see ``pre_forward``); ``False`` leaves each rank's own. ``init_sync=False`` skips the first
    broadcast of rank 0's parameters. ``process_group`` (or ``group``) averages over that group's ranks.
    ``device_ids`` / ``output_device`` may name the one device the module is on; ``dim`` (for several devices
    per process), ``check_reduction``, ``gradient_as_bucket_view`` and ``static_graph`` change nothing here.
    ``find_unused_parameters=True``: each forward (with gradients, outside ``no_sync()``) walks the recorded graph
    from its outputs, and the parameters it does not reach count in this step's averages with the gradients they
    hold when backward starts (zeros where none), as PyTorch's; a parameter no rank used keeps its ``.grad``.
    Without it every rank must use every trained parameter.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, init_sync: bool = True, process_group: ProcessGroup | None = None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False, static_graph: bool = False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None, mixed_precision=None,
                 device_mesh=None, skip_all_reduce_unused_params: bool = False, *,
                 group: ProcessGroup | None = None):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an ember.nn.Module, got {type(module).__name__}")
        bucket_cap_mb = 25.0 if bucket_cap_mb is None else bucket_cap_mb
        if bucket_cap_mb <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        _check_devices(module, device_ids, output_device)
        _refuse_unsupported(mixed_precision=mixed_precision, device_mesh=device_mesh,
                            delay_all_reduce_named_params=delay_all_reduce_named_params,
                            param_to_hook_all_reduce=param_to_hook_all_reduce,
                            skip_all_reduce_unused_params=skip_all_reduce_unused_params)
        if group is not None and process_group is not None and group is not process_group:
            raise ValueError("DistributedDataParallel: give process_group or group, not both")
        group = process_group if group is None else group
        self.module = module
        self.device_ids = None if device_ids is None else list(device_ids)
        # a communicator of its own: bucket all-reduces skip the per-call signature check, so they must never
        # meet the user's collectives
        self._group = (default_group() if group is None else group).split()
        self._sync = True
        self._forward_sync = True  # whether the next forward broadcasts the buffers (see pre_forward)
        # whether backward averages the gradients: decided by the forward, as PyTorch's (a forward with gradients
        # enabled outside no_sync() sets it, the backward that averages clears it)
        self._backward_sync = False
        self._broadcast_buffers = broadcast_buffers
        self._bucket_cap = bucket_cap_mb * 2**20
        self._handles = []
        named = self._trained_parameters()
        self._check_same_layout(named, "parameters")
        self._buffer_layout = None
        self._buffer_slots = _buffer_slots(module)
        if init_sync:
            self._broadcast_state()
        self._ready = set()
        self._sparse_ready = []
        self._find_unused = bool(find_unused_parameters)
        self._unused = set()  # ids of the parameters this step's forward did not reach (find_unused_parameters)
        self._unused_pending = False  # whether backward has yet to count them in
        self._used_anywhere = set()  # ids of the parameters some rank's forward reached
        self._comm_hook = None
        self._comm_hook_state = None
        self._join = None  # a _Join inside join()
        self._set_up_buckets(named)

    def register_comm_hook(self, state, hook) -> None:
        """Average each bucket with ``hook(state, bucket)`` instead of an all-reduce, as PyTorch's: ``bucket`` is a
        ``GradBucket``, and the hook returns a ``dist.Future`` of the averaged flat gradients (a tensor of
        ``bucket.buffer()``'s size), which become the parameters' ``.grad`` (e.g. ``default_hooks.allreduce_hook``,
        ``fp16_compress_hook``). Runs in eager backward; a traced step (``ember.jit``) refuses it."""
        if not callable(hook):
            raise TypeError(f"register_comm_hook: hook must be callable, got {type(hook).__name__}")
        if self._comm_hook is not None:
            raise RuntimeError("register_comm_hook or register_builtin_comm_hook can only be called once.")
        self._comm_hook, self._comm_hook_state = hook, state

    # --- setup ---
    def _trained_parameters(self) -> list:
        """(name, parameter) of the parameters whose gradients are averaged."""
        own = _sharded_parameters(self.module)
        named = [(n, p) for n, p in self.module.named_parameters() if p.requires_grad and id(p) not in own]
        tables = [n for n, p in named if hasattr(p, "table") and hasattr(p, "apply_sparse_update")]
        if tables and self._group.size > 1:
            # each rank's table holds the ids its own batches brought, numbered in their order: a gradient's
            # row numbers mean other ids on another rank, so averaging them would update the wrong rows
            raise ValueError(f"DistributedDataParallel: {tables} are hash-table embeddings replicated on every rank, "
                             "whose rows each rank numbers by the ids it saw; shard them across the ranks "
                             "(dist.shard_embeddings(model), before building the optimizers) or keep them on "
                             "parameter servers (dist.ps.place_embeddings)")
        return named

    def _set_up_buckets(self, named: list) -> None:
        """The buckets, the gradient hooks and what the layout check of each forward compares."""
        for handle in self._handles:
            handle.remove()
        sparse = _sparse_parameters(self.module)
        self._sparse = {id(p) for _, p in named if id(p) in sparse}
        self._buckets = self._make_buckets([p for _, p in named if id(p) not in sparse], self._bucket_cap)
        self._names = {id(p): n for n, p in named}
        self._by_id = {id(p): p for _, p in named}
        self._handles = [p.register_post_accumulate_grad_hook(self._grad_ready) for _, p in named]
        self._bucket_of = {id(p): (b, i) for b in self._buckets for i, p in enumerate(b.params)}
        self._next_bucket = 0  # the first bucket whose all-reduce has not started this step
        self._bucket_of.update({key: (None, 0) for key in self._sparse})
        # (module, key, parameter, dtype, shape, requires_grad) per replicated parameter, frozen ones included: a
        # cast (ddp.double()), a replaced, materialized (lazy), frozen or unfrozen parameter since shows in one pass
        # over them, without walking the modules
        own = _sharded_parameters(self.module)
        self._parameter_slots = [(m, key, p, p.array.dtype, p.array.shape, p.requires_grad)
                                 for m in self.module.modules() for key, p in m._parameters.items()
                                 if p is not None and id(p) not in own]

    def _parameters_changed(self) -> bool:
        for module, key, p, dtype, shape, trained in self._parameter_slots:
            if (module._parameters.get(key) is not p or p.array.dtype != dtype or p.array.shape != shape
                    or p.requires_grad != trained):
                return True
        return False

    def _rebuild_buckets(self) -> None:
        """The parameters were cast, replaced, frozen or unfrozen since the buckets were made: make them anew for
        the parameters as they are (every rank checks that the others did the same), and give every rank rank 0's
        values of the parameters that are new to training."""
        named = self._trained_parameters()
        self._check_same_layout(named, "parameters")
        known = {id(p) for _, _, p, _, _, trained in self._parameter_slots if trained}
        own = _sharded_parameters(self.module)
        with no_grad():
            for _, p in named:
                if id(p) not in known and id(p) not in own and p.array.size:
                    p.array[...] = self._group.broadcast(p.array, 0)
        self._ready.clear()
        self._sparse_ready = []
        self._set_up_buckets(named)

    def _check_same_layout(self, named: list, what: str) -> None:
        layout = [(n, tuple(p.shape), str(p.dtype)) for n, p in named]
        layouts = self._group.all_gather_object(layout)
        for rank, other in enumerate(layouts):
            if other != layout:
                diff = next((f"{a} vs {b}" for a, b in zip(layout, other) if a != b),
                            f"{len(layout)} vs {len(other)} {what}")
                raise ValueError(f"DistributedDataParallel: rank {self._group.rank} and rank {rank} have different "
                                 f"{what} ({diff})")

    def _broadcast_state(self, src: int = 0) -> None:
        own = _sharded_parameters(self.module)
        for p in self.module.parameters():
            if id(p) not in own and p.array.size:
                p.array[...] = self._group.broadcast(p.array, src)
        if self._broadcast_buffers:
            self._sync_buffers(src)

    def _shared_buffers(self) -> list:
        """(name, buffer) of the buffers rank 0 shares, read from their modules now (a buffer replaced since
        the wrapping is seen; walking the modules on every forward would cost more than the broadcast)."""
        named, seen = [], set()
        for name, module, key in self._buffer_slots:
            b = module._buffers.get(key)
            if b is not None and b.array.size and id(b) not in seen:
                seen.add(id(b))
                named.append((name, b))
        return named

    def _sync_buffers(self, src: int = 0) -> None:
        """Give every rank rank ``src``'s buffers: their bytes packed into one array, one broadcast (its size was
        checked on every rank when the buffers' layout was last seen)."""
        named = self._shared_buffers()
        if not named:
            return
        if building():
            self._record_buffer_sync([b for _, b in named])
            return
        layout = [(tuple(b.shape), b.dtype) for _, b in named]
        if layout != self._buffer_layout:  # first call, or a buffer replaced or cast since
            self._check_same_layout(named, "buffers")
            self._buffer_layout = layout
        group = self._group
        if group.rank == src:
            packed = np.concatenate([_host(b.array).reshape(-1).view(np.uint8) for _, b in named])
        else:
            packed = np.empty(sum(b.array.nbytes for _, b in named), dtype=np.uint8)
        packed = group.broadcast_unchecked(packed, src)
        if group.rank == src:
            return
        start = 0
        for _, b in named:
            stop = start + b.array.nbytes
            values = packed[start:stop].view(b.dtype).reshape(b.shape)
            b.array[...] = values if b.array.__class__ is np.ndarray else _device_like(values, b.array)
            start = stop

    @staticmethod
    def _record_buffer_sync(buffers: list) -> None:
        """The buffer broadcast as graph nodes (``ember.jit``), run on every call of the compiled step: one
        ``broadcast`` from rank 0 of the buffers concatenated, then an ``assign`` into each. The graph has no
        bit-cast, so the message carries float64, which holds every float, bool and integer of up to 32 bits
        exactly, and an int64 as two (its high and low 32 bits: batch norm's step counts); another dtype (complex,
        uint64) travels in a message of its own."""
        carried, by_dtype = [], {}
        for b in buffers:
            if b.dtype in _CARRIED or b.dtype == np.int64:
                carried.append(b)
            else:
                by_dtype.setdefault(b.dtype, []).append(b)
        with no_grad():
            if carried:
                _broadcast_as_float64(carried)
            for same in by_dtype.values():
                _broadcast_flat(same, [reshape(b, (-1,)) for b in same], lambda b, part: part)

    @staticmethod
    def _make_buckets(params: list, cap_bytes: float) -> list:
        """Buckets in reverse parameter order (backward finishes the last layers first), one dtype each."""
        buckets, current, size = [], [], 0
        for p in reversed(params):
            if current and (size + p.array.nbytes > cap_bytes or p.dtype != current[0].dtype):
                buckets.append(_Bucket(current, current[0].dtype))
                current, size = [], 0
            current.append(p)
            size += p.array.nbytes
        if current:
            buckets.append(_Bucket(current, current[0].dtype))
        return buckets

    # --- the step ---
    def forward(self, *args, **kwargs):
        self.pre_forward()
        out = self.module(*args, **kwargs)
        if self._find_unused and self._sync and is_grad_enabled() and not building():
            self._mark_unused(out)
        return out

    def _mark_unused(self, out) -> None:
        """PyTorch's search for unused parameters: the trained parameters the graph recorded from ``out`` does not
        reach count as ready now, with zero gradients in the averages; every rank learns which some rank used."""
        reached, seen = set(), set()
        stack = [t.node for t in _tensors(out) if t.node is not None]
        while stack:
            node = stack.pop()
            if id(node) in seen or node.inputs is None:
                continue
            seen.add(id(node))
            for t in node.inputs:
                if t.node is None:
                    reached.add(id(t))
                else:
                    stack.append(t.node)
        keys = list(self._bucket_of)
        used = np.array([key in reached for key in keys], dtype=np.uint8)
        anywhere = self._group.all_reduce(used, ReduceOp.MAX)
        self._used_anywhere = {key for key, flag in zip(keys, anywhere) if flag}
        self._unused = {key for key in keys if key not in reached}
        # counted in when backward starts (the first gradient hook), as PyTorch's reducer: a forward never
        # backpropagated leaves no step half done, and a gradient accumulated under no_sync() is read as it is then
        self._unused_pending = bool(self._unused)
        if self._unused and len(self._unused) == len(self._bucket_of):  # no gradient hook will run
            self._count_unused()
            self._finish()

    def _count_unused(self) -> None:
        """Count this step's unused parameters in with the gradients they hold (zeros where they have none)."""
        self._unused_pending = False
        for key in self._unused:
            self._ready.add(key)
            bucket, i = self._bucket_of[key]
            if bucket is None:
                self._sparse_ready.append(self._by_id[key])
            elif self._by_id[key].grad is None:
                bucket.flat[bucket.offsets[i] : bucket.offsets[i + 1]] = 0
                self._count_in(bucket)
            else:
                self._fill(bucket, i, self._by_id[key])

    def pre_forward(self) -> None:
        """What ``forward`` does before it runs the module, for callers that run the module themselves
        (``Model.fit``): check that the previous backward reached every parameter, and give every rank rank 0's
        buffers when PyTorch's DDP does (with ``broadcast_buffers``): in the first forward and in each one after a
        forward run with gradients enabled outside ``no_sync()``, in training and evaluation mode alike. A traced
        forward (``ember.jit``) follows itself on every call after the first: it broadcasts on every call when it
        is traced with gradients enabled outside ``no_sync()``."""
        self._check_previous_step()
        if self._parameters_changed():
            self._rebuild_buckets()
        syncs = self._forward_sync
        # PyTorch's require_forward_param_sync, which its forward sets for the next one
        self._forward_sync = is_grad_enabled() and self._sync
        if building():
            syncs = self._forward_sync
        elif self._forward_sync:
            self._backward_sync = True
        buffers = syncs and self._broadcast_buffers and self._group.size > 1
        src = 0
        if self._join is not None and not building() and (buffers or self._backward_sync):
            src = self._join_round(1 | 2 * buffers | 4 * self._backward_sync)
        if buffers:
            self._sync_buffers(src)

    # --- uneven inputs (PyTorch's join) ---
    @contextlib.contextmanager
    def join(self, divide_by_initial_world_size: bool = True, enable: bool = True,
             throw_on_early_termination: bool = False):
        """PyTorch's ``ddp.join()`` for ranks with different numbers of batches: a rank whose loop in the block
        ends first waits at its end, matching the others' steps with zero gradients, until every rank's loop has
        ended; then every rank gets the parameters (and buffers) of the last rank to finish. Gradients are divided
        by the job's number of ranks (``divide_by_initial_world_size``, as PyTorch's default: each example weighs
        the same) or, with False, by the number of ranks still training. ``throw_on_early_termination`` raises a
        RuntimeError on every rank once one has run out instead. Each synchronized forward in the block costs one
        small all-reduce more; eager steps only, without comm hooks or sparse gradients."""
        if not enable or self._group.size == 1:
            yield
            return
        if self._comm_hook is not None or any(bucket is None for bucket, _ in self._bucket_of.values()):
            raise NotImplementedError("DistributedDataParallel.join: not with a comm hook or sparse gradients; give "
                                      "every rank the same number of batches (DistributedSampler(drop_last=True))")
        self._join = _Join(divide_by_initial_world_size, throw_on_early_termination)
        try:
            yield
            self._shadow_until_all_joined()
        finally:
            self._join = None

    def _join_round(self, flags: int) -> int:
        """One round of the join protocol: every rank says whether it still trains (``flags`` 0 once it has run
        out; else bit 1 for a buffer broadcast and bit 2 for averaged gradients in this step); the last of them
        in rank order is the one whose buffers and final parameters the others take, as PyTorch's."""
        group, join = self._group, self._join
        mine = np.zeros(group.size, dtype=np.int64)
        mine[group.rank] = flags
        join.flags = group.iall_reduce_unchecked(mine, ReduceOp.SUM).result()
        training = np.flatnonzero(join.flags)
        if len(training):
            join.src = int(training[-1])
            join.scale = 1.0 if join.divide_by_world else group.size / len(training)
        if join.throw and 0 < len(training) < group.size:
            done = sorted(set(range(group.size)) - set(training.tolist()))
            raise RuntimeError(f"DistributedDataParallel.join: rank(s) {done} ran out of inputs before the others "
                               "(throw_on_early_termination=True)")
        return join.src

    def _shadow_until_all_joined(self) -> None:
        """Match the steps of the ranks still training (their buffer broadcast, unused-parameter search and
        bucket all-reduces) with zeros until none is; then take the last one's parameters and buffers."""
        while True:
            src = self._join_round(0)
            flags = self._join.flags
            if not flags.any():
                break
            if (flags & 2).any():
                self._sync_buffers(src)
            if (flags & 4).any():
                if self._find_unused:
                    self._group.all_reduce(np.zeros(len(self._bucket_of), dtype=np.uint8), ReduceOp.MAX)
                works = [self._group.iall_reduce_unchecked(np.zeros_like(b.flat), ReduceOp.AVG)
                         for b in self._buckets]
                for work in works:
                    work.wait()
        if self._join.src is not None:
            self._broadcast_state(self._join.src)

    @contextlib.contextmanager
    def no_sync(self):
        """The forwards run inside this block make backwards that accumulate local gradients without averaging
        them (the forward decides, as PyTorch's: a backward inside the block of a forward run outside it
        averages)."""
        previous = self._sync
        self._sync = False
        try:
            yield
        finally:
            self._sync = previous

    def _check_previous_step(self) -> None:
        ready = self._ready
        if ready and len(ready) < len(self._bucket_of):
            missing = [self._names[k] for k in self._bucket_of if k not in ready]
            ready.clear()
            for b in self._buckets:
                b.reset()
            self._next_bucket = 0
            raise RuntimeError(
                "DistributedDataParallel: the previous backward gave no gradient to parameter(s) "
                f"{missing}; every rank must use every parameter in each step (or set requires_grad=False on "
                "the unused ones)")

    def _grad_ready(self, param: Tensor) -> None:
        grad = param.grad
        if not self._backward_sync:
            return
        if (grad.values if grad.__class__ is RowSparse else grad).symbolic:
            if self._comm_hook is not None:
                raise NotImplementedError("DistributedDataParallel: a comm hook (register_comm_hook) runs in eager "
                                          "backward only; a traced step (ember.jit) would average without it")
            return  # (a graph value: ember.jit traces the step, and its data_parallel pass averages)
        if self._unused_pending:
            self._count_unused()
        key = id(param)
        if key in self._ready:
            return
        self._ready.add(key)
        bucket, i = self._bucket_of[key]
        if bucket is None:
            self._average_sparse(param)
        else:
            self._fill(bucket, i, param)
        for other in self._buckets:  # let MPI move data of buckets already in flight
            if other.work is not None:
                other.work.is_completed()
        if len(self._ready) == len(self._bucket_of):
            self._finish()

    def _fill(self, bucket: _Bucket, i: int, param: Tensor) -> None:
        grad = param.grad.to_dense() if param.grad.__class__ is RowSparse else param.grad
        bucket.flat[bucket.offsets[i] : bucket.offsets[i + 1]] = _host(grad.array).reshape(-1)
        self._count_in(bucket)

    def _count_in(self, bucket: _Bucket) -> None:
        bucket.pending -= 1
        if bucket.pending == 0:
            # the full buckets' all-reduces start in bucket order, as PyTorch's reducer starts them: MPI matches a
            # rank's collectives to the others' by their order, and backward may fill the buckets in another order
            # on another rank (the parameters find_unused_parameters marks ready at its first hook)
            buckets = self._buckets
            while self._next_bucket < len(buckets) and buckets[self._next_bucket].pending == 0:
                full = buckets[self._next_bucket]
                if self._comm_hook is None:
                    full.work = self._group.iall_reduce_unchecked(full.flat, ReduceOp.AVG)
                else:
                    full.future = self._run_comm_hook(full, self._next_bucket)
                self._next_bucket += 1

    def _run_comm_hook(self, bucket: _Bucket, index: int) -> Future:
        grad_bucket = GradBucket(index, Tensor._make(bucket.flat, None), bucket.params, bucket.offsets,
                                 index == len(self._buckets) - 1)
        with no_grad():
            future = self._comm_hook(self._comm_hook_state, grad_bucket)
        if not isinstance(future, Future):
            raise TypeError(f"register_comm_hook: the hook must return a dist.Future of the bucket's averaged "
                            f"gradients, got {type(future).__name__}")
        return future

    def _hooked_average(self, bucket: _Bucket) -> np.ndarray:
        """The flat averaged gradients a comm hook's Future holds (a tensor, or a list of one, as PyTorch takes)."""
        value = bucket.future.wait()
        if isinstance(value, (list, tuple)) and len(value) == 1:
            value = value[0]
        if not isinstance(value, Tensor) or value.array.size != bucket.flat.size:
            got = f"{type(value).__name__}{list(value.shape) if isinstance(value, Tensor) else ''}"
            raise ValueError(f"register_comm_hook: the hook's Future must hold a tensor of the bucket's "
                             f"{bucket.flat.size} gradients, got {got}")
        return _host(value.array).reshape(-1).astype(bucket.flat.dtype, copy=False)

    def _average_sparse(self, param: Tensor) -> None:
        """Row-sparse gradients stay sparse: collected here, every rank's rows gathered at the end of backward
        in three collectives for all tables together (PyTorch's DDP gathers sparse gradients too)."""
        self._sparse_ready.append(param)

    def _exchange_sparse(self) -> None:
        # in name order: every rank packs the tables alike, whatever order its backward reached them in
        params, self._sparse_ready = sorted(self._sparse_ready, key=lambda p: self._names[id(p)]), []
        grads = []
        for p in params:
            g = p.grad
            if g is None:  # (find_unused_parameters, no gradient accumulated) no rows from this rank
                rows = Tensor._make(np.zeros((0,) + tuple(p.shape[1:]), p.dtype), None)
                g = RowSparse(np.zeros(0, np.int64), rows, tuple(p.shape))
            elif g.__class__ is not RowSparse:  # a layer declared sparse gave a dense gradient this time
                p.grad = Tensor._make(self._group.all_reduce(g.array, ReduceOp.AVG), None)
                continue
            grads.append((p, g.coalesce()))
        if not grads:
            return
        group, size = self._group, self._group.size
        counts = np.array([len(g.indices) for _, g in grads], dtype=np.int64)
        indices = np.concatenate([_host(g.indices).astype(np.int64, copy=False) for _, g in grads])
        # the rows travel as bytes: tables of different dtypes share the message, each keeping its own
        values = np.concatenate([np.ascontiguousarray(_host(g.values.array)).reshape(-1).view(np.uint8)
                                 for _, g in grads])
        table_counts = group.all_gather(counts)  # (ranks, tables)
        all_indices, _ = group.all_gather_varying(indices)
        all_values, _ = group.all_gather_varying(values)
        widths = [int(np.prod(g.shape[1:], dtype=np.int64)) * g.values.array.dtype.itemsize for _, g in grads]
        index_at, value_at = 0, 0
        pieces = [([], []) for _ in grads]
        for rank in range(size):
            for t, (count, width) in enumerate(zip(table_counts[rank], widths)):
                pieces[t][0].append(all_indices[index_at : index_at + count])
                pieces[t][1].append(all_values[value_at : value_at + count * width])
                index_at += count
                value_at += count * width
        for (p, g), (idx, vals) in zip(grads, pieces):
            if id(p) in self._unused and id(p) not in self._used_anywhere:
                continue  # no rank used it: its .grad stays as it was
            rows = np.concatenate(vals).view(g.values.array.dtype).reshape((-1,) + tuple(g.shape[1:]))
            rows = rows / rows.dtype.type(size)
            idx = np.concatenate(idx)
            if p.array.__class__ is not np.ndarray:
                idx, rows = _device_like(idx, p.array), _device_like(rows, p.array)
            p.grad = RowSparse(idx, Tensor._make(rows, None), g.shape)

    def _finish(self) -> None:
        self._exchange_sparse()
        unused, used_anywhere = self._unused, self._used_anywhere
        scale = 1.0 if self._join is None else self._join.scale  # join(divide_by_initial_world_size=False)
        for bucket in self._buckets:
            averaged = bucket.work.result() if bucket.future is None else self._hooked_average(bucket)
            for p, start, stop in zip(bucket.params, bucket.offsets, bucket.offsets[1:]):
                if unused and id(p) in unused and id(p) not in used_anywhere:
                    continue  # no rank used it: its .grad stays as it was, as PyTorch's
                values = averaged[start:stop].reshape(p.shape)
                if scale != 1.0:
                    values = values * values.dtype.type(scale)
                if p.array.__class__ is not np.ndarray:
                    values = _device_like(values, p.array)
                p.grad = Tensor._make(values, None)
            bucket.reset()
        self._next_bucket = 0
        self._ready.clear()
        self._unused = set()
        self._backward_sync = False


class _Join:
    """What ``DistributedDataParallel.join`` knows: its options, and the last round's flags, rank to copy from
    and gradient scale."""

    def __init__(self, divide_by_world: bool, throw: bool):
        self.divide_by_world, self.throw = divide_by_world, throw
        self.flags, self.src, self.scale = None, None, 1.0


_CARRIED = FLOATING | {bool_, uint8, int16, int32}  # exact in float64
_HALF_WORD = 2**32


def _broadcast_flat(buffers: list, parts: list, unpack) -> None:
    """Broadcast ``parts`` (flat, one dtype, ``len(parts[i])`` a multiple of buffer i's size) from rank 0 in
    one message, and assign ``unpack(buffer, its part)`` into each buffer."""
    shared = collectives.broadcast(parts[0] if len(parts) == 1 else concat(parts, axis=0), 0)
    start = 0
    for b, part in zip(buffers, parts):
        size = int(part.shape[0])
        assign(b, reshape(unpack(b, shared[start : start + size]), tuple(b.shape)))
        start += size


def _broadcast_as_float64(buffers: list) -> None:
    def pack(b):
        flat = reshape(b, (-1,))
        if b.dtype != np.int64:
            return cast(flat, np.float64)
        high = flat // _HALF_WORD  # floor division: the low part is in [0, 2^32)
        return concat([cast(high, np.float64), cast(flat - high * _HALF_WORD, np.float64)], axis=0)

    def unpack(b, part):
        if b.dtype != np.int64:
            return cast(part, b.dtype)
        size = int(part.shape[0]) // 2
        return cast(part[:size], np.int64) * _HALF_WORD + cast(part[size:], np.int64)

    _broadcast_flat(buffers, [pack(b) for b in buffers], unpack)


def _tensors(out) -> list:
    """The Tensors in a forward's result (nested in tuples, lists and dicts)."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _tensors(o)]
    return []


def _sparse_parameters(module: Module) -> set:
    """ids of the parameters whose layers produce row-sparse gradients (``sparse=True`` embeddings, and
    hash-table handles, whose rows live outside ``.array``)."""
    found = {id(p) for p in module.parameters() if hasattr(p, "apply_sparse_update")}
    for m in module.modules():
        if getattr(m, "sparse", False) is True:
            found.update(id(p) for p in m.parameters(recurse=False))
    return found


def _sharded_parameters(module: Module) -> set:
    """ids of the parameters of sharded modules: each rank holds different rows, so they are not averaged."""
    return {id(p) for m in module.modules() if getattr(m, "sharded", False) is True for p in m.parameters()}


def _buffer_slots(module: Module) -> list:
    """(dotted name, module, key) of every buffer slot whose buffer rank 0 shares: all but those of sharded
    modules (and their submodules), which each rank keeps for its own rows."""
    own = {id(m) for s in module.modules() if getattr(s, "sharded", False) is True for m in s.modules()}
    return [(f"{prefix}.{key}" if prefix else key, m, key) for prefix, m in module.named_modules()
            if id(m) not in own for key in m._buffers]


def _host(array) -> np.ndarray:
    return array if array.__class__ is np.ndarray else array.get()


def _device_like(values: np.ndarray, like):
    from ember.backend.devices import array_module

    return array_module(like).asarray(values)
