"""``tf.summary.image``, ``audio``, ``text`` and ``tensor_summary``, as TensorFlow 1.15: each a summary whose
fetched value is encoded as TF-1's kernels encode it (PNG images, 16-bit WAV audio, TensorProto tensors)."""

from __future__ import annotations

import io
import struct
import wave
import zlib

import numpy as np

from ember.compat.tf._core import Tensor, as_tf
from ember.compat.tf.summary import SummaryOp, _data_type, summary_op

__all__ = ["audio", "image", "tensor_summary", "text"]

_BAD_COLOR = np.array([255, 0, 0, 255], np.uint8)  # TF's default for pixels with a non-finite channel
_PNG_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (gray, gray+alpha, RGB, RGBA)


def _max_outputs(name: str, max_outputs) -> int:
    if int(max_outputs) < 1:
        raise ValueError(f"tf.summary.{name}: max_outputs must be >= 1, got {max_outputs}")
    return int(max_outputs)


def _tags(tag: str, what: str, count: int, max_outputs: int) -> list:
    return [f"{tag}/{what}"] if max_outputs == 1 else [f"{tag}/{what}/{i}" for i in range(count)]


def _png(pixels: np.ndarray) -> bytes:
    """A PNG of (height, width, channels) uint8 ``pixels``, rows unfiltered."""
    height, width, channels = pixels.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOR_TYPES[channels], 0, 0, 0)
    rows = b"".join(b"\x00" + pixels[i].tobytes() for i in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def float_image_to_uint8(image: np.ndarray) -> np.ndarray:
    """TF's conversion of one float image: non-negative values scaled so the largest is 255; with negative
    values, ``127 / max |value|`` around 128; truncated to uint8; a pixel with a non-finite channel is red."""
    image = image.astype(np.float32)
    finite = np.isfinite(image)
    low = image[finite].min() if finite.any() else np.float32(np.inf)
    high = image[finite].max() if finite.any() else np.float32(-np.inf)
    if low < 0:
        top = max(abs(low), abs(high))
        scale, offset = (np.float32(127.0) / top if top >= 1e-6 else np.float32(0)), np.float32(128.0)
    else:
        scale, offset = (np.float32(255.0) / high if 1e-6 <= high < np.inf else np.float32(0)), np.float32(0)
    with np.errstate(invalid="ignore"):
        out = np.where(finite, image * scale + offset, 0).astype(np.uint8)
    bad = ~finite.all(axis=-1)
    out[bad] = _BAD_COLOR[:image.shape[-1]]
    return out


def image(name: str, tensor, max_outputs: int = 3, collections=None, family=None) -> SummaryOp:
    """PNG summaries of the first ``max_outputs`` images of a (batch, height, width, channels) ``tensor``
    (1, 3 or 4 channels), tagged ``name/image/i`` (``name/image`` for ``max_outputs=1``). uint8 images are
    written as they are; float images are rescaled per image as TF-1 does (see ``float_image_to_uint8``)."""
    tensor = as_tf(tensor)
    limit = _max_outputs("image", max_outputs)
    if tensor.shape is not None and (len(tensor.shape) != 4 or tensor.shape[3] not in (None, 1, 3, 4)):
        raise ValueError(f"tf.summary.image: the tensor must be 4-D (batch, height, width, channels) with 1, 3 or 4 "
                         f"channels, got shape {list(tensor.shape)}")
    if tensor.dtype is not None and tensor.dtype not in (np.uint8, np.float16, np.float32, np.float64):
        raise TypeError(f"tf.summary.image: the tensor must be uint8 or float (float16, float32, float64), got "
                        f"{tensor.dtype}")

    def values(tag: str, batch: np.ndarray, tbx) -> list:
        if batch.ndim != 4 or batch.shape[3] not in (1, 3, 4):
            raise ValueError(f"tf.summary.image '{tag}': the images must be (batch, height, width, channels) with "
                             f"1, 3 or 4 channels, got shape {list(batch.shape)}")
        batch = batch[:limit]
        out = []
        for sub, picture in zip(_tags(tag, "image", len(batch), limit), batch):
            pixels = picture if picture.dtype == np.uint8 else float_image_to_uint8(picture)
            height, width, channels = pixels.shape
            encoded = tbx.proto.summary_pb2.Summary.Image(height=height, width=width, colorspace=channels,
                                                           encoded_image_string=_png(pixels))
            out.append(tbx.proto.summary_pb2.Summary.Value(tag=sub, image=encoded))
        return out

    return summary_op(name, values, tensor, collections, family)


def _wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """16-bit little-endian PCM WAV of (frames, channels) float ``samples``: ``round(x * 32768)`` clipped."""
    pcm = np.clip(np.round(samples.astype(np.float32) * np.float32(32768.0)), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(samples.shape[1])
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def audio(name: str, tensor, sample_rate, max_outputs: int = 3, collections=None, family=None) -> SummaryOp:
    """WAV summaries of the first ``max_outputs`` clips of a float (batch, frames) or (batch, frames, channels)
    ``tensor`` with values in [-1, 1] at ``sample_rate`` Hz, tagged ``name/audio/i`` (``name/audio`` for
    ``max_outputs=1``)."""
    tensor = as_tf(tensor)
    limit = _max_outputs("audio", max_outputs)
    if tensor.shape is not None and len(tensor.shape) not in (2, 3):
        raise ValueError(f"tf.summary.audio: the tensor must be 2-D (batch, frames) or 3-D (batch, frames, channels), "
                         f"got shape {list(tensor.shape)}")
    if tensor.dtype is not None and tensor.dtype.kind != "f":
        raise TypeError(f"tf.summary.audio: the tensor must be float, got {tensor.dtype}")
    rate = as_tf(sample_rate)
    if rate.shape is not None and len(rate.shape):
        raise ValueError(f"tf.summary.audio: sample_rate must be a scalar, got shape {list(rate.shape)}")
    def values(tag: str, packed: tuple, tbx) -> list:
        clips, hertz = packed
        if float(hertz) <= 0:
            raise ValueError(f"tf.summary.audio '{tag}': sample_rate must be positive, got {float(hertz)}")
        clips = clips[:limit] if clips.ndim == 3 else clips[:limit, :, None]
        out = []
        for sub, clip in zip(_tags(tag, "audio", len(clips), limit), clips):
            encoded = tbx.proto.summary_pb2.Summary.Audio(
                sample_rate=float(hertz), num_channels=clip.shape[1], length_frames=clip.shape[0],
                encoded_audio_string=_wav(clip, int(round(float(hertz)))), content_type="audio/wav")
            out.append(tbx.proto.summary_pb2.Summary.Value(tag=sub, audio=encoded))
        return out

    return summary_op(name, values, (tensor, rate), collections, family)  # (a Session fetches both)


def text(name: str, tensor, collections=None) -> SummaryOp:
    """A text summary (TensorBoard's text plugin) of ``tensor``: a Python string or a list/array of strings,
    since Ember tensors hold numbers only (a string tensor of TF-1 has no counterpart here)."""
    if isinstance(tensor, Tensor):
        raise TypeError(f"tf.summary.text: Ember tensors hold numbers only, so '{tensor.name}' cannot be a string "
                        "tensor; pass the text as a Python str or a list of str")
    strings = np.asarray(tensor)
    if strings.dtype.kind not in "US":
        raise TypeError(f"tf.summary.text: the text must be a str or strings, got {strings.dtype}")
    strings = strings.astype(str)

    def values(tag: str, _unused, tbx) -> list:
        pb = tbx.proto
        plugin = pb.summary_pb2.SummaryMetadata.PluginData(plugin_name="text")
        proto = pb.tensor_pb2.TensorProto(
            dtype=pb.types_pb2.DT_STRING, string_val=[s.encode("utf-8") for s in strings.reshape(-1)],
            tensor_shape=pb.tensor_shape_pb2.TensorShapeProto(
                dim=[pb.tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in strings.shape]))
        return [pb.summary_pb2.Summary.Value(tag=tag, metadata=pb.summary_pb2.SummaryMetadata(plugin_data=plugin),
                                             tensor=proto)]

    return summary_op(name, values, (), collections, None)


def tensor_summary(name: str, tensor, summary_description: str | None = None, collections=None,
                   summary_metadata=None, family=None, display_name: str | None = None) -> SummaryOp:
    """A summary holding ``tensor``'s value as a TensorProto, with ``display_name``/``summary_description``
    (or a ``SummaryMetadata`` protobuf given as ``summary_metadata``) as its metadata."""
    tensor = as_tf(tensor)
    if summary_metadata is not None and (display_name is not None or summary_description is not None):
        raise ValueError("tf.summary.tensor_summary: give summary_metadata or display_name/summary_description, "
                         "not both")

    def values(tag: str, value: np.ndarray, tbx) -> list:
        pb = tbx.proto
        value = np.asarray(value)
        kind = _data_type(value.dtype)
        if not kind:
            raise TypeError(f"tf.summary.tensor_summary '{tag}': TensorFlow has no DataType for {value.dtype}")
        proto = pb.tensor_pb2.TensorProto(
            dtype=kind, tensor_content=np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<")).tobytes(),
            tensor_shape=pb.tensor_shape_pb2.TensorShapeProto(
                dim=[pb.tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in value.shape]))
        if summary_metadata is not None:
            metadata = pb.summary_pb2.SummaryMetadata()
            metadata.CopyFrom(summary_metadata)
        else:
            metadata = pb.summary_pb2.SummaryMetadata(display_name=display_name or "",
                                                      summary_description=summary_description or "")
        return [pb.summary_pb2.Summary.Value(tag=tag, metadata=metadata, tensor=proto)]

    return summary_op(name, values, tensor, collections, family)
