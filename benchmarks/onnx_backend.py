"""ONNX's own backend tests (the cases bundled in the onnx wheel) on Ember and on onnxruntime, side by side.

    python benchmarks/onnx_backend.py                 # pass counts per group, both backends
    python benchmarks/onnx_backend.py --failures      # also list Ember's failing and skipped cases
"""

from __future__ import annotations

import io
import os
import re
import sys
import tempfile
import unittest

GROUPS = {  # BackendTest's test-class name for each group of bundled cases
    "node": "OnnxBackendNodeModelTest",
    "pytorch-converted": "OnnxBackendPyTorchConvertedModelTest",
    "pytorch-operator": "OnnxBackendPyTorchOperatorModelTest",
    "simple": "OnnxBackendSimpleModelTest",
    "light (real models)": "OnnxBackendRealModelTest",
}


def run_backend(backend, groups=GROUPS, include=None) -> dict:
    """{group: (passed, failed, skipped, failures, skips)} for ``backend`` on the bundled cases."""
    import onnx.backend.test

    os.environ.setdefault("ONNX_HOME", tempfile.mkdtemp(prefix="onnx_home"))  # the light models' data go here
    tests = onnx.backend.test.BackendTest(backend, "bundled")
    for pattern in include or ():
        tests.include(pattern)
    cases = tests.test_cases
    results = {}
    for group, class_name in groups.items():
        case = cases.get(class_name)
        if case is None:
            continue
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(case)
        suite = unittest.TestSuite(t for t in suite if t._testMethodName.endswith("_cpu"))
        outcome = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
        failures = [(t.id().split(".")[-1], err.strip().splitlines()[-1][:160]) for t, err in
                    outcome.failures + outcome.errors]
        skips = [(t.id().split(".")[-1], reason) for t, reason in outcome.skipped]
        total = outcome.testsRun - len(outcome.skipped)
        results[group] = (total - len(failures), len(failures), len(skips), failures, skips)
    return results


def _supported_node_cases() -> str:
    """A pattern matching the node cases whose ops Ember's importer has."""
    from onnx.backend.test.loader import load_model_tests

    from ember.onnx import unsupported_ops

    names = [c.name for c in load_model_tests(kind="node") if c.model is not None and not unsupported_ops(c.model)]
    return "^(" + "|".join(re.escape(n) for n in names) + ")_cpu$"


def main() -> None:
    import onnxruntime.backend

    import ember.onnx.backend

    subset = {"node, Ember's ops": GROUPS["node"]}
    pattern = _supported_node_cases()
    ember_results = run_backend(ember.onnx.backend.EmberBackend)
    ember_results.update(run_backend(ember.onnx.backend.EmberBackend, subset, [pattern]))
    ort_results = run_backend(onnxruntime.backend)
    ort_results.update(run_backend(onnxruntime.backend, subset, [pattern]))
    print(f"{'group':22s} {'ember pass':>10s} {'fail':>5s} {'skip':>5s} | {'onnxruntime pass':>16s} {'fail':>5s} "
          f"{'skip':>5s}")
    for group in [*GROUPS, *subset]:
        e, o = ember_results.get(group), ort_results.get(group)
        if e is None:
            continue
        print(f"{group:22s} {e[0]:10d} {e[1]:5d} {e[2]:5d} | {o[0]:16d} {o[1]:5d} {o[2]:5d}")
    if "--failures" in sys.argv:
        for group, (_, _, _, failures, skips) in ember_results.items():
            for name, why in failures:
                print(f"FAIL {group}: {name}: {why}")
            for name, why in skips:
                print(f"SKIP {group}: {name}: {why}")


if __name__ == "__main__":
    main()
