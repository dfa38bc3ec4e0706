"""Parameter-server mode: embedding rows live on server ranks; workers pull the rows of a batch and push
their gradients back, and the servers run the sparse optimizer.

Start a job with ``ember launch -n N --servers K``: the last K ranks are servers. Every rank builds the
same model; ``PSEmbedding`` layers hold a local ``HashEmbedding`` shard on each server (rows by id hash)
and nothing on workers. Servers then call ``serve(optimizer)`` and workers train; dense parameters are
averaged among the workers (``DistributedDataParallel(model, group=dist.ps.worker_group())``).

- **Synchronous** (``staleness=0``, the default): a server applies step t once every worker has pushed it,
  with the mean of their gradients, and answers pulls of step t+1 only after that; the i-th training lookup
  of a step is answered once every worker has made its own (all run the same model), counted together:
  training equals one process on the global batch, admission policies included.
- **Asynchronous** (``staleness=s > 0``): a push is applied as it arrives; a pull of step t waits only while
  some worker is more than ``s`` steps behind.

``prefetch(ids)`` asks for the rows of the next training lookup while the current step still runs.
"""

from __future__ import annotations

import atexit
import time

import numpy as np

from ember.autograd import is_grad_enabled, no_grad
from ember.distributed.group import DistributedError, ProcessGroup, default_group
from ember.distributed.placement import agree_on_table, keep_owned_rows, replace_hash_embeddings, table_settings
from ember.distributed.sharded import shard_of
from ember.embedding.hashing import as_keys
from ember.embedding.layers import HashEmbedding
from ember.embedding.lookup import lookup
from ember.nn.module import Module
from ember.ops.convert import cast
from ember.ops.indexing import take
from ember.ops.shape import reshape
from ember.tensor import Tensor

_PULL, _PUSH, _STOP, _READ = 1, 2, 3, 4
_REQUEST_TAG = 7000
_ROWS_TAG = 7100

_tables: list = []  # PSEmbedding layers in creation order: the same order on every rank
_in_flight: list = []  # this worker's requests not yet known to be delivered
_channel: ProcessGroup | None = None
_workers_group: ProcessGroup | None = None
_stopped = False


def server_ranks() -> list[int]:
    """The ranks that hold table shards (the last ``EMBER_NUM_SERVERS``)."""
    group = default_group()
    return list(range(group.size - group.world.num_servers, group.size))


def worker_ranks() -> list[int]:
    """The ranks that run the model."""
    return list(range(default_group().size - default_group().world.num_servers))


def is_server() -> bool:
    """Whether this rank is a parameter server."""
    return default_group().rank in server_ranks()


def _channel_group() -> ProcessGroup:
    global _channel
    if _channel is None:
        if not server_ranks():
            raise RuntimeError("PSEmbedding: the job has no server ranks; start it with ember launch --servers K")
        _channel = default_group().split()  # a collective: every rank builds the same PSEmbedding layers
    return _channel


def worker_group() -> ProcessGroup | None:
    """A process group of the worker ranks only (None on servers), for averaging dense gradients; a
    collective call: every rank must make it."""
    global _workers_group
    group = default_group()
    if _workers_group is None:
        _workers_group = group.split_by(group.rank in worker_ranks())
    return _workers_group


