"""Run an unmodified third-party script as ``__main__`` with chosen arguments and capture what it prints."""

import contextlib
import io
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_script(relative_path: str, argv: list, replace: dict | None = None) -> str:
    """Run ``tests/third_party/<relative_path>`` with ``sys.argv[1:] = argv``; return its stdout.

    ``replace`` maps module-level constant assignments (``"num_steps = 200"``) to the values used here, so
    a script whose length is a constant runs briefly; the file itself is not changed.
    """
    path = os.path.join(HERE, relative_path)
    out = io.StringIO()
    saved_argv = sys.argv
    sys.argv = [path, *argv]
    try:
        with contextlib.redirect_stdout(out):
            if replace:
                source = open(path).read()
                for old, new in replace.items():
                    if old not in source:
                        raise ValueError(f"{relative_path}: {old!r} not found")
                    source = source.replace(old, new)
                code = compile(source, path, "exec")
                exec(code, {"__name__": "__main__", "__file__": path})
            else:
                runpy.run_path(path, run_name="__main__")
    finally:
        sys.argv = saved_argv
    return out.getvalue()
