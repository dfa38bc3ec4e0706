"""The README's Python snippets that start with an import run as they are (in a scratch directory)."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
          if b.startswith("import ") and not b.startswith("import ember.compat")]


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_snippet_runs(code, tmp_path, monkeypatch, capsys):
    if "load_digits" in code:
        pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    if "test accuracy" in code:
        assert float(out.split("test accuracy")[1].split()[0]) >= 0.9
    if "bad.csv" in code:
        assert "line 3, column 2 ('label'): the target is missing" in out


def test_the_snippets_are_found():
    assert len(BLOCKS) >= 4


def test_the_dotted_names_in_the_prose_exist():
    import importlib

    missing = []
    for name in sorted(set(re.findall(r"`(ember(?:\.\w+)+)`", README.read_text()))):
        parts = name.split(".")
        for i in range(len(parts), 0, -1):  # the longest importable module, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:i]))
                break
            except ImportError:
                continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            missing.append(name)
    assert not missing