class PSEmbedding(Module):
    """An embedding table kept on the parameter servers, keyed by unbounded int64 ids (or strings).

    ``emb(ids)`` on a worker pulls the rows of ``ids`` and returns ``ids.shape + (embedding_dim,)``. A step
    is the training lookups of one batch (one or several) and one backward: when every lookup has its
    gradient, the worker pushes one summed gradient per key. As a ``HashEmbedding``'s, a lookup in training mode
    (under ``no_grad()`` too) admits, creates and counts rows, so every worker must make it; in evaluation mode
    unseen ids read the default value. Rows are float32, or the model's dtype once it is cast (``model.double()``),
    as a ``HashEmbedding``'s. Keyword arguments go to the servers' ``HashEmbedding`` shards (``seed``,
    ``initializer``, ``admission``...), alike on every rank: construction checks that the ranks agree (a
    ValueError naming the setting) and the servers take the first server's seeds where they were drawn.

    >>> emb = dist.ps.PSEmbedding(16, seed=0)
    >>> if dist.ps.is_server(): dist.ps.serve(lambda params: ember.optim.Adagrad(params, lr=0.05))
    """

    distributed_table = True

    def __init__(self, embedding_dim: int, **shard_options) -> None:
        super().__init__()
        if is_server():
            shard = HashEmbedding(embedding_dim, **shard_options)
            settings = table_settings(shard)
        else:  # described by an empty table of the same options (no seed drawn, no storage directory claimed)
            shard = None
            options = {k: v for k, v in shard_options.items() if k != "storage_dir"}
            options["seed"] = 0 if options.get("seed") is None else options["seed"]
            settings = table_settings(HashEmbedding(embedding_dim, **options))
            settings["seed"] = shard_options.get("seed")
        agree_on_table(shard, settings, default_group(), "PSEmbedding")
        self._register(int(embedding_dim), shard)

    @classmethod
    def from_embedding(cls, embedding: HashEmbedding) -> PSEmbedding:
        """Move an existing ``HashEmbedding``, which every rank holds alike (a freshly built model, or one
        loaded from the same checkpoint), to the servers: each server keeps the rows it owns (with their
        optimizer slots) and serves them; workers keep nothing. Its initializer, seed and policies stay."""
        if not isinstance(embedding, HashEmbedding):
            raise TypeError(f"PSEmbedding.from_embedding: expected a HashEmbedding, got {type(embedding).__name__}")
        agree_on_table(embedding, table_settings(embedding), default_group(), "PSEmbedding.from_embedding")
        layer = cls.__new__(cls)
        Module.__init__(layer)
        shard = None
        if is_server():
            index, count = server_ranks().index(default_group().rank), len(server_ranks())
            shard = keep_owned_rows(embedding, lambda keys: shard_of(keys, count) == index)
        layer._register(int(embedding.embedding_dim), shard)
        return layer

    def _register(self, embedding_dim: int, shard: HashEmbedding | None) -> None:
        self.embedding_dim = embedding_dim
        self.table_id = len(_tables)
        _tables.append(self)
        self._channel = _channel_group()
        self.shard = shard
        self._step = 0
        self._lookups = 0  # training lookups in this step
        self._reported: list = []  # (keys, gradients) of those whose gradients have arrived
        self._prefetched = None
        # the dtype of the rows a lookup returns: float32, or what a cast of the model (double(), half()) makes it,
        # as a HashEmbedding's rows follow its cast handle; empty, and out of the state dict
        self.register_buffer("rows_dtype", Tensor._make(np.zeros(0, np.float32), None), persistent=False)

    def extra_repr(self) -> str:
        return f"{self.embedding_dim}, servers={server_ranks()}"

    # --- worker side ---
    def _requests(self, keys: np.ndarray, kind: int, step: int, values: np.ndarray | None = None) -> list:
        """Send each server its part of ``keys`` (with ``values``: a push's gradients, or a pull's lookup
        counts, one per key); returns each server's mask of the keys."""
        servers = server_ranks()
        owner = shard_of(keys, len(servers))
        sent = []
        for i, server in enumerate(servers):
            mine = owner == i
            payload = (kind, self.table_id, step, keys[mine], None if values is None else values[mine])
            # non-blocking: a server busy sending rows never waits on a worker busy sending a push
            _in_flight.append(self._channel.comm.isend(payload, dest=server, tag=_REQUEST_TAG))
            sent.append(mine)
        _settle(_in_flight)
        return sent

    def _gather(self, keys: np.ndarray, parts: list) -> tuple[np.ndarray, np.ndarray]:
        """The rows of ``keys`` from the servers, and which keys have a row (the others, kept out by the admission
        policy, read the default value)."""
        rows = np.empty((keys.size, self.embedding_dim), np.float32)
        found = np.ones(keys.size, bool)
        for server, mine in zip(server_ranks(), parts):
            rows[mine], kept = _receive_object(self._channel, server, _ROWS_TAG + self.table_id, "PSEmbedding pull")
            if kept is not None:
                found[mine] = kept
        return rows, found

    def prefetch(self, ids) -> None:
        """Ask the servers now for the rows of the next training lookup, of ``ids`` (the next step's first). Its
        pull counts the lookups of ``ids`` as that lookup's would, so the next training lookup must be of these ids
        (one of other ids is a RuntimeError, as is a further training lookup of the step in progress: call it after
        the step's last lookup); evaluation lookups before it are answered as usual."""
        if self.shard is not None:
            raise RuntimeError("PSEmbedding.prefetch: called on a server rank")
        if self._prefetched is not None:
            raise RuntimeError(f"PSEmbedding.prefetch: the rows of the previous prefetch() ({self._prefetched[0].size} "
                               "distinct ids) are not looked up yet; its pull counted them as the next training "
                               "lookup's, so make that lookup before prefetching again")
        keys, lookups = np.unique(as_keys(ids, "PSEmbedding.prefetch: ids").reshape(-1), return_counts=True)
        step = self._step + (1 if self._lookups else 0)
        # [keys, requests, the rows once received, the step of the lookup it stands for]
        self._prefetched = [keys, self._requests(keys, _PULL, step, lookups), None, step]

    def forward(self, ids) -> Tensor:
        if self.shard is not None:
            raise RuntimeError("PSEmbedding: a server rank does not run the model; call dist.ps.serve()")
        keys = as_keys(ids, "PSEmbedding: ids")
        # each distinct key goes with how often this lookup reads it: the server's admission policy and lookup
        # counts see every lookup, as one table does
        unique, inverse, lookups = np.unique(keys.reshape(-1), return_inverse=True, return_counts=True)
        # in training mode a lookup admits, creates and counts rows as one table's does, with gradients or not
        # (every worker makes it); only one that records gradients is part of the step's push
        insert = self.training
        training = insert and is_grad_enabled()
        if training and self._reported:
            raise RuntimeError(f"PSEmbedding: the backward of step {self._step} gave gradients to "
                               f"{len(self._reported)} of its {self._lookups} training lookups; each lookup of a "
                               "step needs its gradient before the next step's lookups")
        prefetched = self._prefetched
        if prefetched is not None and not insert:
            # an evaluation read: the prefetched rows arrive first; keep them for the lookup they were asked for
            if prefetched[2] is None:
                prefetched[2] = self._gather(prefetched[0], prefetched[1])
            prefetched = None
        if prefetched is not None:
            if prefetched[3] != self._step:
                raise RuntimeError(f"PSEmbedding: training lookup {self._lookups + 1} of step {self._step} after a "
                                   f"prefetch() made during the step, which asked for the rows of step "
                                   f"{prefetched[3]}'s first lookup: a synchronous server answers that pull only once "
                                   f"step {self._step} is pushed, so it cannot serve this lookup; prefetch after the "
                                   "step's last lookup (the next step's ids)")
            if not np.array_equal(prefetched[0], unique):
                raise RuntimeError(f"PSEmbedding: a training lookup of {unique.size} distinct ids other than the "
                                   f"{prefetched[0].size} given to prefetch(), whose pull counted them as this "
                                   "lookup's (admission, lookup counts); prefetch the ids of the next training lookup")
            received = prefetched[2]  # (its pull counted the prefetched ids' lookups)
            values, found = received if received is not None else self._gather(prefetched[0], prefetched[1])
            self._prefetched = None
        else:
            parts = self._requests(unique, _PULL if insert else _READ, self._step, lookups if insert else None)
            values, found = self._gather(unique, parts)
        rows = Tensor(values, requires_grad=training)
        if training:  # a step may look rows up several times (fields, then bags): one push when all are back
            self._lookups += 1
            rows.register_post_accumulate_grad_hook(lambda leaf: self._gradient_arrived(unique, found, leaf))
        out = reshape(take(rows, inverse.reshape(-1), axis=0), tuple(keys.shape) + (self.embedding_dim,))
        dtype = self.rows_dtype.array.dtype
        return out if dtype == np.float32 else cast(out, dtype)  # the cast's gradient comes back in float32

    def _gradient_arrived(self, keys: np.ndarray, found: np.ndarray, leaf: Tensor) -> None:
        # a key this lookup read no row for has no gradient from it, as in one table: a later lookup of the step
        # may have admitted it, and its push must not carry this lookup's gradient to that row
        grads = leaf.grad.numpy()
        self._reported.append((keys, grads) if found.all() else (keys[found], grads[found]))
        if len(self._reported) < self._lookups:
            return
        if len(self._reported) == 1:
            keys, grads = self._reported[0]
        else:  # the step's lookups met some keys more than once: one summed gradient per key
            keys, inverse = np.unique(np.concatenate([k for k, _ in self._reported]), return_inverse=True)
            grads = np.zeros((keys.size, self.embedding_dim), np.float32)
            np.add.at(grads, inverse.reshape(-1), np.concatenate([g for _, g in self._reported]))
        self._requests(keys, _PUSH, self._step, np.ascontiguousarray(grads, dtype=np.float32))
        self._step += 1
        self._lookups = 0
        self._reported = []


