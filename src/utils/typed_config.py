"""Typed command configs: a dataclass schema per command, registered in Hydra's ConfigStore (each command's
``conf/<command>.yaml`` names it first in its defaults list) and read back as that dataclass."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

T = TypeVar("T")


@dataclass
class PathsConfig:
    """The ``paths`` group (conf/paths/default.yaml): project root, run dir, checkpoints."""

    root_dir: str = MISSING
    data_dir: str = MISSING
    output_dir: str = MISSING
    checkpoint_dir: str = MISSING
    run_id: str = MISSING


def register(name: str, schema: type) -> None:
    """Make ``schema`` available to defaults lists as ``name`` (validated while Hydra composes)."""
    ConfigStore.instance().store(name=name, node=schema)


def typed(schema: type[T], cfg: DictConfig | Mapping[str, Any], usage: str) -> T:
    """``cfg`` as a ``schema`` instance, interpolations resolved.

    Raises ValueError naming every required option left unset (``???``) with the command line ``usage``;
    unknown keys and wrong types raise OmegaConf's validation errors, which name the key.
    """
    merged = OmegaConf.merge(OmegaConf.structured(schema), cfg)
    missing = sorted(OmegaConf.missing_keys(merged))
    if missing:
        raise ValueError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required: {usage}")
    return OmegaConf.to_object(merged)  # type: ignore[return-value]
