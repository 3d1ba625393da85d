"""Where the Hydra configs are: inside the installed package, or at the top of a source checkout."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
# A built wheel carries the configs as src/conf (see setup.py); a checkout (and `pip install -e .`) keeps them
# in conf/ beside src/. Absolute either way, so console scripts find them from any working directory.
CONF_DIR = str(_PACKAGE / "conf" if (_PACKAGE / "conf" / "train.yaml").is_file() else _PACKAGE.parent / "conf")
