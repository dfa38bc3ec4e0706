"""``tf.contrib``: the parts TF-1 tutorials import (``from tensorflow.contrib import rnn``)."""

from ember.compat.tf import rnn
from ember.compat.tf.contrib import framework, layers, opt, training

__all__ = ["framework", "layers", "opt", "rnn", "training"]
