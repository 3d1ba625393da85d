"""Embed images to arrays: `facerec-embed ckpt_path=... input=<image|folder> [output_dir=...]` (conf/embed.yaml)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from omegaconf import DictConfig

from src.inference.config import EmbedConfig
from src.utils.cli_entry import command
from src.utils.typed_config import typed

if TYPE_CHECKING:
    from src.inference.arrays import EmbedResult

USAGE = "facerec-embed ckpt_path=checkpoints/<task>/<run>/last.ckpt input=<image or folder> [output_dir=...]"


def embed(cfg: DictConfig) -> EmbedResult:
    """Write ``embeddings.npy``, ``names.json`` and ``skipped.json`` for ``cfg.input`` into ``cfg.output_dir``."""
    # Imported here, not at the top: torch and friends take ~10 s to import and `--help` needs none of them.
    from src.inference.arrays import save_embeddings
    from src.inference.images import collect_images, keep_faces

    options = typed(EmbedConfig, cfg, USAGE)
    model = options.gallery.load(options.ckpt_path, options.align, options.alignment)
    images = keep_faces(model, collect_images(options.input))  # align=true: photos without a face are skipped
    images.report()
    result = save_embeddings(model, images, options.output_dir, options.gallery.batch_size,
                             options.gallery.num_workers)
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(images.skipped_reasons().items())) or "none"
    print(f"Embedded {result.images} images ({result.dim} dims, {result.images_per_sec:.1f} images/s) into "
          f"{result.embeddings_file}; skipped {result.skipped} files ({reasons}; listed in {result.skipped_file})")
    return result


@command("embed")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-embed`."""
    embed(cfg)


if __name__ == "__main__":
    main()
