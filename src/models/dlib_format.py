"""A reader of dlib's serialized DNN files (``.dat``), written from the format description; no dlib at run time.

Encoding: every integer is one control byte (low 4 bits: byte count, 0x80: negative) plus its magnitude in
little-endian bytes; a bool is one ASCII byte ``'0'``/``'1'``; a string is its length then raw bytes; a float is an
int64 mantissa and an int16 exponent in the integer encoding (``m * 2**e``). A tensor record is version 2, four
sizes and raw little-endian float32 values.

Nesting of a network: the loss layer's version and details first, then one version per layer from the output down
to the input (tag and skip layers write their version and nothing else, so the topology is not in the file and is
passed in as a list of layer kinds), then the input layer's details, then one record per layer from input to output.
Each error names the record and the byte offset where the file stopped matching.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# exponents dlib writes for the special float values
_SPECIAL = {32000: float("inf"), 32001: float("-inf"), 32002: float("nan")}
# layers whose record is only their version (no details, no tensors)
TAG_KINDS = ("tag", "skip")


class DlibFormatError(ValueError):
    """The file is not a dlib network of the expected architecture (the message names the record and offset)."""


@dataclass
class LayerRecord:
    """One parsed layer: its kind, the version string dlib wrote, its integer settings and its parameter tensors."""

    kind: str
    version: str
    settings: dict[str, Any] = field(default_factory=dict)
    params: np.ndarray | None = None


@dataclass
class DlibNetwork:
    """What a metric-learning network file holds: the input's per-channel mean and the layers (input to output)."""

    pixel_mean: tuple[float, float, float]
    input_size: tuple[int, int]
    layers: list[LayerRecord]
    loss: str


class _Stream:
    """Cursor over the bytes of one file; every read names what it was reading when it fails."""

    def __init__(self, data: bytes, source: str) -> None:
        self.data, self.source, self.pos = data, source, 0
        self.record = "file header"

    def fail(self, what: str) -> DlibFormatError:
        return DlibFormatError(
            f"{self.source} is not a dlib face-recognition network of the expected layout: {what} in record "
            f"'{self.record}' at byte offset {self.pos} (file size {len(self.data)}). Pass dlib's "
            f"dlib_face_recognition_resnet_model_v1.dat (ckpt_path=dlib uses the installed one) or a network of the "
            f"same architecture written by dlib."
        )

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise self.fail(f"the file ends ({count} bytes needed, {len(self.data) - self.pos} left)")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def integer(self) -> int:
        control = self.take(1)[0]
        size = control & 0x0F
        if size > 8 or control & 0x70:
            self.pos -= 1
            raise self.fail(f"byte 0x{control:02x} is not an integer's control byte")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def boolean(self) -> bool:
        byte = self.take(1)
        if byte not in (b"0", b"1"):
            self.pos -= 1
            raise self.fail(f"byte {byte!r} is not a bool ('0' or '1')")
        return byte == b"1"

    def string(self, limit: int = 256) -> str:
        length = self.integer()
        if not 0 <= length <= limit:
            raise self.fail(f"string length {length} is implausible")
        return self.take(length).decode("latin-1")

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        if exponent in _SPECIAL:
            return _SPECIAL[exponent]
        return float(mantissa) * 2.0 ** exponent

    def version(self, expected: int | tuple[int, ...]) -> int:
        value = self.integer()
        allowed = expected if isinstance(expected, tuple) else (expected,)
        if value not in allowed:
            self.pos -= 2
            raise self.fail(f"version {value} where {' or '.join(map(str, allowed))} was expected")
        return value

    def tensor(self) -> np.ndarray:
        self.version(2)
        shape = tuple(self.integer() for _ in range(4))
        if any(s < 0 for s in shape):
            raise self.fail(f"negative tensor size {shape}")
        count = int(np.prod(shape))
        return np.frombuffer(self.take(4 * count), dtype="<f4").astype(np.float32).reshape(shape)

    def alias_tensor(self) -> tuple[int, ...]:
        self.version(1)
        return tuple(self.integer() for _ in range(4))


def _expect_name(stream: _Stream, accepted: tuple[str, ...]) -> str:
    start = stream.pos
    name = stream.string()
    if name not in accepted:
        stream.pos = start
        raise stream.fail(f"layer type '{name}' where {' or '.join(accepted)} was expected")
    return name


