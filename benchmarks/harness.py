"""Timing harness: Ember and its baselines timed in one process, reported as ratios.

One "step" is a callable; each framework's step runs interleaved rounds so machine noise hits them alike, in
an order that rotates from round to round (no framework always follows the same one). Per round: warm up, time
steps for about ``seconds`` seconds, take the median; the figure is the median of the round medians.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable


def machine_line() -> str:
    """The CPU model, its vector flags and the BLAS kernel in use: ratios only mean something beside them."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except OSError:
        text = ""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    flags = set(fields.get("Flags", "").split())
    wanted = [f for f in ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16") if f in flags]
    model = fields.get("Model name", "unknown CPU").strip()
    line = f"{model}, {os.cpu_count()} CPUs, flags: {' '.join(wanted) or 'none'}; {_onednn_state()}"
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return line
    blas = [f"{i['internal_api']} {i.get('version') or ''} {i.get('architecture') or ''} kernel, "
            f"{i['num_threads']} threads" for i in threadpool_info() if i.get("user_api") == "blas"]
    return line + "".join(f"; {b}" for b in blas)


def _onednn_state() -> str:
    from ember.backend import onednn

    if not onednn.enabled():
        return "convolutions on NumPy (oneDNN " + ("off)" if onednn.available() else "not installed)")
    kernel = onednn.implementation("forward", (64, 16, 12, 12), (16, 16, 3, 3), (64, 16, 10, 10), (1, 1), (0, 0),
                                   (1, 1))
    return f"convolutions on oneDNN ({kernel})"


def time_step(step: Callable[[int], object], seconds: float, warmup: int = 5) -> float:
    """Median seconds per call of ``step(i)`` over about ``seconds`` seconds."""
    for i in range(warmup):
        step(i)
    times = []
    start = time.perf_counter()
    i = 0
    while time.perf_counter() - start < seconds or len(times) < 5:
        t0 = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - t0)
        i += 1
    return statistics.median(times)


def best_ms(fn: Callable[[], object], rounds: int) -> float:
    """Milliseconds per call of ``fn()``: the fastest of ``rounds`` rounds of about 50 ms each (for single ops,
    where the fastest round is the one the machine's noise touched least)."""
    fn()
    start = time.perf_counter()
    fn()
    inner = max(1, int(0.05 / max(time.perf_counter() - start, 1e-6)))
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - start) / inner)
    return best * 1e3


def compare(steps: dict[str, Callable[[int], object]], seconds: float, rounds: int,
            best: bool = False) -> dict[str, float]:
    """Median-of-medians seconds per step for each named step, rounds interleaved.

    ``best`` takes the fastest round's median instead: a shared VM has slow spells of seconds in which every
    step takes about twice as long, and with many short rounds each framework gets some outside them."""
    per_round: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # each framework in each place in turn
            per_round[name].append(time_step(steps[name], seconds))
    pick = min if best else statistics.median
    return {name: pick(values) for name, values in per_round.items()}


def format_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} us"
    return f"{seconds * 1e3:8.2f} ms"


def first_step(build: Callable[[], Callable[[int], object]]) -> tuple[float, Callable[[int], object]]:
    """Seconds to build a step and finish its first call (tracing and compiling included), and the step."""
    start = time.perf_counter()
    step = build()
    step(0)
    return time.perf_counter() - start, step
