"""Training configs: read a YAML file (or take a dict), check it, fill in defaults.

A config has ``data``, ``model``, ``optimizer``, ``train``, ``model_dir`` and ``seed``::

    data: {format: criteo, train: train.txt, eval: eval.txt, batch_size: 512}
    model: {type: deepfm, embedding_dim: 16, hidden: [400, 400]}
    optimizer: {sparse: {type: adagrad, lr: 0.05}, dense: {type: adam, lr: 0.001}}
    train: {epochs: 1}
    model_dir: runs/deepfm

``format: synthetic`` generates the data instead (``rows``, ``eval_rows`` and generator options under
``synthetic``). Unknown keys are errors, so a typo does not silently train something else.
"""

from __future__ import annotations

import copy
import math
import os

from ember import optim
from ember.recsys.models import MODELS

FORMATS = ("criteo", "synthetic")
OPTIMIZERS = {"sgd": "SGD", "adagrad": "Adagrad", "adam": "Adam", "adamw": "AdamW", "ftrl": "Ftrl",
              "lazy_adam": "SparseAdam", "sparse_adam": "SparseAdam", "rowwise_adagrad": "RowWiseAdagrad",
              "rmsprop": "RMSprop"}
_SECTIONS = {"data", "model", "optimizer", "train", "model_dir", "seed"}
_DATA_KEYS = {"format", "train", "eval", "batch_size", "limit", "eval_limit", "rows", "eval_rows", "synthetic",
              "num_buckets", "shuffle"}
_TRAIN_KEYS = {"epochs", "log_every", "checkpoint_every", "progress", "max_steps"}
_DEFAULTS = {
    "seed": 0,
    "data": {"batch_size": 512, "shuffle": True, "num_buckets": None},
    "model": {"embedding_dim": 16},
    "train": {"epochs": 1, "log_every": 100, "checkpoint_every": None, "progress": True, "max_steps": None},
}
_DEFAULT_OPTIMIZERS = {"sparse": {"type": "adagrad", "lr": 0.05}, "dense": {"type": "adam", "lr": 0.001}}
_LR_OPTIMIZERS = {"sparse": {"type": "ftrl", "lr": 0.05, "l2": 1e-4}, "dense": {"type": "ftrl", "lr": 0.05}}


class ConfigError(ValueError):
    """A config that cannot be trained: names the key and what was expected."""


def _yaml_problem(exc) -> str:
    """PyYAML's error on one line: the problem and where (its marks count from 0)."""
    mark = getattr(exc, "problem_mark", None)
    where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
    return f"{getattr(exc, 'problem', None) or exc}{where}"


def load_config(source) -> dict:
    """A checked config with defaults filled in, from a YAML path or a dict (which is not modified).

    Relative data paths in a file are resolved against the file's folder.

    >>> config = load_config("deepfm.yaml")
    >>> config["model"]["type"]
    'deepfm'
    """
    base = None
    if isinstance(source, (str, os.PathLike)):
        try:
            import yaml
        except ImportError as exc:
            raise ImportError("load_config: reading a YAML config needs PyYAML (pip install 'ember[recsys]')") from exc
        with open(source) as f:
            try:
                config = yaml.safe_load(f)
            except yaml.YAMLError as exc:
                raise ConfigError(f"load_config: {source} is not valid YAML: {_yaml_problem(exc)}") from None
        base = os.path.dirname(os.path.abspath(source))
        if not isinstance(config, dict):
            raise ConfigError(f"load_config: {source} must hold a mapping at the top level, got "
                              f"{type(config).__name__}")
    elif isinstance(source, dict):
        config = copy.deepcopy(source)
    else:
        raise TypeError(f"load_config: expected a YAML path or a dict, got {type(source).__name__}")
    return _check(config, base)


def _section(config: dict, name: str, allowed: set | None = None) -> dict:
    section = config.get(name, {})
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ConfigError(f"config: {name} must be a mapping, got {section!r}")
    if allowed is not None and set(section) - allowed:
        raise ConfigError(f"config: unknown keys {sorted(set(section) - allowed)} in {name}; allowed: "
                          f"{sorted(allowed)}")
    merged = dict(_DEFAULTS.get(name, {}))
    merged.update(section)
    return merged


def _positive_int(value, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"config: {where} must be a positive integer, got {value!r}")
    return value


def _flag(value, where: str) -> bool:
    if not isinstance(value, bool):  # YAML's "no" or "off" in quotes is a string, which would read as true
        raise ConfigError(f"config: {where} must be true or false, got {value!r}")
    return value


