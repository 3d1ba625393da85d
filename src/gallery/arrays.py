"""The one writer of a gallery as files: ``embeddings.npy`` (one row per image) and ``names.json`` (row ->
``person_id``, ``image_path``), used by ``facerec-embed`` (:func:`src.inference.save_embeddings`) and by
``facerec-export``/training with ``gallery.save_arrays=true``."""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

EMBEDDINGS_FILE = "embeddings.npy"
NAMES_FILE = "names.json"


@contextlib.contextmanager
def gallery_arrays(out_dir: str | Path, rows: Sequence[tuple[str | Path, str | None]],
                   dim: int) -> Iterator[np.ndarray]:
    """Yield a ``(len(rows), dim)`` float32 memory map of ``out_dir/embeddings.npy`` to fill by row (so a large
    set never sits in memory); on a clean exit flush it and write ``names.json`` aligned to its rows.

    ``rows`` are ``(image path, person_id or None)`` in row order.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = np.lib.format.open_memmap(out_dir / EMBEDDINGS_FILE, mode="w+", dtype=np.float32,
                                       shape=(len(rows), dim))
    yield arrays
    arrays.flush()
    names = [{"person_id": person, "image_path": str(Path(path).resolve())} for path, person in rows]
    (out_dir / NAMES_FILE).write_text(json.dumps(names, indent=1))