def place_embeddings(module: Module) -> Module:
    """Move every ``HashEmbedding`` inside ``module`` to the servers (``PSEmbedding.from_embedding``), in
    place; returns ``module`` (or the ``PSEmbedding`` when ``module`` is a ``HashEmbedding``). A collective
    call: every rank, workers and servers, calls it on the same model before building optimizers.

    >>> model = dist.ps.place_embeddings(ember.recsys.DeepFM(26, 13, embedding_dim=16))
    >>> if dist.ps.is_server(): dist.ps.serve(lambda params: ember.optim.Adagrad(params, lr=0.05))
    """
    return replace_hash_embeddings(module, PSEmbedding.from_embedding, "dist.ps.place_embeddings")


def _settle(requests: list) -> None:
    """Drop the requests that have completed (keeps the list short; MPI progresses them as it is asked)."""
    requests[:] = [r for r in requests if not r.Test()]


def _receive_object(channel: ProcessGroup, peer: int, tag: int, what: str):
    """The next object ``peer`` sends with ``tag``, waiting at most the channel's timeout. A matched probe
    sizes the receive from the message (an ``irecv`` without a buffer holds only 32 KiB)."""
    deadline = time.monotonic() + channel.timeout
    spins = 0
    while True:
        message = channel.comm.improbe(source=peer, tag=tag)
        if message is not None:
            return message.recv()
        if time.monotonic() > deadline:
            channel.broken = True
            raise DistributedError(f"{what}: no answer from server rank {peer} within {channel.timeout:g} s (a "
                                   "synchronous server answers a step's lookup once every worker has made it)")
        spins += 1
        time.sleep(0 if spins < 200 else 0.0002)


