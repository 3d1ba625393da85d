"""The similarity below which a face is ``unknown``: given, or recommended by an evaluation report.

Order: an explicit value; else ``identification.recommended_threshold`` of the given report.json;
else of the newest ``<search root>/**/eval/report.json`` made with the same model and TTA mode;
else the configured default. A report of another model is never used (its scores are not comparable).
The default is not calibrated for the model: :attr:`Threshold.calibrated` is False and
:data:`CALIBRATION_HINT` says how to calibrate it. Faces are accepted by
:func:`src.scoring.acceptance.accepts` (``similarity >= threshold``).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CALIBRATION_HINT = ("calibrate it with `facerec-eval ckpt_path=<this checkpoint> data.root=<folder of people the "
                    "model was not trained on>` (its report.json is then found automatically), or pass "
                    "threshold=<value> or threshold_from=<report.json>")


@dataclass(frozen=True)
class Threshold:
    """The value, where it came from (printed with the results) and whether it was measured for this model
    (explicit values count as calibrated: the caller chose them)."""

    value: float
    source: str
    calibrated: bool = True

    @property
    def warning(self) -> str | None:
        """What to print when the value is not calibrated for this model."""
        if self.calibrated:
            return None
        return f"The threshold {self.value:.4f} is a default, not calibrated for this model: {CALIBRATION_HINT}."


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"Cannot read evaluation report {path}: {error}") from error


def _same_model(report: dict[str, Any], model_id: str, tta_mode: str) -> bool:
    return (report.get("model", {}).get("model_id") == model_id
            and report.get("embedding", {}).get("tta_mode") == tta_mode)


def find_report(search_root: str | Path, model_id: str, tta_mode: str) -> tuple[Path, dict[str, Any]] | None:
    """The newest ``**/eval/report.json`` under ``search_root`` made with this model and TTA mode, and its content."""
    root = Path(search_root)
    candidates = sorted(root.glob("**/eval/report.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in candidates:
        try:
            data = _read(path)
        except ValueError as error:
            log.warning("%s", error)
            continue
        if _same_model(data, model_id, tta_mode):
            return path, data
    return None


def resolve_threshold(explicit: float | None, report: str | Path | None, search_root: str | Path,
                      model_id: str, tta_mode: str, default: float) -> Threshold:
    """Pick the threshold (see the module docstring); a given report of another model raises ValueError."""
    if explicit is not None:
        return Threshold(float(explicit), "threshold=")
    if report:
        path, data = Path(report), _read(Path(report))
        if not _same_model(data, model_id, tta_mode):
            raise ValueError(f"{path} evaluates another model or TTA mode ({data.get('model', {}).get('model_id')}, "
                             f"{data.get('embedding', {}).get('tta_mode')}), not {model_id} ({tta_mode}); its "
                             "threshold does not apply. Pass threshold=<value> or the report of this checkpoint.")
    else:
        found = find_report(search_root, model_id, tta_mode)
        if found is None:
            return Threshold(float(default), f"default (no eval report of this model under {search_root})",
                             calibrated=False)
        path, data = found
    value = data.get("identification", {}).get("recommended_threshold")
    if value is None:
        return Threshold(float(default), f"default ({path} recommends none)", calibrated=False)
    return Threshold(float(value), f"recommended by {path}")
