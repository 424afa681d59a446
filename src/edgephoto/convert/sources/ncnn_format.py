"""Read an ncnn model: the text `.param` layer table and the `.bin` weights beside it.

No ncnn needed: the file layout is parsed here, so the converter can build its own graph and the
`ncnn` wheel stays an optional parity reference. Facts of the format this follows:
- `.param` line 1 is the magic 7767517, line 2 "layer_count blob_count", then one line per
  layer: type, name, bottom count, top count, bottom names, top names, `id=value` params; an id
  of -23300-k holds the array param k as "count,v1,v2,...". A value with '.', 'e' or 'E' is a
  float, any other an int.
- `.bin` holds each layer's weight blobs in layer order. A "tagged" blob starts with a 4-byte
  storage tag: 0x01306B47 fp16, 0x000D4B38 int8, 0x0002C056 fp32, 0 fp32, any other non-zero
  tag a 256-entry fp32 table and uint8 indices; fp16/int8/index data pad to 4 bytes. An
  untagged blob is plain fp32 (biases, PReLU slopes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgephoto.convert.sources.ncnn_layers import Layer, ParamValue, weight_blobs
from edgephoto.errors import InputFileError, UnsupportedOpError

MAGIC = 7767517
TAG_FP16, TAG_INT8, TAG_FP32 = 0x01306B47, 0x000D4B38, 0x0002C056
ARRAY_BASE = -23300


@dataclass
class NcnnModel:
    param_path: Path
    layers: list[Layer]

    def storage_kinds(self) -> list[str]:
        return sorted({layer.storage for layer in self.layers if layer.storage})


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def _parse_params(path: Path, lineno: int, items: list[str]) -> dict[int, ParamValue]:
    params: dict[int, ParamValue] = {}
    for item in items:
        key_text, sep, value = item.partition("=")
        try:
            key = int(key_text)
            if not sep:
                raise ValueError
            if key <= ARRAY_BASE:
                count, *values = value.split(",")
                if int(count) != len(values):
                    raise ValueError
                params[ARRAY_BASE - key] = [_number(v) for v in values]
            else:
                params[key] = _number(value)
        except ValueError:
            raise InputFileError(path, f"line {lineno}: bad param '{item}'") from None
    return params


def read_param(path: Path) -> list[Layer]:
    """The layer table of a text .param (a clear InputFileError for anything malformed)."""
    try:
        lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot read an ncnn .param ({type(exc).__name__})") from None
    lines = [line for line in lines if line]
    if not lines or lines[0] != [str(MAGIC)]:
        raise InputFileError(path, f"not an ncnn text .param (first line must be the magic {MAGIC})")
    try:
        layer_count, blob_count = (int(v) for v in lines[1])
    except (IndexError, ValueError):
        raise InputFileError(path, "line 2 must be '<layer count> <blob count>'") from None
    body = lines[2:]
    if len(body) != layer_count:
        raise InputFileError(path, f"declares {layer_count} layers but holds {len(body)} layer lines")
    layers = []
    for lineno, words in enumerate(body, start=3):
        try:
            kind, name, n_in, n_out = words[0], words[1], int(words[2]), int(words[3])
        except (IndexError, ValueError):
            raise InputFileError(path, f"line {lineno}: expected 'type name inputs outputs ...'") from None
        blobs = words[4:4 + n_in + n_out]
        if len(blobs) != n_in + n_out:
            raise InputFileError(path, f"line {lineno} ({kind} {name}): fewer blob names than its counts")
        layers.append(Layer(kind, name, blobs[:n_in], blobs[n_in:],
                            _parse_params(path, lineno, words[4 + n_in + n_out:])))
    tops = {top for layer in layers for top in layer.tops}
    if len(tops) != blob_count:
        raise InputFileError(path, f"declares {blob_count} blobs but its layers make {len(tops)}")
    return layers


class _Reader:
    """Sequential reads from the .bin, each naming the layer it is for when it runs short."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path, self.data, self.offset = path, data, 0

    def take(self, size: int, layer: Layer) -> bytes:
        if self.offset + size > len(self.data):
            raise InputFileError(self.path, f"truncated: layer {layer.type} '{layer.name}' needs "
                                            f"{size} bytes at offset {self.offset}, the file has "
                                            f"{len(self.data)} bytes")
        chunk = self.data[self.offset:self.offset + size]
        self.offset += size
        return chunk

    def plain(self, count: int, layer: Layer) -> np.ndarray:
        return np.frombuffer(self.take(4 * count, layer), "<f4").copy()

    def tagged(self, count: int, layer: Layer) -> tuple[np.ndarray, str]:
        tag_bytes = self.take(4, layer)
        tag = int.from_bytes(tag_bytes, "little")
        if tag == TAG_FP16:
            raw = self.take(_align4(2 * count), layer)
            return np.frombuffer(raw[:2 * count], "<f2").astype(np.float32), "fp16"
        if tag == TAG_INT8:
            raise UnsupportedOpError(f"{layer.type} (int8 weights)", "ncnn reader",
                                     f"layer '{layer.name}' stores int8 weights; convert the float model")
        if tag in (TAG_FP32, 0):
            return self.plain(count, layer), "fp32"
        if sum(tag_bytes) != 0:  # a 256-value table and one uint8 index per weight
            table = self.plain(256, layer)
            index = np.frombuffer(self.take(_align4(count), layer)[:count], np.uint8)
            return table[index], "table-uint8"
        raise InputFileError(self.path, f"layer {layer.type} '{layer.name}': unknown weight tag {tag:#010x}")


def _align4(size: int) -> int:
    return (size + 3) // 4 * 4


def read_model(param_path: Path, bin_path: Path | None = None) -> NcnnModel:
    """The layer table with every layer's weights, from `<stem>.param` and `<stem>.bin`.

    The .bin must be consumed exactly: a byte count that does not add up names the layer.
    """
    param_path = Path(param_path)
    layers = read_param(param_path)
    bin_path = bin_path or param_path.with_suffix(".bin")
    wants = [(layer, weight_blobs(layer)) for layer in layers]
    if any(blobs for _, blobs in wants):
        try:
            data = bin_path.read_bytes()
        except OSError:
            raise InputFileError(bin_path, "no such file (the .bin must sit beside the .param)") from None
    else:
        data = b""
    reader = _Reader(bin_path, data)
    for layer, blobs in wants:
        for name, count, tagged in blobs:
            if tagged:
                layer.weights[name], layer.storage = reader.tagged(count, layer)
            else:
                layer.weights[name] = reader.plain(count, layer)
    if reader.offset != len(data):
        last = next((layer for layer, blobs in reversed(wants) if blobs), None)
        where = f" after the last weighted layer {last.type} '{last.name}'" if last else ""
        raise InputFileError(bin_path, f"{len(data) - reader.offset} bytes left over{where}: "
                                       "the .bin does not match the .param")
    return NcnnModel(param_path, layers)
