"""Identify faces: `facerec-identify ckpt_path=... image=<image|folder> milvus.uri=...` (Hydra)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from src.evaluation.latency import latency_summary
from src.inference.config import model_from_config, required
from src.inference.gallery import FaceGallery
from src.inference.images import collect_images
from src.inference.results import print_identifications, write_identifications
from src.inference.threshold import resolve_threshold
from src.utils.paths import CONF_DIR

USAGE = "facerec-identify ckpt_path=<ckpt> image=<image or folder> milvus.uri=<gallery.db or http://host:port>"


def identify(cfg: DictConfig) -> dict[str, Any]:
    """Search every readable image of ``cfg.image`` in the gallery; writes and returns the summary with results."""
    model = model_from_config(cfg, USAGE)
    images = model.keep_faces(collect_images(required(cfg, "image", USAGE)))  # align=true: faceless skipped
    images.report()
    threshold = resolve_threshold(cfg.threshold, cfg.threshold_from, Path(cfg.paths.root_dir) / "outputs",
                                  model.model_id, model.tta_mode, cfg.default_threshold)
    with FaceGallery.open(model, cfg.milvus) as gallery:
        results = gallery.identify(images.paths, cfg.top_k, threshold.value, cfg.gallery.batch_size)
        uri, collection = gallery.store.settings.display_uri, gallery.store.collection_name
    latency = latency_summary([r.search_seconds for r in results])
    summary = {"gallery": {"uri": uri, "collection": collection}, "model_id": model.model_id,
               "threshold": threshold.value, "threshold_source": threshold.source,
               "threshold_calibrated": threshold.calibrated, "top_k": cfg.top_k,
               "images": images.summary(), "known": sum(r.known for r in results), "search_latency": latency}
    path = write_identifications(results, cfg.output or Path(cfg.paths.output_dir) / f"identify.{cfg.format}",
                                 cfg.format, summary)
    print_identifications(results, threshold.value)
    print(f"{summary['known']} identified, {len(results) - summary['known']} unknown (threshold "
          f"{threshold.value:.4f}: {threshold.source}); {len(images.skipped)} files skipped. "
          f"Search latency p50 {latency['p50_ms']:.2f} ms, p95 {latency['p95_ms']:.2f} ms. Results: {path}")
    if threshold.warning:
        print(f"WARNING: {threshold.warning}")
    return {**summary, "results": results, "output": str(path)}


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="identify")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-identify`."""
    identify(cfg)


if __name__ == "__main__":
    main()
