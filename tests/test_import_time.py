"""``import ember`` stays quick and light: it imports no optional package, no multiprocessing, and (with
the ml_dtypes that pyproject.toml allows) takes well under a second of CPU, imported from bytecode as an
installed package is."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PROBE = """
import sys, time
start = time.process_time()
import ember
print(time.process_time() - start)
print(" ".join(sorted(m for m in ("multiprocessing", "sklearn", "tensorboardX", "matplotlib", "torch", "jax",
                                  "hypothesis") if m in sys.modules)))
"""


def _probe(bytecode_dir: str | None = None) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if bytecode_dir is not None:  # as an installed package imports: from compiled bytecode, not from source
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = bytecode_dir
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120,
                         check=True).stdout.splitlines()
    return float(out[0]), (out[1] if len(out) > 1 else "")


def test_import_ember_loads_no_optional_package():
    _, loaded = _probe()
    assert loaded == ""


def test_import_ember_is_quick(tmp_path):
    import ml_dtypes

    if tuple(int(p) for p in ml_dtypes.__version__.split(".")[:2]) >= (0, 7):
        pytest.skip(f"ml_dtypes {ml_dtypes.__version__} spends about 0.6 s of CPU importing its extension; "
                    "pyproject.toml pins ml_dtypes < 0.7")
    _probe(str(tmp_path))  # writes the bytecode (compiling the sources is not the import's own cost)
    seconds = min(_probe(str(tmp_path))[0] for _ in range(2))
    assert seconds < 0.6, f"import ember took {seconds:.2f} s of CPU"