def _con(stream: _Stream) -> LayerRecord:
    version = _expect_name(stream, ("con_4", "con_5", "con_6"))
    params = stream.tensor().ravel()
    names = ("num_filters", "nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x")
    settings: dict[str, Any] = {name: stream.integer() for name in names}
    stream.alias_tensor(), stream.alias_tensor()  # views of params: filters, biases
    for _ in range(4):  # learning-rate and weight-decay multipliers (training only)
        stream.real()
    settings["use_bias"] = stream.boolean() if version != "con_4" else True
    if version == "con_6" and stream.boolean():
        raise stream.fail("a convolution with a fused ReLU (use_relu), which this architecture does not have")
    return LayerRecord("con", version, settings, params)


def _affine(stream: _Stream) -> LayerRecord:
    version = _expect_name(stream, ("affine_", "affine_2"))
    params = stream.tensor().ravel()
    stream.alias_tensor(), stream.alias_tensor()  # gamma, beta views
    settings = {"mode": stream.integer(), "disabled": stream.boolean() if version == "affine_2" else False}
    return LayerRecord("affine", version, settings, params)


def _relu(stream: _Stream) -> LayerRecord:
    version = _expect_name(stream, ("relu_", "relu_2"))
    settings = {"disabled": stream.boolean() if version == "relu_2" else False}
    return LayerRecord("relu", version, settings)


def _pool(kind: str) -> Any:
    def read(stream: _Stream) -> LayerRecord:
        version = _expect_name(stream, (f"{kind}_2",))
        names = ("nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x")
        return LayerRecord(kind, version, {name: stream.integer() for name in names})
    return read


def _add_prev(stream: _Stream) -> LayerRecord:
    return LayerRecord("add_prev", _expect_name(stream, ("add_prev_",)))


def _fc(stream: _Stream) -> LayerRecord:
    version = _expect_name(stream, ("fc_2", "fc_3"))
    settings: dict[str, Any] = {"num_outputs": stream.integer(), "num_inputs": stream.integer()}
    params = stream.tensor().ravel()
    stream.alias_tensor(), stream.alias_tensor()  # weights, biases views
    settings["bias_mode"] = stream.integer()
    for _ in range(4):
        stream.real()
    if version == "fc_3":
        settings["use_bias"] = stream.boolean()
    return LayerRecord("fc", version, settings, params)


_READERS = {"con": _con, "affine": _affine, "relu": _relu, "max_pool": _pool("max_pool"),
            "avg_pool": _pool("avg_pool"), "add_prev": _add_prev, "fc": _fc}


def read_network(path: str | os.PathLike, kinds: list[str]) -> DlibNetwork:
    """Parse ``path`` as a ``loss_metric`` network whose layers, from input to output, are ``kinds``
    (``con``, ``affine``, ``relu``, ``max_pool``, ``avg_pool``, ``add_prev``, ``fc``, ``tag``, ``skip``)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"dlib network file not found: {path}. Pass ckpt_path=dlib for the installed one.")
    stream = _Stream(path.read_bytes(), str(path))
    stream.record = "loss layer"
    stream.version(1)
    loss = _expect_name(stream, ("loss_metric_2",))
    stream.real(), stream.real()  # margin and distance threshold (training only)
    # versions from the output down: 1 for tag/skip, 2 for other layers, 3 for the one right above the input
    for depth, kind in enumerate(reversed(kinds)):
        stream.record = f"version of layer {len(kinds) - depth} ({kind}) counted from the input"
        bottom = depth == len(kinds) - 1
        stream.version(1 if kind in TAG_KINDS else 3 if bottom else 2)
    stream.record = "input layer"
    _expect_name(stream, ("input_rgb_image_sized",))
    pixel_mean = (stream.real(), stream.real(), stream.real())
    input_size = (stream.integer(), stream.integer())
    layers = []
    for number, kind in enumerate(kinds, start=1):
        if kind in TAG_KINDS:
            continue
        stream.record = f"layer {number} ({kind}) counted from the input"
        layers.append(_READERS[kind](stream))
        for _ in range(3):  # setup called, gradient stale, outputs disabled
            stream.boolean()
        for _ in range(3):  # gradient and cached-output buffers (empty in a saved network)
            stream.tensor()
        if number == 1:
            stream.integer()  # the input layer's sample expansion factor
    stream.record = "end of file"
    if stream.pos != len(stream.data):
        raise stream.fail(f"{len(stream.data) - stream.pos} bytes follow the last layer")
    return DlibNetwork(pixel_mean, input_size, layers, loss)


def dlib_magic(path: str | os.PathLike) -> bool:
    """True when ``path`` starts like a dlib metric network (a cheap check before choosing a loader)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(32)
    except OSError:
        return False
    return b"loss_metric" in head
