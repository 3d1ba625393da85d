"""The similarity below which a face is ``unknown``: chosen by the user, or stored with the gallery.

Order: an explicit value (``threshold=``); else ``identification.recommended_threshold`` of the given report.json
(``threshold_from=``); else the calibrated threshold stored in the gallery's collection metadata (written by
``facerec-export threshold_from=<report.json>`` and by ``facerec-train`` when it evaluates the checkpoint it
exported); else the configured default. Only a report made with the same model, TTA mode and preprocessing
(aligned or not) is accepted, so the value always matches how the gallery was embedded; nothing is ever picked
up from other runs' folders (issue 24: running an unrelated evaluation changed later answers).
The default is not calibrated for the model: :attr:`Threshold.calibrated` is False and
:data:`CALIBRATION_HINT` says how to calibrate it. Faces are accepted by
:func:`src.scoring.acceptance.accepts` (``similarity >= threshold``).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from src.embedding.model import FaceModel
    from src.gallery.face_gallery import FaceGallery

log = logging.getLogger(__name__)

# key of the gallery metadata's ``extra`` that holds the calibrated threshold
STORED_KEY = "threshold"
CALIBRATION_HINT = ("calibrate it with `facerec-eval ckpt_path=<this checkpoint> data.root=<folder of people the "
                    "model was not trained on>` and store it with the gallery: `facerec-export ... "
                    "threshold_from=<its report.json>`; or pass threshold=<value> or threshold_from=<report.json>")


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


def applicable_report(path: Path, model_id: str, tta_mode: str, preprocessing: Any, named: str,
                      fix: str) -> dict[str, Any]:
    """The content of evaluation report ``path`` when it was made with this model, TTA mode and alignment; else
    ``ValueError("<named> does not apply: <how it differs>. <fix>")``."""
    data = _read(path)
    problem = _mismatch(data, model_id, tta_mode, preprocessing)
    if problem:
        raise ValueError(f"{named} does not apply: {problem}. {fix}")
    return data


def _mismatch(report: Mapping[str, Any], model_id: str, tta_mode: str, preprocessing: Any) -> str | None:
    """How the report's model differs from the one in use (None: it applies)."""
    made = (report.get("model", {}).get("model_id"), report.get("embedding", {}).get("tta_mode"))
    if made != (model_id, tta_mode):
        return f"it evaluates {made[0]} ({made[1]}), not {model_id} ({tta_mode})"
    found = report.get("model", {}).get("preprocessing")
    if preprocessing is not None and found is not None and found != preprocessing:
        return (f"it was made with {'aligned faces' if found.get('aligned') else 'unaligned crops'} "
                f"({found}), the gallery and model here use {preprocessing}; match the align setting")
    return None


def calibrated_record(report_path: str | Path, model: FaceModel) -> dict[str, Any]:
    """What a gallery stores of ``report_path``'s recommended threshold; ValueError when it does not apply."""
    path = Path(report_path).expanduser()
    data = applicable_report(path, model.model_id, model.tta_mode, model.preprocessing, f"The threshold of {path}",
                             "Evaluate this checkpoint with the same gallery.tta and align settings and pass that "
                             "report.")
    value = data.get("identification", {}).get("recommended_threshold")
    if value is None:
        raise ValueError(f"{path} recommends no threshold (no open-set probes); evaluate more people.")
    return {"value": float(value), "report": str(path.resolve()), "created": data.get("created"),
            "tta_mode": model.tta_mode, "preprocessing": model.preprocessing}


def store_threshold(model: FaceModel, milvus: Mapping[str, Any] | str, record: Mapping[str, Any]) -> str:
    """Keep ``record`` (from :func:`calibrated_record`) in the metadata of ``model``'s gallery at ``milvus``;
    returns the line to print."""
    from src.gallery.face_gallery import FaceGallery

    with FaceGallery.open(model, milvus) as gallery:
        gallery.store.update_extra({STORED_KEY: dict(record)})
        where = f"collection {gallery.store.collection_name!r} at {gallery.store.settings.display_uri}"
    return (f"Threshold {record['value']:.4f} (recommended by {record['report']}) stored with {where}: "
            "facerec-identify and facerec-serve use it unless given threshold=.")


def resolve_threshold(explicit: float | None, report: str | Path | None, gallery: FaceGallery | None,
                      model_id: str, tta_mode: str, default: float) -> Threshold:
    """Pick the threshold (see the module docstring); a given report that does not apply raises ValueError."""
    if explicit is not None:
        return Threshold(float(explicit), "threshold=")
    preprocessing = gallery.model.preprocessing if gallery is not None else None
    if report:
        path = Path(report)
        data = applicable_report(path, model_id, tta_mode, preprocessing, f"threshold_from={path}",
                                 "Pass threshold=<value> or the report of this checkpoint.")
        value = data.get("identification", {}).get("recommended_threshold")
        if value is None:
            return Threshold(float(default), f"default ({path} recommends none)", calibrated=False)
        return Threshold(float(value), f"recommended by {path}")
    stored = gallery.store.metadata().extra.get(STORED_KEY) if gallery is not None else None
    if stored and stored.get("tta_mode") == tta_mode and stored.get("preprocessing") == preprocessing:
        return Threshold(float(stored["value"]), f"stored with the gallery (from {stored.get('report')})")
    where = "the gallery stores none" if gallery is not None else "no gallery"
    return Threshold(float(default), f"default ({where}; set it with facerec-export threshold_from=<report.json>)",
                     calibrated=False)
