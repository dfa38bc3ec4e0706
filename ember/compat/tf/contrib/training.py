"""``tf.contrib.training``: ``HParams``, named hyper-parameters with fixed types, set from code or parsed from a
``"name=value,list=[1,2]"`` string (a command-line flag)."""

from __future__ import annotations

import json
import numbers
import re

__all__ = ["HParams"]

# name=value or name=[v1, v2] items, separated by commas
_ITEM = re.compile(r"\s*([A-Za-z][\w.]*)\s*(\[\s*\d+\s*\])?\s*=\s*(\[[^\]]*\]|[^,\[]*)\s*(?:,|$)")


def _cast(name: str, kind: type, value):
    """``value`` as ``kind``, refusing the conversions TF-1 refuses (float to int, number to bool or str...)."""
    if type(value) is kind or kind is type(None):
        return value
    text_kind, text_value = issubclass(kind, (str, bytes)), isinstance(value, (str, bytes))
    if (text_kind and not text_value) or issubclass(kind, bool) != isinstance(value, bool) or (
            issubclass(kind, numbers.Integral) and not isinstance(value, numbers.Integral)) or (
            issubclass(kind, numbers.Number) and not isinstance(value, numbers.Number)):
        raise ValueError(f"HParams: could not cast hparam '{name}' of type {kind.__name__} from value {value!r}")
    return kind(value)


def _parse_one(name: str, kind: type, text: str):
    text = text.strip()
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return lowered in ("true", "1")
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        raise ValueError(f"HParams.parse: could not parse hparam '{name}' of type {kind.__name__} from "
                         f"{text!r}") from None
    if kind is str:
        return text
    raise ValueError(f"HParams.parse: hparam '{name}' of type {kind.__name__} cannot be parsed from a string")


class HParams:
    """Hyper-parameters as attributes (``HParams(learning_rate=0.1, layers=[64, 32])``); each keeps the type of
    its first value (a list's, of its first element)."""

    def __init__(self, hparam_def=None, model_structure=None, **kwargs):
        if hparam_def is not None:
            raise NotImplementedError("HParams: hparam_def (an HParamDef protocol buffer) is not supported; pass the "
                                      "values as keyword arguments")
        self._hparam_types: dict = {}
        self._model_structure = model_structure
        for name, value in kwargs.items():
            self.add_hparam(name, value)

    def add_hparam(self, name: str, value) -> None:
        """A new hyper-parameter; its name must not be one already (or a method's)."""
        if hasattr(self, name):
            raise ValueError(f"HParams: hyperparameter name is reserved or already used: {name}")
        if isinstance(value, (list, tuple)):
            if not value:
                raise ValueError(f"HParams: multi-valued hyperparameters cannot be empty: {name}")
            self._hparam_types[name] = (type(value[0]), True)
        else:
            self._hparam_types[name] = (type(value), False)
        setattr(self, name, value)

    def set_hparam(self, name: str, value) -> None:
        """A new value for ``name``, cast to its type (a list for a list, one value otherwise)."""
        if name not in self._hparam_types:
            raise KeyError(f"HParams.set_hparam: unknown hyperparameter {name!r}")
        kind, is_list = self._hparam_types[name]
        if isinstance(value, list):
            if not is_list:
                raise ValueError(f"HParams.set_hparam: must not pass a list for single-valued parameter: {name}")
            setattr(self, name, [_cast(name, kind, v) for v in value])
        else:
            if is_list:
                raise ValueError(f"HParams.set_hparam: must pass a list for multi-valued parameter: {name}")
            setattr(self, name, _cast(name, kind, value))

    def del_hparam(self, name: str) -> None:
        if name in self._hparam_types:
            delattr(self, name)
            del self._hparam_types[name]

    def parse(self, values: str) -> HParams:
        """Values from a ``"a=1,b=0.5,c=[1,2],d=true"`` string, each parsed as its hyper-parameter's type; an unknown
        name, one given twice or a value of the wrong type is a ValueError. Returns self."""
        parsed, position = {}, 0
        text = values.strip()
        while position < len(text):
            match = _ITEM.match(text, position)
            if match is None or match.end() == position:
                raise ValueError(f"HParams.parse: malformed hyperparameter value at {text[position:]!r}")
            name, index, raw = match.group(1), match.group(2), match.group(3)
            position = match.end()
            if index is not None:
                raise ValueError(f"HParams.parse: indexed assignment {name}{index} is not supported; give the whole "
                                 "list")
            if name not in self._hparam_types:
                raise ValueError(f"HParams.parse: unknown hyperparameter type for {name}")
            if name in parsed:
                raise ValueError(f"HParams.parse: multiple assignments to variable '{name}'")
            kind, is_list = self._hparam_types[name]
            if raw.startswith("["):
                if not is_list:
                    raise ValueError(f"HParams.parse: must not pass a list for single-valued parameter: {name}")
                inner = raw[1:-1].strip()
                parsed[name] = [_parse_one(name, kind, v) for v in inner.split(",")] if inner else []
            else:
                if is_list:
                    raise ValueError(f"HParams.parse: must pass a list for multi-valued parameter: {name}")
                parsed[name] = _parse_one(name, kind, raw)
        return self.override_from_dict(parsed)

    def override_from_dict(self, values_dict: dict) -> HParams:
        for name, value in values_dict.items():
            self.set_hparam(name, value)
        return self

    def values(self) -> dict:
        """The hyper-parameters as a dict of name to value."""
        return {name: getattr(self, name) for name in self._hparam_types}

    def get(self, key: str, default=None):
        """``key``'s value, or ``default`` (whose type must agree with it) when there is no such hyper-parameter."""
        if key not in self._hparam_types:
            return default
        value = getattr(self, key)
        if default is not None:  # the default's type must agree with the hyper-parameter's, as TF-1 asks
            kind = self._hparam_types[key][0]
            for probe in default if isinstance(default, (list, tuple)) else [default]:
                _cast(key, kind, probe)
        return value

    def to_json(self, indent=None, separators=None, sort_keys: bool = False) -> str:
        return json.dumps(self.values(), indent=indent, separators=separators, sort_keys=sort_keys)

    def parse_json(self, values_json: str) -> HParams:
        return self.override_from_dict(json.loads(values_json))

    def __contains__(self, key: str) -> bool:
        return key in self._hparam_types

    def __str__(self) -> str:
        return str(sorted(self.values().items()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self})"


def __getattr__(name: str):
    from ember.compat.tf._missing import missing

    raise missing(__name__, name, globals())
