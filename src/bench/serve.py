"""Serving throughput and latency: facerec-serve at several client concurrencies, beside the in-process API and
the CLI, on one gallery of real images (loopback only; bounded by request counts and seconds per level).

Phases, in one run: (1) enroll ``n_gallery`` images per identity of ``images`` with ``FaceGallery.enroll``
and time ``FaceGallery.identify`` in-process (one image per call, and all queries in batches); (2) start
``facerec-serve`` on that gallery and send the remaining images as identify requests from ``concurrency``
clients (asyncio + httpx, one connection each); (3) time ``facerec-identify`` on one image as a subprocess
(import + model load + search: what a caller without the service pays per call). Client, service and Milvus
share the machine's cores, so the numbers are for this machine only, and the run says which it was.
"""
from __future__ import annotations

import asyncio
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import torch

from src.bench.backends import Backend, collection_name, open_backends
from src.bench.config import MilvusBenchConfig
from src.bench.plots import serve_figure
from src.bench.report import Outcome, make_table
from src.bench.serve_process import PROJECT_ROOT, ServeProcess
from src.evaluation.latency import latency_summary
from src.inference import FaceGallery, collect_images, load_model

log = logging.getLogger(__name__)
DEFAULT_IMAGES = str(PROJECT_ROOT.parent / "shared" / "data" / "orl_faces_30")


@dataclass
class ServeBenchConfig(MilvusBenchConfig):
    """``backends``/``server_uri``/``start_server`` as in the other Milvus benchmarks (one backend per run)."""

    ckpt_path: str | None = None  # required: the model to serve
    images: str = DEFAULT_IMAGES  # a folder of identity folders (real faces by default: ORL 30 x 10)
    tta: str = "concat"
    n_gallery: int = 5  # images per identity enrolled; the rest are the identify queries
    concurrency: list[int] = field(default_factory=lambda: [1, 8, 32])
    requests_per_level: int = 300  # identify requests per concurrency level (cycling over the queries)
    max_seconds_per_level: float = 60.0  # a level stops early after this long
    warmup: int = 10
    top_k: int = 5
    serve_overrides: list[str] = field(default_factory=list)  # e.g. [serve.max_batch=16, serve.max_wait_ms=2]
    cli_runs: int = 1  # facerec-identify subprocess calls timed (each imports torch and loads the model)
    # CPU threads of the network in all three paths (null: torch's default). On a loaded machine 1 avoids
    # OpenMP stalls: ResNet18 32 px forward measured 52 ms with 1 thread vs 1,600 ms with 2 at load 17 on 2 cores.
    torch_threads: int | None = None

    def check(self) -> None:
        super().check()
        if not self.ckpt_path:
            raise ValueError("ckpt_path=<checkpoint> is required (the model to serve)")
        if len(self.backends) != 1:
            raise ValueError(f"one backend per run (backends=[server] or [lite]), got {self.backends}")
        if not self.concurrency or min(self.concurrency) < 1:
            raise ValueError(f"concurrency must be positive client counts, got {self.concurrency}")


def split_images(cfg: ServeBenchConfig) -> tuple[dict[str, list[Path]], list[tuple[Path, str]]]:
    """``{person: gallery images}`` and ``[(query image, person)]`` from the identity folders of ``cfg.images``."""
    found = collect_images(cfg.images)
    found.report()
    by_person: dict[str, list[Path]] = {}
    for path, person in zip(found.paths, found.person_ids, strict=True):
        by_person.setdefault(str(person), []).append(path)
    gallery = {p: sorted(paths)[:cfg.n_gallery] for p, paths in by_person.items()}
    queries = [(path, p) for p, paths in by_person.items() for path in sorted(paths)[cfg.n_gallery:]]
    if not queries:
        raise ValueError(f"No query images left: every identity of {cfg.images} has <= n_gallery={cfg.n_gallery}.")
    return gallery, queries


