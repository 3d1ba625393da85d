"""Optional batched JPEG decoding on the GPU (``data.decode_device=cuda``): nvjpeg through
``torchvision.io.decode_jpeg(list, device="cuda")``, one call per batch.

Workers then only read records and check JPEG headers (:class:`DecodeToTensor` with ``keep_jpeg``); anything the
fast path would not decode (PNG, EXIF, CMYK, oversized) is still decoded on the CPU in the worker, so a batch may
mix encoded and decoded images. Without CUDA or without nvjpeg the datamodule decodes on the CPU and says so once.
"""
from __future__ import annotations

import logging

import numpy as np
import simplejpeg
import torch
from torch.utils.data import default_collate
from torchvision.io import ImageReadMode, decode_jpeg
from torchvision.transforms.v2 import functional as F

log = logging.getLogger(__name__)

DECODE_DEVICES = ("cpu", "cuda")


def gpu_decode_problem() -> str | None:
    """Why JPEGs cannot be decoded on the GPU here (no CUDA, nvjpeg failing), or ``None`` when they can."""
    if not torch.cuda.is_available():
        return "no CUDA device is available"
    probe = torch.frombuffer(bytearray(simplejpeg.encode_jpeg(np.zeros((8, 8, 3), np.uint8))), dtype=torch.uint8)
    try:
        decode_jpeg([probe], mode=ImageReadMode.RGB, device="cuda")
    except (RuntimeError, TypeError) as error:  # torchvision built without nvjpeg, or a driver problem
        return f"torchvision cannot decode JPEGs on the GPU ({error})"
    return None


def resolve_decode_device(requested: str) -> str:
    """``requested`` (``data.decode_device``) when usable; ``cuda`` falls back to ``cpu`` with one log line."""
    if requested not in DECODE_DEVICES:
        raise ValueError(f"data.decode_device={requested!r} is not one of {DECODE_DEVICES}; use "
                         f"data.decode_device=cpu (decode in the workers) or cuda (nvjpeg, batched).")
    if requested == "cuda" and (problem := gpu_decode_problem()):
        log.warning("data.decode_device=cuda: %s; decoding JPEGs on the CPU in the DataLoader workers instead.",
                    problem)
        return "cpu"
    return requested


def collate_mixed(batch: list[tuple[torch.Tensor, int, int]]) -> list:
    """Collate items whose images may be still-encoded JPEGs (1-D uint8): images stay a list, the rest stacks."""
    images, labels, index = zip(*batch, strict=True)
    return [list(images), default_collate(labels), default_collate(index)]


def decode_batch(images: list[torch.Tensor], image_size: int, device: torch.device | str) -> torch.Tensor:
    """A list of encoded (1-D) and decoded (``3 x S x S``) uint8 CPU tensors -> one ``B x 3 x S x S`` uint8 batch
    on ``device``; all encoded ones are decoded in a single ``decode_jpeg`` call there."""
    encoded = [i for i, image in enumerate(images) if image.dim() == 1]
    out = [image.to(device, non_blocking=True) if image.dim() == 3 else None for image in images]
    if encoded:
        decoded = decode_jpeg([images[i] for i in encoded], mode=ImageReadMode.RGB, device=device)
        for i, image in zip(encoded, decoded, strict=True):
            if image.shape[-2:] != (image_size, image_size):
                image = F.resize(image, [image_size, image_size], antialias=True)
            out[i] = image
    return torch.stack(out)
