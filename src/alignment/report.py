"""``align_report.json``: what ``facerec-align`` found per image, merged with an earlier run it resumes."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPORT_NAME = "align_report.json"


@dataclass(frozen=True)
class ImageResult:
    """One photo: the files written (relative to the output folder) and its outcome."""

    path: str
    status: str  # aligned | no_face | multiple_faces | failed
    written: tuple[str, ...] = ()
    detected: int = 0
    cut_by_border: int = 0
    reason: str = ""


@dataclass
class AlignReport:
    """Counts and path lists of one output folder (the keys of ``align_report.json``)."""

    input: str
    output: str
    options: dict[str, Any]
    results: dict[str, ImageResult] = field(default_factory=dict)
    resumed: int = 0  # images already done by an earlier run and not processed again
    processed: int = 0  # images aligned by this run
    rejected: int = 0  # files not taken as images (listed under failed with the reason)
    seconds: float = 0.0

    def add(self, result: ImageResult) -> None:
        self.results[result.path] = result

    def paths(self, status: str) -> list[str]:
        return sorted(p for p, r in self.results.items() if r.status == status)

    def as_dict(self) -> dict[str, Any]:
        processed = self.processed
        return {
            "input": self.input, "output": self.output, "options": self.options,
            # image files found; other files (not images, duplicate names) are only listed under failed
            "images": len(self.results) - self.rejected,
            "faces_found": sum(len(r.written) for r in self.results.values()),
            "no_face": self.paths("no_face"),
            # every photo with more than one face (under multi_face=largest/all it was still aligned)
            "multiple_faces": sorted(p for p, r in self.results.items() if r.detected - r.cut_by_border > 1),
            "multiple_faces_skipped": self.paths("multiple_faces"),
            "cut_by_border": {p: r.cut_by_border for p, r in sorted(self.results.items()) if r.cut_by_border},
            "failed": [{"path": p, "reason": self.results[p].reason} for p in self.paths("failed")],
            "resumed": self.resumed, "processed": processed, "seconds": round(self.seconds, 3),
            "images_per_sec": round(processed / self.seconds, 3) if self.seconds > 0 else None,
            "files": {p: list(r.written) for p, r in sorted(self.results.items()) if r.written},
            "detected": {p: r.detected for p, r in sorted(self.results.items()) if r.status != "failed"},
        }

    @property
    def path(self) -> Path:
        return Path(self.output) / REPORT_NAME

    def write(self) -> Path:
        path = self.path
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.as_dict(), indent=1))
        tmp.replace(path)
        return path


def previous_results(output: Path, options: dict[str, Any]) -> dict[str, ImageResult]:
    """Finished images of an earlier run into ``output`` with the same options (empty when there is none)."""
    path = output / REPORT_NAME
    if not path.is_file():
        return {}
    old = json.loads(path.read_text())
    if old.get("options") != options:
        return {}
    failed = {f["path"] for f in old.get("failed", [])}
    skipped = set(old.get("multiple_faces_skipped", []))
    cut, detected, files = old.get("cut_by_border", {}), old.get("detected", {}), old.get("files", {})
    results = {}
    for image, count in detected.items():
        if image in failed:
            continue  # failures are retried (the file may have been fixed)
        status = "aligned" if image in files else "multiple_faces" if image in skipped else "no_face"
        results[image] = ImageResult(image, status, tuple(files.get(image, ())), count, cut.get(image, 0))
    return results
