"""Verification ``.bin`` sets of the field (LFW, CFP-FP, AgeDB-30 as InsightFace ships them).

A ``.bin`` is a pickle of ``(list of encoded images, list of is-same flags)``; images ``2i`` and ``2i+1`` form
pair ``i``. Accuracy is reported as the field does: flip TTA (original + mirrored embedding summed), cosine
similarity, 10 consecutive folds with the threshold chosen on the other 9.
"""
from __future__ import annotations

import codecs
import io
import pickle
import pickletools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from src.datamodules.image_decode import load_rgb
from src.datamodules.transforms import eval_transform
from src.embedding.tta import TTAEmbedder
from src.evaluation.verification import kfold_verification_accuracy

N_FOLDS = 10


class _DataOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain data only: a ``.bin`` is a user file, and a pickle that names any class or function (the
    way a malicious pickle runs code) is refused instead of imported."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("_codecs", "encode"):  # how protocol-2 pickles from Python 3 store bytes
            return codecs.encode
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: a verification .bin must hold only lists of image bytes and bools"
        )


@dataclass
class VerificationBin:
    """Encoded images (pairs consecutive) and one is-same flag per pair."""

    name: str
    images: list[bytes]
    path: str
    is_same: np.ndarray

    @property
    def pairs(self) -> int:
        return len(self.is_same)


def load_bin(path: str | Path) -> VerificationBin:
    """Read a ``.bin`` with the restricted unpickler (``encoding="bytes"``, as files written by Python 2 need)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"Verification set not found: {path}. Check evaluation.bins=[...] (e.g. lfw.bin).")
    try:
        with open(path, "rb") as handle:
            content = _DataOnlyUnpickler(handle, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, MemoryError) as error:
        raise ValueError(f"{path} is not a verification .bin: {damage(path) or error}") from None
    if not (isinstance(content, (tuple, list)) and len(content) == 2):
        raise ValueError(f"{path}: expected a pickled (images, is_same) pair, got {type(content).__name__}.")
    images, is_same = content
    if not all(isinstance(image, (bytes, bytearray)) for image in images):
        raise ValueError(f"{path}: the image list must hold encoded image bytes.")
    if not all(isinstance(flag, (bool, int)) for flag in is_same):
        raise ValueError(f"{path}: the is-same list must hold booleans.")
    if len(images) != 2 * len(is_same) or not is_same:
        raise ValueError(f"{path}: {len(images)} images for {len(is_same)} pairs; a .bin holds two images per pair.")
    return VerificationBin(name=path.stem, images=list(images), path=str(path),
                           is_same=np.asarray(is_same, dtype=bool))


def damage(path: Path) -> str | None:
    """Where a ``.bin`` that failed to load is broken, read opcode by opcode without building anything: a string
    that declares more bytes than the file holds (e.g. 2**40, for which the unpickler asks a terabyte of memory)
    is named by its position among the image entries and its pair. None when the walk finds nothing."""
    strings = 0
    try:  # from memory: a file object's read(2**40) would itself try to allocate the terabyte
        for _, argument, _ in pickletools.genops(io.BytesIO(path.read_bytes())):
            if isinstance(argument, (bytes, str)) and argument != "latin1":  # latin1: protocol 2's bytes codec
                strings += 1
    except ValueError as error:  # genops reads what is there and says what was promised
        return (f"entry {strings} (pair {strings // 2} image {strings % 2 + 1}, if it is in the image list) cannot be "
                f"read: {error}. The file is damaged or not a verification .bin; download it again.")
    return None


class _BinImages(Dataset):
    """Items ``(image tensor, 0, index)``, the layout :meth:`TTAEmbedder.stream` reads; each image goes through the
    one decoder (format allow-list, pixel cap, 16-bit and modes), named by file and pair in its errors."""

    def __init__(self, images: list[bytes], image_size: int, name: str) -> None:
        self.images, self.transform, self.name = images, eval_transform(image_size), name

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        try:
            return self.transform(load_rgb(self.images[index], f"{self.name} pair {index // 2} image "
                                                               f"{index % 2 + 1}")), 0, index
        except (OSError, SyntaxError) as error:  # broken data of an allowed format
            raise ValueError(f"{self.name} pair {index // 2} image {index % 2 + 1} does not decode ({error}); the "
                             f".bin is damaged.") from None


def pair_accuracy(embeddings: np.ndarray, is_same: np.ndarray) -> dict[str, float | int]:
    """10-fold accuracy over consecutive pairs of unit ``embeddings``: ``accuracy_mean``, ``accuracy_std``,
    ``threshold`` (mean of the fold thresholds on cosine similarity) and ``pairs``."""
    scores = np.sum(embeddings[0::2] * embeddings[1::2], axis=1)
    # consecutive folds (no shuffling), as the field's verification code splits them
    folds = kfold_verification_accuracy(scores, is_same, n_folds=min(N_FOLDS, len(scores)), shuffle=False)
    return {"accuracy_mean": folds["accuracy_mean"], "accuracy_std": folds["accuracy_std"],
            "threshold": folds["threshold_mean"], "pairs": int(len(scores))}


def evaluate_bin(embedder: TTAEmbedder, verification: VerificationBin, image_size: int, batch_size: int = 64,
                 num_workers: int = 0) -> dict[str, float | int]:
    """Embed every image of ``verification`` (resized to ``image_size``) and score its pairs."""
    loader = DataLoader(_BinImages(verification.images, image_size, verification.path), batch_size=batch_size,
                        num_workers=num_workers)
    embeddings, index = embedder.embed_all(loader)
    return pair_accuracy(embeddings[np.argsort(index)], verification.is_same)


def flip_sum_embedder(model: torch.nn.Module, device: torch.device | str | None = None) -> TTAEmbedder:
    """Flip TTA as the field reports it (``sum``), leaving the model's memory format alone (safe mid-training)."""
    return TTAEmbedder(model, mode="sum", device=device, channels_last=False)


def evaluate_bins(model: torch.nn.Module, paths: list[str], image_size: int, batch_size: int = 64,
                  num_workers: int = 0) -> dict[str, dict[str, float | int]]:
    """``{<file stem>: {accuracy_mean, accuracy_std, threshold, pairs}}`` for every ``.bin`` in ``paths``."""
    embedder = flip_sum_embedder(model)
    return {verification.name: evaluate_bin(embedder, verification, image_size, batch_size, num_workers)
            for verification in map(load_bin, paths)}
