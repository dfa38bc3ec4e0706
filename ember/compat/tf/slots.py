"""TF-1's optimizer slots as variables: ``minimize`` gives each trained variable ``v`` its optimizer's slots
(``v/Adam`` and ``v/Adam_1`` for Adam's m and v, ``v/Momentum``, ``v/Adagrad``, ``v/RMSProp``...) and Adam its
``beta1_power`` and ``beta2_power``, all in ``tf.global_variables()``, so ``tf.train.Saver`` saves and restores
them. A Session keeps their values where the update rule reads them, in the rule's state dict of each variable
(``Session.slots``): a slot variable names an entry of that dict (``SlotVariable.key``)."""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import numpy as np

from ember.compat.tf._core import Graph, Tensor, constant
from ember.compat.tf.variables import Variable, cast


class SlotSpec(NamedTuple):
    """One slot of an optimizer: TF's slot name (``"m"``; for a variable of the optimizer's own, such as
    ``"beta1_power"``, the variable's name), the update rule's state key, and its starting value (a number,
    or the name of the hyper-parameter whose value it starts at)."""

    name: str
    key: str
    start: float | str


class SlotVariable(Variable):
    """A variable whose value is the state entry ``key`` of ``optimizer``'s update of ``primary`` (of every
    variable the optimizer trains, for a ``primary`` of None: Adam's ``beta1_power``)."""

    def __init__(self, initial_value, name: str, optimizer, primary: Variable | None, key: str):
        super().__init__(initial_value, trainable=False, name=name)
        self.optimizer, self.primary, self.key = optimizer, primary, key

    def primaries(self) -> list:
        """The variables whose state holds this slot's value."""
        return [self.primary] if self.primary is not None else list(self.optimizer.slot_variables)


@contextlib.contextmanager
def _top_level(graph: Graph):
    """Build in ``graph`` outside any name scope or control dependencies, as TF-1 makes slots: a slot made
    under ``control_dependencies(update_ops)`` must not run those ops when it is read or initialized."""
    saved = graph.scopes, graph.control
    graph.scopes, graph.control = [], []
    try:
        with graph.as_default():
            yield
    finally:
        graph.scopes, graph.control = saved


def _start(optimizer, spec: SlotSpec, var: Variable) -> Tensor:
    """The initial value of ``spec``'s slot of ``var``: the variable's shape and dtype for a slot; a float32
    scalar for a variable of the optimizer's own (TF-1 makes ``beta1_power`` from a Python number)."""
    shared = spec.name in {s.name for s in optimizer.SHARED}
    shape, dtype = ((), np.dtype(np.float32)) if shared else (tuple(var.shape), var.dtype)
    start = spec.start
    if isinstance(start, str):
        start = optimizer.tensor_hyper.get(start, optimizer.hyper.get(start))
    if isinstance(start, Tensor):
        return cast(start, dtype) if shape == () else start * constant(np.ones(shape, dtype))
    return constant(np.full(shape, start, dtype), dtype=dtype)


def create_slots(optimizer, var_list) -> None:
    """Make ``optimizer``'s slot variables for each of ``var_list`` that has none yet (TF's names: the
    variable's op name and the optimizer's, or the slot's own suffix (``FtrlOptimizer(accum_name=...)``), made
    unique: ``v/Adam``, ``v/Adam_1``), and its own variables
    (``beta1_power``) with the first."""
    for var in var_list:
        if var in optimizer.slot_variables:
            continue
        with _top_level(var.graph):
            if not optimizer.shared_variables:
                for spec in optimizer.SHARED:
                    optimizer.shared_variables[spec.key] = SlotVariable(
                        _start(optimizer, spec, var), spec.name, optimizer, None, spec.key)
            slots = optimizer.slot_variables[var] = {}
            for spec in optimizer.SLOTS:
                suffix = optimizer.slot_suffixes.get(spec.name) or optimizer.get_name()
                slot = SlotVariable(_start(optimizer, spec, var), f"{var.op.name}/{suffix}", optimizer, var, spec.key)
                slots[spec.key] = slot
                optimizer.slots_by_name.setdefault(spec.name, {})[var] = slot

