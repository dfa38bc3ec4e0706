"""What a TF-1 user should write instead of a name ``ember.compat.tf`` does not have."""

from __future__ import annotations

import difflib

# Ember's graph gradients come from its own op rules, so none can be registered or overridden per op type
_CUSTOM_GRADIENT = ("tf.stop_gradient to cut a gradient, or the identity y = g + tf.stop_gradient(f - g), whose "
                    "value is f's and whose gradient is g's (a gradient reversal: g = -x, f = x); Ember's graph "
                    "gradients come from its own op rules and cannot be registered per op type")

# Where a TF-1 name has no counterpart here, what to write instead.
INSTEAD = {
    "sparse_placeholder": "a dense tf.placeholder",
    "SparseTensor": "dense tensors",
    "estimator": "a Session loop, or ember.Model(...).fit",
    "keras": "ember.nn and ember.Model (Keras-like fit/evaluate)",
    "string": "numeric dtypes (Ember tensors hold numbers only)",
    "FIFOQueue": "feed_dict",
    "TFRecordReader": "ember.data readers (csv, libsvm) and feed_dict",
    "saved_model": ("tf.train.Saver for the variables; to serve a model, build it with ember.nn, export it with "
                    "ember.onnx.export to MODEL_DIR/<version>/model.onnx and run `ember serve MODEL_DIR`"),
    "RegisterGradient": _CUSTOM_GRADIENT,
    "no_gradient": _CUSTOM_GRADIENT,
    "NoGradient": _CUSTOM_GRADIENT,
    "NotDifferentiable": _CUSTOM_GRADIENT,
}


def missing(module: str, name: str, names) -> AttributeError:
    """The AttributeError for a TF-1 name that Ember does not have, saying what to use instead."""
    short = "tf" + module.removeprefix("ember.compat.tf")  # "tf", "tf.nn"...
    hint = INSTEAD.get(f"{short}.{name}".removeprefix("tf."))
    if hint is not None:
        text = f"use {hint}"
    else:
        close = difflib.get_close_matches(name, [n for n in names if not n.startswith("_")], n=3)
        text = ("did you mean " + ", ".join(f"{short}.{n}" for n in close) + "?") if close else (
            "Ember's TF-1 layer does not have it (README: 'TensorFlow 1 scripts' lists what it has)")
    if name.startswith("__"):
        return AttributeError(name)
    return AttributeError(f"module '{short}' has no attribute '{name}' in ember.compat.tf: {text}")