def in_process(gallery: FaceGallery, queries: list[tuple[Path, str]], cfg: ServeBenchConfig) -> dict[str, Any]:
    """``FaceGallery.identify`` one image per call (latency) and all queries at once (throughput)."""
    paths = [p for p, _ in queries]
    gallery.identify(paths[: cfg.warmup], cfg.top_k)
    durations = []
    for path in paths:
        began = time.perf_counter()
        gallery.identify([path], cfg.top_k)
        durations.append(time.perf_counter() - began)
    began = time.perf_counter()
    answers = gallery.identify(paths, cfg.top_k, batch_size=32)
    batched_s = time.perf_counter() - began
    return {"single_image_latency_ms": latency_summary(durations), "batched_images_per_s": len(paths) / batched_s,
            "top1": {str(path): a.matches[0].person_id if a.matches else None for path, a in zip(paths, answers,
                                                                                               strict=True)}}


async def load_level(url: str, key: str, queries: list[tuple[Path, str]], clients: int, requests: int,
                     max_seconds: float, top_k: int) -> dict[str, Any]:
    """``clients`` concurrent clients send ``requests`` identify requests in all (or stop after ``max_seconds``)."""
    bodies = [(path, path.read_bytes()) for path, _ in queries]
    durations: list[float] = []
    batch_sizes: list[int] = []
    top1: dict[str, str | None] = {}
    errors = 0
    counter = iter(range(requests))
    began = time.perf_counter()

    async def client() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=120) as http:
            for i in counter:
                if time.perf_counter() - began > max_seconds:
                    return
                path, data = bodies[i % len(bodies)]
                sent = time.perf_counter()
                answer = await http.post("/v1/identify", params={"top_k": top_k},
                                         files={"image": (path.name, data)})
                durations.append(time.perf_counter() - sent)
                if answer.status_code != 200:
                    errors += 1
                    continue
                body = answer.json()
                batch_sizes.append(body["batch_size"])
                top1[str(path)] = body["matches"][0]["person_id"] if body["matches"] else None

    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - began
    return {"concurrency": clients, "requests": len(durations), "errors": errors, "seconds": wall,
            "requests_per_s": len(durations) / wall, "latency_ms": latency_summary(durations),
            "mean_batch_size": sum(batch_sizes) / max(1, len(batch_sizes)),
            "max_batch_size": max(batch_sizes, default=0), "top1": top1}


def served(backend: Backend, collection: str, queries: list[tuple[Path, str]], cfg: ServeBenchConfig,
           scratch: Path) -> tuple[list[dict[str, Any]], int | None]:
    """Every concurrency level against one facerec-serve process; returns the levels and its exit code."""
    key = secrets.token_urlsafe(24)
    threads = [f"serve.torch_threads={cfg.torch_threads}"] if cfg.torch_threads else []
    process = ServeProcess([f"ckpt_path={cfg.ckpt_path}", f"milvus.uri={backend.uri}",
                            f"milvus.collection={collection}", f"gallery.tta={cfg.tta}",
                            f"serve.max_top_k={max(100, cfg.top_k)}", f"hydra.run.dir={scratch / 'serve'}",
                            f"serve.upload_dir={scratch / 'uploads'}", *threads, *cfg.serve_overrides],
                           scratch / "serve.log", env={"FACEREC_API_KEY": key})
    with process:
        asyncio.run(load_level(process.url, key, queries, 1, cfg.warmup, cfg.max_seconds_per_level, cfg.top_k))
        levels = []
        for clients in cfg.concurrency:
            levels.append(asyncio.run(load_level(process.url, key, queries, clients, cfg.requests_per_level,
                                                 cfg.max_seconds_per_level, cfg.top_k)))
            log.info("serve: %d clients: %.1f requests/s, p50 %.1f ms", clients, levels[-1]["requests_per_s"],
                     levels[-1]["latency_ms"]["p50_ms"])
    return levels, process.process.returncode if process.process else None


