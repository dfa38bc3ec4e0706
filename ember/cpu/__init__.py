"""``torch.cpu``: the CPU as a device module beside ``ember.cuda`` (one device, always there), and the old
``torch.cpu.amp`` path to mixed precision."""

from __future__ import annotations

from ember.cpu import amp

__all__ = ["amp", "current_device", "device_count", "is_available", "set_device", "synchronize"]


def is_available() -> bool:
    """True: Ember always runs on the CPU."""
    return True


def device_count() -> int:
    """1: the CPU is one device, however many cores it has."""
    return 1


def current_device() -> str:
    return "cpu"


def set_device(device) -> None:
    """Accepted for "cpu" (the only CPU device)."""
    if str(device) not in ("cpu", "cpu:0", "0"):
        raise ValueError(f"cpu.set_device: the CPU is one device, 'cpu'; got {device!r}")


def synchronize(device=None) -> None:
    """Nothing to wait for: CPU ops have finished when they return."""
