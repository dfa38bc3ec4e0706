"""Config-driven CTR training: `ember train CONFIG.yaml`, metrics.json, atomic checkpoints, seeding, and
the config's errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ember import cli
from ember.data.criteo import write_criteo
from ember.data.synthetic_ctr import make_synthetic_ctr
from ember.recsys.config import ConfigError, load_config
from ember.recsys.training import CHAIN, CHECKPOINT, METRICS, Trainer, evaluate, train

yaml = pytest.importorskip("yaml")

SMALL = {"rows": 6_000, "eval_rows": 3_000, "synthetic": {"max_vocab": 200}, "batch_size": 256}


def _config(tmp_path, model: dict, **data) -> dict:
    return {"seed": 1, "data": {"format": "synthetic", **SMALL, **data}, "model": model,
            "train": {"epochs": 1, "progress": False}, "model_dir": str(tmp_path / model["type"])}


def test_cli_trains_a_criteo_config_and_writes_metrics(tmp_path, capsys):
    generated = make_synthetic_ctr(8_000, seed=0, max_vocab=200)
    train_part, eval_part = generated.split(0.75)
    write_criteo(tmp_path / "train.txt", train_part.table)
    write_criteo(tmp_path / "eval.txt", eval_part.table)
    (tmp_path / "lr.yaml").write_text(
        "data: {format: criteo, train: train.txt, eval: eval.txt, batch_size: 256}\n"
        "model: {type: lr}\n"
        "optimizer: {sparse: {type: ftrl, lr: 0.05, l2: 0.0001}, dense: {type: ftrl, lr: 0.05}}\n"
        "train: {epochs: 2, progress: false}\n"
        "model_dir: run\n")
    assert cli.main(["train", str(tmp_path / "lr.yaml")]) == 0
    assert "auc" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "run" / METRICS).read_text())
    assert metrics["auc"] > 0.68 and metrics["logloss"] < 0.56 and metrics["steps"] == 2 * 24
    assert 0.6 < metrics["train_auc"] < 0.95  # streaming AUC of the last epoch's training batches
    assert (tmp_path / "run" / CHECKPOINT).exists()
    assert not [p for p in (tmp_path / "run").iterdir() if "tmp" in p.name]  # atomic writes leave no temp files


def test_same_config_same_metrics_and_checkpoint_restores(tmp_path):
    config = _config(tmp_path, {"type": "wide_deep", "embedding_dim": 8, "hidden": [16]})
    first = train(config)
    second = train(config)
    assert first["auc"] == second["auc"] and first["logloss"] == second["logloss"]
    assert first["auc"] > 0.6 and 0.8 < first["ceiling_auc"] < 0.95
    trainer = Trainer(load_config(config))  # a fresh, untrained model of the same shape
    assert trainer.restore() == {"step": first["steps"], "epoch": 1}
    restored = evaluate(trainer.model, trainer.eval_set)
    assert restored["auc"] == first["auc"] and restored["logloss"] == first["logloss"]


def test_incremental_checkpoints_restore_the_stopped_run(tmp_path):
    config = _config(tmp_path, {"type": "deepfm", "embedding_dim": 4, "hidden": [8]})
    config["train"].update(checkpoint_every=4, max_steps=10)
    trained = Trainer(load_config(config))
    metrics = trained.fit()
    chain = json.loads((tmp_path / "deepfm" / CHAIN).read_text())["chain"]
    assert chain == [CHECKPOINT, "delta-00000004.safetensors", "delta-00000008.safetensors",
                     "delta-00000010.safetensors"]
    fresh = Trainer(load_config(config))
    assert fresh.restore() == {"step": 10, "epoch": 0}  # stopped in the first epoch: none finished
    assert evaluate(fresh.model, fresh.eval_set)["auc"] == metrics["auc"]
    batch = fresh.train_set.take_batch(np.arange(256))
    assert fresh.train_step(batch) == trained.train_step(batch)  # slots restored too: the next step agrees


def test_mmoe_trains_two_tasks(tmp_path):
    config = _config(tmp_path, {"type": "mmoe", "embedding_dim": 8, "hidden": [8], "expert_hidden": [16]},
                     synthetic={"max_vocab": 200, "second_task": True})
    config["train"]["epochs"] = 3
    metrics = train(config)
    assert metrics["auc"] > 0.6 and metrics["auc_task1"] > 0.6


def test_mmoe_of_one_task_trains_on_data_with_one_label(tmp_path):
    config = _config(tmp_path, {"type": "mmoe", "embedding_dim": 8, "hidden": [8], "expert_hidden": [16]})
    metrics = train(config)  # no second label in the data: one task, (B, 1) logits
    assert metrics["auc"] > 0.6 and "auc_task1" not in metrics


def test_config_errors_name_the_key(tmp_path):
    good = _config(tmp_path, {"type": "fm"})
    load_config(good)
    cases = [({"model": {"type": "gbdt"}}, "model.type"), ({"data": {"format": "parquet"}}, "data.format"),
             ({"train": {"epochs": 0}}, "train.epochs"), ({"train": {"max_steps": -1}}, "train.max_steps"),
             ({"train": {"max_steps": 0}}, "train.max_steps"), ({"train": {"log_every": 0}}, "train.log_every"),
             ({"train": {"checkpoint_every": "4"}}, "train.checkpoint_every"),
             ({"optimizer": {"sparse": {"type": "lbfgs"}}}, "sparse.type"),
             ({"modle": {}}, "unknown top-level keys"), ({"model_dir": None}, "model_dir"),
             # Adam has no sparse rule: the config was taken and the run failed at its first step
             ({"optimizer": {"sparse": {"type": "adam", "lr": 0.1}}},
              r"sparse.type 'adam' has no update for the tables' row-sparse gradients; use one of \['adagrad'"),
             # and SparseAdam none for dense ones: the run failed at its first step too
             ({"optimizer": {"dense": {"type": "sparse_adam", "lr": 0.1}}},
              r"dense.type 'sparse_adam' has no update for dense gradients; use one of \['adagrad', 'adam'"),
             # these were taken: a quoted "no" shuffled and showed progress, a bool or inf lr failed mid-run
             ({"data": {"shuffle": "no"}}, "data.shuffle must be true or false"),
             ({"train": {"progress": "no"}}, "train.progress must be true or false"),
             ({"data": {"num_buckets": "x"}}, "data.num_buckets"), ({"data": {"limit": -1}}, "data.limit"),
             ({"optimizer": {"dense": {"type": "adam", "lr": float("inf")}}}, "optimizer.dense.lr"),
             ({"optimizer": {"dense": {"type": "adam", "lr": True}}}, "optimizer.dense.lr"),
             ({"optimizer": {"dense": "adam"}}, "optimizer.dense must be a mapping"),
             ({"model": {"type": "deepfm", "hidden": [True]}}, "model.hidden"), ({"seed": -1}, "seed")]
    for change, message in cases:
        bad = {**good, **change}
        if "data" in change:
            bad["data"] = {**good["data"], **change["data"]}
        with pytest.raises(ConfigError, match=message):
            load_config(bad)
    with pytest.raises(ConfigError, match="data.train"):
        load_config({**good, "data": {"format": "criteo", "eval": "e.txt"}})
    (tmp_path / "broken.yaml").write_text("data: [1, 2\n")
    with pytest.raises(ConfigError, match=r"broken.yaml is not valid YAML: expected ',' or '\]', but got "
                                          r"'<stream end>' at line 2, column 1$"):
        load_config(tmp_path / "broken.yaml")
    lr = load_config(_config(tmp_path, {"type": "lr"}))
    assert lr["optimizer"]["sparse"]["type"] == "ftrl"  # LR defaults to FTRL
    assert np.isclose(load_config(good)["optimizer"]["dense"]["lr"], 0.001)


def test_options_the_model_optimizer_or_generator_do_not_take_name_their_section(tmp_path, capsys):
    good = _config(tmp_path, {"type": "fm"})
    cases = [({"model": {"type": "fm", "dropout": 0.1}}, r"config: model: .*'dropout'"),
             ({"optimizer": {"dense": {"type": "adam", "lr": 0.01, "betas": 3}}}, "config: optimizer.dense: "),
             ({"optimizer": {"sparse": {"type": "adagrad", "lr": 0.1, "moment": 1}}},
              r"config: optimizer.sparse: .*'moment'"),
             ({"data": {**good["data"], "synthetic": {"vocab": 10}}}, r"config: data.synthetic: .*'vocab'"),
             # a value the model refuses was a plain ValueError, not the config error the CLI reports
             ({"model": {"type": "fm", "init_std": -0.01}}, r"config: model: .*init_std")]
    for change, message in cases:  # these were TypeErrors, a traceback from `ember train CONFIG.yaml`
        with pytest.raises(ConfigError, match=message):
            train({**good, **change})
    (tmp_path / "typo.yaml").write_text("data: {format: synthetic, rows: 300}\nmodel: {type: fm, hiden: [8]}\n"
                                        "model_dir: run\n")
    assert cli.main(["train", str(tmp_path / "typo.yaml")]) == 1
    assert capsys.readouterr().err.startswith("ember train: error: config: model: ")
