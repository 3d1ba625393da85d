"""`facerec-cluster ckpt_path=... input=<photos> output=<dir>` (conf/cluster.yaml): group the faces of a pile of
photos by person.

A run on an output dir that already holds clusters keeps the named ones: their faces stay named, new faces that
the gallery (``milvus``) identifies as a named person join that person (``FaceGallery.match``, the one acceptance
rule), and the remaining faces are grouped afresh (unnamed groups get new ids on every run).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from src.cluster.config import ClusterConfig
from src.utils.paths import CONF_DIR
from src.utils.typed_config import typed

log = logging.getLogger(__name__)
USAGE = "facerec-cluster ckpt_path=<ckpt> input=<folder of photos> output=<dir> [align=true]"


def named_faces(output: Path, face_ids: set[str]) -> dict[str, tuple[int, str]]:
    """``{face id: (cluster id, person_id)}`` of the faces in named clusters of an earlier run (still present)."""
    from src.cluster.output import CLUSTERS, assignment_of

    path = output / CLUSTERS
    if not path.exists():
        return {}
    earlier = assignment_of(json.loads(path.read_text()))
    return {face: (cid, person) for face, (cid, person) in earlier.items() if person and face in face_ids}


def stored_threshold(options: ClusterConfig, model: Any) -> dict[str, Any] | None:
    """The calibrated threshold record stored with the gallery at ``milvus`` (None without a gallery)."""
    from src.gallery.face_gallery import FaceGallery
    from src.gallery.rows import CollectionNotFoundError
    from src.inference.threshold import STORED_KEY

    try:
        with FaceGallery.open(model, options.milvus) as gallery:
            return gallery.store.metadata().extra.get(STORED_KEY)
    except CollectionNotFoundError:
        return None


def match_named(options: ClusterConfig, model: Any, faces: list[dict[str, Any]], vectors: np.ndarray,
                rows: list[int], threshold: float, known: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    """Faces among ``rows`` that the gallery identifies as a person: ``{face id: (cluster id, person_id)}``, joining
    the cluster of that person when this output has one."""
    from src.gallery.face_gallery import FaceGallery
    from src.gallery.rows import CollectionNotFoundError

    if not options.match_gallery or not rows:
        return {}
    try:
        gallery = FaceGallery.open(model, options.milvus)
    except CollectionNotFoundError:
        log.info("No gallery at milvus.uri yet (nothing named): every face is grouped.")
        return {}
    with gallery:
        found = gallery.match(vectors[rows], [faces[r]["face"] for r in rows], options.top_k, threshold)
    cluster_of = {person: cid for cid, person in known.values()}
    matched = {}
    for result in found:
        if result.known:
            cid = cluster_of.setdefault(result.person_id, max([*cluster_of.values(), -1]) + 1)
            matched[result.image_path] = (cid, result.person_id)
    log.info("%d of %d new faces match people named in the gallery.", len(matched), len(rows))
    return matched


def cluster(cfg: DictConfig) -> dict[str, Any]:
    """Run the clustering (see the module docstring); returns what clusters.json holds."""
    from src.cluster.algorithms import group
    from src.cluster.faces import embed_faces, face_dicts
    from src.cluster.graph import neighbour_graph
    from src.cluster.output import regroup, write_output
    from src.cluster.threshold import link_threshold

    options = typed(ClusterConfig, cfg, USAGE)
    grouping = options.clustering
    model = options.gallery.load(options.ckpt_path, options.align, options.alignment)
    output = Path(options.output).expanduser()
    output.mkdir(parents=True, exist_ok=True)
    workers = int(options.alignment["workers"]) if options.align and options.alignment else 0
    found = embed_faces(model, options.input, output, workers, options.gallery.batch_size)
    faces, vectors = face_dicts(found.faces), found.embeddings
    (output / "faces.json").write_text(json.dumps(faces))
    np.save(output / "embeddings.npy", vectors)
    threshold = link_threshold(grouping.threshold, grouping.threshold_from, stored_threshold(options, model),
                               model.model_id, model.tta_mode, model.preprocessing, grouping.family_thresholds,
                               grouping.default_threshold)
    log.info("Linking faces at similarity >= %.4f (%s).", threshold.value, threshold.source)

    assigned = named_faces(output, {face["face"] for face in faces})
    rest = [row for row, face in enumerate(faces) if face["face"] not in assigned]
    assigned.update(match_named(options, model, faces, vectors, rest, threshold.value, assigned))
    rest = [row for row in rest if faces[row]["face"] not in assigned]
    began = time.perf_counter()
    labels = np.full(0, -1)
    if rest:
        graph = neighbour_graph(vectors[rest], min(grouping.neighbours, max(1, len(rest) - 1)), grouping.graph,
                                grouping.milvus_above, grouping.block_rows, options.milvus)
        labels = group(grouping.algorithm, graph, vectors[rest], threshold.value, grouping.min_size,
                       grouping.iterations, grouping.seed)
    first = max([cid for cid, _ in assigned.values()], default=-1) + 1
    assigned.update({faces[row]["face"]: (first + int(label), None) for row, label in zip(rest, labels, strict=True)
                     if label >= 0})
    result = {
        "input": str(options.input), "model": {
            "checkpoint": str(options.ckpt_path), "model_id": model.model_id, "tta": model.tta_mode,
            "align": options.align, "preprocessing": model.preprocessing,
            "alignment": OmegaConf.to_container(cfg.alignment, resolve=True) if options.align else None},
        "threshold": threshold.value, "threshold_source": threshold.source,
        "clustering": OmegaConf.to_container(cfg.clustering, resolve=True),
        "grouping_seconds": round(time.perf_counter() - began, 3), **found.summary(),
        "skipped": [{"image": path, "reason": reason} for path, reason in found.skipped],
    }
    result = regroup(result, faces, vectors, assigned)
    path = write_output(output, result, options.files, options.sheet_faces, options.sheet_thumb)
    named = sum(1 for c in result["clusters"] if c["person_id"])
    print(f"{len(faces)} faces in {found.photos} photos ({len(found.skipped)} files skipped): "
          f"{len(result['clusters'])} clusters ({named} named), {len(result['unclustered'])} faces alone; "
          f"threshold {threshold.value:.4f} ({threshold.source}). Results: {path}; contact sheets in "
          f"{output / 'sheets'}.")
    if not threshold.calibrated:
        print(f"WARNING: the linking threshold {threshold.value:.4f} is not calibrated for this checkpoint; calibrate "
              "it with `facerec-eval ckpt_path=<this checkpoint> data.root=<folder of people it was not trained on>` "
              "and pass clustering.threshold_from=<its report.json>, or pass clustering.threshold=<value>.")
    return result


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="cluster")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-cluster`."""
    cluster(cfg)


if __name__ == "__main__":
    main()
