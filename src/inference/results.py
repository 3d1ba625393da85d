"""Identification results as JSON or CSV files and as a printed table."""
from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from src.gallery.face_gallery import Identification

FORMATS = ("json", "csv")
CSV_COLUMNS = ("query", "identified_as", "known", "rank", "person_id", "similarity", "image_path")
MAX_PRINTED = 20


def write_identifications(results: Sequence[Identification], path: str | Path, fmt: str,
                          summary: dict[str, Any]) -> Path:
    """JSON: ``summary`` plus every result with its matches; CSV: one row per (query, match)."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown output format {fmt!r}; choose one of {FORMATS}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        path.write_text(json.dumps({**summary, "results": [r.as_dict() for r in results]}, indent=1))
        return path
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for r in results:
            for rank, hit in enumerate(r.matches or [None], start=1):
                match = (rank, hit.person_id, f"{hit.similarity:.6f}", hit.image_path) if hit else ("", "", "", "")
                writer.writerow((r.image_path, r.person_id, r.known, *match))
    return path


def print_identifications(results: Sequence[Identification], threshold: float, console: Console | None = None) -> None:
    """Best match per query (the first few); all matches when there is a single query."""
    table = Table(title=f"Identification (unknown below similarity {threshold:.4f})")
    for column in ("query", "answer", "rank", "match", "similarity", "match image"):
        table.add_column(column)
    for r in results[:MAX_PRINTED]:
        hits = r.matches if len(results) == 1 else r.matches[:1]
        query = Path(r.image_path).name
        for rank, hit in enumerate(hits, start=1):
            first = rank == 1
            table.add_row(query if first else "", r.person_id if first else "", str(rank), hit.person_id,
                          f"{hit.similarity:.4f}", hit.image_path)
        if not hits:
            table.add_row(query, r.person_id, "-", "-", "-", "(empty gallery)")
    (console or Console()).print(table)
    if len(results) > MAX_PRINTED:
        print(f"... and {len(results) - MAX_PRINTED} more (see the output file)")