def cli_wall_times(backend: Backend, collection: str, query: Path, cfg: ServeBenchConfig,
                   scratch: Path) -> list[float]:
    """Wall seconds of ``facerec-identify`` on one image, as a fresh process each time."""
    env = {**os.environ, **({"OMP_NUM_THREADS": str(cfg.torch_threads)} if cfg.torch_threads else {})}
    times = []
    for run in range(cfg.cli_runs):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "src.inference.identify", f"ckpt_path={cfg.ckpt_path}",
                        f"image={query}", f"milvus.uri={backend.uri}", f"milvus.collection={collection}",
                        f"gallery.tta={cfg.tta}", f"hydra.run.dir={scratch / f'cli{run}'}"], cwd=PROJECT_ROOT,
                       env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - began)
    return times


def run_serve_bench(cfg: ServeBenchConfig) -> Outcome:
    gallery_images, queries = split_images(cfg)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    model = load_model(cfg.ckpt_path, cfg.tta)
    with open_backends(cfg) as [backend], tempfile.TemporaryDirectory(prefix="facerec-bench-serve-") as tmp:
        scratch, collection = Path(tmp), collection_name("serve")
        milvus = {"uri": backend.uri, "collection": collection}
        with FaceGallery.open(model, milvus, create=True) as gallery:
            for person, paths in gallery_images.items():
                gallery.enroll(person, paths)
            rows = gallery.count()
            api = in_process(gallery, queries, cfg)  # closed afterwards: a Lite file has one user at a time
        levels, exit_code = served(backend, collection, queries, cfg, scratch)
        cli = cli_wall_times(backend, collection, queries[0][0], cfg, scratch)
    expected = api.pop("top1")
    for level in levels:  # the service must answer what the in-process API answers
        got = level.pop("top1")
        level["top1_agrees_with_in_process"] = sum(expected[p] == who for p, who in got.items()) / max(1, len(got))
    data = {"images": cfg.images, "torch_threads": torch.get_num_threads(), "identities": len(gallery_images),
            "gallery_rows": rows, "gallery_images_per_identity": cfg.n_gallery, "queries": len(queries),
            "model": {"checkpoint": str(cfg.ckpt_path), "model_id": model.model_id, "image_size": model.image_size,
                      "tta": model.tta_mode, "dim": model.dim}}
    by_c = {level["concurrency"]: level for level in levels}
    summary = {"requests_per_s": {c: lv["requests_per_s"] for c, lv in by_c.items()},
               "p50_ms": {c: lv["latency_ms"]["p50_ms"] for c, lv in by_c.items()},
               "p99_ms": {c: lv["latency_ms"]["p99_ms"] for c, lv in by_c.items()},
               "in_process_p50_ms": api["single_image_latency_ms"]["p50_ms"],
               "in_process_batched_images_per_s": api["batched_images_per_s"],
               "cli_wall_s": sum(cli) / len(cli) if cli else None, "service_exit_code": exit_code}
    rows_table = [[f"service, {lv['concurrency']} clients", lv["requests"], lv["requests_per_s"],
                   lv["latency_ms"]["p50_ms"], lv["latency_ms"]["p99_ms"], lv["mean_batch_size"], lv["errors"]]
                  for lv in levels]
    rows_table.append(["in-process FaceGallery.identify, 1 image/call", len(queries),
                       1e3 / api["single_image_latency_ms"]["mean_ms"], api["single_image_latency_ms"]["p50_ms"],
                       api["single_image_latency_ms"]["p99_ms"], 1, 0])
    rows_table.append(["in-process FaceGallery.identify, batches of 32", len(queries),
                       api["batched_images_per_s"], None, None, 32, 0])
    rows_table.extend([["facerec-identify CLI (new process), 1 image", 1, 1 / t, 1e3 * t, None, 1, 0] for t in cli])
    table = make_table(f"Identify over HTTP vs in-process vs CLI ({backend.name}, {rows} gallery rows, "
                       f"{model.model_id} {model.image_size}px)",
                       ["path", "requests", "images/s", "p50 ms", "p99 ms", "mean batch", "errors"], rows_table)
    return Outcome(data=data, backends=[backend.describe()],
                   results={"service": levels, "in_process": api, "cli_wall_s": cli}, summary=summary,
                   figure=serve_figure(levels, api, cli), tables=[table])
