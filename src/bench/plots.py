"""Matplotlib figures of the benchmarks."""

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
        for p, x, y in zip(group, xs, ys, strict=True):
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


def serve_figure(levels: list[dict[str, Any]], api: dict[str, Any], cli_s: list[float]) -> Figure:
    """Left: identify requests/s against concurrent clients, with the in-process API as reference lines.
    Right: p50/p99 latency against clients, with the in-process single-image p50 and the CLI wall time."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    clients = [lv["concurrency"] for lv in levels]
    left.plot(clients, [lv["requests_per_s"] for lv in levels], marker="o", label="facerec-serve")
    left.axhline(api["batched_images_per_s"], linestyle="--", color="grey", label="in-process, batches of 32")
    left.axhline(1e3 / api["single_image_latency_ms"]["mean_ms"], linestyle=":", color="grey",
                 label="in-process, 1 image per call")
    left.set(xscale="log", xlabel="concurrent clients", ylabel="identify requests / s", title="Throughput",
             xticks=clients, xticklabels=[str(c) for c in clients])
    for key, marker in (("p50_ms", "o"), ("p99_ms", "s")):
        right.plot(clients, [lv["latency_ms"][key] for lv in levels], marker=marker, label=f"facerec-serve {key[:3]}")
    right.axhline(api["single_image_latency_ms"]["p50_ms"], linestyle=":", color="grey",
                  label="in-process p50, 1 image per call")
    if cli_s:
        right.axhline(1e3 * sum(cli_s) / len(cli_s), linestyle="--", color="black", label="facerec-identify CLI wall")
    right.set(xscale="log", yscale="log", xlabel="concurrent clients", ylabel="ms per request", title="Latency",
              xticks=clients, xticklabels=[str(c) for c in clients])
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _groups(rows: list[dict[str, Any]], key: str = "label") -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return groups
