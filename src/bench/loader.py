"""Training-loader throughput, before vs after issue 21, on an image folder and a packed ``.rec`` of 112 px JPEGs:
``facerec-bench loader [images=100000] [workers=[0,1,2]] [seconds=10]``.

* ``old``: what the workers did before: Pillow decode (:func:`load_rgb`) + the per-image torchvision transform
  (``RandomResizedCrop``, flip, ``ColorJitter``, float, normalise), i.e. ``data.augment=worker`` with Pillow;
* ``new``: what the workers do now (``data.augment=device``): the fast JPEG decode to uint8, nothing else. The
  batched augmentation then runs on the training device; its images/s is measured on its own (``augment`` rows).

``workers=0`` is the DataLoader's main process: the cost of one worker, without process start-up or IPC. Both
pipelines run in the same invocation, interleaved, so their ratio holds on a shared machine. Also: the JPEG
decoders on the same payloads (Pillow, torchvision, simplejpeg; pixels compared with Pillow's), the RecordIO read
orders, and on a CUDA machine the GPU decode and the training step alone (:mod:`src.bench.train_speed`).
"""
from __future__ import annotations

import io
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import simplejpeg
import torch
from matplotlib.figure import Figure
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.io import decode_jpeg

from src.bench.config import CommonConfig
from src.bench.loader_data import make_loader_data
from src.bench.report import Outcome, make_table
from src.datamodules.batch_augment import BatchAugment
from src.datamodules.face_dataset import FaceImageDataset
from src.datamodules.fast_decode import DecodeToTensor
from src.datamodules.gpu_decode import collate_mixed, decode_batch
from src.datamodules.image_decode import load_rgb
from src.datamodules.read_order import ShuffleBufferSampler
from src.datamodules.recordio.datamodule import RecordFaceDataset, image_keys
from src.datamodules.recordio.reader import RecordReader
from src.datamodules.transforms import train_transform

log = logging.getLogger(__name__)
SIZE = 112


@dataclass
class LoaderConfig(CommonConfig):
    images: int = 100_000  # base_faces x copies (see src.bench.loader_data)
    base_faces: int = 2000
    data_dir: str = "outputs/bench/loader_data"  # made once, reused by later runs with the same sizes
    # 1: one worker beside the main process (the per-worker figure); 2: the whole 2-core box
    workers: list[int] = field(default_factory=lambda: [0, 1, 2])
    batch_size: int = 256
    seconds: float = 10.0  # timed per row, after one warm-up batch
    decoder_payloads: int = 2000
    train_step: bool = True  # on a CUDA machine: also the training step alone and fed by data=rec (train_speed)
    train_overrides: list[str] = field(default_factory=lambda: [
        "trainer=gpu", "data.batch_size=512", "data.num_workers=12", "model.backbone.pretrained=null"])

    def check(self) -> None:
        if self.images < self.base_faces or self.images % self.base_faces:
            raise ValueError(f"images={self.images} must be a multiple of base_faces={self.base_faces}")
        if min(self.workers) < 0 or self.seconds <= 0:
            raise ValueError("workers must be >= 0 and seconds > 0")


def pil_bytes(data: bytes) -> Image.Image:
    """The decoder of the old pipeline for records: Pillow through load_rgb."""
    return load_rgb(io.BytesIO(data))


def timed_loader(loader: DataLoader, seconds: float, finish: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """Images/s of ``loader`` (``finish`` applied to each batch, e.g. GPU decode) over up to ``seconds`` after the
    first batch (worker start-up); with ``num_workers=0`` also images per CPU second of this process, the figure
    to trust on a shared machine (wall time there includes waiting for a core)."""
    batches = iter(loader)
    next(batches)
    images, began, cpu = 0, time.perf_counter(), time.process_time()
    for batch in batches:
        if finish is not None:
            batch = finish(batch)
        images += len(batch[1])
        if time.perf_counter() - began >= seconds:
            break
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    per_cpu_s = round(images / cpu, 1) if loader.num_workers == 0 and cpu > 0 else None
    return {"images": images, "seconds": round(elapsed, 2), "images_per_s": round(images / elapsed, 1),
            "images_per_cpu_s": per_cpu_s}


def loader_rows(cfg: LoaderConfig, datasets: dict[str, dict[str, Dataset]], reader_keys: int) -> list[dict]:
    """Old vs new for every source and worker count, interleaved; RecordIO read orders for the new pipeline."""
    rows = []
    for workers in cfg.workers:
        for source, pipelines in datasets.items():
            for pipeline, dataset in pipelines.items():
                loader = DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, num_workers=workers)
                row = {"source": source, "pipeline": pipeline, "read_order": "random", "workers": workers,
                       **timed_loader(loader, cfg.seconds)}
                row["images_per_s_per_worker"] = round(row["images_per_s"] / max(workers, 1), 1)
                rows.append(row)
                log.info("loader bench: %s", row)
    new_rec = datasets["rec"]["new"]
    for order, sampler in [("sequential", None), ("shuffle_buffer", ShuffleBufferSampler(reader_keys, 10_000, 0))]:
        loader = DataLoader(new_rec, batch_size=cfg.batch_size, sampler=sampler, num_workers=0)
        rows.append({"source": "rec", "pipeline": "new", "read_order": order, "workers": 0,
                     **timed_loader(loader, cfg.seconds)})
        rows[-1]["images_per_s_per_worker"] = rows[-1]["images_per_s"]
    return rows


