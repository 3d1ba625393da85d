"""The similarity at or above which two faces are linked: the one place it is chosen.

Order: ``clustering.threshold`` when given; else the verification threshold of ``clustering.threshold_from`` (an
evaluation report.json of this checkpoint, TTA mode and preprocessing): the one at the report's lowest false accept
rate (``verification.tar_at_far``, FAR 0.1% by default), else its accuracy-best ``verification.threshold``; else the
calibrated threshold stored with the gallery at ``milvus.uri`` (``facerec-export threshold_from=``, see
src/inference/threshold.py: nothing is picked up from other runs' folders); else the measured default of the model
family (``clustering.family_thresholds``, keyed by the start of the model id); else ``clustering.default_threshold``.
The result says where it came from (logged and written to clusters.json).

Why the strict end of a report: in a graph one false link can merge two people, so a link must be a confident
same-person call. Measured with ``ckpt_path=dlib align=true`` on ORL (README, "Clustering faces"): Chinese whispers
reaches pairwise F1 0.967 at the FAR-0.1% threshold (0.930) but 0.85-0.97 around the accuracy-best one (0.924).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from src.inference.threshold import Threshold, applicable_report


def report_threshold(path: str | Path, model_id: str, tta_mode: str, preprocessing: Any) -> Threshold:
    """The linking threshold a report of this model gives (see the module docstring); ValueError when it does not
    apply or holds no verification section."""
    path = Path(path).expanduser()
    data = applicable_report(path, model_id, tta_mode, preprocessing, f"clustering.threshold_from={path}",
                             "Pass the report of this checkpoint, or clustering.threshold=<value>.")
    verification = data.get("verification", {})
    at_far = sorted(verification.get("tar_at_far", {}).items(), key=lambda item: float(item[0].split("_")[-1]))
    if at_far:
        return Threshold(float(at_far[0][1]["threshold"]), f"verification threshold at {at_far[0][0]} of {path}")
    if verification.get("threshold") is not None:
        return Threshold(float(verification["threshold"]), f"verification threshold of {path}")
    raise ValueError(f"{path} has no verification section; evaluate with pairs, or pass clustering.threshold=<value>.")


def link_threshold(explicit: float | None, report: str | Path | None, stored: Mapping[str, Any] | None,
                   model_id: str, tta_mode: str, preprocessing: Any, family_thresholds: Mapping[str, float],
                   default: float) -> Threshold:
    """Pick the linking threshold (see the module docstring); ``stored`` is the gallery's calibrated record."""
    if explicit is not None:
        return Threshold(float(explicit), "clustering.threshold=")
    if report:
        return report_threshold(report, model_id, tta_mode, preprocessing)
    if stored and stored.get("tta_mode") == tta_mode and stored.get("preprocessing") == preprocessing:
        return Threshold(float(stored["value"]), f"stored with the gallery (from {stored.get('report')})")
    for family, value in sorted(family_thresholds.items(), key=lambda item: -len(item[0])):
        if model_id.startswith(family):
            return Threshold(float(value), f"measured default of the {family!r} model family "
                             "(clustering.family_thresholds; README, 'Clustering faces')", calibrated=False)
    return Threshold(float(default), "clustering.default_threshold (no report, stored threshold or family default "
                     f"for {model_id})", calibrated=False)
