"""``tf.summary.image``, ``audio``, ``text`` and ``tensor_summary``: the serialized Summary decoded back (PNG,
WAV, TensorProto) and compared with NumPy transcriptions of TF-1's summary kernels."""

import io
import struct
import wave
import zlib

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

pytest.importorskip("tensorboardX")
from tensorboardX.proto import summary_pb2  # noqa: E402


def _values(summary_op, feeds=None):
    with tf.Session() as sess:
        proto = summary_pb2.Summary()
        proto.ParseFromString(sess.run(summary_op, feeds))
    return list(proto.value)


def _unpng(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kind, body = data[offset + 4:offset + 8], data[offset + 8:offset + 8 + length]
        assert struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        offset += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    channels = {0: 1, 4: 2, 2: 3, 6: 4}[color]
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, 1 + width * channels)
    assert depth == 8 and (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, channels)


def _tf_float_to_uint8(image):
    """TF-1's NormalizeFloatImage, per image."""
    image = image.astype(np.float32)
    finite = np.isfinite(image)
    low, high = image[finite].min(), image[finite].max()
    if low < 0:
        scale, offset = np.float32(127) / max(abs(low), abs(high)), np.float32(128)
    else:
        scale, offset = np.float32(255) / high, np.float32(0)
    out = np.zeros(image.shape, np.uint8)
    for index in np.ndindex(image.shape[:-1]):
        if finite[index].all():
            out[index] = [int(v) for v in image[index] * scale + offset]
        else:
            out[index] = [255, 0, 0, 255][:image.shape[-1]]
    return out


def test_image_summary_uint8_and_float_images():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (5, 4, 6, 3)).astype(np.uint8)
    values = _values(tf.summary.image("pics", tf.constant(pixels)))  # max_outputs 3
    assert [v.tag for v in values] == ["pics/image/0", "pics/image/1", "pics/image/2"]
    for v, expected in zip(values, pixels):
        assert (v.image.height, v.image.width, v.image.colorspace) == (4, 6, 3)
        assert (_unpng(v.image.encoded_image_string) == expected).all()
    floats = rng.uniform(0, 3, (2, 3, 5, 1)).astype(np.float32)
    floats[1] -= 1.5  # negative values: around 128
    floats[1, 0, 0, 0] = np.nan
    x = tf.placeholder(tf.float32, [None, 3, 5, 1])
    values = _values(tf.summary.image("f", x, max_outputs=4), {x: floats})
    assert [v.tag for v in values] == ["f/image/0", "f/image/1"]
    for v, expected in zip(values, floats):
        assert (_unpng(v.image.encoded_image_string) == _tf_float_to_uint8(expected)).all()
    rgba = rng.uniform(0, 1, (1, 2, 2, 4))
    (single,) = _values(tf.summary.image("one", tf.constant(rgba), max_outputs=1))
    assert single.tag == "one/image" and single.image.colorspace == 4
    assert (_unpng(single.image.encoded_image_string) == _tf_float_to_uint8(rgba[0])).all()


def test_image_summary_joins_merge_all_and_refuses_bad_images():
    tf.summary.scalar("s", tf.constant(1.0))
    tf.summary.image("i", tf.zeros([1, 2, 2, 1]))
    tf.summary.image("elsewhere", tf.zeros([1, 2, 2, 1]), collections=["mine"])
    assert [v.tag for v in _values(tf.summary.merge_all())] == ["s", "i/image/0"]
    assert [v.tag for v in _values(tf.summary.merge_all("mine"))] == ["elsewhere/image/0"]
    with pytest.raises(ValueError, match=r"tf.summary.image: the tensor must be 4-D .* 1, 3 or 4 channels, got shape "
                                         r"\[1, 2, 2, 2\]"):
        tf.summary.image("bad", tf.zeros([1, 2, 2, 2]))
    with pytest.raises(TypeError, match="tf.summary.image: the tensor must be uint8 or float .* got int32"):
        tf.summary.image("bad", tf.zeros([1, 2, 2, 1], tf.int32))
    with pytest.raises(ValueError, match="tf.summary.image: max_outputs must be >= 1, got 0"):
        tf.summary.image("bad", tf.zeros([1, 2, 2, 1]), max_outputs=0)


