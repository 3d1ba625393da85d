"""Synthetic unit vectors for the benchmarks: face-like identity clusters, or i.i.d. random.

Face-like vectors mimic the project's gallery embeddings: each identity is a random point in a
``latent_dim``-dimensional latent space, each image is that point plus within-identity noise, and
a fixed random linear map takes the latent to one 512-d half; the other half embeds a slightly
perturbed ("flipped") copy of the latent, and the two unit halves are concatenated and scaled by
1/sqrt(2) exactly like flip-TTA ``concat``. A little full-rank ambient noise is added before the
final normalisation. With the defaults, images of one identity have cosine ~0.65 and different
identities ~0 (std ~0.12), and a query's 10 nearest gallery images are ~99% its own
identity's 10 images, like a trained face embedder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

DATA_KINDS = ("face_like", "random")


@dataclass
class FaceLikeParams:
    """Shape of the face-like distribution (see module docstring)."""

    latent_dim: int = 64
    images_per_id: int = 10
    within_std: float = 0.6
    flip_std: float = 0.25
    ambient_std: float = 0.3


@dataclass(frozen=True)
class VectorSet:
    """Gallery and held-out query vectors (float32, unit norm) with identity labels."""

    gallery: np.ndarray
    gallery_labels: np.ndarray
    queries: np.ndarray
    query_labels: np.ndarray
    description: dict


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


class FaceLikeGenerator:
    """Draws images of ``n_ids`` identities as ``dim``-d unit vectors (``dim`` even)."""

    def __init__(self, n_ids: int, dim: int, params: FaceLikeParams, seed: int = 0) -> None:
        if dim % 2 or dim < 2:
            raise ValueError(f"face-like vectors need an even dim (two TTA halves), got {dim}")
        rng = np.random.default_rng(seed)
        self.params, self.dim = params, dim
        self.centers = rng.standard_normal((n_ids, params.latent_dim)).astype(np.float32)
        self.mapping = rng.standard_normal((params.latent_dim, dim // 2)).astype(np.float32)
        self._rng = np.random.default_rng(seed + 1)

    def images(self, labels: np.ndarray, chunk: int = 20_000) -> np.ndarray:
        """One new image (vector) of each identity in ``labels``."""
        return np.concatenate([self._draw(labels[i:i + chunk]) for i in range(0, len(labels), chunk)]
                              or [np.zeros((0, self.dim), np.float32)])

    def _draw(self, labels: np.ndarray) -> np.ndarray:
        p, rng = self.params, self._rng
        latent = self.centers[labels] + p.within_std * rng.standard_normal((len(labels), p.latent_dim), np.float32)
        flipped = latent + p.flip_std * rng.standard_normal(latent.shape, np.float32)
        halves = np.concatenate([_unit(latent @ self.mapping), _unit(flipped @ self.mapping)], axis=1)
        ambient = rng.standard_normal(halves.shape, np.float32) * (p.ambient_std / np.sqrt(self.dim))
        return _unit(halves / np.sqrt(2.0) + ambient)


def random_unit(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` i.i.d. Gaussian directions: no cluster structure (the worst case for HNSW)."""
    return _unit(rng.standard_normal((n, dim), np.float32))


def make_vectors(kind: str, n: int, n_queries: int, dim: int, params: FaceLikeParams, seed: int = 0) -> VectorSet:
    """``n`` gallery vectors and ``n_queries`` held-out queries of kind ``face_like`` or ``random``.

    Face-like queries are new images of gallery identities (never gallery vectors themselves).
    """
    if kind not in DATA_KINDS:
        raise ValueError(f"unknown data kind {kind!r}; choose one of {DATA_KINDS}")
    rng = np.random.default_rng(seed)
    if kind == "random":
        description = {"kind": kind, "dim": dim, "seed": seed, "gallery": n, "queries": n_queries}
        return VectorSet(random_unit(n, dim, rng), np.arange(n), random_unit(n_queries, dim, rng),
                         np.full(n_queries, -1), description)
    n_ids = max(1, -(-n // params.images_per_id))
    generator = FaceLikeGenerator(n_ids, dim, params, seed)
    labels = np.arange(n) // params.images_per_id
    query_labels = rng.integers(0, n_ids, n_queries)
    description = {"kind": kind, "dim": dim, "seed": seed, "gallery": n, "queries": n_queries,
                   "identities": n_ids, **asdict(params)}
    return VectorSet(generator.images(labels), labels, generator.images(query_labels), query_labels, description)


def cosine_stats(vectors: VectorSet, pairs: int = 20_000, seed: int = 0) -> dict[str, float | None]:
    """Mean/std cosine between queries and gallery images of the same and of other identities."""
    rng = np.random.default_rng(seed)
    q = rng.integers(0, len(vectors.queries), pairs)
    order = np.argsort(vectors.gallery_labels, kind="stable")
    sorted_labels = vectors.gallery_labels[order]
    pos = np.minimum(np.searchsorted(sorted_labels, vectors.query_labels[q]), len(order) - 1)
    has_mate = sorted_labels[pos] == vectors.query_labels[q]
    same = np.einsum("ij,ij->i", vectors.queries[q[has_mate]], vectors.gallery[order[pos[has_mate]]])
    g = rng.integers(0, len(vectors.gallery), pairs)
    other = vectors.gallery_labels[g] != vectors.query_labels[q]
    diff = np.einsum("ij,ij->i", vectors.queries[q[other]], vectors.gallery[g[other]])

    def stat(values: np.ndarray, fn) -> float | None:
        return float(fn(values)) if len(values) else None

    return {"same_identity_mean": stat(same, np.mean), "same_identity_std": stat(same, np.std),
            "different_identity_mean": stat(diff, np.mean), "different_identity_std": stat(diff, np.std)}
