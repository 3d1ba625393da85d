"""Identify faces: `facerec-identify ckpt_path=... image=<image|folder> milvus.uri=...` (conf/identify.yaml)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from src.inference.config import IdentifyConfig
from src.utils.cli_entry import command
from src.utils.typed_config import typed

USAGE = "facerec-identify ckpt_path=<ckpt> image=<image or folder> milvus.uri=<gallery.db or http://host:port>"


def identify(cfg: DictConfig) -> dict[str, Any]:
    """Search every readable image of ``cfg.image`` in the gallery; writes and returns the summary with results."""
    # Imported here, not at the top: torch and pymilvus take ~10 s to import and `--help` needs neither.
    from src.evaluation.latency import latency_summary
    from src.gallery.face_gallery import FaceGallery
    from src.inference.images import collect_images, keep_faces
    from src.inference.results import print_identifications, write_identifications
    from src.inference.threshold import resolve_threshold

    options = typed(IdentifyConfig, cfg, USAGE)
    model = options.gallery.load(options.ckpt_path, options.align, options.alignment)
    images = keep_faces(model, collect_images(options.image))  # align=true: photos without a face are skipped
    images.report()
    with FaceGallery.open(model, options.milvus) as gallery:
        threshold = resolve_threshold(options.threshold, options.threshold_from, gallery, model.model_id,
                                      model.tta_mode, options.default_threshold)
        results = gallery.identify(images.paths, options.top_k, threshold.value, options.gallery.batch_size)
        uri, collection = gallery.store.settings.display_uri, gallery.store.collection_name
    latency = latency_summary([r.search_seconds for r in results])
    summary = {"gallery": {"uri": uri, "collection": collection}, "model_id": model.model_id,
               "threshold": threshold.value, "threshold_source": threshold.source,
               "threshold_calibrated": threshold.calibrated, "top_k": options.top_k,
               "images": images.summary(), "known": sum(r.known for r in results), "search_latency": latency}
    output = options.output or Path(options.paths.output_dir) / f"identify.{options.format}"
    path = write_identifications(results, output, options.format, summary)
    print_identifications(results, threshold.value)
    print(f"{summary['known']} identified, {len(results) - summary['known']} unknown (threshold "
          f"{threshold.value:.4f}: {threshold.source}); {len(images.skipped)} files skipped. "
          f"Search latency p50 {latency['p50_ms']:.2f} ms, p95 {latency['p95_ms']:.2f} ms. Results: {path}")
    if threshold.warning:
        print(f"WARNING: {threshold.warning}")
    return {**summary, "results": results, "output": str(path)}


@command("identify")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-identify`."""
    identify(cfg)


if __name__ == "__main__":
    main()
