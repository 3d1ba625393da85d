"""Export a gallery with a trained checkpoint: `facerec-export ckpt_path=... data.root=...` (conf/export.yaml)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from src.gallery.config import ExportConfig
from src.utils.cli_entry import command
from src.utils.typed_config import typed

if TYPE_CHECKING:
    from src.gallery.export import ExportResult

log = logging.getLogger(__name__)
USAGE = "facerec-export ckpt_path=checkpoints/<task>/<run>/last.ckpt data.root=<faces> [milvus.uri=...]"


def export(cfg: DictConfig) -> ExportResult:
    """Embed the configured data's gallery with ``cfg.ckpt_path`` and upsert it into ``cfg.milvus``."""
    # Imported here, not at the top: torch, Lightning and pymilvus take ~10 s and `--help` needs none of them.
    from src.datamodules.build import build_datamodule
    from src.gallery.export import export_gallery, gallery_from_datamodule, sync_summary
    from src.inference.threshold import calibrated_record, store_threshold

    options = typed(ExportConfig, cfg, USAGE)
    model = options.gallery.load(options.ckpt_path, options.align, options.alignment)
    threshold = calibrated_record(options.threshold_from, model) if options.threshold_from else None
    datamodule = build_datamodule(options.data)
    arrays_dir = Path(options.paths.output_dir) if options.gallery.save_arrays else None
    result = export_gallery(model, gallery_from_datamodule(datamodule, options.gallery.identities), options.milvus,
                            batch_size=options.gallery.batch_size, num_workers=options.gallery.num_workers,
                            arrays_dir=arrays_dir, root=datamodule.root, prune=options.gallery.prune)
    print(f"Gallery: {result.rows_in_collection} rows in collection '{result.collection}' at {result.uri} "
          f"({result.images} images embedded at {result.images_per_sec:.1f} images/s"
          f"{f'; {result.no_face} photos without a face left out' if result.no_face else ''}; "
          f"{sync_summary(result)})")
    if threshold:
        print(store_threshold(model, options.milvus, threshold))
    return result


@command("export")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-export`."""
    try:
        export(cfg)
    except Exception as error:
        from src.vector_store.settings import redact_uri  # pymilvus: imported only on this path

        # batches are upserted as they are embedded, so rows written before a failure stay behind
        log.error("Export failed (%s: %s): collection '%s' at %s may be partial (batches upserted before the failure "
                  "stay; nothing is written before the checkpoint, data and Milvus checks pass). Re-running the same "
                  "command is safe: rows are keyed, so it completes the gallery without duplicates.",
                  type(error).__name__, error, cfg.milvus.collection, redact_uri(str(cfg.milvus.uri)))
        raise


if __name__ == "__main__":
    main()
