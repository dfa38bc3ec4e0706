"""Groups of some of the job's ranks (``new_group``), and the translation between job ranks and group ranks.

PyTorch's calls name ranks by their job rank (``src``, ``dst``, ``peer``), or by their rank in the group with
``group_src`` / ``group_dst`` / ``group_peer``; a ``ProcessGroup``'s methods take group ranks.
"""

from __future__ import annotations

import warnings

from ember.distributed.group import (
    NON_GROUP_MEMBER,
    ProcessGroup,
    _seconds,
    _subgroups,
    default_group,
    is_initialized,
)


class _WorldLookup(type):
    @property
    def WORLD(cls):  # noqa: N802 (PyTorch's name)
        return default_group() if is_initialized() else None


class GroupMember(metaclass=_WorldLookup):
    """PyTorch's ``dist.GroupMember``: ``WORLD`` (the default group, None before ``init_process_group``) and
    ``NON_GROUP_MEMBER``."""

    NON_GROUP_MEMBER = NON_GROUP_MEMBER


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization: bool = False,
              group_desc=None, device_id=None, sort_ranks: bool = True):
    """A group of the job ranks ``ranks`` (every rank when None), numbered in increasing job rank. Every rank of
    the job must call it, members or not (as PyTorch without ``use_local_synchronization``); a rank outside
    gets ``GroupMember.NON_GROUP_MEMBER``. ``timeout`` bounds the group's waits (the job's by default)."""
    world = default_group()
    if use_local_synchronization:
        raise ValueError("new_group: use_local_synchronization=True is not supported; every rank of the job calls "
                         "new_group")
    if backend is not None and str(backend).lower() not in ("mpi", "gloo", "nccl"):
        raise ValueError(f"new_group: backend must be one of 'mpi', 'gloo', 'nccl' (or None), got {backend!r}")
    members = list(range(world.size)) if ranks is None else [int(r) for r in ranks]
    if len(set(members)) != len(members) or any(not 0 <= r < world.size for r in members):
        raise ValueError(f"new_group: ranks must be distinct ranks of the job's {world.size}, got {list(ranks)}")
    if not sort_ranks and members != sorted(members):
        raise ValueError(f"new_group: ranks {members} are numbered in increasing job rank here; pass them sorted")
    group = world.split_by(world.rank in members)
    if group is None:
        return GroupMember.NON_GROUP_MEMBER
    if timeout is not None:
        group.timeout = _seconds(timeout, "new_group")
    _subgroups.add(group)
    return group


def resolve(group, what: str) -> ProcessGroup | None:
    """The group a call runs on (the default one for None); None, with PyTorch's warning, where this rank is
    not a member of ``group``."""
    if group is None:
        return default_group()
    if group is GroupMember.NON_GROUP_MEMBER:
        warnings.warn(f"{what}: this rank is not a member of the group; the call does nothing", stacklevel=3)
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"{what}: group must be a ProcessGroup from init_process_group or new_group, got "
                        f"{type(group).__name__}")
    return group


def group_rank(group: ProcessGroup, what: str, name: str, rank: int | None, in_group: int | None,
               default: int | None = 0) -> int:
    """The rank in ``group`` that a call names, by job rank (``rank``) or by group rank (``in_group``)."""
    if rank is not None and in_group is not None:
        raise ValueError(f"{what}: give {name} or group_{name}, not both")
    if in_group is not None:
        if not 0 <= in_group < group.size:
            raise ValueError(f"{what}: group_{name}={in_group} is outside the group of {group.size}")
        return int(in_group)
    if rank is None:
        if default is None:
            raise ValueError(f"{what}: give {name} (a job rank) or group_{name}")
        rank = group.ranks[default]
    return get_group_rank(group, rank, what)


def check_not_self(group: ProcessGroup, what: str, role: str, rank: int) -> None:
    """PyTorch's refusal of a message to or from this rank itself (``rank`` in the group)."""
    if rank == group.rank:
        raise ValueError(f"{what}: the {role} rank {group.ranks[rank]} is this process's own rank; a message goes "
                         "to another rank")


def _member_of(group, what: str) -> ProcessGroup:
    """The group a rank lookup names (the default one for None); refused on a rank outside it, which has no
    handle on it to look up."""
    if group is GroupMember.NON_GROUP_MEMBER:
        raise ValueError(f"{what}: this rank is not a member of the group (new_group gave it "
                         "GroupMember.NON_GROUP_MEMBER), so it cannot look up the group's ranks")
    g = resolve(group, what)
    g._check_alive(what)
    return g


def get_process_group_ranks(group) -> list:
    """The job ranks of ``group``'s members, in group rank order (every rank for None)."""
    return list(_member_of(group, "get_process_group_ranks").ranks)


def get_global_rank(group, group_rank: int) -> int:
    """The job rank of ``group``'s member ``group_rank``."""
    g = _member_of(group, "get_global_rank")
    if not 0 <= group_rank < g.size:
        raise ValueError(f"get_global_rank: group rank {group_rank} is outside the group of {g.size}")
    return g.ranks[group_rank]


def get_group_rank(group, global_rank: int, what: str = "get_group_rank") -> int:
    """The rank in ``group`` of the job's rank ``global_rank``."""
    g = _member_of(group, what)
    try:
        return g.ranks.index(int(global_rank))
    except ValueError:
        raise ValueError(f"{what}: rank {global_rank} is not a member of the group (its ranks are "
                         f"{list(g.ranks)})") from None
