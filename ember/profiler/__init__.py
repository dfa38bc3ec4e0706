"""Per-op time, FLOPs, bytes and memory of eager code and compiled steps; model summaries.

>>> with ember.profiler.profile() as prof:
...     train_step(x, y)
>>> print(prof.key_averages().table(sort_by="time", row_limit=10))
>>> prof.export_chrome_trace("trace.json")
>>> ember.profiler.summary(net, (1, 3, 32, 32))
"""

from ember.profiler.profile import OpStats, profile
from ember.profiler.recorder import Event, op_cost
from ember.profiler.scheduling import (
    ProfilerAction,
    ProfilerActivity,
    record_function,
    schedule,
    tensorboard_trace_handler,
)
from ember.profiler.summary import summary

__all__ = ["Event", "OpStats", "ProfilerAction", "ProfilerActivity", "op_cost", "profile", "record_function",
           "schedule", "summary", "tensorboard_trace_handler"]
