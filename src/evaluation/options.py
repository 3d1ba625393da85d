"""Typed settings of the evaluation stage, read from the ``evaluation`` node of conf/train.yaml.

The YAML node holds the defaults (one place); these dataclasses give the keys their types, so a misspelt key
or a value of the wrong type fails before any image is embedded, naming the ``evaluation.*`` override to fix.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from src.datamodules.identities import IDENTITY_CHOICES


@dataclass
class LatencyOptions:
    """Search timing through the store (``evaluation.latency``)."""

    queries: int  # single-query searches timed (after warm-up)
    warmup: int
    batch_sizes: list[int]  # batched-throughput sizes
    ef_sweep: list[int]  # HNSW ``ef`` values swept (server only)
    sweep_queries: int  # single-query searches timed per ``ef``


@dataclass
class EvaluationOptions:
    """How a checkpoint is evaluated (``evaluation``): people, protocol, search, pairs, timing, output."""

    identities: str  # held_out (not trained on) | train (closed world) | all
    n_gallery: int  # gallery images per enrolled identity; the rest are probes
    unenrolled_fraction: float  # identities left out of the gallery (open-set probes)
    seed: int
    tta: str  # concat | sum | none
    collection: str  # Milvus collection rebuilt for each evaluation
    top_k: int
    pairs_file: str | None  # LFW-style pairs.txt; None generates pairs from the split
    max_pairs: int  # generated genuine pairs (and as many impostors)
    fars_identification: list[float]
    fars_verification: list[float]
    batch_size: int
    num_workers: int
    latency: LatencyOptions
    output_dir: str
    bins: list[str]  # verification .bin sets (lfw.bin, ...): 10-fold accuracy, report key verification_bins

    @classmethod
    def from_config(cls, node: Any) -> EvaluationOptions:
        """Options from the Hydra ``evaluation`` node (or a plain mapping); ValueError names the bad key."""
        plain = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
        try:
            options = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(cls), plain))
        except OmegaConfBaseException as error:
            key = f"evaluation.{error.full_key}: " if getattr(error, "full_key", None) else ""
            raise ValueError(f"Bad evaluation setting {key}{str(error).splitlines()[0]} (see the `evaluation` node "
                             "of conf/train.yaml for the keys and their types; override as evaluation.<key>=...)"
                             ) from error
        options.check()
        return options

    def check(self) -> None:
        """Raise ValueError for values of the right type that make no sense."""
        if self.identities not in IDENTITY_CHOICES:
            raise ValueError(f"evaluation.identities must be one of {IDENTITY_CHOICES}, not {self.identities!r}.")
        if self.n_gallery < 1 or self.top_k < 1:
            raise ValueError(f"evaluation.n_gallery and evaluation.top_k must be at least 1 "
                             f"(got {self.n_gallery}, {self.top_k}).")
        if not 0.0 <= self.unenrolled_fraction < 1.0:
            raise ValueError(f"evaluation.unenrolled_fraction must be in [0, 1), got {self.unenrolled_fraction}.")