def shutdown() -> None:
    """Tell the servers this worker is done (also run at exit); servers return from ``serve`` when every
    worker has."""
    global _stopped
    if _stopped or _channel is None or is_server():
        return
    _stopped = True
    for server in server_ranks():
        # synchronous: returns once the server has it, and with it every earlier request (MPI keeps order)
        _channel.comm.ssend((_STOP, -1, -1, None, None), dest=server, tag=_REQUEST_TAG)
    for request in _in_flight:
        request.Wait()
    _in_flight.clear()


atexit.register(shutdown)


class _ServedTable:
    """A server's shard of one table and the bookkeeping of the workers' steps."""

    def __init__(self, layer: PSEmbedding, optimizer, workers: int, staleness: int):
        self.shard = layer.shard
        self.optimizer = optimizer
        self.staleness = staleness
        self.pushed = dict.fromkeys(range(workers), 0)  # steps each worker has pushed
        self.pending: dict = {}  # step -> [(worker, keys, grads)] waiting for the other workers (synchronous)
        self.applied = 0  # steps fully applied (synchronous)
        self.waiting: list = []  # pulls that must wait: (worker, step, keys, insert, lookups)
        self.rounds: dict = {}  # step -> {worker: [(keys, lookups)]}: training pulls not yet answered (synchronous)
        self.workers = workers

    def ready(self, worker: int, step: int) -> bool:
        """Whether a pull of ``step`` from ``worker`` may be answered: synchronous, once every step before it
        is applied; asynchronous, once the worker's own pushes before it are (a prefetch arrives ahead of
        the push of the step before) and no worker is more than ``staleness`` steps behind."""
        if self.staleness == 0:
            return self.applied >= step
        return self.pushed[worker] >= step and min(self.pushed.values()) >= step - self.staleness

    def rows(self, keys: np.ndarray, insert: bool, lookups: np.ndarray | None = None) -> tuple:
        """The rows of ``keys``, and (a training pull) which keys have one."""
        if insert:  # a training pull: admits and counts ``lookups`` lookups of each key
            table = self.shard.weight.table
            unique, inverse = table.lookup_unique(keys, True, lookups)
            return table.read(unique)[inverse], unique[inverse] >= 0
        with no_grad():
            self.shard.eval()
            try:
                return self.shard(keys).array, None
            finally:
                self.shard.train()

    def apply(self, keys: np.ndarray, grads: np.ndarray) -> None:
        # the rows the pulls found or made; no lookup is counted again, and a key the admission policy kept out
        # (its pull read the default value) gets no row and no update. A step without keys on this shard still
        # steps the optimizer, as one table's would (SparseAdam's bias correction counts every step)
        out = lookup(self.shard.weight, keys, False)
        out.backward(Tensor(grads / np.float32(self.workers)))
        self.optimizer.step()
        self.optimizer.zero_grad()

    def pull(self, worker: int, step: int, keys: np.ndarray, lookups: np.ndarray) -> None:
        """Take a training pull; synchronous, it waits for the same lookup of the step from every worker."""
        if self.staleness > 0:
            self.waiting.append((worker, step, keys, True, lookups))
        else:
            self.rounds.setdefault(step, {}).setdefault(worker, []).append((keys, lookups))

    def answers(self) -> list:
        """The pulls that may be answered now, as ``(worker, (rows, found))``. Synchronous, the i-th training
        lookup of a step is answered once every worker has sent its own: one lookup of all their keys counts them
        together, so an admission policy admits (and every worker reads) the rows one table looking up the global
        batch would, whichever worker's pull came first."""
        answers, still = [], []
        for worker, step, keys, insert, lookups in self.waiting:
            if self.ready(worker, step):
                answers.append((worker, self.rows(keys, insert, lookups)))
            else:
                still.append((worker, step, keys, insert, lookups))
        self.waiting = still
        for step in sorted(self.rounds):
            pulls = self.rounds[step]
            if self.applied < step:  # (the steps before it are not all applied yet)
                break
            while len(pulls) == self.workers and all(pulls.values()):
                workers = sorted(pulls)
                batch = [pulls[w].pop(0) for w in workers]
                rows, found = self.rows(np.concatenate([k for k, _ in batch]), True,
                                        np.concatenate([c for _, c in batch]))
                ends = np.cumsum([k.size for k, _ in batch])[:-1]
                answers.extend(zip(workers, zip(np.split(rows, ends), np.split(found, ends))))
        self.rounds = {step: pulls for step, pulls in self.rounds.items() if any(pulls.values())}
        return answers

    def push(self, worker: int, step: int, keys: np.ndarray, grads: np.ndarray) -> None:
        self.pushed[worker] = step + 1
        if self.staleness > 0:
            self.apply(keys, grads)
            return
        self.pending.setdefault(step, []).append((worker, keys, grads))
        while len(self.pending.get(self.applied, ())) == self.workers:
            batch = sorted(self.pending.pop(self.applied), key=lambda push: push[0])  # arrival order varies
            self.apply(np.concatenate([k for _, k, _ in batch]), np.concatenate([g for _, _, g in batch]))
            self.applied += 1


