"""A built wheel carries every Hydra config and the face detector's weights, and an installed package finds them."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_carries_every_config(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path)], check=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("facerec-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    configs = sorted(p.relative_to(ROOT / "conf").as_posix() for p in (ROOT / "conf").rglob("*.yaml"))
    assert configs, "no configs found in conf/"
    missing = [c for c in configs if f"src/conf/{c}" not in names]
    assert not missing, f"configs missing from the wheel: {missing}"
    assert "src/utils/paths.py" in names
    assert "src/alignment/weights/mtcnn.pt" in names  # the detector's weights (loaded from the package)
