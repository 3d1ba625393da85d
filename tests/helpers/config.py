"""Compose the project's Hydra configs for tests: CPU, small backbone, small images, temp output dirs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = ROOT / "conf"
ORL_DIR = ROOT.parent / "shared" / "data" / "orl_faces_30"

# Small and fast on 2 CPU cores; production defaults stay in conf/.
TINY = [
    "trainer=cpu",
    "model.backbone.depth=18",
    "model.backbone.pretrained=null",
    "data.image_size=32",
    "data.num_workers=0",
    "data.persistent_workers=false",
    "data.pin_memory=false",
    "trainer.log_every_n_steps=1",
    "trainer.min_steps=0",  # tests size their runs in epochs
    "+trainer.enable_model_summary=false",
]

# The session fixture `trained_run` (conftest.py): a tiny model on synthetic identities, gallery exported to Lite.
TRAINED_RUN_OVERRIDES = [
    "experiment=quickstart", *TINY, "data.num_identities=30", "data.images_per_identity=6",
    "trainer.max_epochs=4", "~callbacks.progress_bar", "eval=false", "gallery.num_workers=0",
]


def compose_config(name: str, overrides: list[str], out_dir: Path) -> DictConfig:
    """Compose ``conf/<name>.yaml`` with outputs, checkpoints and the synthetic-data cache under ``out_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(
            config_name=name,
            overrides=[
                f"paths.root_dir={out_dir}",
                f"paths.output_dir={out_dir}/run",
                f"paths.checkpoint_dir={out_dir}/checkpoints",
                *overrides,
            ],
        )


def orl_root() -> Path:
    """The shared ORL faces. Missing: skip with the reason on a newcomer's clone, fail under CI (CI always has it)."""
    if not ORL_DIR.is_dir():
        reason = (f"Real-face test data missing: {ORL_DIR} (the project's ../shared/data, see its README); "
                  "put the shared folder beside the clone to run this test.")
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return ORL_DIR
