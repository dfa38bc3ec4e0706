"""Config-driven CTR training: data, feature columns, model and optimizers from one config, then train,
checkpoint (atomically) into ``model_dir`` and write ``model_dir/metrics.json``.

>>> metrics = ember.recsys.train("deepfm.yaml")      # or a dict with the same keys
>>> metrics["auc"], metrics["logloss"]
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

import ember
from ember import ops, optim
from ember.checkpoint import write_text
from ember.data import DataLoader
from ember.data.criteo import read_criteo
from ember.data.ctr_dataset import CTRBatch, CTRDataset
from ember.data.features import criteo_columns
from ember.data.synthetic_ctr import make_synthetic_ctr
from ember.embedding import load_checkpoint, save_checkpoint
from ember.metrics import StreamingAUC, log_loss, roc_auc
from ember.recsys.config import OPTIMIZERS, ConfigError, load_config
from ember.recsys.models import CTRModel, build_model

CHECKPOINT = "checkpoint.safetensors"
CHAIN = "checkpoints.json"  # the files to restore, in order: the full checkpoint, then the deltas after it
METRICS = "metrics.json"


def load_data(config: dict) -> tuple[CTRDataset, CTRDataset, dict]:
    """(train, eval) datasets of a checked config's ``data`` section, and facts about them (the planted
    ceiling for synthetic data)."""
    data = config["data"]
    columns = criteo_columns(data.get("num_buckets"))
    info = {}
    if data["format"] == "criteo":
        train = read_criteo(data["train"], limit=data.get("limit"))
        test = read_criteo(data["eval"], limit=data.get("eval_limit"))
    else:
        try:
            generated = make_synthetic_ctr(data["rows"] + data["eval_rows"], seed=config["seed"], **data["synthetic"])
        except TypeError as exc:  # an unknown or mistyped generator option
            raise ConfigError(f"config: data.synthetic: {exc}") from exc
        train_part, eval_part = generated.split(data["rows"] / (data["rows"] + data["eval_rows"]))
        train, test = train_part.table, eval_part.table
        info["ceiling_auc"] = eval_part.ceiling_auc()
        info["ceiling_logloss"] = eval_part.ceiling_logloss()
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"train: the train and eval data need rows, got {len(train)} and {len(test)}")
    return CTRDataset(train, columns), CTRDataset(test, columns), info


def _model_options(config: dict, num_tasks: int) -> dict:
    options = {k: v for k, v in config["model"].items() if k != "type"}
    options.setdefault("seed", config["seed"])
    if config["model"]["type"] == "mmoe":
        options.setdefault("num_tasks", num_tasks)
    return options


def build_optimizer(params: list, spec: dict) -> optim.Optimizer:
    """An ``ember.optim`` optimizer from a config entry ``{type, lr, ...}`` (other keys are its arguments)."""
    name = OPTIMIZERS[spec["type"]]
    cls = getattr(optim, name, None)
    if cls is None:
        raise ValueError(f"build_optimizer: optimizer {spec['type']!r} ({name}) is not in this build of ember.optim")
    kwargs = {k: v for k, v in spec.items() if k != "type"}
    return cls(params, **kwargs)


def _targets(model: CTRModel, batch: CTRBatch, logits):
    if model.num_tasks == 1:  # an MMoE of one task gives (B, 1) logits, the other models (B,)
        return batch.labels if logits.ndim == 1 else ops.reshape(batch.labels, (-1, 1))
    extra = batch.extra_labels
    if extra is None or extra.shape[1] < model.num_tasks - 1:
        raise ValueError(f"train: the model has {model.num_tasks} tasks but the data has "
                         f"{1 + (0 if extra is None else extra.shape[1])} labels per row")
    return ops.concat([ops.reshape(batch.labels, (-1, 1)), extra[:, :model.num_tasks - 1]], axis=1)


def predict(model: CTRModel, dataset: CTRDataset, batch_size: int = 4096) -> np.ndarray:
    """Click probabilities of every row of ``dataset``, (N,) or (N, tasks), in evaluation mode."""
    was_training = model.training
    model.eval()
    out = []
    try:
        with ember.no_grad():
            for start in range(0, len(dataset), batch_size):
                batch = dataset.take_batch(np.arange(start, min(start + batch_size, len(dataset))))
                out.append(ops.sigmoid(model(batch)).numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out)


def evaluate(model: CTRModel, dataset: CTRDataset, batch_size: int = 4096) -> dict:
    """``auc`` and ``logloss`` of ``model`` on ``dataset`` (per task as ``auc_task{k}`` for k >= 1)."""
    probs = predict(model, dataset, batch_size)
    labels = dataset.table.labels
    if probs.ndim == 1:
        return {"auc": roc_auc(probs, labels), "logloss": log_loss(probs, labels)}
    result = {"auc": roc_auc(probs[:, 0], labels), "logloss": log_loss(probs[:, 0], labels)}
    for k in range(1, probs.shape[1]):
        extra = dataset.table.extra_labels[:, k - 1]
        result[f"auc_task{k}"], result[f"logloss_task{k}"] = roc_auc(probs[:, k], extra), log_loss(probs[:, k], extra)
    return result


def _write_json(path: str, obj: dict) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


class Trainer:
    """The objects a config describes, built and ready: ``train_set``, ``eval_set``, ``model``, the
    ``optimizers`` ("sparse", "dense"); ``fit()`` trains, checkpoints and writes the metrics.

    >>> trainer = Trainer(load_config("deepfm.yaml"))
    >>> metrics = trainer.fit()
    """

    def __init__(self, config: dict):
        self.config = config
        ember.manual_seed(config["seed"])
        self.train_set, self.eval_set, self.info = load_data(config)
        table = self.train_set.table
        num_tasks = 1 + (0 if table.extra_labels is None else table.extra_labels.shape[1])
        try:
            self.model = build_model(config["model"]["type"], self.train_set.columns.num_fields,
                                     self.train_set.columns.num_dense, **_model_options(config, num_tasks))
        except (TypeError, ValueError) as exc:  # the model's options are its constructor's: unknown or out of range
            raise ConfigError(f"config: model: {exc}") from exc
        self.optimizers = {}
        for part, params in (("sparse", self.model.sparse_parameters()), ("dense", self.model.dense_parameters())):
            try:
                self.optimizers[part] = build_optimizer(params, config["optimizer"][part])
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"config: optimizer.{part}: {exc}") from exc
        self.train_set.prepare = self.model.prefetch  # resolves the next batch's rows during the step
        self.step = 0
        self.train_auc = StreamingAUC()
        self.chain: list[str] = []

    def train_step(self, batch: CTRBatch) -> float:
        """One step on ``batch``: forward, BCE loss, backward, both optimizers; returns the loss. The click
        task's predictions feed ``train_auc`` (a streaming AUC over the current epoch)."""
        for opt in self.optimizers.values():
            opt.zero_grad()
        logits = self.model(batch)
        with ember.no_grad():
            clicks = logits if logits.ndim == 1 else logits[:, 0]
            self.train_auc.update(ops.sigmoid(clicks).numpy(), batch.labels.numpy())
        loss = ember.binary_cross_entropy_with_logits(logits, _targets(self.model, batch, logits))
        loss.backward()
        for opt in self.optimizers.values():
            opt.step()
        self.step += 1
        return float(loss.item())

    def _checkpoint(self, epoch: int, incremental: bool) -> None:
        """Write a full checkpoint (restarting the chain, dropping the old deltas) or a delta of the hash
        tables' rows changed since the last one, atomically; then the chain file."""
        model_dir = self.config["model_dir"]
        name = f"delta-{self.step:08d}.safetensors" if incremental else CHECKPOINT
        save_checkpoint(os.path.join(model_dir, name), self.model, list(self.optimizers.values()),
                        incremental=incremental, extra={"epoch": epoch, "step": self.step})
        stale = [] if incremental else self.chain[1:]
        self.chain = self.chain + [name] if incremental else [name]
        _write_json(os.path.join(model_dir, CHAIN), {"chain": self.chain})
        for old in stale:
            os.remove(os.path.join(model_dir, old))

    def restore(self, model_dir: str | None = None) -> dict:
        """Load the model and optimizers from ``model_dir``'s checkpoint chain (full, then deltas); returns
        the last checkpoint's ``{"epoch", "step"}``."""
        model_dir = self.config["model_dir"] if model_dir is None else model_dir
        with open(os.path.join(model_dir, CHAIN)) as f:
            chain = json.load(f)["chain"]
        extra = load_checkpoint(self.model, list(self.optimizers.values()),
                                *(os.path.join(model_dir, name) for name in chain))
        self.step = int(extra["step"])
        return extra

    def fit(self) -> dict:
        """Train for ``train.epochs``, checkpoint into ``model_dir`` (a full checkpoint after each epoch, and
        with ``train.checkpoint_every`` a delta of the changed rows every that many steps, listed in
        ``checkpoints.json``), evaluate, and write ``metrics.json``; returns the metrics."""
        config, settings = self.config, self.config["train"]
        model_dir = config["model_dir"]
        os.makedirs(model_dir, exist_ok=True)
        incremental = bool(settings["checkpoint_every"]) and any(
            getattr(m, "_owns_state_dict", False) for m in self.model.modules())  # deltas need hash tables
        if incremental:
            self._checkpoint(0, incremental=False)  # the base the deltas apply to
        loader = DataLoader(self.train_set, batch_size=config["data"]["batch_size"], shuffle=config["data"]["shuffle"],
                            prefetch=2)
        progress = None
        if settings["progress"]:
            from tqdm import tqdm

            progress = tqdm(total=settings["epochs"] * len(loader), desc=config["model"]["type"], unit="step",
                            mininterval=1.0)
        start, losses = time.perf_counter(), []
        self.model.train()
        try:
            for epoch in range(settings["epochs"]):
                self.train_auc.reset()
                batches = 0
                for batch in loader:
                    batches += 1
                    losses.append(self.train_step(batch))
                    if progress is not None:
                        progress.update(1)
                        if self.step % settings["log_every"] == 0:
                            progress.set_postfix(loss=f"{np.mean(losses[-settings['log_every']:]):.4f}",
                                                 auc=f"{self.train_auc.result():.4f}")
                    if settings["checkpoint_every"] and self.step % settings["checkpoint_every"] == 0:
                        self._checkpoint(epoch, incremental=bool(incremental))
                    if settings["max_steps"] and self.step >= settings["max_steps"]:
                        break
                stopped = bool(settings["max_steps"]) and self.step >= settings["max_steps"]
                if not (stopped and self.chain and self.chain[-1].endswith(f"{self.step:08d}.safetensors")):
                    # an epoch's end is a full checkpoint; a run stopped mid-epoch ends its chain with a delta,
                    # and its "epoch" counts only the epochs finished
                    finished = batches == len(loader)
                    self._checkpoint(epoch + 1 if finished else epoch, incremental=bool(incremental) and stopped)
                if stopped:
                    break
        finally:
            if progress is not None:
                progress.close()
        seconds = time.perf_counter() - start
        metrics = evaluate(self.model, self.eval_set)
        metrics.update(self.info)
        metrics.update({"model": config["model"]["type"], "steps": self.step, "train_rows": len(self.train_set),
                        "eval_rows": len(self.eval_set), "train_seconds": round(seconds, 3),
                        "final_train_loss": float(np.mean(losses[-50:])) if losses else float("nan"),
                        "train_auc": self.train_auc.result()})
        _write_json(os.path.join(model_dir, METRICS), metrics)
        return metrics


def train(config) -> dict:
    """Train from a config (a YAML path or a dict; see ``ember.recsys.config``) and return its metrics,
    also written to ``model_dir/metrics.json``.

    >>> metrics = ember.recsys.train({"data": {"format": "synthetic", "rows": 20_000}, "model": {"type": "fm"},
    ...                               "model_dir": "runs/fm"})
    """
    return Trainer(load_config(config)).fit()
