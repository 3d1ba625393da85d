"""Typed configs of `facerec-embed`, `facerec-identify`, `facerec-enroll` and `facerec-remove` (one schema each,
named first in the defaults list of conf/<command>.yaml; the values shown by `--help` are these defaults)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from src.gallery.config import EmbedOptions, ModelOptions, RawPhotoOptions
from src.utils.typed_config import PathsConfig, register


@dataclass
class EmbedConfig(RawPhotoOptions):
    """`facerec-embed`: images -> embeddings.npy + names.json + skipped.json."""

    task_name: str = "embed"
    ckpt_path: str = MISSING
    # an image, a flat folder of images (person_id null in names.json) or a folder of identity folders
    # (<input>/<person_id>/<image>, person_id = folder name)
    input: str = MISSING
    output_dir: str = "${paths.output_dir}"
    gallery: EmbedOptions = field(default_factory=EmbedOptions)
    paths: PathsConfig = field(default_factory=PathsConfig)


@dataclass
class IdentifyConfig(RawPhotoOptions):
    """`facerec-identify`: search faces in an exported gallery."""

    task_name: str = "identify"
    ckpt_path: str = MISSING
    image: str = MISSING  # an image or a folder of images
    top_k: int = 5
    # similarity below which the answer is "unknown"; null: identification.recommended_threshold of
    # `threshold_from` (a report.json of this checkpoint, TTA mode and align setting), else the calibrated
    # threshold stored with the gallery (facerec-export threshold_from=...), else `default_threshold`
    threshold: float | None = None
    threshold_from: str | None = None
    default_threshold: float = 0.4
    format: str = "json"  # json | csv
    output: str | None = None  # results file; null: <run dir>/identify.<format>
    gallery: ModelOptions = field(default_factory=ModelOptions)
    milvus: dict[str, Any] = MISSING
    paths: PathsConfig = field(default_factory=PathsConfig)


@dataclass
class EnrollConfig(RawPhotoOptions):
    """`facerec-enroll`: add one person's images to an existing gallery."""

    task_name: str = "enroll"
    ckpt_path: str = MISSING
    person_id: str = MISSING
    images: str = MISSING  # one person's images: a flat folder or a single image
    gallery: ModelOptions = field(default_factory=ModelOptions)
    milvus: dict[str, Any] = MISSING
    paths: PathsConfig = field(default_factory=PathsConfig)


@dataclass
class RemoveConfig:
    """`facerec-remove`: delete every row of one person (no checkpoint needed)."""

    task_name: str = "remove"
    person_id: str = MISSING
    milvus: dict[str, Any] = MISSING
    paths: PathsConfig = field(default_factory=PathsConfig)


for _name, _schema in {"embed_schema": EmbedConfig, "identify_schema": IdentifyConfig,
                       "enroll_schema": EnrollConfig, "remove_schema": RemoveConfig}.items():
    register(_name, _schema)
