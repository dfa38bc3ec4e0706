"""Serving Ember models over HTTP with TensorFlow Serving's REST API (the ``serve`` extra).

``ember serve MODEL_DIR`` serves the highest valid version folder (``MODEL_DIR/1/model.onnx``, ``2/``, ...)
with dynamic batching, a bounded queue, per-request deadlines, hot reload of new versions and Prometheus
metrics. Export a model with ``ember.onnx.export(net, example, "MODEL_DIR/1/model.onnx",
dynamic_axes={"input0": {0: "batch"}})``.
"""

from ember.serve.app import ServeOptions, create_app, parse_instances, serve
from ember.serve.batching import Batcher, DeadlineExceeded, Overloaded, Stopped
from ember.serve.versions import LoadedModel, VersionWatcher, load_version, version_numbers

__all__ = ["Batcher", "DeadlineExceeded", "LoadedModel", "Overloaded", "ServeOptions", "Stopped", "VersionWatcher",
           "create_app", "load_version", "parse_instances", "serve", "version_numbers"]
