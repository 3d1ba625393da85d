"""Benchmark parameters: dataclass defaults overridden by ``key=value`` command-line items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from src.bench.vectors import DATA_KINDS, FaceLikeParams

T = TypeVar("T")


class BenchConfigError(ValueError):
    """A command-line override names an unknown key or has a value of the wrong type."""


@dataclass
class CommonConfig:
    """Keys every sub-command understands."""

    out_dir: str | None = None  # default: outputs/bench/<sub-command>/<timestamp>
    seed: int = 0

    def check(self) -> None:
        """Raise ValueError for values of the right type that make no sense."""


@dataclass
class MilvusBenchConfig(CommonConfig):
    """Keys of the benchmarks that talk to Milvus (``ingest``, ``search``)."""

    backends: list[str] = field(default_factory=lambda: ["lite", "server"])
    server_uri: str | None = None  # credentials: MILVUS_TOKEN / MILVUS_USER / MILVUS_PASSWORD
    start_server: bool = True  # without server_uri: start the local 2.3.5 test server for the run
    data: str = "face_like"  # face_like | random
    dim: int = 1024
    face_like: FaceLikeParams = field(default_factory=FaceLikeParams)

    def check(self) -> None:
        if self.data not in DATA_KINDS:
            raise ValueError(f"data must be one of {DATA_KINDS}, got {self.data!r}")
        if not self.backends or set(self.backends) - {"lite", "server"}:
            raise ValueError(f"backends must be a non-empty subset of [lite, server], got {self.backends}")
        if "server" in self.backends and not (self.server_uri or self.start_server):
            raise ValueError("backend 'server' needs server_uri=http://host:port or start_server=true")


def parse_overrides(defaults: type[T], overrides: Sequence[str], command: str) -> T:
    """``defaults`` (a dataclass) with ``key=value`` items applied; nested keys use dots.

    Raises BenchConfigError naming the bad item and listing the known keys.
    """
    base = OmegaConf.structured(defaults)
    bad = [item for item in overrides if "=" not in item]
    if bad:
        raise BenchConfigError(f"{command}: expected key=value overrides, got {bad}")
    try:
        merged = OmegaConf.merge(base, OmegaConf.from_dotlist(list(overrides)))
        config = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        known = ", ".join(_keys(OmegaConf.to_container(base)))
        raise BenchConfigError(f"{command}: bad override: {str(exc).splitlines()[0]}\nknown keys: {known}") from exc
    try:
        config.check()  # type: ignore[attr-defined]
    except ValueError as exc:
        raise BenchConfigError(f"{command}: {exc}") from exc
    return config  # type: ignore[return-value]


def _keys(node: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in node.items():
        keys += _keys(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"]
    return keys

