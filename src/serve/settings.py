"""The ``serve`` config node (conf/serve.yaml) as a checked dataclass."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from src.serve.budget import default_budget_mb


@dataclass(frozen=True)
class ServeSettings:
    """What the service reads from ``serve.*`` (see conf/serve.yaml for the meaning of each key)."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_batch: int = 32
    max_wait_ms: float = 5.0
    max_body_mb: float = 10.0
    max_pixels: int = 25_000_000
    max_images: int = 16
    max_request_pixels: int = 100_000_000
    decode_memory_mb: float | None = None
    top_k: int = 5
    max_top_k: int = 100
    threshold: float | None = None
    threshold_from: str | None = None
    default_threshold: float = 0.4
    upload_dir: str = "uploads"
    create_gallery: bool = False
    graceful_timeout_s: float = 30.0
    torch_threads: int | None = None
    log_level: str = "info"
    cluster_output: str | None = None

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 2**20)

    @property
    def decode_budget_bytes(self) -> int:
        """``decode_memory_mb`` in bytes; null: sized for this machine (src.serve.budget.default_budget_mb)."""
        return int((self.decode_memory_mb or default_budget_mb()) * 2**20)

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> ServeSettings:
        """Settings from the ``serve`` node; unknown keys and nonsense values raise ValueError naming the override."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(node) - known)
        if unknown:
            raise ValueError(f"Unknown serve.* keys {unknown}; known: {sorted(known)}")
        settings = cls(**dict(node))
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ValueError for values that cannot work, naming the override to fix."""
        positive = {"serve.port": self.port, "serve.max_batch": self.max_batch, "serve.max_body_mb": self.max_body_mb,
                    "serve.max_pixels": self.max_pixels, "serve.max_images": self.max_images,
                    "serve.max_request_pixels": self.max_request_pixels,
                    "serve.top_k": self.top_k, "serve.max_top_k": self.max_top_k}
        bad = [f"{key}={value}" for key, value in positive.items() if not value or value <= 0]
        if self.decode_memory_mb is not None and self.decode_memory_mb <= 0:
            bad.append(f"serve.decode_memory_mb={self.decode_memory_mb} (null: sized for this machine)")
        if self.max_wait_ms < 0:
            bad.append(f"serve.max_wait_ms={self.max_wait_ms}")
        if bad:
            raise ValueError(f"These settings must be positive: {', '.join(bad)}.")
        if not 0 < self.port < 65536:
            raise ValueError(f"serve.port={self.port} is not a TCP port (1-65535).")
        if self.top_k > self.max_top_k:
            raise ValueError(f"serve.top_k={self.top_k} exceeds serve.max_top_k={self.max_top_k}.")
