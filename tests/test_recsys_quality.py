"""DeepFM and DCN-v2 from a config beat logistic regression on the synthetic click log, and match PyTorch
twins trained on the same batches from the same weights (benchmarks/ctr_quality.py at a small size)."""

from __future__ import annotations

import os
import sys

import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

import ctr_quality  # noqa: E402


@pytest.fixture
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small steps: a second thread only adds contention
    yield
    torch.set_num_threads(threads)


def test_deepfm_and_dcn_v2_beat_lr_and_match_torch(one_torch_thread):
    results = ctr_quality.run(16_000, 8_000, 2, seed=0, synthetic={"max_vocab": 200}, hidden=[32])
    lr = results["lr"]
    assert lr["auc"] > 0.70  # the first-order part of the planted model is learnable
    assert lr["ceiling_auc"] > 0.82
    for name, margin in (("deepfm", 0.01), ("dcn_v2", 0.02)):
        ember_auc, torch_auc = results[name]["ember"]["auc"], results[name]["torch"]["auc"]
        assert ember_auc > lr["auc"] + margin, (name, ember_auc, lr["auc"])
        assert ember_auc < lr["ceiling_auc"]
        assert abs(ember_auc - torch_auc) < 0.005, (name, ember_auc, torch_auc)
        assert abs(results[name]["ember"]["logloss"] - results[name]["torch"]["logloss"]) < 0.005
