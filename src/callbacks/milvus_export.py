"""At the end of training, embed the gallery with the best checkpoint and upsert it into Milvus."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L

from src.embedding.model import load_model
from src.gallery.export import ExportResult, export_gallery, gallery_from_datamodule, sync_summary

log = logging.getLogger(__name__)


class MilvusGalleryExport(L.Callback):
    """On fit end (global rank 0 only) export the datamodule's gallery with the best checkpoint's weights.

    Args:
        milvus: the Hydra ``milvus`` config node (URI, collection, index, search).
        identities: which identities form the gallery: ``all``, ``train`` or ``held_out``.
        tta: TTA mode (``concat`` -> 1024 dims with a 512-d embedder).
        batch_size / num_workers: embedding DataLoader settings.
        save_arrays / output_dir: also write ``embeddings.npy`` and ``names.json`` into ``output_dir``.
        prune: delete the collection's rows this export did not write (the gallery mirrors the data folder).
    """

    def __init__(
        self, milvus: Mapping[str, Any], identities: str = "all", tta: str = "concat", batch_size: int = 64,
        num_workers: int = 0, save_arrays: bool = False, output_dir: str = ".", prune: bool = True,
    ) -> None:
        self.milvus = milvus
        self.identities = identities
        self.tta = tta
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.arrays_dir = Path(output_dir) if save_arrays else None
        self.prune = prune
        self.result: ExportResult | None = None

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking or getattr(trainer, "fast_dev_run", False):
            return
        checkpoint = trainer.checkpoint_callback
        ckpt_path = (checkpoint.best_model_path or checkpoint.last_model_path) if checkpoint else ""
        if not ckpt_path:
            log.warning("No checkpoint was saved, so no gallery was exported (enable ModelCheckpoint).")
            return
        datamodule = trainer.datamodule
        if not getattr(datamodule, "images_on_disk", True):  # RecordIO: records have no image paths to store
            log.warning("No gallery export: the training data are records, not image files. Export a gallery with "
                        "facerec-export ckpt_path=%s data.root=<image folder>.", ckpt_path)
            return
        model = load_model(ckpt_path, self.tta, fallback_image_size=datamodule.hparams.image_size)
        self.result = export_gallery(model, gallery_from_datamodule(datamodule, self.identities), self.milvus,
                                     batch_size=self.batch_size, num_workers=self.num_workers,
                                     arrays_dir=self.arrays_dir, root=datamodule.root, prune=self.prune)
        metrics = {"export/rows": self.result.rows_in_collection, "export/images_per_sec": self.result.images_per_sec,
                   "export/seconds": self.result.seconds}
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
        print(f"Gallery: {self.result.rows_in_collection} rows in collection '{self.result.collection}' at "
              f"{self.result.uri} ({self.result.images_per_sec:.1f} images/s; {sync_summary(self.result)})")
