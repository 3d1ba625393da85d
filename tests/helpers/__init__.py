"""Helpers shared by the tests: composing the project's Hydra configs for CPU-sized runs, and the shared data."""
from tests.helpers.config import (
    CONF_DIR,
    ORL_DIR,
    ROOT,
    TINY,
    TRAINED_RUN_OVERRIDES,
    compose_config,
    orl_root,
)

__all__ = ["CONF_DIR", "ORL_DIR", "ROOT", "TINY", "TRAINED_RUN_OVERRIDES", "compose_config", "orl_root"]
