"""Optimizers, learning-rate schedules and gradient clipping.

The update math lives in ``ember.optim.functional`` as pure functions on arrays; the optimizer classes
hold parameter groups and state and call them.

>>> opt = ember.optim.Adam(model.parameters(), lr=1e-3)
>>> sched = ember.optim.CosineAnnealingLR(opt, T_max=100)
>>> loss.backward(); ember.optim.clip_grad_norm_(model.parameters(), 1.0); opt.step(); opt.zero_grad()
"""

from ember.optim import functional, lr_scheduler, swa_utils
from ember.optim.adadelta import Adadelta, adadelta_update
from ember.optim.adafactor import Adafactor, adafactor_update
from ember.optim.adam_variants import Adamax, NAdam, RAdam, adamax_update, nadam_update, radam_update
from ember.optim.asgd import ASGD, asgd_update
from ember.optim.clip import clip_grad_norm_, clip_grad_value_
from ember.optim.functional import (
    adagrad_update,
    adam_update,
    adamw_update,
    ftrl_update,
    rmsprop_update,
    rowwise_adagrad_update,
    sgd_update,
    sparse_adagrad_update,
    sparse_adam_update,
    sparse_ftrl_update,
    sparse_rowwise_adagrad_update,
    sparse_sgd_update,
)
from ember.optim.lbfgs import LBFGS
from ember.optim.lr_scheduler import (
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiplicativeLR,
    MultiStepLR,
    OneCycleLR,
    PolynomialLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)
from ember.optim.muon import Muon, muon_update
from ember.optim.optimizer import SGD, Adagrad, Adam, AdamW, Ftrl, Optimizer, RMSprop, RowWiseAdagrad, SparseAdam
from ember.optim.rprop import Rprop, rprop_update

__all__ = [
    "ASGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "ChainedScheduler", "ConstantLR",
    "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR", "ExponentialLR", "Ftrl", "LBFGS", "LRScheduler",
    "LambdaLR", "LinearLR", "MultiStepLR", "MultiplicativeLR", "Muon", "NAdam", "OneCycleLR", "Optimizer",
    "PolynomialLR", "RAdam", "RMSprop", "ReduceLROnPlateau", "RowWiseAdagrad", "Rprop", "SGD", "SequentialLR",
    "SparseAdam", "StepLR", "adadelta_update", "adafactor_update", "adagrad_update", "adam_update", "adamax_update",
    "adamw_update", "asgd_update", "clip_grad_norm_", "clip_grad_value_", "ftrl_update", "functional", "lr_scheduler",
    "muon_update", "nadam_update", "radam_update", "rmsprop_update", "rowwise_adagrad_update", "rprop_update",
    "sgd_update", "sparse_adagrad_update", "sparse_adam_update", "sparse_ftrl_update", "sparse_rowwise_adagrad_update",
    "sparse_sgd_update", "swa_utils",
]
