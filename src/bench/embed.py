"""Embedding throughput: the TTA embedder (modes ``none`` / ``concat``) and the bare model forward.

Inputs are random tensors (throughput only). ``bare`` times ``model(images)`` alone (input already
on the device, output left there) under the same inference mode / autocast; the TTA variants time
``TTAEmbedder.embed_batch`` from CPU images to unit CPU embeddings (``concat`` runs 2x images
through the network). On CUDA the default is bf16 autocast and every timing is synchronised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from src.bench.config import CommonConfig
from src.bench.plots import embed_figure
from src.bench.report import Outcome, make_table
from src.embedding.tta import TTAEmbedder
from src.evaluation.latency import latency_summary
from src.models.backbone import build_embedder

log = logging.getLogger(__name__)
VARIANTS = ("bare", "none", "concat")


@dataclass
class EmbedConfig(CommonConfig):
    arch: str = "torchvision"  # torchvision | iresnet | dlib (with depth=29 embedding_dim=128 image_size=150)
    depth: int = 50
    image_size: int = 112
    embedding_dim: int = 512
    batch_sizes: list[int] = field(default_factory=lambda: [1, 8, 32, 64])
    channels_last: list[bool] = field(default_factory=lambda: [False, True])
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))  # bare | none | concat
    device: str | None = None  # default: cuda when available
    autocast: bool | None = None  # bf16; default: on for CUDA only
    threads: int | None = None  # torch CPU threads; default: torch's choice
    warmup: int = 2
    min_iters: int = 3
    min_time_s: float = 2.0

    def check(self) -> None:
        unknown = sorted(set(self.variants) - set(VARIANTS))
        if unknown or not self.variants:
            raise ValueError(f"variants must be a non-empty subset of {list(VARIANTS)}, got {self.variants}")


def time_batches(step: Callable[[], Any], cfg: EmbedConfig, sync: Callable[[], None]) -> list[float]:
    """Seconds per call of ``step`` after ``cfg.warmup`` calls: at least ``min_iters`` calls and
    ``min_time_s`` seconds."""
    for _ in range(cfg.warmup):
        step()
        sync()
    durations: list[float] = []
    while len(durations) < cfg.min_iters or sum(durations) < cfg.min_time_s:
        began = time.perf_counter()
        step()
        sync()
        durations.append(time.perf_counter() - began)
    return durations


def bare_step(embedder: TTAEmbedder, images: torch.Tensor) -> Callable[[], Any]:
    """The model alone on device-resident input, with the embedder's memory format and autocast."""
    x = embedder.model_input(images)

    def step() -> torch.Tensor:
        with embedder.inference_context():
            return embedder.model(x)

    return step


def measure(cfg: EmbedConfig, variant: str, channels_last: bool, batch_size: int, device: torch.device) -> dict:
    torch.manual_seed(cfg.seed)
    # random weights: throughput only (pretrained=None also keeps arch=dlib from reading its file per row)
    model = build_embedder(cfg.arch, cfg.image_size, depth=cfg.depth, embedding_dim=cfg.embedding_dim,
                           pretrained=None)
    embedder = TTAEmbedder(model, mode="none" if variant == "bare" else variant, device=device,
                           channels_last=channels_last, autocast=cfg.autocast)
    images = torch.randn(batch_size, 3, cfg.image_size, cfg.image_size)
    step = bare_step(embedder, images) if variant == "bare" else (lambda: embedder.embed_batch(images))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    durations = time_batches(step, cfg, sync)
    images_per_s = batch_size * len(durations) / sum(durations)
    memory = "channels_last" if channels_last else "contiguous"
    log.info("embed %s %s batch=%d: %.1f images/s", variant, memory, batch_size, images_per_s)
    label = f"{'bare forward' if variant == 'bare' else 'TTA ' + variant} {memory}"
    return {"variant": variant, "variant_label": label,
            "channels_last": channels_last, "batch_size": batch_size, "iters": len(durations),
            "images_per_s": images_per_s,
            "network_images_per_s": images_per_s * (2 if variant == "concat" else 1),
            "batch_latency_ms": latency_summary(durations), "autocast_bf16": embedder.autocast}


def run_embed(cfg: EmbedConfig) -> Outcome:
    device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rows = [measure(cfg, variant, cl, size, device)
            for variant in cfg.variants for cl in cfg.channels_last for size in cfg.batch_sizes]
    best = {v: max((r for r in rows if r["variant"] == v), key=lambda r: r["images_per_s"]) for v in cfg.variants}
    summary = {f"best_{v}": {k: r[k] for k in ("images_per_s", "batch_size", "channels_last")} for v, r in best.items()}
    if "bare" in best and "concat" in best:
        summary["tta_concat_over_bare"] = best["concat"]["images_per_s"] / best["bare"]["images_per_s"]
    table = make_table(f"Embedding throughput, {cfg.arch}{cfg.depth} {cfg.image_size}x{cfg.image_size} on {device}",
                       ["variant", "batch", "images/s", "network images/s", "batch p50 ms", "batch p99 ms"],
                       [[r["variant_label"], r["batch_size"], r["images_per_s"], r["network_images_per_s"],
                         r["batch_latency_ms"]["p50_ms"], r["batch_latency_ms"]["p99_ms"]] for r in rows])
    backend = {"name": "torch", "device": str(device), "torch_threads": torch.get_num_threads(),
               "autocast_bf16": rows[0]["autocast_bf16"] if rows else None}
    data = {"kind": "random", "what": "N(0, 1) input tensors (throughput only)",
            "shape": [3, cfg.image_size, cfg.image_size]}
    return Outcome(data=data, backends=[backend], results={"runs": rows}, summary=summary,
                   figure=embed_figure(rows), tables=[table])
