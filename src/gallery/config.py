"""Typed options of the commands that load a model (the ``gallery`` node) and the ``facerec-export`` config.

The ``gallery`` node keeps its name on every command, so ``gallery.tta=`` and ``gallery.batch_size=`` mean
the same everywhere (and the same as in ``facerec-train``'s config).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from omegaconf import MISSING

from src.utils.typed_config import PathsConfig, register

if TYPE_CHECKING:
    from src.embedding.model import FaceModel


@dataclass
class RawPhotoOptions:
    """``align=true``: raw photos in; each photo's face is detected and aligned (ArcFace 5-point template) before
    embedding, photos without a face are skipped and counted (options: ``alignment.*``, conf/alignment/mtcnn.yaml).
    The commands that embed images inherit these two keys."""

    align: bool = False
    alignment: Any = None


@dataclass
class ModelOptions:
    """How a checkpoint is turned into embeddings (identify, enroll)."""

    # concat (2 x 512 = 1024 dims) | sum | none; a gallery accepts only the mode it was built with
    tta: str = "concat"
    batch_size: int = 64
    # input size when the checkpoint stores none (checkpoints of this project always store theirs)
    image_size: int | None = None

    def load(self, ckpt_path: str, align: bool = False, alignment: Any = None) -> FaceModel:
        """The checkpoint's :class:`FaceModel` with these options (``align``: detect and align faces first)."""
        from src.embedding.model import load_model  # torch: loaded when a command runs, not for --help

        return load_model(ckpt_path, self.tta, fallback_image_size=self.image_size, align=align, alignment=alignment)


@dataclass
class EmbedOptions(ModelOptions):
    """Model options plus the image-decoding workers of a streamed set (embed, export)."""

    num_workers: int = 2


@dataclass
class ExportOptions(EmbedOptions):
    """What ``facerec-export`` puts in the gallery."""

    identities: str = "all"  # all | train | held_out (the seeded training split of `data`)
    save_arrays: bool = False  # also embeddings.npy + names.json in the run dir
    # the collection mirrors the exported folder: rows this export did not write (deleted images, removed people,
    # people enrolled from elsewhere into this collection) are deleted; false keeps them
    prune: bool = True


@dataclass
class ExportConfig(RawPhotoOptions):
    """``facerec-export``: embed the gallery of ``data`` with ``ckpt_path`` into ``milvus``."""

    task_name: str = "export"
    seed: int = 42  # the identity split of `data` (gallery.identities=train|held_out); as in training
    ckpt_path: str = MISSING
    # a facerec-eval report.json of this checkpoint (same gallery.tta and align): its recommended threshold is
    # stored with the gallery, and facerec-identify / facerec-serve use it unless given threshold=
    threshold_from: str | None = None
    data: dict[str, Any] = MISSING  # the `data` group: the same data config as in training
    gallery: ExportOptions = field(default_factory=ExportOptions)
    milvus: dict[str, Any] = MISSING  # the `milvus` group: lite | standalone
    paths: PathsConfig = field(default_factory=PathsConfig)
    # experiment=<name> selects a training recipe's data; its trainer/model/head/callbacks settings land here, unused
    trainer: Any | None = None
    model: Any | None = None
    head: Any | None = None
    callbacks: Any | None = None


register("export_schema", ExportConfig)
