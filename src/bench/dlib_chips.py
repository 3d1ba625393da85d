"""The project's chips for dlib's network against dlib's own, on the same real photos:
``facerec-bench dlib-chips [data_root=...] [template_people=15]``.

1. Template: dlib's own 150 px chips (frontal detector + ``shape_predictor_5_face_landmarks`` + ``get_face_chip``,
   padding 0.25) of the first ``template_people`` people; the project's detector (MTCNN) finds its five points on
   each chip; their mean is ``DLIB_150`` in ``src/alignment/template.py`` (the spread is reported).
2. Comparison on the other people: descriptor cosine between dlib's pipeline (its chip, its network) and the
   project's (MTCNN + the dlib template, the PyTorch port), and rank-1 / verification (photo 1 of each person is
   the gallery, the rest probes) of dlib's pipeline, the project's with the dlib template, with the ArcFace template
   scaled to 150 px, and of the photo simply resized to 150 px. dlib-bin (the dev extra) is the reference.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from PIL import Image

from src.alignment.aligner import FaceAligner
from src.alignment.detector import FaceDetector
from src.alignment.template import DLIB_150, TEMPLATE_NAME
from src.bench.config import CommonConfig
from src.bench.report import Outcome, make_table
from src.datamodules.face_dataset import load_rgb
from src.datamodules.transforms import eval_transform
from src.lightning_modules.face_module import held_out_metrics
from src.models.dlib_resnet import DLIB_IMAGE_SIZE, DlibResNet, packaged_file

log = logging.getLogger(__name__)
PIPELINES = ("dlib_own", "project_dlib_template", "project_arcface_template", "resized_photo")


@dataclass
class DlibChipsConfig(CommonConfig):
    data_root: str = "../shared/data/orl_faces_30"
    template_people: int = 15  # the first ones measure the template; the others compare the pipelines
    upsample: int = 1  # dlib detector upsampling (ORL photos are 92x112: faces ~60 px)

    def check(self) -> None:
        if not Path(self.data_root).is_dir():
            raise ValueError(f"data_root={self.data_root} is not a folder of <person>/<image> face photos")


class DlibReference:
    """dlib's own pipeline: frontal detector, 5 landmarks, 150 px chip (padding 0.25), its network."""

    def __init__(self, upsample: int) -> None:
        import dlib  # the reference only: dlib-bin is in the dev extra

        self.dlib, self.upsample = dlib, upsample
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(packaged_file().with_name("shape_predictor_5_face_landmarks.dat")))
        self.network = dlib.face_recognition_model_v1(str(packaged_file()))

    def chip(self, photo: np.ndarray) -> np.ndarray | None:
        faces = self.detector(photo, self.upsample)
        if not faces:
            return None
        box = max(faces, key=lambda r: r.area())
        return self.dlib.get_face_chip(photo, self.predictor(photo, box), size=DLIB_IMAGE_SIZE, padding=0.25)

    def descriptor(self, chip: np.ndarray) -> np.ndarray:
        return np.asarray(self.network.compute_face_descriptor(chip), np.float32)


def measure_template(reference: DlibReference, photos: list[Path]) -> dict[str, Any]:
    """Mean and spread of the project's five landmarks on dlib's chips of ``photos``."""
    detector, marks, missed = FaceDetector(), [], {"dlib": 0, "project": 0}
    for path in photos:
        chip = reference.chip(np.asarray(load_rgb(path)))
        if chip is None:
            missed["dlib"] += 1
            continue
        faces = detector.detect(Image.fromarray(chip))
        if not faces:
            missed["project"] += 1
            continue
        marks.append(faces[0].landmarks)
    points = np.stack(marks)
    return {"photos": len(photos), "measured": len(marks), "missed": missed,
            "mean": points.mean(0).round(2).tolist(), "std": points.std(0).round(2).tolist(),
            "in_use": DLIB_150.tolist()}


def embed_pipelines(reference: DlibReference, photos: list[Path]) -> tuple[dict[str, list], list[int]]:
    """Per photo, a descriptor from every pipeline; photos some pipeline finds no face in are left out."""
    model = DlibResNet().eval()
    aligners = {"project_dlib_template": FaceAligner(size=DLIB_IMAGE_SIZE, template="dlib"),
                "project_arcface_template": FaceAligner(size=DLIB_IMAGE_SIZE, template=TEMPLATE_NAME)}
    transform = eval_transform(DLIB_IMAGE_SIZE)
    out: dict[str, list] = {name: [] for name in PIPELINES}
    kept = []
    for number, path in enumerate(photos):
        photo = load_rgb(path)
        chip = reference.chip(np.asarray(photo))
        crops = {name: aligner.align_rgb(photo).crops for name, aligner in aligners.items()}
        if chip is None or not all(crops.values()):
            continue
        images = [crops["project_dlib_template"][0], crops["project_arcface_template"][0], photo]
        with torch.no_grad():
            ours = model(torch.stack([transform(image) for image in images])).numpy()
        out["dlib_own"].append(reference.descriptor(chip))
        for name, vector in zip(PIPELINES[1:], ours, strict=True):
            out[name].append(vector)
        kept.append(number)
    return out, kept


def run_dlib_chips(cfg: DlibChipsConfig) -> Outcome:
    people = sorted(p for p in Path(cfg.data_root).iterdir() if p.is_dir())
    photos_of = {person.name: sorted(q for q in person.iterdir() if q.is_file()) for person in people}
    reference = DlibReference(cfg.upsample)
    template_photos = [q for person in people[:cfg.template_people] for q in photos_of[person.name]]
    template = measure_template(reference, template_photos)
    compared = [(label, q) for label, person in enumerate(people[cfg.template_people:]) for q in photos_of[person.name]]
    vectors, kept = embed_pipelines(reference, [q for _, q in compared])
    labels = torch.tensor([compared[i][0] for i in kept])
    index = torch.arange(len(kept))
    metrics = {name: held_out_metrics(torch.from_numpy(np.stack(v)), labels, index) for name, v in vectors.items()}
    cosine = F.cosine_similarity(torch.from_numpy(np.stack(vectors["dlib_own"])),
                                 torch.from_numpy(np.stack(vectors["project_dlib_template"])), dim=1)
    summary = {"descriptor_cosine_project_vs_dlib": {"mean": float(cosine.mean()), "min": float(cosine.min()),
                                                    "median": float(cosine.median())},
               "rank1": {name: m["rank1"] for name, m in metrics.items()},
               "verif_acc": {name: m["verif_acc"] for name, m in metrics.items()}}
    table = make_table(f"dlib's network on {len(people) - cfg.template_people} ORL people ({len(kept)} photos)",
                       ["pipeline", "rank-1", "verification acc"],
                       [[name, m["rank1"], m["verif_acc"]] for name, m in metrics.items()])
    data = {"root": cfg.data_root, "template_people": [p.name for p in people[:cfg.template_people]],
            "compared_people": len(people) - cfg.template_people, "compared_photos": len(compared),
            "photos_with_a_face_in_every_pipeline": len(kept)}
    figure = Figure(figsize=(5, 3))
    axis = figure.subplots()
    axis.hist(cosine.numpy(), bins=20)
    axis.set_xlabel("cosine: project chip + PyTorch port vs dlib chip + dlib")
    return Outcome(data=data, backends=[{"name": "dlib", "package": "dlib-bin"}],
                   results={"template": template, "metrics": metrics}, summary=summary, figure=figure, tables=[table])