def serve(optimizer_factory, staleness: int = 0) -> None:
    """Run this server rank until every worker has called ``shutdown`` (or exited). ``optimizer_factory``
    makes the sparse optimizer of each table shard from its parameters, e.g.
    ``lambda params: ember.optim.Adagrad(params, lr=0.05)``."""
    if not is_server():
        raise RuntimeError("dist.ps.serve: this rank is a worker; only the last --servers ranks serve")
    if staleness < 0:
        raise ValueError(f"dist.ps.serve: staleness must be >= 0, got {staleness}")
    channel = _channel_group()
    workers = worker_ranks()
    tables = [_ServedTable(t, optimizer_factory(t.shard.parameters()), len(workers), staleness) for t in _tables]
    active = set(workers)
    sending: list = []  # rows on their way to workers (non-blocking, so no worker-server send cycle can block)
    status = _status()
    while active:
        spins = 0
        while not channel.comm.Iprobe(source=_any_source(), tag=_REQUEST_TAG, status=status):
            _settle(sending)
            spins += 1
            time.sleep(0 if spins < 200 else 0.0002)
        worker = status.Get_source()
        kind, table_id, step, keys, grads = channel.comm.recv(source=worker, tag=_REQUEST_TAG)
        if kind == _STOP:
            active.discard(worker)
            continue
        table = tables[table_id]
        if kind == _PUSH:
            table.push(worker, step, keys, grads)
        elif kind == _PULL:
            table.pull(worker, step, keys, grads)  # with the lookup count of each key
        else:  # a read (evaluation) answers once the steps it must see are applied
            table.waiting.append((worker, step, keys, False, None))
        for worker_rank, rows in table.answers():
            sending.append(channel.comm.isend(rows, dest=worker_rank, tag=_ROWS_TAG + table_id))
    for request in sending:
        request.Wait()


def _any_source() -> int:
    from mpi4py import MPI

    return MPI.ANY_SOURCE


def _status():
    from mpi4py import MPI

    return MPI.Status()
