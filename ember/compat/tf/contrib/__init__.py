"""``tf.contrib``: the parts TF-1 tutorials import (``from tensorflow.contrib import rnn``)."""

import types

from ember.compat.tf import layers as _layers
from ember.compat.tf import rnn
from ember.compat.tf.regularizers import (
    apply_regularization,
    l1_l2_regularizer,
    l1_regularizer,
    l2_regularizer,
    sum_regularizer,
)
from ember.compat.tf.variables import glorot_normal_initializer, glorot_uniform_initializer

__all__ = ["layers", "rnn"]


def _xavier_initializer(uniform: bool = True, seed=None, dtype=None):
    return glorot_uniform_initializer(seed) if uniform else glorot_normal_initializer(seed)


layers = types.SimpleNamespace(
    xavier_initializer=_xavier_initializer, flatten=_layers.flatten, l1_regularizer=l1_regularizer,
    l2_regularizer=l2_regularizer, l1_l2_regularizer=l1_l2_regularizer, sum_regularizer=sum_regularizer,
    apply_regularization=apply_regularization,
)
