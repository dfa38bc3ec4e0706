"""``ember.utils.tensorboard.SummaryWriter``: PyTorch's writer taking Ember Tensors, read back from its events."""

import os
import struct

import numpy as np
import pytest

import ember

pytest.importorskip("tensorboardX")
from ember.utils.tensorboard import SummaryWriter  # noqa: E402


def _events(directory):
    from tensorboardX.proto import event_pb2

    events = []
    for name in sorted(os.listdir(directory)):
        if os.path.isdir(os.path.join(directory, name)):
            continue
        data = open(os.path.join(directory, name), "rb").read()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset:offset + 8])
            events.append(event_pb2.Event.FromString(data[offset + 12:offset + 12 + length]))
            offset += 12 + length + 4
    return events


def test_scalars_histograms_and_images_of_tensors_reach_the_event_file(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        for step in range(3):
            writer.add_scalar("loss", ember.tensor(1.0 / (step + 1)), step)
        writer.add_histogram("weights", ember.arange(100.0), 0)
        writer.add_image("image", ember.ones(3, 4, 5) * 0.5, 0)
    values = [(v.tag, e.step, v) for e in _events(tmp_path) if e.HasField("summary") for v in e.summary.value]
    scalars = [(step, v.simple_value) for tag, step, v in values if tag == "loss"]
    np.testing.assert_allclose([s for _, s in scalars], [1.0, 0.5, 1 / 3], rtol=1e-6)
    (histogram,) = [v.histo for tag, _, v in values if tag == "weights"]
    assert histogram.num == 100 and histogram.max == 99.0
    (image,) = [v.image for tag, _, v in values if tag == "image"]
    assert (image.height, image.width) == (4, 5)


def test_add_scalars_takes_a_dict_of_tensors_and_add_graph_is_refused(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_scalars("metrics", {"train": ember.tensor(0.25), "val": 0.5}, 1)
        with pytest.raises(NotImplementedError, match="add_graph: TensorBoard's graph view reads PyTorch's"):
            writer.add_graph(ember.nn.Linear(2, 2), ember.ones(1, 2))
    values = sorted((v.tag, v.simple_value) for root, _, _ in os.walk(tmp_path) for e in _events(root)
                    if e.HasField("summary") for v in e.summary.value)
    assert values == [("metrics", 0.25), ("metrics", 0.5)]  # one run directory per key, as PyTorch writes
