"""``tf.contrib``: the parts TF-1 tutorials import (``from tensorflow.contrib import rnn``)."""

from ember.compat.tf import rnn
from ember.compat.tf.contrib import layers

__all__ = ["layers", "rnn"]
