"""What a benchmark hands back, and writing it: ``result.json``, a PNG plot and a rich table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from rich.console import Console
from rich.table import Table

from src.evaluation.plots import save_figure

# Top-level keys of every result.json (documented in the README).
RESULT_KEYS = ("benchmark", "created", "command", "params", "data", "backends", "machine", "resources",
               "results", "summary", "plots", "duration_s")


@dataclass
class Outcome:
    """One benchmark's measurements before the common envelope (machine, resources...) is added."""

    data: dict[str, Any]
    backends: list[dict[str, Any]]
    results: dict[str, Any]
    summary: dict[str, Any]
    figure: Figure
    tables: list[Table]


def default_out_dir(command: str, now: datetime | None = None) -> Path:
    """``outputs/bench/<command>/<YYYY-mm-dd_HH-MM-SS>``."""
    stamp = (now or datetime.now()).strftime("%Y-%m-%d_%H-%M-%S")
    return Path("outputs") / "bench" / command / stamp


def make_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A rich table; floats are shown with 4 significant digits, None as '-'."""
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    return table


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def write_result(result: dict[str, Any], figure: Figure, out_dir: Path, plot_name: str) -> Path:
    """Save ``<plot_name>.png`` and ``result.json`` (with ``plots``) in ``out_dir``; returns the JSON path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result["plots"] = {plot_name: str(save_figure(figure, out_dir / f"{plot_name}.png"))}
    missing = [key for key in RESULT_KEYS if key not in result]
    if missing:
        raise KeyError(f"result is missing keys {missing}")
    path = out_dir / "result.json"
    path.write_text(json.dumps(result, indent=2))
    return path


def print_table(table: Table, console: Console | None = None) -> None:
    """Print ``table``; wide enough for every column when output is not a terminal (logs, pipes)."""
    console = console or Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)
    console.print(table)
