"""No GPL code on the run-time import path: every console script's module, every project module (the lazily
imported ones too) and a real detection, imported in a fresh interpreter; the licence metadata of each
distribution those modules come from is checked."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata

import pytest

from tests.helpers import ROOT

# Test-only references that import GPL code on purpose (the dev extra): never imported by a command.
REFERENCE_ONLY = {"src.bench.faceie_reference"}
COPYLEFT = re.compile(r"\bA?GPL\b|\bGNU (Affero )?General Public License", re.IGNORECASE)
LESSER = re.compile(r"\bLGPL|Lesser General Public", re.IGNORECASE)

SCAN = r"""
import importlib, json, os, pkgutil, sys
import src
from PIL import Image
for name in os.environ["SCAN_MODULES"].split(","):
    importlib.import_module(name)
skip = set(os.environ["SCAN_SKIP"].split(","))
for info in pkgutil.walk_packages(src.__path__, "src."):
    if info.name not in skip and not info.name.endswith("__main__") and not info.name.startswith("src.conf"):
        importlib.import_module(info.name)
from src.alignment import FaceAligner
FaceAligner().align_rgb(Image.new("RGB", (64, 64)))
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def licence_text(distribution: str) -> str:
    """SPDX expression, licence classifiers and the licence's title: some packages put a whole licence text in
    ``License`` (matplotlib's says its licence is "GPL compatible"), so only its first 200 characters count."""
    meta = metadata.metadata(distribution)
    return " ".join([(meta.get("License") or "")[:200], meta.get("License-Expression") or "",
                     *(c for c in meta.get_all("Classifier") or [] if c.startswith("License"))])


def is_gpl(distribution: str) -> bool:
    """GPL or AGPL by the distribution's licence metadata (LGPL, which allows linking, does not count)."""
    text = licence_text(distribution)
    return bool(COPYLEFT.search(text)) and not LESSER.search(text)


def test_no_gpl_distribution_is_imported_at_run_time() -> None:
    # The installed package's console scripts ([project.scripts] of pyproject.toml; CI installs the checkout).
    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")
               if ep.dist is not None and ep.dist.name == "facerec"}
    assert "facerec-align" in scripts and "facerec-serve" in scripts
    modules = sorted({target.split(":")[0] for target in scripts.values()})
    env = {**os.environ, "SCAN_MODULES": ",".join(modules), "SCAN_SKIP": ",".join(REFERENCE_ONLY)}
    done = subprocess.run([sys.executable, "-c", SCAN], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    top_level = json.loads(done.stdout.strip().splitlines()[-1])
    owners = metadata.packages_distributions()
    imported = {dist for name in top_level for dist in owners.get(name, [])}
    assert "torch" in imported and "faceie" not in top_level
    assert len(imported) > 20  # the scan saw the real dependency tree
    gpl = sorted(d for d in imported if is_gpl(d))
    assert not gpl, f"GPL distributions imported at run time: {gpl}"


def test_the_licence_check_recognises_gpl() -> None:
    """The check above can fail: faceie (the dev-only reference) reads as GPL, the project's stack does not."""
    pytest.importorskip("faceie")
    assert is_gpl("faceie")
    assert not is_gpl("torch") and not is_gpl("numpy") and not is_gpl("pillow")
