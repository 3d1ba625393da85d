"""Instantiate groups of Lightning callbacks and loggers from Hydra config mappings."""
from __future__ import annotations

import hydra
from omegaconf import DictConfig


def instantiate_group(group: DictConfig | None) -> list:
    """Instantiate every entry with a ``_target_`` in a config mapping (``callbacks``, ``logger``)."""
    if not group:
        return []
    return [hydra.utils.instantiate(node) for node in group.values()
            if isinstance(node, DictConfig) and "_target_" in node]
