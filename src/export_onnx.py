"""Export a checkpoint's embedder to ONNX: `facerec-export-onnx ckpt_path=... output=model.onnx` (Hydra).

The graph takes ``input`` ``(N, 3, H, W)`` float32 in [-1, 1] (RGB, ``(pixel / 255 - 0.5) / 0.5``; N is dynamic)
and returns ``embedding`` ``(N, D)``, the network's raw embedding (L2-normalize it; the gallery's flip TTA
``concat`` is ``[n(f(x)), n(f(flip x))] / sqrt(2)``). After export the graph is run with onnxruntime on random
images and compared with PyTorch (max cosine gap printed and returned).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from src.utils.cli_entry import command

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


def export_onnx(ckpt_path: str | Path, output: str | Path, image_size: int | None = None, opset: int = 17) -> Path:
    """Write the embedder of ``ckpt_path`` (a facerec ``.ckpt`` or an arcface_torch ``backbone.pth``) to ``output``."""
    import torch  # imported when the command runs, so `--help` answers at once

    from src.embedding.checkpoint import load_embedder

    loaded = load_embedder(ckpt_path)
    size = int(image_size or loaded.image_size or 0)
    if not size:
        raise ValueError(f"{ckpt_path} stores no image size; pass image_size=<training image size>.")
    output = Path(output).expanduser()
    output.parent.mkdir(parents=True, exist_ok=True)
    model = loaded.model.eval()
    example = torch.zeros(2, 3, size, size)
    # TorchScript-based exporter: no onnxscript dependency, and dynamic_axes gives the dynamic batch
    torch.onnx.export(model, (example,), str(output), input_names=["input"], output_names=["embedding"],
                      dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}}, opset_version=opset,
                      dynamo=False)
    log.info("Wrote %s (%d x %d input, opset %d).", output, size, size, opset)
    return output


def max_cosine_gap(onnx_path: str | Path, model: torch.nn.Module, image_size: int,
                   batch_sizes: tuple[int, ...] = (1, 3), seed: int = 0) -> float:
    """Largest ``1 - cos(onnxruntime embedding, PyTorch embedding)`` over random [-1, 1] batches of each size."""
    import numpy as np
    import onnxruntime  # imported here: only the check needs it, and it is slow to import
    import torch
    import torch.nn.functional as F

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    gap = 0.0
    for n in batch_sizes:
        images = torch.rand(n, 3, image_size, image_size, generator=generator) * 2 - 1
        with torch.inference_mode():
            reference = model.eval()(images)
        (ours,) = session.run(["embedding"], {"input": images.numpy()})
        cosine = F.cosine_similarity(torch.from_numpy(np.asarray(ours)), reference, dim=1)
        gap = max(gap, float((1 - cosine).max()))
    return gap


@command("export_onnx")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point of `facerec-export-onnx`; returns the max cosine gap when ``check`` is on."""
    path = export_onnx(cfg.ckpt_path, cfg.output, cfg.image_size, cfg.opset)
    print(f"ONNX model: {path}")
    if not cfg.check:
        return None
    from src.embedding.checkpoint import load_embedder

    loaded = load_embedder(cfg.ckpt_path)
    gap = max_cosine_gap(path, loaded.model, int(cfg.image_size or loaded.image_size))
    print(f"onnxruntime vs PyTorch (batch 1 and 3): max cosine gap {gap:.2e}")
    return gap


if __name__ == "__main__":
    main()
