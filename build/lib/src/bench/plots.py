"""Matplotlib figures of the three benchmarks."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402


def ingest_figure(per_backend: dict[str, Any]) -> Figure:
    """Rows/s against rows per upsert call, one line per backend (log-log)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, entry in per_backend.items():
        runs = entry["runs"]
        ax.plot([r["batch_size"] for r in runs], [r["rows_per_s"] for r in runs], marker="o", label=name)
    ax.set(xscale="log", yscale="log", xlabel="rows per upsert call", ylabel="rows / s (insert, no flush)",
           title="Milvus ingestion")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    return fig


def search_figure(points: list[dict[str, Any]], load: list[dict[str, Any]]) -> Figure:
    """Left: recall@10 vs single-query p50 latency (HNSW lines over ef, FLAT/exact points).
    Right: queries/s against concurrent clients."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, group in _groups(points).items():
        xs, ys = [p["latency_ms"]["p50_ms"] for p in group], [p["recall_at_10"] for p in group]
        line = left.plot(xs, ys, marker="o" if len(group) > 1 else "s", label=label)[0]
        for p, x, y in zip(group, xs, ys):
            if p["ef"] is not None:
                left.annotate(str(p["ef"]), (x, y), fontsize=7, color=line.get_color(),
                              textcoords="offset points", xytext=(2, -8))
    left.set(xscale="log", xlabel="single-query p50 latency (ms)", ylabel="recall@10 vs exact",
             title="Recall vs latency (labels: ef)")
    for label, group in _groups(load).items():
        right.plot([p["clients"] for p in group], [p["qps"] for p in group], marker="o", label=label)
    right.set(xlabel="concurrent clients (threads)", ylabel="queries / s", title="Throughput under load",
              xticks=sorted({p["clients"] for p in load}))
    left.xaxis.set_minor_formatter(NullFormatter())
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def embed_figure(rows: list[dict[str, Any]]) -> Figure:
    """Images/s against batch size, one line per variant (TTA mode or bare) and memory format."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, group in _groups(rows, key="variant_label").items():
        ax.plot([r["batch_size"] for r in group], [r["images_per_s"] for r in group], marker="o",
                linestyle="-" if "channels_last" in label else "--", label=label)
    ax.set(xscale="log", xlabel="batch size", ylabel="images / s", title="Embedding throughput")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _groups(rows: list[dict[str, Any]], key: str = "label") -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return groups
