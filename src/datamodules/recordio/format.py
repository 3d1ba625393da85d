"""MXNet RecordIO framing and InsightFace's ``IRHeader``, as plain ``struct`` code.

A record on disk: ``uint32 magic (0xced7230a)``, ``uint32 lrecord`` (upper 3 bits: continuation flag, lower 29:
payload length), the payload, zero padding to a multiple of 4 bytes. A payload that contains the magic word at a
4-byte aligned position is stored in parts (flag 1 = first, 2 = middle, 3 = last; 0 = whole record); the reader
puts the magic word back between the parts. The payload of a face record is ``IRHeader`` (``<IfQQ``: flag, label,
id, id2) followed, when ``flag > 0``, by ``flag`` float32 labels, then the encoded (JPEG) image.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import BinaryIO

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_FRAME = struct.Struct("<II")
_HEADER = struct.Struct("<IfQQ")
_LENGTH_MASK = (1 << 29) - 1


class RecordError(ValueError):
    """A record whose framing or header is not valid RecordIO."""


@dataclass(frozen=True)
class IRHeader:
    """InsightFace's record header; ``labels`` holds the float array stored when ``flag > 0``."""

    flag: int
    label: float
    id: int
    id2: int
    labels: tuple[float, ...] = ()


def _padded(length: int) -> int:
    return (length + 3) & ~3


def _read_head(handle: BinaryIO) -> tuple[int, int]:
    """``(continuation flag, payload length)`` of the frame at the handle's position."""
    head = handle.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise RecordError("truncated record header (file ends)")
    magic, lrecord = _FRAME.unpack(head)
    if magic != MAGIC:
        raise RecordError(f"bad magic 0x{magic:08x} (expected 0x{MAGIC:08x})")
    return lrecord >> 29, lrecord & _LENGTH_MASK


def read_frame(handle: BinaryIO) -> bytes:
    """Read one (possibly multi-part) record at the handle's position; raises :class:`RecordError` when broken."""
    parts: list[bytes] = []
    while True:
        flag, length = _read_head(handle)
        data = handle.read(_padded(length))
        if len(data) < _padded(length):
            raise RecordError(f"truncated record payload ({len(data)} of {length} bytes)")
        parts.append(data[:length])
        if flag in (0, 3):
            return _MAGIC_BYTES.join(parts)
        if flag not in (1, 2):
            raise RecordError(f"invalid continuation flag {flag}")


def read_frame_prefix(handle: BinaryIO, size: int, file_size: int) -> bytes:
    """The first ``size`` payload bytes of the record at the handle's position, after checking its framing and that
    it ends inside the file, without reading the rest (a scan of millions of records then reads only headers).
    Multi-part records are read whole."""
    start = handle.tell()
    flag, length = _read_head(handle)
    if flag != 0:
        handle.seek(start)
        return read_frame(handle)[:size]
    if start + _FRAME.size + length > file_size:
        raise RecordError(f"truncated record payload ({file_size - start - _FRAME.size} of {length} bytes)")
    return handle.read(min(size, length))


def frame(payload: bytes) -> bytes:
    """Encode ``payload`` as RecordIO bytes, splitting it at aligned magic words as MXNet's writer does."""
    cuts = [i for i in range(0, len(payload) - 3, 4) if payload[i:i + 4] == _MAGIC_BYTES]
    starts, ends = [0] + [i + 4 for i in cuts], cuts + [len(payload)]
    out = bytearray()
    for n, (start, end) in enumerate(zip(starts, ends, strict=True)):
        flag = 0 if not cuts else 1 if n == 0 else 3 if n == len(cuts) else 2
        out += _FRAME.pack(MAGIC, (flag << 29) | (end - start)) + payload[start:end]
    out += b"\0" * (_padded(len(out)) - len(out))
    return bytes(out)


def unpack_payload(payload: bytes, finite: bool = True) -> tuple[IRHeader, bytes]:
    """Split a payload into its header (with the label array when ``flag > 0``) and the image bytes; ``finite``:
    a NaN or infinite label raises :class:`RecordError` (no class, no record count is NaN)."""
    if len(payload) < _HEADER.size:
        raise RecordError(f"payload of {len(payload)} bytes is shorter than the {_HEADER.size}-byte IRHeader")
    flag, label, id_, id2 = _HEADER.unpack_from(payload)
    rest = payload[_HEADER.size:]
    labels: tuple[float, ...] = ()
    if flag > 0:
        if len(rest) < 4 * flag:
            raise RecordError(f"header announces {flag} float labels but the payload is too short")
        labels, rest = struct.unpack_from(f"<{flag}f", rest), rest[4 * flag:]
    if finite and not all(math.isfinite(value) for value in (label, *labels)):
        raise RecordError(f"non-finite label in the header (label {label}, labels {list(labels)[:4]})")
    return IRHeader(flag, label, id_, id2, labels), rest


def pack_payload(header: IRHeader, image: bytes = b"") -> bytes:
    """Inverse of :func:`unpack_payload` (``flag`` is taken from ``len(header.labels)`` when labels are given)."""
    flag = len(header.labels) if header.labels else header.flag
    return _HEADER.pack(flag, header.label, header.id, header.id2) + struct.pack(f"<{len(header.labels)}f",
                                                                                  *header.labels) + image
