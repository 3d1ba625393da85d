"""The similarity at or above which two faces are linked: the one place it is chosen.

Order: ``clustering.threshold`` when given; else the checkpoint's calibrated verification threshold (the
accuracy-best threshold of its newest evaluation report, ``verification.threshold``: the similarity that best
separates same-person from different-person pairs, which is what a link means); else the measured default of the
model family (``clustering.family_thresholds``, keyed by the start of the model id); else
``clustering.default_threshold``. The result says where it came from (logged and written to clusters.json).
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
        value = report.get("verification", {}).get("threshold")
        if value is not None:
            return Threshold(float(value), f"verification threshold of {path}")
    for family, value in sorted(family_thresholds.items(), key=lambda item: -len(item[0])):
        if model_id.startswith(family):
            return Threshold(float(value), f"measured default of the {family!r} model family "
                             "(clustering.family_thresholds; README, 'Clustering faces')", calibrated=False)
    return Threshold(float(default), "clustering.default_threshold (no eval report or family default for "
                     f"{model_id})", calibrated=False)
