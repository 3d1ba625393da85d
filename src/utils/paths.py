"""Locations inside the project checkout."""
from __future__ import annotations

from pathlib import Path

# Absolute, so installed console scripts find conf/ from any working directory (a relative Hydra
# config_path is resolved as a Python package when the entry point is imported as a module).
CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")
