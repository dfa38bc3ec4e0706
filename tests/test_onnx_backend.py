"""ONNX's own backend test runner drives ``ember.onnx.backend`` over the cases bundled in the onnx wheel.

Run: the node cases whose ops and element types Ember imports, and every pytorch-converted,
pytorch-operator, simple and light-model ("real") case. Skipped, and why:
- node cases with an op Ember's importer lacks (``ember.onnx.unsupported_ops``: Loop/If/Scan,
  quantization, string and random ops, ...);
- node cases with element types Ember does not compute in (int8/int16/uint16/uint32/uint64, bfloat16,
  the 8/4/2-bit float and integer types, strings);
- ``KNOWN_GAPS`` below: cases of supported ops that use an attribute or mode Ember does not implement.
``python benchmarks/onnx_backend.py`` runs every group on Ember and onnxruntime and prints the counts.
"""

from __future__ import annotations

import os
import re
import tempfile

import pytest

onnx = pytest.importorskip("onnx")
backend_runner = pytest.importorskip("onnx.backend.test")

from onnx.backend.test.loader import load_model_tests  # noqa: E402

from ember.onnx.backend import EmberBackend  # noqa: E402
from ember.onnx.load import unsupported_ops  # noqa: E402

KNOWN_GAPS = {
    r"test_attention_4d_causal_fp16_expanded": "float16 softmax: Ember computes it in float32 and rounds once; the "
                                               "expected output rounds each float16 step (1.2e-3 apart)",
    r"test_(batchnorm_.*training_mode|training_dropout.*)": "training mode (the importer is for inference)",
    r"test_reduce_.*_empty_set.*": "reductions over an empty axis (Ember refuses max/min without identity)",
    r"test_(blackman|hamming|hann)window.*_expanded|test_center_crop_pad_.*_expanded":
        "a shape computed from input data (Range / Pad sizes)",
    r"test_swiglu_float16_expanded": "float16 rounding of an expanded function",
    r"test_resize_downsample_scales_(linear|cubic)_align_corners": "align_corners at a fractional output length "
        "(0.6 * 4): the expected output divides by 2.4 - 1; Ember, onnxruntime and PyTorch by the length, 2 - 1",
}
_EMBER_TYPES = {1, 2, 6, 7, 9, 10, 11}  # float32, uint8, int32, int64, bool, float16, float64


def _types(model) -> set:
    found = set()
    graph = model.graph
    for v in list(graph.input) + list(graph.output):
        t = v.type
        while t.HasField("sequence_type"):
            t = t.sequence_type.elem_type
        if t.HasField("tensor_type"):
            found.add(t.tensor_type.elem_type)
    found.update(t.data_type for t in graph.initializer)
    for node in graph.node:
        for a in node.attribute:
            if a.name == "to" or (a.name == "value" and a.type == onnx.AttributeProto.TENSOR):
                found.add(a.i if a.name == "to" else a.t.data_type)
    return found


def _node_cases() -> list[str]:
    names = []
    for case in load_model_tests(kind="node"):
        if case.model is None or unsupported_ops(case.model) or not _types(case.model) <= _EMBER_TYPES:
            continue
        if any(re.fullmatch(p, case.name) for p in KNOWN_GAPS):
            continue
        names.append(case.name)
    return names


os.environ.setdefault("ONNX_HOME", tempfile.mkdtemp(prefix="onnx_home"))  # the light models' data go here
backend_test = backend_runner.BackendTest(EmberBackend, __name__)
backend_test.include("^(" + "|".join(re.escape(n) for n in _node_cases()) + ")_cpu$")
backend_test.include(r"^test_(operator_|[A-Z]).*_cpu$")  # pytorch-operator and pytorch-converted
backend_test.include(r"^test_(bvlc_alexnet|densenet121|inception_v1|inception_v2|resnet50|shufflenet|squeezenet"
                     r"|vgg19|zfnet512)_cpu$")
backend_test.include(r"^test_(expand_shape_model\d|sequence_model\d|shrink|sign_model|single_relu_model"
                     r"|gradient_of_.*|strnorm_model_.*)_cpu$")

globals().update(backend_test.test_cases)
