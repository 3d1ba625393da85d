"""The evaluation stage: enroll a gallery in Milvus, search the probes, score, time, and report."""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from src.embedding.model import FaceModel
from src.evaluation.latency import batched_throughput, ef_sweep, single_query_latency
from src.evaluation.options import EvaluationOptions
from src.evaluation.pairs_file import read_pairs_file
from src.evaluation.protocol import EvaluatedPeople, GalleryProbeSplit
from src.evaluation.retrieval import exact_top_k
from src.evaluation.scoring import identification_section, recall_section, verification_section
from src.evaluation.verification import genuine_impostor_pairs
from src.monitoring import HardwareSampler, hardware_info
from src.vector_store import MilvusStore, row_id

log = logging.getLogger(__name__)

REPORT_VERSION = 1


def _embed(model: FaceModel, paths: list[Path], options: EvaluationOptions) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    embeddings = model.embed(paths, batch_size=options.batch_size, num_workers=options.num_workers)
    return embeddings, time.perf_counter() - start


def _verification(model: FaceModel, split: GalleryProbeSplit, gallery: np.ndarray, probes: np.ndarray,
                  options: EvaluationOptions, root: Path) -> dict:
    """Pairs from ``options.pairs_file`` (LFW format) or generated from the evaluated images."""
    if options.pairs_file:
        pairs = read_pairs_file(options.pairs_file, root)
        a, _ = _embed(model, [p[0] for p in pairs], options)
        b, _ = _embed(model, [p[1] for p in pairs], options)
        scores, same = np.sum(a * b, axis=1), np.array([p[2] for p in pairs])
        source = str(options.pairs_file)
    else:
        people = [person for _, person in split.gallery + split.probes]
        names = {name: i for i, name in enumerate(sorted(set(people)))}
        labels = torch.tensor([names[p] for p in people])
        index, same_t = genuine_impostor_pairs(labels, max_pairs=options.max_pairs, seed=options.seed)
        everything = np.concatenate([gallery, probes])
        index = index.numpy()
        scores = np.sum(everything[index[:, 0]] * everything[index[:, 1]], axis=1)
        same, source = same_t.numpy(), "generated"
    return {"source": source, **verification_section(scores, same, options.fars_verification)}


def run_evaluation(
    model: FaceModel, people: EvaluatedPeople, split: GalleryProbeSplit, milvus_cfg: Mapping[str, Any],
    options: EvaluationOptions, data_root: Path,
) -> dict[str, Any]:
    """Embed gallery and probes, enroll the gallery in a fresh collection, search, and build the report dict.

    ``people`` (chosen from the folder at ``data_root``) were split into ``split``; ``options`` come from the
    ``evaluation`` config node (see conf/train.yaml).
    """
    top_k = options.top_k
    with HardwareSampler() as sampler:
        gallery, gallery_seconds = _embed(model, [p for p, _ in split.gallery], options)
        probes, probe_seconds = _embed(model, [p for p, _ in split.probes], options)
        gallery_ids = np.array([row_id(p, data_root) for p, _ in split.gallery])
        with MilvusStore.from_config(milvus_cfg, collection=options.collection) as store:
            store.ensure_collection(model.dim, model_id=model.model_id, tta_mode=model.tta_mode, recreate=True,
                                    extra={**model.describe(), "purpose": "evaluation"})
            start = time.perf_counter()
            store.upsert([str(Path(p).resolve()) for p, _ in split.gallery], [s for _, s in split.gallery], gallery,
                         ids=gallery_ids.tolist(), flush=False)
            store.publish()
            insert_seconds = time.perf_counter() - start
            start = time.perf_counter()
            hits = store.search(probes, top_k)
            search_seconds = time.perf_counter() - start
            exact_scores, exact_index = (t.numpy() for t in exact_top_k(probes, gallery, top_k))
            timing = options.latency
            latency = {
                "ef": store.settings.search_ef if store.index_type == "HNSW" else None,
                "single_query": single_query_latency(store, probes, timing.queries, top_k, warmup=timing.warmup),
                "batched": batched_throughput(store, probes, timing.batch_sizes, top_k),
                "ef_sweep": ef_sweep(store, probes, gallery_ids[exact_index], timing.ef_sweep, timing.sweep_queries,
                                     top_k) if store.index_type == "HNSW" else [],
            }
            milvus = {"backend": store.backend, "uri": store.settings.display_uri, "collection": store.collection_name,
                      "rows": store.count(), "index": _index(store), "top_k": top_k,
                      "server_version": store.server_version}
        probe_people = [person for _, person in split.probes]
        gallery_people = np.array([person for _, person in split.gallery])
        milvus_ranked = ([h.person_id for h in row] for row in hits), ([h.similarity for h in row] for row in hits)
        exact_ranked = (gallery_people[exact_index].tolist(), exact_scores.tolist())
        identification = {
            name: identification_section(list(labels), list(scores), probe_people, split.enrolled, top_k,
                                         options.fars_identification)
            for name, (labels, scores) in {"milvus": milvus_ranked, "exact": exact_ranked}.items()
        }
        identification["recommended_threshold"] = identification["milvus"]["recommended_threshold"]
        search_vs_exact = recall_section([[h.id for h in row] for row in hits], gallery_ids[exact_index])
        verification = _verification(model, split, gallery, probes, options, data_root)
    n_embedded = len(gallery) + len(probes)
    return {
        "report_version": REPORT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": {"checkpoint": model.loaded.checkpoint, "model_id": model.model_id, "depth": model.loaded.model.depth,
                  "embedding_dim": model.loaded.model.embedding_dim, "image_size": model.image_size,
                  "preprocessing": model.preprocessing},
        "embedding": {"tta_mode": model.tta_mode, "dim": model.dim, "device": str(model.device),
                      "images": n_embedded, "seconds": gallery_seconds + probe_seconds,
                      "images_per_sec": n_embedded / max(gallery_seconds + probe_seconds, 1e-9)},
        "data": {"root": str(data_root), **people.summary(), **split.summary()},
        "milvus": {**milvus, "insert_and_index_seconds": insert_seconds, "search_all_probes_seconds": search_seconds},
        "identification": identification,
        "search_vs_exact": search_vs_exact,
        "verification": verification,
        "latency": latency,
        "hardware": hardware_info(),
        "resources": sampler.summary(),
    }


def _index(store: MilvusStore) -> dict[str, Any]:
    info = store.index_info()
    return {"type": info.index_type, "metric": info.metric_type, "params": info.params}
