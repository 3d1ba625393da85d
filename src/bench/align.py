"""Detection + alignment on pasted-face scenes: the project's batched MTCNN at several batch sizes beside the
previous detector (faceie, NumPy, when the ``dev`` extra is installed) on the same images in the same run, on the
CPU and on a CUDA GPU when present; detection rate, alignment consistency, pixel identification and agreement with
the reference; ``facerec-align`` end to end with worker processes.

Scenes: one ORL photo per scene (``photos_per_person`` of each of ``people`` identities) pasted onto a 640x480
face-free scikit-image background at a random scale (``scale``), angle (+-``max_angle``) and position (seeded).
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image
from skimage import data

from src.alignment.aligner import Alignment, FaceAligner
from src.alignment.detector import Face, FaceDetector
from src.alignment.folder import align_folder
from src.alignment.scenes import BACKGROUNDS, background, face_vector, random_scene
from src.bench.config import CommonConfig
from src.bench.report import Outcome, make_table
from src.datamodules.face_dataset import load_rgb

log = logging.getLogger(__name__)


@dataclass
class AlignConfig(CommonConfig):
    data_root: str = "../shared/data/orl_faces_30"
    people: int = 30
    photos_per_person: int = 2  # scenes use photos 2..; photo 1 of each person is the identification gallery
    scale: list[float] = field(default_factory=lambda: [1.0, 2.5])
    max_angle: float = 20.0
    batch_sizes: list[int] = field(default_factory=lambda: [1, 8, 32])  # the own detector, min face 40
    min_face_sizes: list[int] = field(default_factory=lambda: [48, 24])  # further own-detector rows
    reference: bool = True  # also time faceie (needs the dev extra; skipped with a warning when absent)
    workers: list[int] = field(default_factory=lambda: [1, 2])  # facerec-align end-to-end runs

    def check(self) -> None:
        if not Path(self.data_root).is_dir():
            raise ValueError(f"data_root={self.data_root} is not a folder of <person>/<image> face photos")


def timed(label: str, aligner: FaceAligner, images: list[Image.Image]) -> tuple[list[Alignment], dict[str, Any]]:
    """``aligner.align_many`` over ``images``: results and a speed row (wall and this process's CPU seconds; CPU
    time is what to compare on a shared machine). A first small batch warms the device up, untimed."""
    aligner.align_many(images[:2])
    wall, cpu = time.perf_counter(), time.process_time()
    out = aligner.align_many(images)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    log.info("align bench: %s %.2f images/s", label, len(images) / wall)
    return out, {"method": label, "device": aligner.detector.device.type, "batch_size": aligner.detector.batch_size,
                 "seconds": wall, "cpu_seconds": cpu, "images_per_s": len(images) / wall,
                 "images_per_cpu_s": len(images) / cpu, "faces_found": sum(bool(a.crops) for a in out)}


def reference_detector() -> type[FaceDetector] | None:
    """faceie's detector class when the dev extra is installed, else ``None`` (with a warning)."""
    try:
        from src.bench.faceie_reference import FaceieDetector
    except ImportError:
        log.warning("align bench: faceie is not installed (pip install -e '.[dev]'); no reference rows")
        return None
    return FaceieDetector


def speed_runs(cfg: AlignConfig, scenes: list[Image.Image]) -> tuple[dict[str, list[Alignment]], list[dict]]:
    """Every timed configuration on the same scenes: the reference, the own detector per batch size on the CPU
    (and on CUDA when present), and the further smallest-face settings."""
    runs: dict[str, list[Alignment]] = {}
    rows = []
    reference = reference_detector() if cfg.reference else None
    plans = [("faceie (previous detector), min face 40", reference, "cpu", 1)] if reference else []
    devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    plans += [(f"facerec MTCNN {d}, batch {b}, min face 40", FaceDetector, d, b)
              for d in devices for b in cfg.batch_sizes]
    for label, kind, device, batch in plans:
        runs[label], row = timed(label, FaceAligner(kind(device=device, batch_size=batch)), scenes)
        rows.append(row)
    for size in cfg.min_face_sizes:
        rows.append(timed(f"facerec MTCNN cpu, batch 8, min face {size}",
                          FaceAligner(FaceDetector(min_face_size=size, batch_size=8)), scenes)[1])
    if reference:
        base = rows[0]["images_per_cpu_s"]
        for row in rows:
            row["cpu_speedup_vs_faceie"] = row["images_per_cpu_s"] / base
    return runs, rows


