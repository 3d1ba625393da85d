"""Write the evaluation report: report.json, PNG plots, TensorBoard scalars/figures and a printed table."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from torch.utils.tensorboard import SummaryWriter

from src.evaluation.plots import (
    cmc_figure,
    latency_recall_figure,
    roc_figure,
    save_figure,
)

# Top-level keys of report.json (documented in the README); tests validate reports against them.
REPORT_KEYS = ("report_version", "created", "model", "embedding", "data", "milvus", "identification",
               "search_vs_exact", "verification", "latency", "hardware", "resources", "plots")


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    ident, verif = report["identification"], report["verification"]
    figures = {
        "cmc": cmc_figure({"milvus": ident["milvus"]["cmc"], "exact": ident["exact"]["cmc"]}),
        "roc": roc_figure(verif["roc"]["fpr"], verif["roc"]["tpr"], verif["roc_auc"]),
    }
    if report["latency"]["ef_sweep"]:
        figures["latency_recall"] = latency_recall_figure(report["latency"]["ef_sweep"], report["milvus"]["backend"])
    return figures


def scalars(report: dict[str, Any]) -> dict[str, float]:
    """The headline numbers, as ``eval/<name>`` scalars."""
    ident, single = report["identification"], report["latency"]["single_query"]
    values = {
        "eval/rank1": ident["milvus"]["rank1"], "eval/rank5": ident["milvus"].get("rank5"),
        "eval/rank1_exact": ident["exact"]["rank1"],
        "eval/recall_at_1_vs_exact": report["search_vs_exact"]["recall_at_1"],
        "eval/recall_at_10_vs_exact": report["search_vs_exact"]["recall_at_10"],
        "eval/verification_accuracy": report["verification"]["accuracy_mean"],
        "eval/roc_auc": report["verification"]["roc_auc"],
        "eval/search_p50_ms": single["p50_ms"], "eval/search_p99_ms": single["p99_ms"],
        "eval/embedding_images_per_sec": report["embedding"]["images_per_sec"],
    }
    return {k: float(v) for k, v in values.items() if v is not None}


def write_report(report: dict[str, Any], out_dir: Path, tensorboard_dir: Path | None = None, step: int = 0) -> Path:
    """Save plots and ``report.json`` into ``out_dir`` (and TensorBoard when given); returns the JSON path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = _figures(report)
    writer = SummaryWriter(str(tensorboard_dir)) if tensorboard_dir else None
    if writer:
        for name, value in scalars(report).items():
            writer.add_scalar(name, value, step)
        for name, fig in figures.items():
            writer.add_figure(f"eval/{name}", fig, step, close=False)
        writer.close()
    report["plots"] = {name: str(save_figure(fig, out_dir / f"{name}.png")) for name, fig in figures.items()}
    path = out_dir / "report.json"
    path.write_text(json.dumps(report, indent=2))
    return path


def print_summary(report: dict[str, Any], console: Console | None = None) -> None:
    """A compact table of the headline numbers."""
    ident, verif, latency, data = report["identification"], report["verification"], report["latency"], report["data"]
    table = Table(title=f"Evaluation ({report['milvus']['backend']}: {report['milvus']['uri']})",
                  caption=f"NOT RELIABLE: {data['warning']}" if not data["reliable"] else None,
                  caption_style="bold red")
    table.add_column("metric")
    table.add_column("value", justify="right")
    evaluated = data["enrolled_identities"] + data["unenrolled_identities"]
    rows = [
        ("people evaluated / in folder", f"{evaluated} / {data['identities_in_folder']} ({data['identities']}, "
                                         f"{data['excluded_identities']} excluded)"),
        ("gallery / probes", f"{data['gallery_images']} / {data['probes']}"),
        ("rank-1 (Milvus)", f"{ident['milvus']['rank1']:.4f}"),
        ("rank-1 (exact search)", f"{ident['exact']['rank1']:.4f}"),
        ("rank-5 (Milvus)", f"{ident['milvus'].get('rank5', float('nan')):.4f}"),
        ("recall@1 / @10 vs exact", f"{report['search_vs_exact']['recall_at_1']:.4f} / "
                                    f"{report['search_vs_exact']['recall_at_10']:.4f}"),
        ("verification acc (10-fold)", f"{verif['accuracy_mean']:.4f} ± {verif['accuracy_std']:.4f}"),
        ("ROC AUC", f"{verif['roc_auc']:.4f}"),
        ("TAR @ FAR 1e-2 / 1e-3", " / ".join(f"{v['tar']:.4f}" for v in verif["tar_at_far"].values())),
        ("unknown threshold (FAR 1%)", _fmt(ident["recommended_threshold"])),
        ("search p50 / p99 (ms)", f"{latency['single_query']['p50_ms']:.2f} / {latency['single_query']['p99_ms']:.2f}"),
        ("ef", _fmt(latency["ef"])),
        ("embedding images/s", f"{report['embedding']['images_per_sec']:.1f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    (console or Console()).print(table)


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
