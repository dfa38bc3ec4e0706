"""Run under `ember launch -n N`: Model.fit's training metrics in a multi-rank job are those of the whole epoch's
data (every rank's batches together), not the mean of each rank's: AUC, precision, recall, F1, accuracy and a
user metric without mergeable state (averaged over ranks, as the loss)."""

import numpy as np

import ember
import ember.distributed as dist
from ember import metrics, nn
from ember.model import Model

dist.init_process_group(timeout=30)
r, n = dist.get_rank(), dist.get_world_size()
rng = np.random.default_rng(0)
x = rng.standard_normal((96, 4)).astype(np.float32)
y = (x[:, 0] + rng.standard_normal(96) > 0).astype(np.float32)[:, None]


class Positives(metrics.Metric):
    """A user metric with no ``state_names``: each rank's value, averaged."""

    name = "positives"

    def reset(self) -> None:
        self.seen = []

    def update(self, pred, target) -> None:
        self.seen.append(float(np.asarray(target).mean()))

    def result(self) -> float:
        return float(np.mean(self.seen))


ember.manual_seed(1)
net = nn.Sequential(nn.Linear(4, 1))
model = Model(net, "binary_crossentropy", ember.optim.SGD(net.parameters(), lr=0.0))  # predictions stay fixed
names = ["accuracy", "auc", "precision", "recall", "f1"]
history = model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0, metrics=[*names, Positives()]).history

with ember.no_grad():
    logits = net(ember.tensor(x)).numpy().reshape(-1)  # rank 0's weights, as DDP broadcast them
labels = y.reshape(-1).astype(np.int64)
predicted = (logits >= 0).astype(np.int64)
expected = {"accuracy": metrics.accuracy(predicted, labels), "auc": metrics.roc_auc(logits, labels),
            "precision": metrics.precision(predicted, labels), "recall": metrics.recall(predicted, labels),
            "f1": metrics.f1_score(predicted, labels)}
for name in names:
    assert abs(history[name][0] - expected[name]) < 1e-12, (name, history[name][0], expected[name])
# each rank's batches (the DistributedSampler's share without shuffling: samples r, r + n, ...), each batch's mean
own = [float(y[k::n][lo : lo + 8].mean()) for k in range(n) for lo in range(0, 96 // n, 8)]
assert abs(history["positives"][0] - np.mean(own)) < 1e-12, (history["positives"][0], np.mean(own))
print(f"fit metrics ok on rank {r} of {n}")
