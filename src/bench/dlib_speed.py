"""dlib's face ResNet in PyTorch beside dlib's own ``compute_face_descriptor`` and the default ResNet50 (112 px),
in one run on the same CPU: ``facerec-bench dlib-speed [threads=1] [batch_sizes=[1,8,32]]``.

Inputs are random images (throughput only): 150 px for both dlib networks, 112 px for ResNet50. PyTorch rows
time the bare forward (``variant=bare`` of ``facerec-bench embed``); dlib's row times
``face_recognition_model_v1.compute_face_descriptor`` on a list of uint8 chips (dlib-bin, the dev extra).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from src.bench.config import CommonConfig
from src.bench.embed import EmbedConfig, measure, time_batches
from src.bench.plots import embed_figure
from src.bench.report import Outcome, make_table
from src.models.dlib_resnet import DLIB_IMAGE_SIZE, packaged_file

log = logging.getLogger(__name__)


@dataclass
class DlibSpeedConfig(CommonConfig):
    batch_sizes: list[int] = field(default_factory=lambda: [1, 8, 32])
    threads: int | None = 1  # torch CPU threads (dlib's CPU build runs its own loops); null: torch's choice
    warmup: int = 1
    min_iters: int = 3
    min_time_s: float = 2.0


def _torch_rows(cfg: DlibSpeedConfig, label: str, **model: Any) -> list[dict[str, Any]]:
    embed_cfg = EmbedConfig(seed=cfg.seed, batch_sizes=cfg.batch_sizes, warmup=cfg.warmup, min_iters=cfg.min_iters,
                            min_time_s=cfg.min_time_s, **model)
    rows = [measure(embed_cfg, "bare", False, size, torch.device("cpu")) for size in cfg.batch_sizes]
    return [{**row, "variant_label": label} for row in rows]


def _dlib_rows(cfg: DlibSpeedConfig) -> list[dict[str, Any]]:
    import dlib  # the reference only: dlib-bin is in the dev extra

    network = dlib.face_recognition_model_v1(str(packaged_file()))
    rng = np.random.default_rng(cfg.seed)
    rows = []
    for size in cfg.batch_sizes:
        chips = [rng.integers(0, 256, (DLIB_IMAGE_SIZE, DLIB_IMAGE_SIZE, 3), dtype=np.uint8) for _ in range(size)]
        embed_cfg = EmbedConfig(warmup=cfg.warmup, min_iters=cfg.min_iters, min_time_s=cfg.min_time_s)
        durations = time_batches(lambda chips=chips: network.compute_face_descriptor(chips), embed_cfg, lambda: None)
        rate = size * len(durations) / sum(durations)
        log.info("dlib compute_face_descriptor batch=%d: %.1f images/s", size, rate)
        rows.append({"variant": "dlib", "variant_label": "dlib compute_face_descriptor 150 px", "batch_size": size,
                     "iters": len(durations), "images_per_s": rate})
    return rows


def run_dlib_speed(cfg: DlibSpeedConfig) -> Outcome:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    started = time.perf_counter()
    rows = (_torch_rows(cfg, "dlib ResNet in PyTorch 150 px", arch="dlib", depth=29, image_size=150,
                        embedding_dim=128)
            + _dlib_rows(cfg)
            + _torch_rows(cfg, "ResNet50 (torchvision) 112 px", arch="torchvision", depth=50, image_size=112,
                          embedding_dim=512))
    best = {}
    for row in rows:
        if row["images_per_s"] > best.get(row["variant_label"], 0.0):
            best[row["variant_label"]] = row["images_per_s"]
    port, reference = best["dlib ResNet in PyTorch 150 px"], best["dlib compute_face_descriptor 150 px"]
    summary = {"best_images_per_s": best, "port_over_dlib": port / reference,
               "seconds": round(time.perf_counter() - started, 1)}
    table = make_table(f"Face embedding on CPU, torch threads {torch.get_num_threads()} (bare forward, random input)",
                       ["model", "batch", "images/s"],
                       [[r["variant_label"], r["batch_size"], r["images_per_s"]] for r in rows])
    data = {"kind": "random", "what": "uniform random images (throughput only)", "sizes": [150, 112]}
    backends = [{"name": "torch", "threads": torch.get_num_threads()}, {"name": "dlib", "package": "dlib-bin"}]
    return Outcome(data=data, backends=backends, results={"runs": rows}, summary=summary, figure=embed_figure(rows),
                   tables=[table])
