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
