"""Matplotlib figures of the evaluation report (CMC, ROC, latency vs recall), saved as PNG."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def cmc_figure(curves: dict[str, list[float]]) -> Figure:
    """CMC curves (rank-k accuracy vs k), one line per search method."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, cmc in curves.items():
        ax.plot(range(1, len(cmc) + 1), cmc, marker="o", label=name)
    ax.set(xlabel="rank k", ylabel="identification rate", title="CMC", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def roc_figure(fpr: list[float], tpr: list[float], auc: float) -> Figure:
    """Verification ROC on a log FAR axis."""
    fig, ax = plt.subplots(figsize=(5, 4))
    floor = 1e-4
    ax.plot([max(f, floor) for f in fpr], tpr, label=f"AUC {auc:.4f}")
    ax.set(xscale="log", xlabel="false accept rate", ylabel="true accept rate", title="Verification ROC",
           xlim=(floor, 1), ylim=(0, 1.02))
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def latency_recall_figure(sweep: list[dict], label: str) -> Figure:
    """Recall@10 against p50/p99 single-query latency across the ef sweep, each point labelled with ef."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for key, style in (("p50_ms", "o-"), ("p99_ms", "s--")):
        ax.plot([row[key] for row in sweep], [row["recall_at_10"] for row in sweep], style, label=key[:3])
    for row in sweep:
        ax.annotate(f"ef={row['ef']}", (row["p50_ms"], row["recall_at_10"]), fontsize=7, xytext=(3, -8),
                    textcoords="offset points")
    ax.set(xlabel="single-query latency (ms)", ylabel="recall@10 vs exact", title=f"HNSW ef sweep ({label})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