def run_align(cfg: AlignConfig) -> Outcome:
    people = sorted(p for p in Path(cfg.data_root).iterdir() if p.is_dir())[:cfg.people]
    rng = np.random.default_rng(cfg.seed)
    aligner = FaceAligner(FaceDetector(batch_size=8))
    gallery_photos, truth, photos, scenes = [], [], [], []
    for i, person in enumerate(people):
        gallery_photos.append(load_rgb(person / "1.pgm"))
        for k in range(2, 2 + cfg.photos_per_person):
            photo = load_rgb(person / f"{k}.pgm")
            photos.append(photo)
            scenes.append(random_scene(photo, len(scenes), rng, tuple(cfg.scale), cfg.max_angle)[0])
            truth.append(i)
    log.info("align bench: %d scenes of %d people", len(scenes), len(people))
    runs, speed_rows = speed_runs(cfg, scenes)
    gallery_vectors = np.stack([face_vector(g.crops[0]) for g in aligner.align_many(gallery_photos)])
    own = aligner.align_many(photos)
    empty = [background(i) for i in range(len(BACKGROUNDS))]
    quality = {label: scene_quality(result, own, gallery_vectors, truth) for label, result in runs.items()}
    own_label = next(label for label in runs if label.startswith("facerec"))
    quality[own_label]["background_false_faces"] = {
        name: a.detected for name, a in zip(BACKGROUNDS, aligner.align_many(empty), strict=True)}
    quality[own_label]["originals_detected"] = float(np.mean([bool(a.crops) for a in own]))
    results: dict[str, Any] = {"speed": speed_rows, "quality": quality, "torch_threads": torch.get_num_threads()}
    if (reference := reference_detector() if cfg.reference else None) is not None:
        checked = [Image.fromarray(data.astronaut()), *empty, *scenes]
        results["agreement_with_faceie"] = agreement(reference().detect_many(checked),
                                                     aligner.detector.detect_many(checked))
    folder_rows = folder_runs(cfg, aligner, scenes, people, truth)
    results["folder"] = folder_rows
    q = quality[own_label]
    tables = [
        make_table(f"Detection + alignment speed, {len(scenes)} scenes 640x480 (same images, same run)",
                   ["method", "images/s", "images per CPU-s", "x faceie (CPU-s)", "faces found"],
                   [[r["method"], r["images_per_s"], r["images_per_cpu_s"], r.get("cpu_speedup_vs_faceie", "-"),
                     r["faces_found"]] for r in speed_rows]),
        make_table("facerec-align end to end (decode, detect, align, write PNG)",
                   ["workers", "images/s", "seconds"], [[r["workers"], r["images_per_s"], r["seconds"]]
                                                       for r in folder_rows]),
        make_table("Quality on the same scenes", ["detector", "detection rate", "crop corr. median / p5 / min",
                                                  "rank-1 pixels scenes / photos"],
                   [[label, v["detection_rate"], f"{v['crop_correlation']['median']:.3f} / "
                     f"{v['crop_correlation']['p5']:.3f} / {v['crop_correlation']['min']:.3f}",
                     f"{v['rank1_pixels_scenes']:.3f} / {v['rank1_pixels_photos']:.3f}"]
                    for label, v in quality.items()]),
    ]
    if "agreement_with_faceie" in results:
        tables.append(make_table("Agreement with faceie (astronaut, 6 empty backgrounds, the scenes)",
                                 ["measure", "value"], [[k, v] for k, v in results["agreement_with_faceie"].items()]))
    scene_data = {"kind": "pasted ORL faces", "root": cfg.data_root, "people": len(people),
            "scenes": len(scenes), "scene_size": [640, 480], "scale": cfg.scale, "max_angle": cfg.max_angle,
            "backgrounds": list(BACKGROUNDS), "gallery": "photo 1 of each person, aligned by the own detector"}
    backends = [{"name": "facerec MTCNN (PyTorch, batched)", "device": d} for d in sorted({r["device"]
                                                                                          for r in speed_rows})]
    own_row = next(r for r in speed_rows if r["method"] == own_label)
    return Outcome(data=scene_data, backends=backends, results=results,
                   summary={"images_per_s": own_row["images_per_s"], "images_per_cpu_s": own_row["images_per_cpu_s"],
                            "cpu_speedup_vs_faceie": max((r.get("cpu_speedup_vs_faceie", 0) for r in speed_rows
                                                          if r["device"] == "cpu"), default=None),
                            "detection_rate": q["detection_rate"],
                            "crop_correlation_median": q["crop_correlation"]["median"]},
                   figure=speed_figure(speed_rows + [{"method": f"facerec-align, {r['workers']} workers",
                                                      **r} for r in folder_rows]),
                   tables=tables)