def decoder_rows(payloads: list[bytes]) -> list[dict[str, Any]]:
    """Each JPEG decoder over the same payloads (best of 2 passes, one thread), and its largest pixel difference
    from Pillow's."""
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    decoders = {
        "Pillow (load_rgb)": lambda data: np.asarray(pil_bytes(data)),
        "torchvision.io.decode_jpeg (CPU)": lambda data: decode_jpeg(
            torch.frombuffer(bytearray(data), dtype=torch.uint8)).permute(1, 2, 0).numpy(),
        "simplejpeg": lambda data: simplejpeg.decode_jpeg(data, colorspace="RGB"),
    }
    reference = [np.asarray(pil_bytes(data)).astype(np.int16) for data in payloads]
    rows = []
    for name, decode in decoders.items():
        best = float("inf")
        for _ in range(2):
            began = time.perf_counter()
            decoded = [decode(data) for data in payloads]
            best = min(best, time.perf_counter() - began)
        diff = max(int(np.abs(d.astype(np.int16) - r).max()) for d, r in zip(decoded, reference, strict=True))
        rows.append({"decoder": name, "images_per_s": round(len(payloads) / best, 1),
                     "ms_per_image": round(1000 * best / len(payloads), 3), "max_pixel_diff_vs_pillow": diff})
    torch.set_num_threads(torch_threads)
    return rows


def augment_rows(cfg: LoaderConfig, dataset: Dataset) -> list[dict[str, Any]]:
    """The batched augmentation alone on every device here (the training device's share of the new pipeline)."""
    batch = next(iter(DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True)))[0]
    rows = []
    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        augment, images = BatchAugment(SIZE), batch.to(device)
        augment(images)  # warm-up (CUDA kernels)
        count, began, cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - began < min(cfg.seconds, 5):
            augment(images)
            count += len(images)
        if device == "cuda":
            torch.cuda.synchronize()
        rows.append({"device": device, "batch_size": len(images),
                     "images_per_s": round(count / (time.perf_counter() - began), 1),
                     "images_per_cpu_s": round(count / (time.process_time() - cpu), 1),
                     "cpu_threads": torch.get_num_threads()})
    return rows


def gpu_rows(cfg: LoaderConfig, reader: RecordReader, samples: list[tuple[int, int]], rec: Path) -> list[dict]:
    """On CUDA: records decoded by nvjpeg in the batch (``data.decode_device=cuda``), and the ResNet50 step fed by
    ``data=rec`` beside the step alone (issue 21's goal: >= 0.9 of it)."""
    dataset = RecordFaceDataset(reader, samples, None, DecodeToTensor(SIZE, keep_jpeg=True))
    augment = BatchAugment(SIZE)
    rows = []
    for workers in cfg.workers:
        loader = DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, num_workers=workers,
                            collate_fn=collate_mixed)
        finish = lambda batch: [augment(decode_batch(batch[0], SIZE, "cuda")), *batch[1:]]  # noqa: E731
        rows.append({"source": "rec", "pipeline": "new, GPU decode", "read_order": "random", "workers": workers,
                     **timed_loader(loader, cfg.seconds, finish)})
    if cfg.train_step:
        from src.bench.recipe import compose_train_config
        from src.bench.train_speed import measure

        overrides = ["data=rec", f"data.root={rec}", "data.val_fraction=0", *cfg.train_overrides]
        train_cfg = compose_train_config(overrides, Path(cfg.data_dir) / "train_speed")
        for feed in ("tensors", "loader"):
            rows.append({"source": "rec", "pipeline": f"train step, feed={feed}", **measure(train_cfg, feed, 10, 40)})
    return rows


