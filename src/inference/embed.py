"""Embed images to arrays: `facerec-embed ckpt_path=... input=<image|folder> [output_dir=...]` (Hydra)."""
from __future__ import annotations

import hydra
from omegaconf import DictConfig

from src.inference.arrays import EmbedResult, save_embeddings
from src.inference.config import model_from_config, required
from src.inference.images import collect_images
from src.utils.paths import CONF_DIR

USAGE = "facerec-embed ckpt_path=checkpoints/<task>/<run>/last.ckpt input=<image or folder> [output_dir=...]"


def embed(cfg: DictConfig) -> EmbedResult:
    """Write ``embeddings.npy``, ``names.json`` and ``skipped.json`` for ``cfg.input`` into ``cfg.output_dir``."""
    model = model_from_config(cfg, USAGE)
    images = model.keep_faces(collect_images(required(cfg, "input", USAGE)))  # align=true: faceless skipped
    images.report()
    result = save_embeddings(model, images, required(cfg, "output_dir", USAGE), cfg.gallery.batch_size,
                             cfg.gallery.num_workers)
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(images.skipped_reasons().items())) or "none"
    print(f"Embedded {result.images} images ({result.dim} dims, {result.images_per_sec:.1f} images/s) into "
          f"{result.embeddings_file}; skipped {result.skipped} files ({reasons}; listed in {result.skipped_file})")
    return result


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="embed")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-embed`."""
    embed(cfg)


if __name__ == "__main__":
    main()