def agreement(reference: list[list[Face]], ours: list[list[Face]]) -> dict[str, float | int]:
    """How closely two detectors agree on the same photos: photos with the same number of faces, and over the
    faces paired in order (largest first) the largest box / landmark difference in pixels and as a fraction of
    the face size, and the largest probability difference."""
    same = [len(a) == len(b) for a, b in zip(reference, ours, strict=True)]
    pairs = [(a, b) for ra, rb in zip(reference, ours, strict=True) if len(ra) == len(rb)
             for a, b in zip(ra, rb, strict=True)]
    box = [float(np.abs(a.box - b.box).max()) for a, b in pairs]
    marks = [float(np.abs(a.landmarks - b.landmarks).max()) for a, b in pairs]
    size = [a.size for a, _ in pairs]
    return {"photos": len(same), "same_face_count": int(sum(same)), "faces": len(pairs),
            "box_max_px": max(box, default=0.0), "landmark_max_px": max(marks, default=0.0),
            "box_max_of_face_size": max((d / s for d, s in zip(box, size, strict=True)), default=0.0),
            "landmark_max_of_face_size": max((d / s for d, s in zip(marks, size, strict=True)), default=0.0),
            "landmark_median_px": float(np.median(marks)) if marks else 0.0,
            "probability_max": max((abs(a.confidence - b.confidence) for a, b in pairs), default=0.0)}


def scene_quality(scenes: list[Alignment], own: list[Alignment], gallery: np.ndarray,
                  truth: list[int]) -> dict[str, Any]:
    """Detection rate, aligned-crop correlation with the aligned original photo, and rank-1 pixel identification
    against the gallery, for one detector's results on the scenes."""
    corr = np.array([face_vector(o.crops[0]) @ face_vector(s.crops[0])
                     for o, s in zip(own, scenes, strict=True) if o.crops and s.crops])

    def rank1(alignments: list[Alignment]) -> float:
        return float(np.mean([bool(a.crops) and int(np.argmax(gallery @ face_vector(a.crops[0]))) == t
                              for a, t in zip(alignments, truth, strict=True)]))

    return {"scenes": len(scenes), "detection_rate": float(np.mean([bool(a.crops) for a in scenes])),
            "crop_correlation": {"median": float(np.median(corr)), "p5": float(np.percentile(corr, 5)),
                                 "min": float(corr.min()), "pairs": int(corr.size)},
            "rank1_pixels_scenes": rank1(scenes), "rank1_pixels_photos": rank1(own)}


def folder_runs(cfg: AlignConfig, aligner: FaceAligner, scenes: list[Image.Image], people: list[Path],
                truth: list[int]) -> list[dict[str, Any]]:
    """``align_folder`` over the scenes saved as JPEGs in person folders, once per worker count."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "scenes"
        for n, (scene, t) in enumerate(zip(scenes, truth, strict=True)):
            (source / people[t].name).mkdir(parents=True, exist_ok=True)
            scene.save(source / people[t].name / f"{n}.jpg", quality=95)
        for workers in cfg.workers:
            report = align_folder(source, Path(tmp) / f"out{workers}", aligner, workers, progress=False)
            rows.append({"workers": workers, "seconds": report.seconds, "images_per_s": len(scenes) / report.seconds,
                         "faces_found": report.as_dict()["faces_found"]})
    return rows


def speed_figure(rows: list[dict[str, Any]]) -> Figure:
    figure = Figure(figsize=(8, 3.5))
    ax = figure.subplots()
    ax.barh([r["method"] for r in rows], [r["images_per_s"] for r in rows])
    ax.set_xlabel("images/s (640x480 scenes)")
    ax.invert_yaxis()
    figure.tight_layout()
    return figure
