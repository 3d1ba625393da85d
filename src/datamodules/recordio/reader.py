"""Random access to ``train.rec`` through ``train.idx`` (``key<TAB>offset`` lines), safe in DataLoader workers."""
from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import BinaryIO

from src.datamodules.recordio.format import IRHeader, RecordError, read_frame, read_frame_prefix, unpack_payload

log = logging.getLogger(__name__)
_HEADER_PREFIX = 1024  # bytes read to parse an IRHeader and its label array without the image


def read_index(idx_path: Path) -> dict[int, int]:
    """``key -> byte offset`` from an ``.idx`` file; a malformed line stops with its line number."""
    index: dict[int, int] = {}
    with open(idx_path, encoding="ascii") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                key, offset = line.split("\t")
                index[int(key)] = int(offset)
            except ValueError:
                raise ValueError(f"{idx_path}:{number} is not 'key<TAB>offset': {line.strip()[:80]!r}. Rebuild "
                                 f"the index (facerec-pack writes one) or use the .idx of this .rec.") from None
    return index


class RecordReader:
    """Reads records by key. The file is opened lazily and per process: a handle inherited through ``fork`` by a
    DataLoader worker would share its position with the parent, so each worker opens its own."""

    def __init__(self, rec_path: str | Path, idx_path: str | Path | None = None) -> None:
        self.rec_path = Path(rec_path)
        self.idx_path = Path(idx_path) if idx_path else self.rec_path.with_suffix(".idx")
        for path, what in ((self.rec_path, "record file"), (self.idx_path, "index")):
            if not path.is_file():
                raise FileNotFoundError(f"RecordIO {what} not found: {path}. Expected train.rec + train.idx in "
                                        f"data.root (write them with facerec-pack input=<image folder>).")
        self.index = read_index(self.idx_path)
        self.size = self.rec_path.stat().st_size
        self._handle: BinaryIO | None = None
        self._pid = -1

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_handle": None, "_pid": -1}

    def _file(self) -> BinaryIO:
        if self._handle is None or self._pid != os.getpid():
            self._handle, self._pid = open(self.rec_path, "rb"), os.getpid()  # noqa: SIM115 (kept open for reads)
        return self._handle

    def keys(self) -> list[int]:
        return list(self.index)

    def _at(self, key: int) -> BinaryIO:
        """The file, positioned at record ``key``; :class:`RecordError` for an offset outside the file (a negative
        one would stop seek with a bare OSError, one beyond 2**63 with an OverflowError)."""
        offset = self.index[key]
        if not 0 <= offset < self.size:
            raise RecordError(f"offset {offset} in {self.idx_path.name} is outside the file ({self.size} bytes)")
        handle = self._file()
        handle.seek(offset)
        return handle

    def payload(self, key: int) -> bytes:
        """The record's bytes; ``KeyError`` for a key not in the index, :class:`RecordError` when it is broken."""
        return read_frame(self._at(key))

    def read(self, key: int) -> tuple[IRHeader, bytes]:
        """``(IRHeader, image bytes)`` of record ``key``."""
        try:
            return unpack_payload(self.payload(key))
        except RecordError as error:
            raise RecordError(f"{self.rec_path} record {key}: {error}") from None

    def header(self, key: int) -> IRHeader:
        """Record ``key``'s header, its framing checked, without reading the image."""
        try:
            return unpack_payload(read_frame_prefix(self._at(key), _HEADER_PREFIX, self.size))[0]
        except RecordError as error:
            raise RecordError(f"{self.rec_path} record {key}: {error}") from None

    def image_keys(self) -> list[int]:
        """Keys of the image records: ``1 .. labels[0]-1`` when record 0 is InsightFace's header, else every key.

        A header count that the index cannot hold (NaN, infinite, 1e10 or float32's largest value in a
        damaged record 0) stops with one error naming the file; looping over the declared range would hang.
        Keys the header counts but the index lacks are logged with their number."""
        try:
            header = unpack_payload(self.payload(0), finite=False)[0] if 0 in self.index else None
        except RecordError:
            header = None
        if header is None or header.flag <= 0 or not header.labels:
            return self.keys()
        end = header.labels[0]
        if not math.isfinite(end) or end - 1 > len(self.index):
            raise RecordError(
                f"{self.rec_path} record 0 (InsightFace's header) declares labels[0]={end:g}, i.e. records 1.."
                f"{end:g}, but {self.idx_path} holds {len(self.index)} keys: the header record is damaged or belongs "
                "to another set. Repack the images with facerec-pack, or delete the '0<TAB>...' line of the .idx "
                "to read every indexed record.")
        keys = sorted(k for k in self.index if 1 <= k < end)
        if len(keys) < int(end) - 1:
            log.warning("%s: record 0 declares %d image records, the index %s has %d of them; reading those.",
                        self.rec_path, int(end) - 1, self.idx_path, len(keys))
        return keys

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
