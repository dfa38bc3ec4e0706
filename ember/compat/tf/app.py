"""``tf.app``: ``tf.app.run(main)`` and the ``tf.app.flags`` command-line flags TF-1 scripts define."""

from __future__ import annotations

import argparse
import sys
import types

__all__ = ["flags", "run"]


class _Flags:
    """Flags defined with ``DEFINE_*``; parsed from ``sys.argv`` on first attribute access or by ``run``."""

    def __init__(self):
        object.__setattr__(self, "_defaults", {})
        object.__setattr__(self, "_types", {})
        object.__setattr__(self, "_helps", {})
        object.__setattr__(self, "_values", None)

    def define(self, name: str, default, help: str, kind) -> None:
        self._defaults[name] = default
        self._types[name] = kind
        self._helps[name] = help
        if self._values is not None:
            self._values[name] = default

    def parse(self, argv: list) -> list:
        """Parse ``--name=value`` flags out of ``argv``; return the rest (program name first)."""
        parser = argparse.ArgumentParser(prog=argv[0] if argv else None)
        for name, default in self._defaults.items():
            kind = _boolean if self._types[name] is bool else self._types[name]
            parser.add_argument(f"--{name}", type=kind, default=default, help=self._helps[name])
        known, rest = parser.parse_known_args([self._spell_out(arg) for arg in argv[1:]])
        object.__setattr__(self, "_values", vars(known))
        return argv[:1] + rest

    def _spell_out(self, arg: str) -> str:
        """absl's boolean forms: ``--flag`` is ``--flag=true`` and ``--noflag`` is ``--flag=false``."""
        name = arg[2:]
        if self._types.get(name) is bool:
            return f"--{name}=true"
        if name.startswith("no") and self._types.get(name[2:]) is bool:
            return f"--{name[2:]}=false"
        return arg

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if self._values is None:
            self.parse(list(sys.argv))
        if name not in self._values:
            raise AttributeError(f"tf.app.flags.FLAGS has no flag {name!r}; define it with tf.app.flags.DEFINE_*")
        return self._values[name]

    def __setattr__(self, name: str, value) -> None:
        if self._values is None:
            self.parse(list(sys.argv))
        self._values[name] = value

    def __call__(self, argv: list) -> list:
        return self.parse(list(argv))


def _boolean(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean, got {text!r}")


FLAGS = _Flags()
flags = types.SimpleNamespace(
    FLAGS=FLAGS,
    DEFINE_string=lambda name, default, help: FLAGS.define(name, default, help, str),
    DEFINE_integer=lambda name, default, help, **kw: FLAGS.define(name, default, help, int),
    DEFINE_float=lambda name, default, help, **kw: FLAGS.define(name, default, help, float),
    DEFINE_boolean=lambda name, default, help: FLAGS.define(name, default, help, bool),
    DEFINE_bool=lambda name, default, help: FLAGS.define(name, default, help, bool),
)


def run(main=None, argv=None) -> None:
    """Parse the flags, call ``main(argv)`` (default: the ``main`` of the ``__main__`` module) and exit
    with its return value, as ``tf.app.run`` does."""
    argv = FLAGS.parse(list(sys.argv if argv is None else argv))
    main = main or sys.modules["__main__"].main
    sys.exit(main(argv))


def __getattr__(name: str):
    from ember.compat.tf._missing import missing

    raise missing(__name__, name, globals())
