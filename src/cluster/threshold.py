"""The similarity at or above which two faces are linked: the one place it is chosen.

Order: ``clustering.threshold`` when given; else the checkpoint's calibrated verification threshold from its newest
evaluation report: the one at the report's lowest false accept rate (``verification.tar_at_far``, FAR 0.1% by
default), else its accuracy-best ``verification.threshold``; else the measured default of the model family
(``clustering.family_thresholds``, keyed by the start of the model id); else ``clustering.default_threshold``. The
result says where it came from (logged and written to clusters.json).

Why the strict end: in a graph one false link can merge two people, so a link must be a confident same-person
call. Measured with ``ckpt_path=dlib align=true`` on ORL (README, "Clustering faces"): Chinese whispers reaches
pairwise F1 0.967 at the FAR-0.1% threshold (0.930) but 0.85-0.97 around the accuracy-best one (0.924).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from src.inference.threshold import Threshold, find_report


def link_threshold(explicit: float | None, model_id: str, tta_mode: str, search_root: str | Path,
                   family_thresholds: Mapping[str, float], default: float) -> Threshold:
    """Pick the linking threshold (see the module docstring)."""
    if explicit is not None:
        return Threshold(float(explicit), "clustering.threshold=")
    found = find_report(search_root, model_id, tta_mode)
    if found is not None:
        path, report = found
        verification = report.get("verification", {})
        at_far = sorted(verification.get("tar_at_far", {}).items(), key=lambda item: float(item[0].split("_")[-1]))
        if at_far:
            return Threshold(float(at_far[0][1]["threshold"]), f"verification threshold at {at_far[0][0]} of {path}")
        if verification.get("threshold") is not None:
            return Threshold(float(verification["threshold"]), f"verification threshold of {path}")
    for family, value in sorted(family_thresholds.items(), key=lambda item: -len(item[0])):
        if model_id.startswith(family):
            return Threshold(float(value), f"measured default of the {family!r} model family "
                             "(clustering.family_thresholds; README, 'Clustering faces')", calibrated=False)
    return Threshold(float(default), "clustering.default_threshold (no eval report or family default for "
                     f"{model_id})", calibrated=False)
