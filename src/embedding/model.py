"""A trained model with its TTA mode: the one object that turns image files into gallery embeddings.

Built from a checkpoint by :func:`load_model`; export, the end-of-training callback, the gallery
(identify/enroll), ``facerec-embed`` and evaluation all embed through it, so the TTA wrapper and the model id
that a collection stores are made in one place.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from src.alignment.aligner import FaceAligner
from src.alignment.preprocess import UNALIGNED, AlignedLoader
from src.alignment.template import TEMPLATE_NAME
from src.datamodules.face_dataset import load_rgb
from src.datamodules.transforms import eval_transform
from src.embedding.checkpoint import LoadedEmbedder, load_embedder, model_id
from src.embedding.images import embed_paths, stream_embeddings
from src.embedding.tta import TTAEmbedder


class FaceModel:
    """Embeds image files with flip TTA (``concat``: 1024 dims for a 512-d network).

    Args:
        loaded: the network and what identifies it (see :func:`load_embedder`).
        tta_mode: ``concat`` | ``sum`` | ``none``; a gallery only accepts the mode it was built with.
        image_size: input size; default the size stored in the checkpoint.
        device: default CUDA when available, else CPU.
        align: detect each photo's face and embed it aligned onto the model's template (raw photos in; the
            network's ``alignment_template`` attribute, ArcFace's when it has none, e.g. dlib's chip for dlib's);
            photos without a face are found by :meth:`faceless` and must be left out by the caller.
        alignment: alignment options (the keys of conf/alignment/mtcnn.yaml); default: those defaults.
    """

    def __init__(self, loaded: LoadedEmbedder, tta_mode: str = "concat", image_size: int | None = None,
                 device: str | torch.device | None = None, align: bool = False,
                 alignment: Mapping[str, Any] | None = None) -> None:
        self.loaded = loaded
        self.embedder = TTAEmbedder(loaded.model, mode=tta_mode, device=device)
        self.image_size = int(image_size or loaded.image_size or 0)
        if not self.image_size:
            raise ValueError(f"{loaded.checkpoint} stores no image size; pass image_size=<training image size>.")
        self.aligned: AlignedLoader | None = None
        if align:  # crops come out at the model's input size, on the template the network was trained with
            template = getattr(loaded.model, "alignment_template", TEMPLATE_NAME)
            aligner = (FaceAligner.from_config(alignment, size=self.image_size, template=template) if alignment
                       else FaceAligner(size=self.image_size, template=template))
            self.aligned = AlignedLoader(aligner, int(alignment.get("workers", 0)) if alignment else 0)

    @property
    def model_id(self) -> str:
        """Architecture and checkpoint hash, as stored in the gallery collection and the evaluation report."""
        return model_id(self.loaded)

    @property
    def preprocessing(self) -> dict[str, Any]:
        """How images are prepared before embedding, as stored in a gallery (aligned or not, template)."""
        return self.aligned.aligner.metadata if self.aligned else dict(UNALIGNED)

    def faceless(self, paths: Sequence[Path]) -> list[tuple[Path, str]]:
        """With ``align``: detect every photo's face once (cached for embedding) and return the photos without a
        usable face with the reason (``no face: ...``); without ``align``: none."""
        return self.aligned.prepare(list(paths)) if self.aligned else []

    @property
    def read(self) -> Callable[[Path], Image.Image]:
        """Path -> RGB image for the embedding loader: the aligned face crop with ``align``, else the photo."""
        return self.aligned or load_rgb

    @property
    def tta_mode(self) -> str:
        return self.embedder.mode

    @property
    def dim(self) -> int:
        """Embedding dimension (2 x 512 with ``concat``)."""
        return self.embedder.dim

    @property
    def device(self) -> torch.device:
        return self.embedder.device

    def describe(self) -> dict[str, Any]:
        """What a collection records about the model besides its id and TTA mode (checkpoint, input size,
        preprocessing)."""
        return {"checkpoint": self.loaded.checkpoint, "image_size": self.image_size,
                "preprocessing": self.preprocessing}

    def stream(self, paths: Sequence[str | Path], batch_size: int = 64, num_workers: int = 0,
               description: str = "embedding") -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(embeddings, indices into paths)`` batch by batch, with a progress bar."""
        return stream_embeddings(self.embedder, [Path(p) for p in paths], self.image_size, batch_size,
                                 num_workers, description=description, read=self.read)

    def embed(self, paths: Sequence[str | Path], batch_size: int = 64, num_workers: int = 0,
              out: np.ndarray | None = None) -> np.ndarray:
        """Embeddings ``(len(paths), dim)`` in the order of ``paths`` (written into ``out`` when given)."""
        return embed_paths(self.embedder, [Path(p) for p in paths], self.image_size, out=out, batch_size=batch_size,
                           num_workers=num_workers, read=self.read)

    def embed_images(self, images: Sequence[Image.Image], batch_size: int = 64) -> np.ndarray:
        """Embeddings ``(len(images), dim)`` of in-memory RGB images that are already the model's input (e.g. the
        aligned crops of a photo with several faces), through the same transform as :meth:`embed`."""
        transform = eval_transform(self.image_size)
        parts = [self.embedder.embed_batch(torch.stack([transform(image) for image in images[i:i + batch_size]]))
                 for i in range(0, len(images), batch_size)]
        return torch.cat(parts).numpy() if parts else np.zeros((0, self.dim), np.float32)


def load_model(ckpt_path: str | Path, tta_mode: str = "concat", fallback_image_size: int | None = None,
               device: str | torch.device | None = None, align: bool = False,
               alignment: Mapping[str, Any] | None = None) -> FaceModel:
    """Load a training checkpoint's embedder (input size from the checkpoint, else ``fallback_image_size``);
    ``align=True``: raw photos in, faces detected and aligned before embedding."""
    loaded = load_embedder(ckpt_path)
    return FaceModel(loaded, tta_mode, loaded.image_size or fallback_image_size, device, align, alignment)
