"""Random access to ``train.rec`` through ``train.idx`` (``key<TAB>offset`` lines), safe in DataLoader workers."""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from src.datamodules.recordio.format import IRHeader, RecordError, read_frame, read_frame_prefix, unpack_payload

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

    def payload(self, key: int) -> bytes:
        """The record's bytes; ``KeyError`` for a key not in the index, :class:`RecordError` when it is broken."""
        handle = self._file()
        handle.seek(self.index[key])
        return read_frame(handle)

    def read(self, key: int) -> tuple[IRHeader, bytes]:
        """``(IRHeader, image bytes)`` of record ``key``."""
        try:
            return unpack_payload(self.payload(key))
        except RecordError as error:
            raise RecordError(f"{self.rec_path} record {key}: {error}") from None

    def header(self, key: int) -> IRHeader:
        """Record ``key``'s header, its framing checked, without reading the image."""
        handle = self._file()
        handle.seek(self.index[key])
        try:
            return unpack_payload(read_frame_prefix(handle, _HEADER_PREFIX, os.fstat(handle.fileno()).st_size))[0]
        except RecordError as error:
            raise RecordError(f"{self.rec_path} record {key}: {error}") from None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
