"""Embed lists of image files with a TTA embedder, streaming through a DataLoader with a progress bar."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from torch.utils.data import DataLoader

from src.datamodules.face_dataset import FaceImageDataset, load_rgb
from src.datamodules.transforms import eval_transform
from src.embedding.tta import TTAEmbedder


def image_loader(paths: list[Path], image_size: int, batch_size: int = 64, num_workers: int = 0,
                 read: Callable[[Path], Image.Image] = load_rgb) -> DataLoader:
    """Ordered loader over ``paths`` with the evaluation transform; items are ``(image, 0, index)``.

    ``read`` turns a path into an RGB image (default: decode; an ``AlignedLoader`` gives aligned face crops).
    """
    dataset = FaceImageDataset([(Path(p), 0) for p in paths], eval_transform(image_size), read)
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)


def progress_bar(description: str) -> Progress:
    """A rich progress bar with count and ETA (prints nothing extra when the console is not a terminal)."""
    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True)


def stream_embeddings(
    embedder: TTAEmbedder, paths: list[Path], image_size: int, batch_size: int = 64, num_workers: int = 0,
    description: str = "embedding", read: Callable[[Path], Image.Image] = load_rgb,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(embeddings, indices into paths)`` batch by batch, showing progress."""
    loader = image_loader(paths, image_size, batch_size, num_workers, read)
    with progress_bar(description) as progress:
        task = progress.add_task(description, total=len(paths))
        for embeddings, index in embedder.stream(loader):
            progress.advance(task, len(index))
            yield embeddings, index.numpy()


def embed_paths(embedder: TTAEmbedder, paths: list[Path], image_size: int, out: np.ndarray | None = None,
                **kwargs) -> np.ndarray:
    """All embeddings ``(len(paths), dim)`` in the order of ``paths``, written into ``out`` when given (e.g. a
    memory-mapped ``embeddings.npy``, so that a large set never sits in memory)."""
    out = np.zeros((len(paths), embedder.dim), np.float32) if out is None else out
    for embeddings, index in stream_embeddings(embedder, paths, image_size, **kwargs):
        out[index] = embeddings
    return out
