"""What a clustering run leaves in its output dir, and the one writer of it (the run and every edit use it).

* ``clusters.json``: the groups (id, person_id once named, faces with source image, box and similarity to the
  group's centre, most central first), the faces left alone, what was skipped and how the run was made;
* ``faces.json`` + ``embeddings.npy``: every face and its embedding, row by row (edits and naming need no model);
* ``clusters/<id>/``: the group's source photos (symlinks or copies, ``files=link|copy``);
* ``sheets/<id>.png``: a contact sheet of the group's faces, the ones a person looks at to name it;
* ``faces/``: each face's crop; ``cache/``: per-photo results that make a re-run resume.
"""
from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

CLUSTERS = "clusters.json"
FILE_MODES = ("link", "copy")


def members_of(labels: np.ndarray) -> dict[int, list[int]]:
    """``{group: rows}`` of the faces with a label ``>= 0``."""
    groups: dict[int, list[int]] = {}
    for row, label in enumerate(labels.tolist()):
        if label >= 0:
            groups.setdefault(label, []).append(row)
    return groups


def describe(faces: Sequence[dict[str, Any]], vectors: np.ndarray, groups: Sequence[tuple[int, str | None, list[int]]],
             alone: Sequence[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``clusters`` (id, person_id, faces by similarity to the centre) and ``unclustered`` entries."""
    clusters = []
    for cluster_id, person_id, rows in groups:
        centre = vectors[rows].mean(0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        sims = vectors[rows] @ centre
        order = np.argsort(-sims, kind="stable")
        clusters.append({"id": int(cluster_id), "person_id": person_id, "size": len(rows),
                         "sheet": f"sheets/{cluster_id}.png", "folder": f"clusters/{cluster_id}",
                         "faces": [{**faces[rows[i]], "similarity": round(float(sims[i]), 4)} for i in order]})
    return clusters, [dict(faces[row]) for row in alone]


def contact_sheet(crops: Sequence[Path], title: str, thumb: int = 96, columns: int = 6) -> Image.Image:
    """The faces as a grid of ``thumb`` px tiles under a title line."""
    columns = max(1, min(columns, len(crops)))
    rows = max(1, math.ceil(len(crops) / columns))
    sheet = Image.new("RGB", (columns * thumb, rows * thumb + 16), "white")
    ImageDraw.Draw(sheet).text((4, 2), title, fill="black")
    for i, path in enumerate(crops):
        with Image.open(path) as crop:
            tile = crop.convert("RGB").resize((thumb, thumb), Image.Resampling.BILINEAR)
        sheet.paste(tile, ((i % columns) * thumb, 16 + (i // columns) * thumb))
    return sheet


def place(source: Path, target: Path, mode: str) -> None:
    """``target`` as a symlink to ``source`` (``link``) or a copy of it (``copy``)."""
    if mode == "link":
        os.symlink(source.resolve(), target)
    else:
        shutil.copy2(source, target)


def write_output(output: Path, result: dict[str, Any], files: str = "link", sheet_faces: int = 36,
                 sheet_thumb: int = 96) -> Path:
    """Write clusters.json and rebuild ``clusters/`` and ``sheets/`` from it; returns the clusters.json path."""
    if files not in FILE_MODES:
        raise ValueError(f"files={files!r}: use link (symlinks to the photos) or copy.")
    for folder in ("clusters", "sheets"):
        shutil.rmtree(output / folder, ignore_errors=True)
        (output / folder).mkdir(parents=True)
    for cluster in result["clusters"]:
        folder = output / cluster["folder"]
        folder.mkdir()
        for k, face in enumerate(cluster["faces"]):
            source = Path(face["image"])
            target = folder / f"{k:04d}_{source.name}"
            if source.exists():
                place(source, target, files)
        name = cluster["person_id"] or "unnamed"
        title = f"cluster {cluster['id']} ({name}): {cluster['size']} faces"
        contact_sheet([output / face["crop"] for face in cluster["faces"][:sheet_faces]], title,
                      sheet_thumb).save(output / cluster["sheet"])
    path = output / CLUSTERS
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(path)  # a stop while writing never leaves a half clusters.json
    return path


def read_output(output: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]], np.ndarray]:
    """clusters.json, faces.json and embeddings.npy of a clustering output dir."""
    output = Path(output)
    path = output / CLUSTERS
    if not path.exists():
        raise FileNotFoundError(f"No {CLUSTERS} in {output}: run `facerec-cluster input=<photos> output={output} "
                                "ckpt_path=<ckpt>` first, or pass output=<the dir it wrote>.")
    return (json.loads(path.read_text()), json.loads((output / "faces.json").read_text()),
            np.load(output / "embeddings.npy"))


def regroup(result: dict[str, Any], faces: list[dict[str, Any]], vectors: np.ndarray,
            assignment: dict[str, tuple[int, str | None]]) -> dict[str, Any]:
    """``result`` with the groups rebuilt from ``{face id: (cluster id, person_id)}`` (faces absent: alone)."""
    row_of = {face["face"]: row for row, face in enumerate(faces)}
    groups: dict[int, tuple[str | None, list[int]]] = {}
    for face_id, (cluster_id, person_id) in assignment.items():
        named, rows = groups.setdefault(cluster_id, (person_id, []))
        groups[cluster_id] = (named or person_id, rows + [row_of[face_id]])
    alone = [row for row, face in enumerate(faces) if face["face"] not in assignment]
    ordered = sorted((cid, person, rows) for cid, (person, rows) in groups.items())
    result["clusters"], result["unclustered"] = describe(faces, vectors, ordered, alone)
    return result


def assignment_of(result: dict[str, Any]) -> dict[str, tuple[int, str | None]]:
    """``{face id: (cluster id, person_id)}`` of the grouped faces in ``result``."""
    return {face["face"]: (cluster["id"], cluster["person_id"]) for cluster in result["clusters"]
            for face in cluster["faces"]}
