"""``ember.tune_malloc``: a training loop's large arrays come back from the process's heap, not as fresh
mappings faulted in page by page, also past the 32 MiB where glibc's mmap threshold stops. Each case runs in
its own process: the settings are the whole process's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings (Linux)")

# Page faults per step of a loop that allocates, fills and frees a 48 MiB array and a 4 MiB one, as a step's
# activations are: a fresh mapping faults every page in again (12,288 pages of 4 KiB, or 24 huge pages where
# the kernel backs NumPy's large arrays with them, each zeroed on its fault).
SCRIPT = """
import resource, numpy as np, ember
print(ember.tune_malloc())
def step():
    big = np.ones(12 << 20, np.float32)
    small = np.ones(1 << 20, np.float32)
    return float(big[-1] + small[-1])
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 10)
"""


def _faults_per_step(tuning: str) -> tuple[str, int]:
    env = dict(os.environ, EMBER_MALLOC_TUNING=tuning)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True, capture_output=True, text=True,
                         timeout=120).stdout.split()
    return out[0], int(out[1])


def test_arrays_past_32_mib_are_reused_from_the_heap():
    applied, faults = _faults_per_step("1")
    assert applied == "True"
    assert faults <= 5


def test_turned_off_leaves_malloc_alone():
    applied, faults = _faults_per_step("0")
    assert applied == "False"
    assert faults >= 24  # the 48 MiB array mapped afresh on every step
