"""Exporting models: model files (``.emb``) and standalone NumPy inference code.

>>> ember.export.save_model(net, ember.randn(1, 1, 8, 8), "model.emb")
>>> ember.export.write_standalone("model.emb", "model_infer.py")   # or: ember export --standalone ...
"""

from ember.export.batch import with_dynamic_batch
from ember.export.model_file import load_model, save_model
from ember.export.standalone import write_standalone
from ember.export.trace import trace

__all__ = ["load_model", "save_model", "trace", "with_dynamic_batch", "write_standalone"]
