"""Edit a clustering output: name a cluster (enroll its faces into the gallery), merge two clusters, move a face.

`facerec-cluster-name`, `facerec-cluster-merge` and `facerec-cluster-move` (conf/cluster_<action>.yaml); the HTTP
service calls :func:`name_cluster` too (src/serve/cluster_routes.py). Every edit rewrites clusters.json, the
cluster folders and the contact sheets through :func:`src.cluster.output.write_output`.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from src.cluster.config import ClusterMergeConfig, ClusterMoveConfig, ClusterNameConfig
from src.cluster.output import assignment_of, read_output, regroup, write_output
from src.utils.paths import CONF_DIR
from src.utils.typed_config import typed


def _cluster(result: dict[str, Any], cluster_id: int) -> dict[str, Any]:
    for cluster in result["clusters"]:
        if cluster["id"] == cluster_id:
            return cluster
    ids = ", ".join(str(c["id"]) for c in result["clusters"]) or "none"
    raise ValueError(f"No cluster {cluster_id} in clusters.json (clusters: {ids}).")


def _rewrite(output: Path, result: dict[str, Any], faces: list[dict[str, Any]], vectors: Any,
             assignment: dict[str, tuple[int, str | None]]) -> dict[str, Any]:
    files = "copy" if any(p.is_file() and not p.is_symlink() for p in (output / "clusters").glob("*/*")) else "link"
    result = regroup(result, faces, vectors, assignment)
    write_output(output, result, files)
    return result


def load_cluster_model(model: Mapping[str, Any]) -> Any:
    """The model a clustering run used, as clusters.json records it (so the gallery's model checks apply)."""
    from src.embedding.model import load_model

    return load_model(model["checkpoint"], model["tta"], align=bool(model["align"]), alignment=model["alignment"])


def name_cluster(output: str | Path, cluster_id: int, person_id: str, gallery: Any) -> dict[str, Any]:
    """Enroll cluster ``cluster_id``'s faces as ``person_id`` into the open ``gallery`` (a FaceGallery of the
    clustering model) and record the name; returns what was written."""
    output = Path(output)
    result, faces, vectors = read_output(output)
    cluster = _cluster(result, cluster_id)
    if gallery.model.model_id != result["model"]["model_id"]:
        raise ValueError(f"The gallery's model {gallery.model.model_id} is not the model that clustered these faces "
                         f"({result['model']['model_id']}); name clusters into a gallery of the same model.")
    row_of = {face["face"]: row for row, face in enumerate(faces)}
    rows = [row_of[face["face"]] for face in cluster["faces"]]
    crops = [output / face["crop"] for face in cluster["faces"]]
    written = gallery.enroll_embeddings(person_id, crops, vectors[rows])
    assignment = assignment_of(result)
    assignment.update({face["face"]: (cluster_id, person_id) for face in cluster["faces"]})
    _rewrite(output, result, faces, vectors, assignment)
    return {"cluster": cluster_id, "person_id": person_id, "rows_written": written, "gallery_rows": gallery.count()}


def merge_clusters(output: str | Path, source: int, into: int) -> dict[str, Any]:
    """Move every face of cluster ``source`` into ``into``; a name of either carries over (two names: refused)."""
    output = Path(output)
    result, faces, vectors = read_output(output)
    if source == into:
        raise ValueError(f"source and into are both {source}; give two different clusters.")
    names = {_cluster(result, source)["person_id"], _cluster(result, into)["person_id"]} - {None}
    if len(names) > 1:
        raise ValueError(f"Clusters {source} and {into} are named {sorted(names)}; two people cannot be merged. "
                         "Move single faces with facerec-cluster-move instead.")
    person = next(iter(names), None)
    assignment = {face: ((into, person) if cid in (source, into) else (cid, name))
                  for face, (cid, name) in assignment_of(result).items()}
    result = _rewrite(output, result, faces, vectors, assignment)
    return _cluster(result, into)


def move_face(output: str | Path, face_id: str, to: int) -> dict[str, Any]:
    """Move face ``face_id`` into cluster ``to`` (``-1``: a new cluster of its own); returns its new cluster."""
    output = Path(output)
    result, faces, vectors = read_output(output)
    if face_id not in {face["face"] for face in faces}:
        raise ValueError(f"No face {face_id!r} in {output}/faces.json (the 'face' ids of clusters.json).")
    assignment = assignment_of(result)
    if to == -1:
        to = max((c["id"] for c in result["clusters"]), default=-1) + 1
        person = None
    else:
        person = _cluster(result, to)["person_id"]
    assignment[face_id] = (to, person)
    result = _rewrite(output, result, faces, vectors, assignment)
    return _cluster(result, to)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="cluster_name")
def name_main(cfg: DictConfig) -> None:
    """`facerec-cluster-name output=<dir> cluster=<id> person_id=<name> [milvus.uri=<gallery>]`."""
    from src.gallery.face_gallery import FaceGallery

    options = typed(ClusterNameConfig, cfg, "facerec-cluster-name output=<dir> cluster=<id> person_id=<name>")
    model = load_cluster_model(read_output(options.output)[0]["model"])
    with FaceGallery.open(model, options.milvus, create=True) as gallery:
        done = name_cluster(options.output, options.cluster, options.person_id, gallery)
    print(f"Cluster {done['cluster']} enrolled as {done['person_id']!r}: {done['rows_written']} faces; the gallery "
          f"has {done['gallery_rows']} rows.")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="cluster_merge")
def merge_main(cfg: DictConfig) -> None:
    """`facerec-cluster-merge output=<dir> source=<id> into=<id>`."""
    options = typed(ClusterMergeConfig, cfg, "facerec-cluster-merge output=<dir> source=<id> into=<id>")
    merged = merge_clusters(options.output, options.source, options.into)
    print(f"Cluster {options.source} merged into {merged['id']}: {merged['size']} faces.")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="cluster_move")
def move_main(cfg: DictConfig) -> None:
    """`facerec-cluster-move output=<dir> face=<face id> to=<cluster id or -1>`."""
    options = typed(ClusterMoveConfig, cfg, "facerec-cluster-move output=<dir> face=<face id> to=<id or -1>")
    moved = move_face(options.output, options.face, options.to)
    print(f"Face {options.face} is now in cluster {moved['id']} ({moved['size']} faces).")
