"""Grouping the neighbour graph: every algorithm returns one label per face, ``-1`` for a face left alone.

* ``chinese_whispers``: label propagation (Biemann 2006; dlib's face-clustering example uses it): every face starts
  as its own group, then, in a seeded random order, takes the label with the most link weight among its neighbours
  until no label changes. Written here on the sparse graph (no dlib at run time).
* ``components``: connected components of the thresholded graph (single linkage: one link joins two groups).
* ``agglomerative``: average linkage (scikit-learn), merging while the mean similarity of the linked pairs is at
  least the threshold, along the kNN graph (no full distance matrix).
* ``dbscan``: DBSCAN (scikit-learn) on the graph's distances (``1 - similarity``, eps ``1 - threshold``), a core
  face needing ``min_samples`` faces within eps (2 would equal ``components``).
* ``hdbscan``: HDBSCAN (scikit-learn) on the embeddings themselves; it ignores the threshold.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from src.cluster.graph import NeighbourGraph

ALGORITHMS = ("chinese_whispers", "components", "agglomerative", "dbscan", "hdbscan")
DBSCAN_MIN_SAMPLES = 3


def chinese_whispers(links: sparse.csr_matrix, iterations: int = 30, seed: int = 0) -> np.ndarray:
    """Labels by Chinese whispers on a symmetric weighted graph (see the module docstring)."""
    n = links.shape[0]
    labels = list(range(n))
    starts, ends = links.indptr[:-1].tolist(), links.indptr[1:].tolist()
    neighbours, weights = links.indices.tolist(), links.data.tolist()
    rng = np.random.default_rng(seed)
    for _ in range(iterations):
        changed = 0
        for node in rng.permutation(n).tolist():
            if starts[node] == ends[node]:
                continue
            votes: dict[int, float] = {}
            for j in range(starts[node], ends[node]):
                label = labels[neighbours[j]]
                votes[label] = votes.get(label, 0.0) + weights[j]
            best = max(votes, key=votes.__getitem__)
            if votes[best] > votes.get(labels[node], 0.0):  # ties keep the current label: no flapping
                labels[node] = best
                changed += 1
        if not changed:
            break
    return np.asarray(labels, np.int64)


def components(links: sparse.csr_matrix) -> np.ndarray:
    return connected_components(links, directed=False)[1].astype(np.int64)


def agglomerative(graph: NeighbourGraph, vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Average linkage (cosine) along the kNN graph, merging while the mean similarity of the linked pairs is at
    least ``threshold``. Two groups without one link at or above the threshold can never reach that mean, so each
    connected component of the thresholded graph is clustered on its own: no dense matrix, and no component
    joining pass (scikit-learn's, quadratic in the number of components)."""
    from sklearn.cluster import AgglomerativeClustering

    near = graph.edges(-np.inf)
    near.data[:] = 1.0
    component = components(graph.edges(threshold))
    labels = np.arange(graph.size, dtype=np.int64) + graph.size  # singletons keep ids no group uses
    order = np.argsort(component, kind="stable")
    bounds = np.flatnonzero(np.diff(component[order])) + 1
    next_id = 0
    for members in np.split(order, bounds):
        if len(members) < 2:
            continue
        model = AgglomerativeClustering(n_clusters=None, distance_threshold=1.0 - threshold, metric="cosine",
                                        linkage="average", connectivity=near[members][:, members])
        found = model.fit_predict(vectors[members])
        labels[members] = found + next_id
        next_id += int(found.max()) + 1
    return labels


def dbscan(graph: NeighbourGraph, threshold: float, min_samples: int = DBSCAN_MIN_SAMPLES) -> np.ndarray:
    from sklearn.cluster import DBSCAN

    links = graph.edges(threshold)
    distances = links.copy()
    distances.data = np.maximum(1.0 - distances.data, 1e-9)  # an explicit 0 would read as "no link"
    return DBSCAN(eps=1.0 - threshold, min_samples=min_samples, metric="precomputed").fit_predict(distances)


def hdbscan(vectors: np.ndarray, min_size: int = 2) -> np.ndarray:
    from sklearn.cluster import HDBSCAN

    return HDBSCAN(min_cluster_size=max(2, min_size), metric="euclidean", copy=True).fit_predict(vectors)


def group(algorithm: str, graph: NeighbourGraph, vectors: np.ndarray, threshold: float, min_size: int = 2,
          iterations: int = 30, seed: int = 0) -> np.ndarray:
    """Labels of ``algorithm`` (renumbered by group size, largest ``0``; groups under ``min_size`` are ``-1``)."""
    runs: dict[str, Callable[[], np.ndarray]] = {
        "chinese_whispers": lambda: chinese_whispers(graph.edges(threshold), iterations, seed),
        "components": lambda: components(graph.edges(threshold)),
        "agglomerative": lambda: agglomerative(graph, vectors, threshold),
        "dbscan": lambda: dbscan(graph, threshold),
        "hdbscan": lambda: hdbscan(vectors, min_size),
    }
    if algorithm not in runs:
        raise ValueError(f"clustering.algorithm={algorithm!r}: use one of {', '.join(ALGORITHMS)}.")
    return renumber(runs[algorithm](), min_size)


def renumber(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Groups by size (largest ``0``, ties by first face), those under ``min_size`` and noise (``-1``) as ``-1``."""
    labels = np.asarray(labels, np.int64)
    out = np.full(len(labels), -1, np.int64)
    valid = labels >= 0
    if not valid.any():
        return out
    _, first, inverse, counts = np.unique(labels[valid], return_index=True, return_inverse=True, return_counts=True)
    order = np.lexsort((first, -counts))
    kept = order[counts[order] >= min_size]
    new_id = np.full(len(counts), -1, np.int64)
    new_id[kept] = np.arange(len(kept))
    out[valid] = new_id[inverse]
    return out
