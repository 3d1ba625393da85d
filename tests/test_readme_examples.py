"""The README's shell examples of "Set up" and "Using the gallery" run as written, and a successful run prints no
ERROR line or traceback (train + export + eval + identify ...; Milvus Lite's gRPC/faiss noise included).

Each ``facerec-*`` line of those sections' ``bash`` blocks runs in a fresh project folder (``FACEREC_ROOT``), in
order, as ``python -m <its module>`` (the console scripts' targets in pyproject.toml). To stay fast, training
commands get :data:`TRAINING_OVERRIDES` appended (the TINY list of tests/helpers/config.py, one epoch), the
quickstart :data:`SYNTHETIC` (20 people x 4 images: the own-data examples' data.val_fraction=0.1 then holds out
2), the other trainings ``eval=false ~callbacks.milvus_export`` (the quickstart's evaluation and gallery are the
ones checked and used).

Placeholders become real paths: ``<run>`` the latest run, ``/path/to/faces`` and ``data.root=...`` the
quickstart's synthetic folder, ``/path/to/raw_photos`` a folder holding a real photo (scikit-image's
astronaut), ``photo.jpg`` / ``probe.jpg`` photos, ``/path/to/probes`` and ``/path/to/alice`` one person's
folder; ``[optional]`` parts are left out. Not run: environment set-up (venv, pip) and ``pytest`` (this is the
suite), lines that need a GPU (``trainer=gpu|ddp``), ``../shared`` or a server (``milvus=standalone``).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.config import TINY

ROOT = Path(__file__).resolve().parents[1]
TRAINING_OVERRIDES = [*TINY, "trainer.max_epochs=1", "gallery.num_workers=0", "~callbacks.progress_bar"]
SYNTHETIC = ["data.num_identities=20", "data.images_per_identity=4"]
SKIP = ("pip install", "pytest", "trainer=gpu", "trainer=ddp", "../shared", "milvus=standalone", "http://")


def _section(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def readme_commands() -> list[str]:
    """Every shell line of the two sections' ``bash`` blocks, continuation lines joined, comments dropped."""
    text = (ROOT / "README.md").read_text()
    sections = _section(text, "## Set up", "\n## ") + _section(text, "<!-- usage:start -->", "<!-- usage:end -->")
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", sections, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                lines.extend(part.strip() for part in re.split(r"&&|;", line) if part.strip())
    return lines


def _modules() -> dict[str, str]:
    scripts = (ROOT / "pyproject.toml").read_text().split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    return dict(re.findall(r'^(facerec-[\w-]+) = "([\w.]+):\w+"', scripts, flags=re.M))


class Project:
    """The fresh project folder the examples run in, and what the placeholders stand for."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.vars: dict[str, str] = {}

    def substitute(self, line: str) -> str:
        runs = sorted((self.home / "outputs" / "quickstart").glob("20*"))
        data = next((self.home / "data").glob("synthetic_*"), None)
        people = sorted(p for p in data.iterdir() if p.is_dir()) if data else []
        photos = self.home / "raw_photos" / "astronaut"
        if not photos.is_dir():
            from PIL import Image
            from skimage import data as skdata  # a real face photo, bundled with scikit-image

            photos.mkdir(parents=True)
            Image.fromarray(skdata.astronaut()).save(photos / "astronaut.png")
            shutil.copy(photos / "astronaut.png", self.home / "photo.jpg")
        trained = sorted((self.home / "checkpoints" / "train").glob("20*"))
        best = sorted((self.home / "checkpoints" / "quickstart" / runs[-1].name).glob("epoch*.ckpt")) if runs else []
        replacements = {
            "checkpoints/train/<run>": str(trained[-1]) if trained else "checkpoints/train/<run>",
            "<best>.ckpt": best[-1].name if best else "<best>.ckpt",  # one epoch: one best checkpoint
            "<run>": runs[-1].name if runs else "<run>",
            "/path/to/faces": str(data), "data.root=...": f"data.root={data}",
            "/path/to/raw_photos": str(photos.parent), "/path/to/probes": str(people[0]) if people else "",
            "/path/to/alice": str(people[1]) if len(people) > 1 else "",
            "probe.jpg": str(next(people[0].iterdir())) if people else "probe.jpg",
        }
        line = re.sub(r"\s\[[^\]]*\]", "", line)
        for placeholder, value in replacements.items():
            line = line.replace(placeholder, value)
        return line

    def run(self, line: str) -> str | None:
        """Run one line; returns what it printed (None for a variable assignment)."""
        line = self.substitute(line)
        if re.fullmatch(r"[A-Z_]+=\S+", line):
            name, value = line.split("=", 1)
            self.vars[name] = value
            return None
        for name, value in self.vars.items():
            line = line.replace(f"${name}", self.substitute(value))
        words = shlex.split(line)
        module = _modules()[words[0]]
        quickstart = "experiment=quickstart" in words  # trains, exports and evaluates: the quiet-success check
        extra = (TRAINING_OVERRIDES + (SYNTHETIC if quickstart else ["eval=false", "~callbacks.milvus_export"])
                 if words[0] == "facerec-train" else [])
        env = {**os.environ, "FACEREC_ROOT": str(self.home), "PYTHONPATH": str(ROOT)}
        env.pop("HYDRA_FULL_ERROR", None)
        done = subprocess.run([sys.executable, "-m", module, *words[1:], *extra], cwd=self.home, env=env,
                              capture_output=True, text=True, timeout=600)
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{line}\n{output[-3000:]}"
        noisy = [ln for ln in output.splitlines() if "ERROR" in ln or "Traceback" in ln]
        assert not noisy, f"{line} succeeded but printed:\n" + "\n".join(noisy[:10])
        return output


def test_readme_examples_run_as_written(tmp_path):
    commands = readme_commands()
    assert any(c.startswith("facerec-train experiment=quickstart") for c in commands), commands
    assert any("align=true" in c and c.startswith("facerec-identify") for c in commands), commands
    project = Project(tmp_path)
    printed = {}
    for line in commands:
        if line.startswith(("python3 -m venv", ". .venv")) or any(word in line for word in SKIP):
            continue
        if (output := project.run(line)) is not None:
            printed[line] = output
    assert len(printed) >= 10, list(printed)
    raw_photo = next(out for line, out in printed.items() if "image=photo.jpg" in line)
    assert "1 identified" in raw_photo, raw_photo[-2000:]


@pytest.mark.parametrize("line", ["facerec-train data.root=/path/to/faces trainer=gpu", "pytest -q"])
def test_skipped_examples_are_the_ones_named(line):
    assert any(word in line for word in SKIP)
