"""Where this process sits in a job: rank, world size, local rank and role, read from the launcher's environment.

Ember's own variables come first (``EMBER_RANK``, ``EMBER_WORLD_SIZE``, ``EMBER_LOCAL_RANK``, ``EMBER_NUM_SERVERS``),
then MPICH/Hydra (``PMI_*``), Open MPI (``OMPI_COMM_WORLD_*``), SLURM (``SLURM_PROCID``...) and torchrun
(``RANK``/``WORLD_SIZE``). Without any of them the process is rank 0 of a world of one.
"""

from __future__ import annotations

import os
from typing import NamedTuple

_SOURCES = (
    ("EMBER_RANK", "EMBER_WORLD_SIZE", "EMBER_LOCAL_RANK"),
    ("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
    ("RANK", "WORLD_SIZE", "LOCAL_RANK"),
)

WORKER = "worker"
SERVER = "server"


class World(NamedTuple):
    """This process's place in the job."""

    rank: int
    world_size: int
    local_rank: int
    num_servers: int

    @property
    def role(self) -> str:
        """``"server"`` for the last ``num_servers`` ranks (parameter-server mode), else ``"worker"``."""
        return SERVER if self.rank >= self.world_size - self.num_servers else WORKER


def _int(environ, key: str) -> int:
    try:
        return int(environ[key])
    except ValueError as exc:
        raise ValueError(f"environment variable {key}={environ[key]!r} is not an integer") from exc


def world_from_env(environ=None) -> World:
    """The launcher's rank, world size, local rank and server count (rank 0 of 1 when nothing is set)."""
    environ = os.environ if environ is None else environ
    rank, size, local = 0, 1, 0
    for rank_key, size_key, local_key in _SOURCES:
        if rank_key in environ and size_key in environ:
            rank, size = _int(environ, rank_key), _int(environ, size_key)
            local = _int(environ, local_key) if local_key in environ else rank
            break
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f"launcher environment gives rank {rank} of a world of {size}")
    servers = _int(environ, "EMBER_NUM_SERVERS") if "EMBER_NUM_SERVERS" in environ else 0
    if not 0 <= servers < size or (servers and size - servers < 1):
        raise ValueError(f"EMBER_NUM_SERVERS={servers} must leave at least one worker in a world of {size}")
    return World(rank, size, local, servers)