def _check(config: dict, base: str | None) -> dict:
    if set(config) - _SECTIONS:
        raise ConfigError(f"config: unknown top-level keys {sorted(set(config) - _SECTIONS)}; allowed: "
                          f"{sorted(_SECTIONS)}")
    data = _section(config, "data", _DATA_KEYS)
    if data.get("format") not in FORMATS:
        raise ConfigError(f"config: data.format must be one of {FORMATS}, got {data.get('format')!r}")
    _positive_int(data["batch_size"], "data.batch_size")
    _flag(data["shuffle"], "data.shuffle")
    for key in ("num_buckets", "limit", "eval_limit"):
        if data.get(key) is not None:
            _positive_int(data[key], f"data.{key} (or null)")
    if data["format"] == "criteo":
        for key in ("train", "eval"):
            if not isinstance(data.get(key), str):
                raise ConfigError(f"config: data.{key} must be the path of a Criteo file, got {data.get(key)!r}")
            if base is not None and not os.path.isabs(data[key]):
                data[key] = os.path.join(base, data[key])
    else:
        _positive_int(data.setdefault("rows", 100_000), "data.rows")
        _positive_int(data.setdefault("eval_rows", max(1, data["rows"] // 4)), "data.eval_rows")
        if not isinstance(data.setdefault("synthetic", {}), dict):
            raise ConfigError(f"config: data.synthetic must be a mapping of generator options, got "
                              f"{data['synthetic']!r}")
    model = _section(config, "model")
    if model.get("type") not in MODELS:
        raise ConfigError(f"config: model.type must be one of {sorted(MODELS)}, got {model.get('type')!r}")
    _positive_int(model["embedding_dim"], "model.embedding_dim")
    if "hidden" in model and (not isinstance(model["hidden"], list)
                              or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0
                                         for h in model["hidden"])):
        raise ConfigError(f"config: model.hidden must be a list of positive widths, got {model['hidden']!r}")
    optimizer = config.get("optimizer") or {}
    if not isinstance(optimizer, dict) or set(optimizer) - {"sparse", "dense"}:
        raise ConfigError(f"config: optimizer must be a mapping with 'sparse' and/or 'dense', got {optimizer!r}")
    defaults = _LR_OPTIMIZERS if model["type"] == "lr" else _DEFAULT_OPTIMIZERS
    optimizers = {}
    for part in ("sparse", "dense"):
        spec = optimizer.get(part) or defaults[part]
        if not isinstance(spec, dict):
            raise ConfigError(f"config: optimizer.{part} must be a mapping such as {defaults[part]}, got {spec!r}")
        spec = dict(spec)
        if spec.get("type") not in OPTIMIZERS:
            raise ConfigError(f"config: optimizer.{part}.type must be one of {sorted(OPTIMIZERS)}, got "
                              f"{spec.get('type')!r}")
        lr = spec.get("lr", 0.01)
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not 0 < lr < math.inf:
            raise ConfigError(f"config: optimizer.{part}.lr must be a positive finite number, got {lr!r}")
        if part == "sparse" and getattr(getattr(optim, OPTIMIZERS[spec["type"]], None), "sparse_update", 0) is None:
            # the tables' gradients are row-sparse: refused here, not at the first step after loading the data
            takes = sorted(k for k, v in OPTIMIZERS.items() if getattr(getattr(optim, v, None), "sparse_update", None))
            raise ConfigError(f"config: optimizer.sparse.type {spec['type']!r} has no update for the tables' "
                              f"row-sparse gradients; use one of {takes}")
        if part == "dense" and getattr(getattr(optim, OPTIMIZERS[spec["type"]], None), "update", 0) is None:
            takes = sorted(k for k, v in OPTIMIZERS.items() if getattr(getattr(optim, v, None), "update", None))
            raise ConfigError(f"config: optimizer.dense.type {spec['type']!r} has no update for dense gradients; "
                              f"use one of {takes}")
        optimizers[part] = spec
    train = _section(config, "train", _TRAIN_KEYS)
    _positive_int(train["epochs"], "train.epochs")
    _positive_int(train["log_every"], "train.log_every")
    _flag(train["progress"], "train.progress")
    for key in ("checkpoint_every", "max_steps"):  # 0 or a negative count would not mean "never" or "no limit"
        if train[key] is not None:
            _positive_int(train[key], f"train.{key} (or null)")
    model_dir = config.get("model_dir")
    if not isinstance(model_dir, str) or not model_dir:
        raise ConfigError(f"config: model_dir must be a folder path, got {model_dir!r}")
    if base is not None and not os.path.isabs(model_dir):
        model_dir = os.path.join(base, model_dir)
    seed = config.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"config: seed must be a non-negative integer, got {seed!r}")
    return {"data": data, "model": model, "optimizer": optimizers, "train": train, "model_dir": model_dir,
            "seed": seed}
