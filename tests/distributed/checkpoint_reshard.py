"""Run under `ember launch -n N`: `save DIR` trains a sharded model and saves it; `check DIR` loads it at this
world size and compares every row, slot and dense weight with the files."""

import sys

import numpy as np

import ember
import ember.distributed as dist
from ember import checkpoint, nn

dist.init_process_group(timeout=30)
r, n = dist.get_rank(), dist.get_world_size()
mode, directory = sys.argv[1], sys.argv[2]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.table = dist.ShardedHashEmbedding(4, seed=1)
        ember.manual_seed(5)
        self.head = nn.Linear(8, 1)

    def forward(self, ids):
        return self.head(self.table(ids).reshape(len(ids), -1)).reshape(-1)


net = Net()
opt = ember.optim.Adagrad(net.parameters(), lr=0.1)
if mode == "save":
    rng = np.random.default_rng(r)
    model = dist.DistributedDataParallel(net)
    for _ in range(3):
        opt.zero_grad()
        ids = rng.integers(0, 1000, (16, 2))
        ember.binary_cross_entropy_with_logits(model(ids), ember.tensor(rng.random(16).astype(np.float32))).backward()
        opt.step()
    dist.checkpoint.save(directory, net, opt)
else:
    dist.checkpoint.load(directory, net, opt)
    import json
    import os

    manifest = json.load(open(os.path.join(directory, "manifest.json")))
    saved = [checkpoint.load(os.path.join(directory, f)) for f in manifest["files"]]
    tables = [s["tables"]["table"] for s in saved]
    keys = np.concatenate([t["keys"] for t in tables])
    mine = dist.shard_of(keys, n) == r
    state = net.table.shard.state_dict()
    order = np.argsort(state["keys"])
    expect_order = np.argsort(keys[mine])
    np.testing.assert_array_equal(state["keys"][order], keys[mine][expect_order])
    for name in [k for k in state if k == "values" or k.startswith(("slot.", "meta."))]:
        np.testing.assert_array_equal(state[name][order], np.concatenate([t[name] for t in tables])[mine][expect_order])
    np.testing.assert_array_equal(net.head.weight.detach().numpy(), saved[0]["replicated"]["head.weight"].numpy())
    total = dist.default_group().all_gather(np.array([len(state["keys"])])).sum()
    assert total == len(keys)
    assert opt.state_dict()["param_groups"] == saved[0]["optimizer"]["param_groups"]
    print(f"reshard ok on rank {r} of {n} from {manifest['world_size']}")
