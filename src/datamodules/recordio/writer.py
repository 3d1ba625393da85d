"""Write ``train.rec`` / ``train.idx`` in InsightFace's layout (header record 0, images, identity records)."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from src.datamodules.recordio.format import IRHeader, frame, pack_payload


class RecordWriter:
    """Appends framed records and their ``key<TAB>offset`` index lines."""

    def __init__(self, rec_path: str | Path, idx_path: str | Path | None = None) -> None:
        self.rec_path = Path(rec_path)
        self.idx_path = Path(idx_path) if idx_path else self.rec_path.with_suffix(".idx")
        self._rec = open(self.rec_path, "wb")  # noqa: SIM115 (closed by close / the context manager)
        self._idx = open(self.idx_path, "w", encoding="ascii")  # noqa: SIM115

    def write(self, key: int, header: IRHeader, image: bytes = b"") -> None:
        self._idx.write(f"{key}\t{self._rec.tell()}\n")
        self._rec.write(frame(pack_payload(header, image)))

    def close(self) -> None:
        self._rec.close()
        self._idx.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()


def write_face_records(rec_path: Path, images: Iterable[tuple[bytes, int]], count: int, num_classes: int) -> None:
    """InsightFace's face layout: record 0 is a header whose labels ``(first identity record, end)`` bound the image
    records ``1..count``; each image record has ``flag 0`` and its class as ``label``; identity records
    ``count+1..`` hold the ``(first, end)`` image keys of each class (images grouped by class, in class order).
    ``images`` is consumed as a stream, so a large set is never held in memory."""
    with RecordWriter(rec_path) as writer:
        writer.write(0, IRHeader(2, 0.0, 0, 0, labels=(float(count + 1), float(count + 1 + num_classes))))
        ranges: dict[int, list[int]] = {}
        written = 0
        for written, (image, label) in enumerate(images, start=1):
            writer.write(written, IRHeader(0, float(label), written, 0), image)
            ranges.setdefault(label, [written, written])[1] = written + 1
        if written != count:
            raise ValueError(f"{count} images announced in the header record, {written} written to {rec_path}.")
        for offset, label in enumerate(range(num_classes)):
            first, end = ranges.get(label, [0, 0])
            writer.write(count + 1 + offset, IRHeader(2, 0.0, 0, 0, labels=(float(first), float(end))))