def test_audio_summary_writes_16_bit_wav():
    clips = np.random.default_rng(1).uniform(-1.2, 1.2, (4, 50, 2)).astype(np.float32)
    rate = tf.placeholder(tf.float32, [])
    values = _values(tf.summary.audio("sound", tf.constant(clips), rate, max_outputs=2), {rate: 8000.0})
    assert [v.tag for v in values] == ["sound/audio/0", "sound/audio/1"]
    for v, clip in zip(values, clips):
        assert (v.audio.sample_rate, v.audio.num_channels, v.audio.length_frames) == (8000.0, 2, 50)
        assert v.audio.content_type == "audio/wav"
        with wave.open(io.BytesIO(v.audio.encoded_audio_string)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
            pcm = np.frombuffer(wav.readframes(50), "<i2").reshape(50, 2)
        expected = np.clip(np.round(clip.astype(np.float64) * 32768), -32768, 32767)
        assert (pcm == expected).all()
    (mono,) = _values(tf.summary.audio("mono", tf.constant(clips[:, :, 0]), 16000, max_outputs=1))
    assert mono.tag == "mono/audio" and mono.audio.num_channels == 1
    with pytest.raises(TypeError, match="tf.summary.audio: the tensor must be float, got int32"):
        tf.summary.audio("bad", tf.zeros([1, 4], tf.int32), 8000)
    with pytest.raises(ValueError, match=r"tf.summary.audio: sample_rate must be a scalar, got shape \[2\]"):
        tf.summary.audio("bad", tf.zeros([1, 4]), [8000.0, 8000.0])


def test_text_and_tensor_summaries():
    (text,) = _values(tf.summary.text("notes", ["a", "héllo"]))
    assert text.tag == "notes" and text.metadata.plugin_data.plugin_name == "text"
    assert list(text.tensor.string_val) == [b"a", "héllo".encode()] and text.tensor.tensor_shape.dim[0].size == 2
    with pytest.raises(TypeError, match="tf.summary.text: Ember tensors hold numbers only"):
        tf.summary.text("notes", tf.constant([1.0]))
    value = np.arange(6, dtype=np.int32).reshape(2, 3)
    (t,) = _values(tf.summary.tensor_summary("t", tf.constant(value), summary_description="six",
                                             display_name="Six"))
    assert t.tag == "t" and (t.metadata.display_name, t.metadata.summary_description) == ("Six", "six")
    assert [d.size for d in t.tensor.tensor_shape.dim] == [2, 3] and t.tensor.dtype == 3  # DT_INT32
    assert (np.frombuffer(t.tensor.tensor_content, "<i4").reshape(2, 3) == value).all()
    with pytest.raises(ValueError, match="tf.summary.tensor_summary: give summary_metadata or display_name"):
        tf.summary.tensor_summary("t", tf.constant(1.0), display_name="x",
                                  summary_metadata=summary_pb2.SummaryMetadata())


def test_scalar_and_histogram_honour_family_and_collections():
    # TF-1's summary_scope: the op is named family/name and its tag is family/family/name
    loss = tf.summary.scalar("loss", tf.constant(2.0), family="train")
    weights = tf.summary.histogram("w", tf.constant([1.0, 2.0]), collections=["mine"])
    picture = tf.summary.image("im", tf.zeros([1, 2, 2, 1]), family="train")
    assert loss.op.name == "train/loss" and picture.op.name == "train/im"
    assert [v.tag for v in _values(loss)] == ["train/train/loss"]
    assert [v.tag for v in _values(picture)] == ["train/train/im/image/0"]
    assert tf.get_collection("summaries") == [loss, picture] and tf.get_collection("mine") == [weights]
    assert [v.tag for v in _values(tf.summary.merge_all())] == ["train/train/loss", "train/train/im/image/0"]
    assert [v.tag for v in _values(tf.summary.merge_all("mine"))] == ["w"]


def test_tags_hold_the_enclosing_name_scope_as_tf1_summary_scope():
    # the tags ignored the name scope ('loss' inside name_scope('train')) and a second summary of one name kept its
    # tag; TF-1 tags each summary with the unique scope it opens, under the family with one
    with tf.name_scope("train"):
        summaries = [tf.summary.scalar("loss", tf.constant(2.0)), tf.summary.scalar("loss", tf.constant(3.0)),
                     tf.summary.histogram("w", tf.constant([1.0, 2.0])),
                     tf.summary.image("im", tf.zeros([1, 2, 2, 1]), max_outputs=1),
                     tf.summary.audio("sound", tf.zeros([1, 4]), 8000, max_outputs=1),
                     tf.summary.text("notes", "hello"), tf.summary.tensor_summary("t", tf.constant(1.0)),
                     tf.summary.scalar("acc", tf.constant(1.0), family="eval")]
    assert [v.tag for s in summaries for v in _values(s)] == [
        "train/loss", "train/loss_1", "train/w", "train/im/image", "train/sound/audio", "train/notes", "train/t",
        "eval/train/eval/acc"]
    assert [s.op.name for s in summaries[:2]] == ["train/loss", "train/loss_1"]
    assert summaries[-1].op.name == "train/eval/acc"
    # TF-1's clean_tag: characters a node name cannot hold become "_", leading slashes go
    assert [v.tag for v in _values(tf.summary.scalar("/my loss", tf.constant(1.0)))] == ["my_loss"]
