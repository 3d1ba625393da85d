"""facerec-align's input scan: symlinked person folders are aligned, symlink loops and dangling links reported."""
from __future__ import annotations

from pathlib import Path

from src.alignment.folder import find_jobs
from tests.helpers import orl_root


def test_symlinked_folders_and_loops_are_counted(tmp_path: Path) -> None:
    photos, elsewhere = tmp_path / "photos", tmp_path / "elsewhere" / "s2"
    (photos / "s1").mkdir(parents=True)
    elsewhere.mkdir(parents=True)
    (photos / "s1" / "1.pgm").write_bytes((orl_root() / "s1" / "1.pgm").read_bytes())
    (elsewhere / "1.pgm").write_bytes((orl_root() / "s2" / "1.pgm").read_bytes())
    (photos / "s2").symlink_to(elsewhere, target_is_directory=True)  # a person folder kept on another disk
    (photos / "s1" / "loop").symlink_to(photos / "s1", target_is_directory=True)
    (photos / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    jobs, rejected = find_jobs(photos, tmp_path / "aligned")
    assert sorted(job.key for job in jobs) == ["s1/1.pgm", "s2/1.pgm"]
    reasons = dict(rejected)
    assert set(reasons) == {"s1/loop", "gone.jpg"}
    assert reasons["s1/loop"].startswith("symlink loop") and reasons["gone.jpg"].startswith("dangling symlink")
