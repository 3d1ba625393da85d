"""Export a gallery with a trained checkpoint: `facerec-export ckpt_path=... data.root=...` (Hydra)."""
from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from src.datamodules.build import build_datamodule
from src.embedding.checkpoint import load_embedder
from src.gallery.export import ExportResult, export_gallery, gallery_from_datamodule
from src.utils.paths import CONF_DIR
from src.vector_store.settings import redact_uri

log = logging.getLogger(__name__)


def export(cfg: DictConfig) -> ExportResult:
    """Embed the configured data's gallery with ``cfg.ckpt_path`` and upsert it into ``cfg.milvus``."""
    if not cfg.get("ckpt_path"):
        raise ValueError("ckpt_path is required: facerec-export ckpt_path=checkpoints/<task>/<run>/last.ckpt ...")
    loaded = load_embedder(cfg.ckpt_path)
    datamodule = build_datamodule(cfg.data)
    options = cfg.gallery
    result = export_gallery(
        loaded, gallery_from_datamodule(datamodule, options.identities), cfg.milvus,
        image_size=loaded.image_size or cfg.data.image_size, tta_mode=options.tta, batch_size=options.batch_size,
        num_workers=options.num_workers, arrays_dir=_arrays_dir(cfg),
    )
    print(f"Gallery: {result.rows_in_collection} rows in collection '{result.collection}' at {result.uri} "
          f"({result.images} images embedded at {result.images_per_sec:.1f} images/s)")
    return result


def _arrays_dir(cfg: DictConfig) -> Path | None:
    """The run dir when ``gallery.save_arrays`` asks for embeddings.npy + names.json."""
    if not cfg.gallery.save_arrays:
        return None
    folder = Path(cfg.paths.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="export")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-export`."""
    try:
        export(cfg)
    except Exception as error:
        # batches are upserted as they are embedded, so rows written before a failure stay behind
        log.error("Export failed (%s: %s): collection '%s' at %s may be partial (batches upserted before the failure "
                  "stay; nothing is written before the checkpoint, data and Milvus checks pass). Re-running the same "
                  "command is safe: rows are keyed, so it completes the gallery without duplicates.",
                  type(error).__name__, error, cfg.milvus.collection, redact_uri(str(cfg.milvus.uri)))
        raise


if __name__ == "__main__":
    main()
