"""The architecture holds: the import layers of pyproject.toml, and no process changes at import."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import threading

import pytest

import ember

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_import_layers_hold():
    pytest.importorskip("importlinter")
    tool = shutil.which("lint-imports") or str(pathlib.Path(sys.executable).with_name("lint-imports"))
    if not pathlib.Path(tool).exists():
        pytest.skip("lint-imports is not installed")
    result = subprocess.run([tool], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_importing_ember_leaves_malloc_alone():
    code = "import ember, ember.backend.memory as m; print(m._tuned)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_grad_mode_is_per_thread():
    seen = {}

    def worker():
        with ember.no_grad():
            seen["worker"] = ember.is_grad_enabled()
            barrier.wait()  # the main thread reads its own mode while the worker is inside no_grad
            barrier.wait()

    barrier = threading.Barrier(2)
    thread = threading.Thread(target=worker)
    thread.start()
    barrier.wait()
    seen["main"] = ember.is_grad_enabled()
    x = ember.ones(2, requires_grad=True)
    recorded = (x * 2).requires_grad
    barrier.wait()
    thread.join()
    assert seen == {"worker": False, "main": True} and recorded


def test_traced_values_are_recognised_by_type():
    g = ember.graph.Graph()
    v = g.input("x", (2,), "float32")
    assert v.symbolic and not ember.ones(2).symbolic
    assert ember.graph.Value.symbolic and not ember.Tensor.symbolic


def test_graph_building_is_per_thread():
    results = {}

    def worker():
        results["worker"] = (ember.ones(2) + 1).symbolic  # eager here, while the main thread builds a graph

    g = ember.graph.Graph()
    x = g.input("x", (2,), "float32")
    with g.building():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        y = x + 1
    assert results == {"worker": False} and y.symbolic and len(g.nodes) == 2  # const 1, add


def _layer_of(module: str, layers: list) -> int:
    for i, layer in enumerate(layers):
        for part in layer.split(" : "):
            if module == part or module.startswith(part + "."):
                return i
    return -1


def test_no_import_cycle_crosses_a_layer():
    grimp = pytest.importorskip("grimp")
    tomllib = pytest.importorskip("tomllib")
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    assert "ignore_imports" not in contract  # the layers hold without exceptions
    graph = grimp.build_graph("ember")
    layers = contract["layers"]
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            low, high = _layer_of(imported, layers), _layer_of(module, layers)
            if low != high and -1 not in (low, high):  # an import between two layers: no way back
                assert not graph.chain_exists(importer=imported, imported=module), (module, imported)


def _import_cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module: each module with those it both imports and is
    imported by, directly or through others (function-level imports count)."""
    cycles = set()
    for module in graph.modules:
        both_ways = graph.find_upstream_modules(module) & graph.find_downstream_modules(module)
        if both_ways:
            cycles.add(frozenset(both_ways | {module}))
    return sorted(sorted(cycle) for cycle in cycles)


def test_the_import_graph_has_no_cycle():
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("ember", cache_dir=None)
    cycles = _import_cycles(graph)
    report = []
    for cycle in cycles:
        report.append(f"a cycle of {len(cycle)} modules: {', '.join(cycle)}")
        for module in cycle:
            for imported in sorted(graph.find_modules_directly_imported_by(module) & set(cycle)):
                lines = [d["line_number"] for d in graph.get_import_details(importer=module, imported=imported)]
                report.append(f"  {module} imports {imported} (line {', '.join(map(str, lines))})")
    assert not cycles, "\n".join(report)


def test_tensor_methods_from_modules_above_it_are_attached():
    from ember import autograd, creation

    assert ember.Tensor.backward is autograd.backward and ember.nn.Parameter.backward is autograd.backward
    assert ember.Tensor.new_zeros is creation.new_zeros and ember.graph.Value.backward is not autograd.backward
    x = ember.ones(2, requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0] and x.new_full((1,), 3).tolist() == [3.0]


def test_tensor_methods_are_the_op_functions_in_one_class():
    from ember.ops import dispatch
    from ember.tensor_methods import OpMethods

    assert dispatch.apply is ember.autograd.apply
    for name in ("exp", "sum", "reshape", "__add__", "__matmul__", "T"):
        assert name in vars(OpMethods) and name in dir(ember.Tensor)
    assert ember.Tensor.exp is ember.ops.exp and ember.Tensor.__mul__ is ember.ops.mul
    # (the top-level names add PyTorch's keyword names and out= around the same functions)
    assert ember.exp.__wrapped__ is ember.ops.exp and ember.mul.__wrapped__ is ember.ops.mul
    x = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert (2 - x).tolist() == [[1.0, 0.0], [-1.0, -2.0]] and x.T.tolist() == [[1.0, 3.0], [2.0, 4.0]]
