"""Typed configs of `facerec-cluster` and its editing commands (name, merge, move): one schema each, named first
in the defaults list of conf/<command>.yaml."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from src.gallery.config import EmbedOptions, RawPhotoOptions
from src.utils.typed_config import PathsConfig, register


@dataclass
class GroupingOptions:
    """How the neighbour graph is built and grouped (the ``clustering`` node)."""

    # chinese_whispers | agglomerative | components | dbscan | hdbscan. Measured (README, "Clustering faces"): on
    # 300 raw ORL photos (ckpt_path=dlib align=true) Chinese whispers has pairwise F1 0.967 at the default threshold
    # and >= 0.94 from 0.93 to 0.96, agglomerative 0.994 there; on 10,000 face-like vectors Chinese whispers 0.993,
    # agglomerative along the kNN graph 0.002 (one cluster): the one that holds at both sizes is the default
    algorithm: str = "chinese_whispers"
    # similarity that links two faces; null: the verification threshold of threshold_from (an eval report.json of
    # this checkpoint), else the calibrated threshold stored with the gallery (milvus.uri), else family_thresholds of
    # the model family, else default_threshold (the source is logged; src/cluster/threshold.py)
    threshold: float | None = None
    threshold_from: str | None = None
    default_threshold: float = 0.5
    family_thresholds: dict[str, float] = field(default_factory=dict)
    neighbours: int = 20  # k of the k-nearest-neighbour graph (edges below the threshold are dropped)
    min_size: int = 2  # smaller groups are reported as unclustered
    iterations: int = 30  # Chinese whispers passes (it stops earlier when no label changes)
    seed: int = 0
    # exact | milvus | auto (milvus from milvus_above faces: the exact graph costs n^2 * dim flops)
    graph: str = "auto"
    milvus_above: int = 50_000
    block_rows: int = 1024  # rows per block of the exact graph (memory: block_rows * n * 4 bytes)


@dataclass
class ClusterConfig(RawPhotoOptions):
    """`facerec-cluster`: photos -> faces -> groups of one person each."""

    task_name: str = "cluster"
    ckpt_path: str = MISSING
    input: str = MISSING  # a folder of photos, any nesting (folder names are not used as labels)
    output: str = MISSING  # clusters.json, faces/, clusters/<id>/, sheets/<id>.png, cache/
    files: str = "link"  # link | copy: how clusters/<id>/ holds its source photos
    sheet_faces: int = 36  # faces on a contact sheet (most central first)
    sheet_thumb: int = 96  # side of one face on the sheet, px
    # match faces against the people already named in the gallery (milvus) before grouping the rest
    match_gallery: bool = True
    top_k: int = 5
    clustering: GroupingOptions = field(default_factory=GroupingOptions)
    gallery: EmbedOptions = field(default_factory=EmbedOptions)
    milvus: dict[str, Any] = MISSING
    paths: PathsConfig = field(default_factory=PathsConfig)


@dataclass
class ClusterEditConfig:
    """Shared by the editing commands: the clustering output to edit."""

    task_name: str = "cluster_edit"
    output: str = MISSING  # the output dir of facerec-cluster
    paths: PathsConfig = field(default_factory=PathsConfig)


@dataclass
class ClusterNameConfig(ClusterEditConfig):
    """`facerec-cluster-name`: enroll a cluster's faces as ``person_id`` (the gallery is created when missing)."""

    cluster: int = MISSING
    person_id: str = MISSING
    # the model, TTA mode and alignment are those clusters.json records (the faces are already embedded)
    milvus: dict[str, Any] = MISSING


@dataclass
class ClusterMergeConfig(ClusterEditConfig):
    """`facerec-cluster-merge`: move every face of ``source`` into ``into``."""

    source: int = MISSING
    into: int = MISSING


@dataclass
class ClusterMoveConfig(ClusterEditConfig):
    """`facerec-cluster-move`: move one face (its ``face`` id in clusters.json) to cluster ``to`` (-1: a new one)."""

    face: str = MISSING
    to: int = MISSING


for _name, _schema in {"cluster_schema": ClusterConfig, "cluster_name_schema": ClusterNameConfig,
                       "cluster_merge_schema": ClusterMergeConfig, "cluster_move_schema": ClusterMoveConfig}.items():
    register(_name, _schema)
