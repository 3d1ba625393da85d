"""Detect, pick and align the faces of one photo: RGB in, ``size`` x ``size`` template-aligned RGB crops out."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from src.alignment.detector import Face, FaceDetector
from src.alignment.template import TEMPLATE_NAME, similarity, template_name, warp

MULTI_FACE = ("largest", "all", "skip")


@dataclass
class Alignment:
    """What one photo gave: the aligned crops (largest face first) and why there may be none."""

    crops: list[Image.Image]
    faces: list[Face]  # the faces the crops come from, same order
    detected: int  # faces found (before ``multi_face`` and the border check)
    cut_by_border: int = 0  # faces dropped because some landmarks fall outside the photo
    skipped_multiple: bool = field(default=False)  # ``multi_face=skip`` and several faces

    @property
    def status(self) -> str:
        """``aligned``, ``no_face`` or ``multiple_faces`` (skipped under ``multi_face=skip``)."""
        if self.crops:
            return "aligned"
        return "multiple_faces" if self.skipped_multiple else "no_face"


class FaceAligner:
    """Aligns faces onto a five-point template (ArcFace's by default, dlib's chip for dlib's network) at ``size``
    pixels.

    Args:
        detector: the face detector (default options when ``None``).
        size: output side in pixels (the model's input size; the 112 template is scaled).
        multi_face: ``largest`` keeps the largest face, ``all`` keeps every face, ``skip`` drops photos
            with several faces.
        allow_border: also align faces whose landmarks fall outside the photo (the crop is padded black).
        template: ``arcface`` (``arcface-5pt-112``) or ``dlib`` (``dlib-5pt-150``), scaled to ``size``.
    """

    def __init__(self, detector: FaceDetector | None = None, size: int = 112, multi_face: str = "largest",
                 allow_border: bool = False, template: str = TEMPLATE_NAME) -> None:
        if multi_face not in MULTI_FACE:
            raise ValueError(f"multi_face={multi_face!r}: use one of {', '.join(MULTI_FACE)}.")
        self.detector = detector or FaceDetector()
        self.size = int(size)
        self.multi_face = multi_face
        self.allow_border = allow_border
        self.template = template_name(template)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], size: int | None = None, template: str | None = None) -> FaceAligner:
        """From an ``align`` config node (conf/align.yaml): detector options plus ``size``, ``multi_face`` and
        ``template`` (``template`` given here wins: the embedding commands pass the model's own)."""
        detector = FaceDetector(cfg["min_face_size"], tuple(cfg["thresholds"]), tuple(cfg["rotations_deg"]),
                                cfg["max_side"], cfg.get("device", "cpu"), cfg.get("batch_size", 8))
        return cls(detector, size or cfg["size"], cfg["multi_face"], cfg["allow_border"],
                   template or cfg.get("template", TEMPLATE_NAME))

    @property
    def metadata(self) -> dict[str, Any]:
        """The preprocessing record a gallery stores, so aligned and unaligned embeddings never mix."""
        return {"aligned": True, "template": self.template, "size": self.size}

    @property
    def options(self) -> dict[str, Any]:
        """Every setting that changes the crops (a re-run of ``facerec-align`` resumes only with the same)."""
        return {**self.metadata, "multi_face": self.multi_face, "allow_border": self.allow_border,
                **self.detector.options}

    def align_rgb(self, image: Image.Image) -> Alignment:
        """Detect faces in an RGB photo and warp the kept ones onto the template."""
        return self.align_found(image, self.detector.detect(image))

    def align_many(self, images: Sequence[Image.Image]) -> list[Alignment]:
        """``align_rgb`` for many photos, detected in batches (``FaceDetector.detect_many``)."""
        return [self.align_found(im, faces) for im, faces in zip(images, self.detector.detect_many(images),
                                                                    strict=True)]

    def align_found(self, image: Image.Image, faces: list[Face]) -> Alignment:
        """Pick the kept ones among the ``faces`` detected in ``image`` and warp them onto the template."""
        inside = faces if self.allow_border else [f for f in faces if f.inside(image.width, image.height)]
        cut = len(faces) - len(inside)
        if self.multi_face == "skip" and len(inside) > 1:
            return Alignment([], [], len(faces), cut, skipped_multiple=True)
        kept = inside if self.multi_face == "all" else inside[:1]
        crops = [warp(image, similarity(f.landmarks, self.size, self.template).params, self.size) for f in kept]
        return Alignment(crops, kept, len(faces), cut)
