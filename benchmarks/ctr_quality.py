"""CTR model quality on the synthetic click log: Ember's DeepFM and DCN-v2 (trained from a config) beside
logistic regression and beside PyTorch models of the same shape trained the same way, with the planted
model's ceiling.

    python benchmarks/ctr_quality.py                    # 200k train rows, 50k eval rows, 2 epochs
    python benchmarks/ctr_quality.py --rows 50000 --epochs 1

"The same way": the PyTorch twin starts from Ember's initial weights (dense layers copied, embedding rows
read from a copy of the hash tables), sees the very batches Ember trained on, in the same order, and uses
the same optimizers (Adagrad for the embeddings, Adam for the rest; torch's sparse embeddings). Keys
absent from training read a zero row in both at evaluation.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time

import numpy as np

import ember
from ember.metrics import log_loss, roc_auc
from ember.recsys.config import load_config
from ember.recsys.training import Trainer

SYNTHETIC = {"max_vocab": 1000}


def config(model_type: str, rows: int, eval_rows: int, epochs: int, model_dir: str, seed: int = 0,
           hidden=(64, 32), batch_size: int = 256, synthetic: dict | None = None) -> dict:
    model = {"type": model_type, "embedding_dim": 16 if model_type != "lr" else 1}
    if model_type not in ("lr", "fm"):
        model["hidden"] = list(hidden)
    return {"seed": seed, "model_dir": model_dir, "train": {"epochs": epochs, "progress": False},
            "data": {"format": "synthetic", "rows": rows, "eval_rows": eval_rows, "batch_size": batch_size,
                     "synthetic": dict(SYNTHETIC if synthetic is None else synthetic)},
            "model": model}


# --- the PyTorch twins ------------------------------------------------------------------------------------
def _torch_twin(model, vocabulary: np.ndarray):
    """A torch module of ``model``'s shape (DeepFM or DCNv2) with its current weights; embedding row i + 1
    holds vocabulary key i, row 0 is a frozen zero row for keys outside the vocabulary."""
    import torch
    from torch import nn

    from ember.recsys import DCNv2, DeepFM

    def table_rows(field_embedding) -> torch.Tensor:
        table = copy.deepcopy(field_embedding.table)
        table.train()
        with ember.no_grad():
            rows = table(vocabulary).numpy()
        return torch.from_numpy(np.concatenate([np.zeros((1, rows.shape[1]), np.float32), rows]))

    def embedding(field_embedding) -> nn.Embedding:
        weight = table_rows(field_embedding)
        return nn.Embedding.from_pretrained(weight, freeze=False, sparse=True, padding_idx=0)

    def linear_stack(ember_sequential) -> nn.Sequential:
        layers = []
        for layer in ember_sequential:
            if type(layer).__name__ == "Linear":
                out_f, in_f = layer.weight.shape
                twin = nn.Linear(in_f, out_f)
                with torch.no_grad():
                    twin.weight.copy_(torch.from_numpy(layer.weight.detach().numpy()))
                    twin.bias.copy_(torch.from_numpy(layer.bias.detach().numpy()))
                layers.append(twin)
            else:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.kind = "deepfm" if isinstance(model, DeepFM) else "dcn_v2"
            if not isinstance(model, (DeepFM, DCNv2)):
                raise TypeError(f"no torch twin for {type(model).__name__}")
            self.embedding = embedding(model.embedding)
            self.deep = linear_stack(model.deep)
            if self.kind == "deepfm":
                self.first = embedding(model.linear.weights)
                self.dense_w = nn.Parameter(torch.from_numpy(model.linear.dense.weight.detach().numpy().copy()))
                self.bias = nn.Parameter(torch.from_numpy(model.linear.bias.detach().numpy().copy()))
            else:
                self.cross = linear_stack(model.cross.layers)

        def sparse_parameters(self):
            return [self.embedding.weight] + ([self.first.weight] if self.kind == "deepfm" else [])

        def dense_parameters(self):
            sparse = {id(p) for p in self.sparse_parameters()}
            return [p for p in self.parameters() if id(p) not in sparse]

        def forward(self, index, dense):
            fields = self.embedding(index)  # (B, F, d)
            x0 = torch.cat([fields.reshape(fields.shape[0], -1), dense], 1)
            if self.kind == "deepfm":
                total = fields.sum(1)
                fm = 0.5 * (total * total - (fields * fields).sum(1)).sum(1)
                first = self.first(index).reshape(index.shape[0], -1).sum(1) + self.bias + (dense @ self.dense_w)[:, 0]
                return first + fm + self.deep(x0)[:, 0]
            x = x0
            for layer in self.cross:
                x = x0 * layer(x) + x
            return self.deep(x)[:, 0]

    return Twin()


def _torch_inputs(batch, vocabulary: np.ndarray):
    import torch

    pos = np.clip(np.searchsorted(vocabulary, batch.keys), 0, len(vocabulary) - 1)
    index = np.where(vocabulary[pos] == batch.keys, pos + 1, 0)
    return torch.from_numpy(index), torch.from_numpy(batch.dense.numpy())


def train_side_by_side(model_type: str, cfg: dict) -> dict:
    """Train ``model_type`` from ``cfg`` in Ember and its torch twin on the same batches; both results."""
    import torch

    trainer = Trainer(load_config(cfg))
    vocabulary = np.unique(trainer.train_set.features.keys)
    twin = _torch_twin(trainer.model, vocabulary)
    specs = trainer.config["optimizer"]
    sparse_opt = torch.optim.Adagrad(twin.sparse_parameters(), lr=specs["sparse"]["lr"])
    dense_opt = torch.optim.Adam(twin.dense_parameters(), lr=specs["dense"]["lr"])
    batches = []
    prefetch = trainer.train_set.prepare
    trainer.train_set.prepare = lambda b: (batches.append(b), prefetch(b))
    start = time.perf_counter()
    ember_metrics = trainer.fit()
    ember_seconds = time.perf_counter() - start

    start = time.perf_counter()
    for batch in batches:
        index, dense = _torch_inputs(batch, vocabulary)
        sparse_opt.zero_grad()
        dense_opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(twin(index, dense),
                                                                    torch.from_numpy(batch.labels.numpy()))
        loss.backward()
        sparse_opt.step()
        dense_opt.step()
    torch_seconds = time.perf_counter() - start
    probs = []
    with torch.no_grad():
        for s in range(0, len(trainer.eval_set), 4096):
            batch = trainer.eval_set.take_batch(np.arange(s, min(s + 4096, len(trainer.eval_set))))
            probs.append(torch.sigmoid(twin(*_torch_inputs(batch, vocabulary))).numpy())
    probs = np.concatenate(probs)
    labels = trainer.eval_set.table.labels
    return {"ember": ember_metrics, "torch": {"auc": roc_auc(probs, labels), "logloss": log_loss(probs, labels)},
            "ember_seconds": ember_seconds, "torch_seconds": torch_seconds, "steps": len(batches)}


def run(rows: int, eval_rows: int, epochs: int, seed: int = 0, models=("deepfm", "dcn_v2"), **options) -> dict:
    """LR from its config, then each of ``models`` beside its torch twin; results by name. ``options`` go
    to ``config`` (hidden, batch_size, synthetic)."""
    with tempfile.TemporaryDirectory() as tmp:
        results = {"lr": Trainer(load_config(config("lr", rows, eval_rows, epochs, os.path.join(tmp, "lr"), seed,
                                                    **options))).fit()}
        for name in models:
            results[name] = train_side_by_side(name, config(name, rows, eval_rows, epochs, os.path.join(tmp, name),
                                                            seed, **options))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--eval-rows", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results = run(args.rows, args.eval_rows, args.epochs, args.seed)
    lr = results["lr"]
    print(f"synthetic click log: {args.rows} train rows, {args.eval_rows} eval rows, {args.epochs} epoch(s), "
          f"seed {args.seed}")
    print(f"planted model (ceiling): AUC {lr['ceiling_auc']:.4f}  logloss {lr['ceiling_logloss']:.4f}")
    print(f"{'model':<10}{'ember AUC':>11}{'torch AUC':>11}{'diff':>9}{'ember LL':>10}{'torch LL':>10}"
          f"{'vs LR':>9}{'ember s':>9}{'torch s':>9}")
    print(f"{'lr':<10}{lr['auc']:>11.4f}{'':>11}{'':>9}{lr['logloss']:>10.4f}")
    for name in ("deepfm", "dcn_v2"):
        r = results[name]
        e, t = r["ember"], r["torch"]
        print(f"{name:<10}{e['auc']:>11.4f}{t['auc']:>11.4f}{e['auc'] - t['auc']:>+9.4f}{e['logloss']:>10.4f}"
              f"{t['logloss']:>10.4f}{e['auc'] - lr['auc']:>+9.4f}{r['ember_seconds']:>9.1f}{r['torch_seconds']:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
