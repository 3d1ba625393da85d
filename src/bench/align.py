"""Detection + alignment on pasted-face scenes: speed beside faceie's own ``detect_faces``, detection rate,
alignment consistency and pixel identification, and ``facerec-align`` end to end with worker processes.

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
from faceie.mtcnn import detect_faces
from matplotlib.figure import Figure
from PIL import Image

from src.alignment.aligner import FaceAligner
from src.alignment.detector import FaceDetector
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
    min_face_sizes: list[int] = field(default_factory=lambda: [40, 48, 24])  # the first one is the quality run
    workers: list[int] = field(default_factory=lambda: [1, 2])  # facerec-align end-to-end runs

    def check(self) -> None:
        if not Path(self.data_root).is_dir():
            raise ValueError(f"data_root={self.data_root} is not a folder of <person>/<image> face photos")


def timed(label: str, fn: Any, images: list[Image.Image]) -> tuple[list[Any], dict[str, Any]]:
    """``fn`` over ``images``: results and a speed row (wall and this process's CPU seconds; CPU time is what
    to compare on a shared machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = [fn(image) for image in images]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    log.info("align bench: %s %.2f images/s", label, len(images) / wall)
    return out, {"method": label, "seconds": wall, "cpu_seconds": cpu, "images_per_s": len(images) / wall,
                 "images_per_cpu_s": len(images) / cpu}


def run_align(cfg: AlignConfig) -> Outcome:
    people = sorted(p for p in Path(cfg.data_root).iterdir() if p.is_dir())[:cfg.people]
    rng = np.random.default_rng(cfg.seed)
    aligners = [FaceAligner(FaceDetector(min_face_size=m)) for m in cfg.min_face_sizes]
    aligner = aligners[0]
    gallery, truth, photos, scenes = [], [], [], []
    for i, person in enumerate(people):
        gallery.append(aligner.align_rgb(load_rgb(person / "1.pgm")))
        for k in range(2, 2 + cfg.photos_per_person):
            photo = load_rgb(person / f"{k}.pgm")
            photos.append(photo)
            scenes.append(random_scene(photo, len(scenes), rng, tuple(cfg.scale), cfg.max_angle)[0])
            truth.append(i)
    log.info("align bench: %d scenes of %d people", len(scenes), len(people))
    runs = [timed(f"facerec detect + align, min_face_size {a.detector.min_face_size}", a.align_rgb, scenes)
            for a in aligners]
    ours = runs[0][0]
    speed_rows = [row for _, row in runs]
    for label, rotations in (("faceie detect_faces, rotations [0] (min face ~48 px)", [0.0]),
                             ("faceie detect_faces, its defaults (5 rotations)", None)):
        kwargs = {} if rotations is None else {"rotations": np.radians(rotations)}
        speed_rows.append(timed(label, lambda im, kw=kwargs: detect_faces(im, extract_images=None, **kw), scenes)[1])

    own = [aligner.align_rgb(p) for p in photos]
    found = np.array([bool(a.crops) for a in ours])
    corr = np.array([face_vector(o.crops[0]) @ face_vector(s.crops[0])
                     for o, s in zip(own, ours, strict=True) if o.crops and s.crops])
    gallery_vectors = np.stack([face_vector(g.crops[0]) for g in gallery])

    def rank1(alignments: list) -> float:
        return float(np.mean([bool(a.crops) and int(np.argmax(gallery_vectors @ face_vector(a.crops[0]))) == t
                              for a, t in zip(alignments, truth, strict=True)]))

    false_faces = {name: aligner.align_rgb(background(i)).detected for i, name in enumerate(BACKGROUNDS)}
    folder_rows = folder_runs(cfg, aligner, scenes, people, truth)
    quality = {"scenes": len(scenes), "detection_rate": float(found.mean()),
               "originals_detected": float(np.mean([bool(a.crops) for a in own])),
               "crop_correlation": {"median": float(np.median(corr)), "p5": float(np.percentile(corr, 5)),
                                    "min": float(corr.min()), "pairs": int(corr.size)},
               "rank1_pixels_scenes": rank1(ours), "rank1_pixels_photos": rank1(own),
               "background_false_faces": false_faces}
    tables = [
        make_table(f"Detection + alignment speed, {len(scenes)} scenes 640x480 (same images, same run)",
                   ["method", "images/s", "images per CPU-s", "seconds"],
                   [[r["method"], r["images_per_s"], r["images_per_cpu_s"], r["seconds"]] for r in speed_rows]),
        make_table("facerec-align end to end (decode, detect, align, write PNG)",
                   ["workers", "images/s", "seconds"], [[r["workers"], r["images_per_s"], r["seconds"]]
                                                       for r in folder_rows]),
        make_table("Quality on the same scenes", ["measure", "value"],
                   [["detection rate", quality["detection_rate"]],
                    ["aligned crop vs aligned photo, correlation median", quality["crop_correlation"]["median"]],
                    ["... 5th percentile / min", f"{quality['crop_correlation']['p5']:.3f} / "
                                                 f"{quality['crop_correlation']['min']:.3f}"],
                    ["rank-1 pixel identification: scenes / photos",
                     f"{quality['rank1_pixels_scenes']:.3f} / {quality['rank1_pixels_photos']:.3f}"],
                    ["faces found on the 6 empty backgrounds", sum(false_faces.values())]]),
    ]
    data = {"kind": "pasted ORL faces", "root": cfg.data_root, "people": len(people),
            "scenes": len(scenes), "scene_size": [640, 480], "scale": cfg.scale, "max_angle": cfg.max_angle,
            "backgrounds": list(BACKGROUNDS), "gallery": "photo 1 of each person, aligned"}
    return Outcome(data=data, backends=[{"name": "faceie MTCNN (NumPy)", "device": "cpu"}],
                   results={"speed": speed_rows, "folder": folder_rows, "quality": quality},
                   summary={"images_per_s": speed_rows[0]["images_per_s"],
                            "images_per_cpu_s": speed_rows[0]["images_per_cpu_s"],
                            "faceie_defaults_images_per_cpu_s": speed_rows[-1]["images_per_cpu_s"],
                            "detection_rate": quality["detection_rate"],
                            "crop_correlation_median": quality["crop_correlation"]["median"]},
                   figure=speed_figure(speed_rows + [{"method": f"facerec-align, {r['workers']} workers",
                                                      **r} for r in folder_rows]),
                   tables=tables)


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
    ax.set_xlabel("images/s (640x480 scenes, CPU)")
    ax.invert_yaxis()
    figure.tight_layout()
    return figure
