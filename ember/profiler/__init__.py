"""Per-op time, FLOPs, bytes and memory of eager code and compiled steps; model summaries.

>>> with ember.profiler.profile() as prof:
...     train_step(x, y)
>>> print(prof.table(sort_by="time"))
>>> prof.export_chrome_trace("trace.json")
>>> ember.profiler.summary(net, (1, 3, 32, 32))
"""

from ember.profiler.profile import OpStats, profile
from ember.profiler.recorder import Event, op_cost
from ember.profiler.summary import summary

__all__ = ["Event", "OpStats", "op_cost", "profile", "summary"]