def loader_figure(rows: list[dict[str, Any]]) -> Figure:
    figure = Figure(figsize=(8, 4))
    ax = figure.subplots()
    shown = [r for r in rows if "images_per_s_per_worker" in r]
    ax.barh([f"{r['source']} {r['pipeline']} {r['read_order']} w={r['workers']}" for r in shown],
            [r["images_per_s"] for r in shown])
    ax.set_xlabel("images/s out of the DataLoader (112 px JPEG)")
    ax.invert_yaxis()
    figure.tight_layout()
    return figure


def run_loader(cfg: LoaderConfig) -> Outcome:
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    folder, rec = make_loader_data(Path(cfg.data_dir), cfg.base_faces, cfg.images // cfg.base_faces, cfg.seed)
    reader = RecordReader(rec / "train.rec")
    keys = image_keys(reader)
    samples = [(key, int(reader.header(key).label)) for key in keys]
    people = sorted(folder.iterdir())
    files = [(path, label) for label, person in enumerate(people) for path in sorted(person.iterdir())]
    old = train_transform(SIZE)
    datasets = {
        "folder": {"old": FaceImageDataset(files, old), "new": FaceImageDataset(files, None, DecodeToTensor(SIZE))},
        "rec": {"old": RecordFaceDataset(reader, samples, old, pil_bytes),
                "new": RecordFaceDataset(reader, samples, None, DecodeToTensor(SIZE))},
    }
    rows = loader_rows(cfg, datasets, len(samples))
    decoders = decoder_rows([reader.read(key)[1] for key in keys[:cfg.decoder_payloads]])
    augments = augment_rows(cfg, datasets["rec"]["new"])
    gpu = gpu_rows(cfg, reader, samples, rec) if torch.cuda.is_available() else []

    def rate(source: str, pipeline: str, workers: int, key: str = "images_per_s") -> float:
        return next(r[key] for r in rows if (r["source"], r["pipeline"], r["workers"], r["read_order"])
                    == (source, pipeline, workers, "random"))

    compared = [(f"{s}_workers{w}", s, w, "images_per_s") for s in datasets for w in cfg.workers]
    compared += [(f"{s}_one_core", s, 0, "images_per_cpu_s") for s in datasets if 0 in cfg.workers]
    summary: dict[str, Any] = {
        name: {"measure": key, "old": rate(s, "old", w, key), "new": rate(s, "new", w, key),
               "new_over_old": round(rate(s, "new", w, key) / rate(s, "old", w, key), 2)}
        for name, s, w, key in compared}
    summary["gpu"] = "measured" if gpu else "no CUDA device on this machine: GPU decode and train step not measured"
    tables = [
        make_table("loader images/s (old = Pillow + per-image transform in the worker; new = decode only)",
                   ["source", "pipeline", "read order", "workers", "images/s", "per worker", "per CPU second"],
                   [(r["source"], r["pipeline"], r["read_order"], r["workers"], r["images_per_s"],
                     r["images_per_s_per_worker"], r["images_per_cpu_s"]) for r in rows]),
        make_table("new / old, same run", ["source, workers", "measure", "old", "new", "new/old"],
                   [(k, v["measure"], v["old"], v["new"], v["new_over_old"]) for k, v in summary.items()
                    if isinstance(v, dict)]),
        make_table(f"JPEG decoders, {min(cfg.decoder_payloads, len(keys))} payloads of 112 px, 1 thread",
                   ["decoder", "images/s", "ms/image", "max pixel diff vs Pillow"],
                   [tuple(r.values()) for r in decoders]),
        make_table("batched augmentation on the training device",
                   ["device", "batch", "images/s", "per CPU second", "CPU threads"],
                   [tuple(r.values()) for r in augments]),
    ]
    if gpu:
        tables.append(make_table("CUDA", ["source", "pipeline", "images/s"],
                                 [(r["source"], r["pipeline"], r["images_per_s"]) for r in gpu]))
    data = {"kind": "face_jpeg", "images": len(samples), "folder": str(folder), "rec": str(rec), "image_size": SIZE,
            "description": f"{cfg.base_faces} rendered synthetic faces x {cfg.images // cfg.base_faces} re-encoded "
                           f"copies (colour offset, shift), JPEG q95 4:2:0 (src.bench.loader_data)"}
    return Outcome(data=data, backends=[{"name": "torch DataLoader", "device": "cpu"}],
                   results={"loader": rows, "decoders": decoders, "augment": augments, "cuda": gpu},
                   summary=summary, figure=loader_figure(rows), tables=tables)
