"""Graph passes, one file each, run by the pass manager (``EMBER_DUMP_IR=1`` prints the IR after each).

>>> graph = ember.passes.run_passes(graph, ["prune", "fold_constants", "simplify", "cse"])
"""

from ember.passes.autodiff import TrainRequest, append_updates, autodiff, gradients
from ember.passes.cse import cse
from ember.passes.fold_constants import fold_constants
from ember.passes.fuse_elementwise import fuse_elementwise
from ember.passes.manager import DEFAULT_PIPELINE, PASSES, PassManager, pipeline, run_passes
from ember.passes.mixed_precision import mixed_precision
from ember.passes.plan_memory import MemoryPlan, plan_memory
from ember.passes.prune import prune
from ember.passes.simplify import simplify
from ember.passes.specialize import specialize

__all__ = [
    "DEFAULT_PIPELINE", "MemoryPlan", "PASSES", "PassManager", "TrainRequest", "append_updates", "autodiff", "cse",
    "fold_constants", "fuse_elementwise", "gradients", "mixed_precision", "pipeline", "plan_memory", "prune",
    "run_passes", "simplify", "specialize",
]
