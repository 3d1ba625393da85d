"""Connection and collection settings for the Milvus store (built from the Hydra `milvus` node).

Secrets (token, password) come from the config or from the environment variables
``MILVUS_TOKEN``, ``MILVUS_USER`` and ``MILVUS_PASSWORD``; they are masked in ``repr`` and
never written to logs or error messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SERVER_SCHEMES = ("http", "https", "tcp", "grpc", "unix")
CONSISTENCY_LEVELS = ("Strong", "Bounded", "Session", "Eventually")
ENV_TOKEN, ENV_USER, ENV_PASSWORD = "MILVUS_TOKEN", "MILVUS_USER", "MILVUS_PASSWORD"
_MASK = "***"


def is_server_uri(uri: str) -> bool:
    """True for ``http(s)://host:port`` style URIs, False for a local (Milvus Lite) file path."""
    return urlsplit(uri).scheme.lower() in SERVER_SCHEMES


def redact_uri(uri: str) -> str:
    """Hide a password embedded in a URI (``http://user:secret@host`` -> ``http://user:***@host``)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", f":{_MASK}@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _mask(secret: str | None) -> str | None:
    return _MASK if secret else None


@dataclass(frozen=True)
class MilvusSettings:
    """Everything needed to connect to Milvus and to build/search the gallery collection."""

    uri: str
    collection: str = "faces"
    token: str | None = None
    user: str | None = None
    password: str | None = None
    db_name: str | None = None
    secure: bool = False
    server_pem_path: str | None = None  # CA / server certificate for one-way TLS
    server_name: str | None = None  # TLS server name override
    index_m: int = 16
    index_ef_construction: int = 200
    search_ef: int = 64  # measured default: see conf/milvus/standalone.yaml
    top_k: int = 10
    recreate: bool = False
    insert_batch_rows: int | None = None  # None: computed from dim (see MilvusStore)
    # Session: a client reads its own writes, and searches never wait for the server's time tick
    # (Strong adds up to one tick, 200 ms on a default server, to every search).
    consistency_level: str = "Session"
    connect_timeout_s: float = 2.0
    connect_attempts: int = 3
    connect_backoff_s: float = 0.5
    request_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if not self.uri:
            raise ValueError("milvus.uri is empty: give a local .db file path or http://host:port")
        if not self.is_server:
            _check_lite_path(self.uri)
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$", self.collection):
            raise ValueError(f"invalid Milvus collection name {self.collection!r}")
        for name in ("index_m", "index_ef_construction", "search_ef", "top_k", "connect_attempts"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"milvus setting {name} must be >= 1, got {getattr(self, name)}")
        if self.consistency_level not in CONSISTENCY_LEVELS:
            raise ValueError(f"consistency_level must be one of {CONSISTENCY_LEVELS}, "
                             f"got {self.consistency_level!r}")
        if self.insert_batch_rows is not None and self.insert_batch_rows < 1:
            raise ValueError(f"insert_batch_rows must be >= 1 or null, got {self.insert_batch_rows}")

    @property
    def is_server(self) -> bool:
        """True when the URI names a Milvus server, False for Milvus Lite."""
        return is_server_uri(self.uri)

    @property
    def backend(self) -> str:
        """``"server"`` or ``"lite"``."""
        return "server" if self.is_server else "lite"

    @property
    def display_uri(self) -> str:
        """The URI safe to print (embedded password masked)."""
        return redact_uri(self.uri)

    def with_env_credentials(self) -> MilvusSettings:
        """Fill token/user/password that the config left empty from the environment."""
        return replace(
            self,
            token=self.token or os.environ.get(ENV_TOKEN) or None,
            user=self.user or os.environ.get(ENV_USER) or None,
            password=self.password or os.environ.get(ENV_PASSWORD) or None,
        )

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown.update(uri=self.display_uri, token=_mask(self.token), password=_mask(self.password))
        body = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"MilvusSettings({body})"

    __str__ = __repr__

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], **overrides: Any) -> MilvusSettings:
        """Build settings from the Hydra ``milvus`` node (a mapping), then apply ``overrides``.

        Credentials missing from the config are read from the environment.
        """
        node = _to_plain_dict(cfg)
        index = node.pop("index", None) or {}
        search = node.pop("search", None) or {}
        flat: dict[str, Any] = {
            **node,
            **_rename(index, {"M": "index_m", "efConstruction": "index_ef_construction"}, "index"),
            **_rename(search, {"ef": "search_ef", "top_k": "top_k"}, "search"),
            **overrides,
        }
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(flat) - known)
        if unknown:
            raise ValueError(f"unknown milvus config keys: {unknown}; known keys: {sorted(known)}")
        return cls(**flat).with_env_credentials()


def _rename(section: Mapping[str, Any], names: Mapping[str, str], where: str) -> dict[str, Any]:
    unknown = sorted(set(section) - set(names))
    if unknown:
        raise ValueError(f"unknown keys in milvus.{where}: {unknown}; known: {sorted(names)}")
    return {names[k]: v for k, v in section.items()}


def _to_plain_dict(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Resolve an OmegaConf node (interpolations included) or copy a plain mapping."""
    try:
        from omegaconf import DictConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a project dependency
        DictConfig = ()  # type: ignore[assignment]
    if DictConfig and isinstance(cfg, DictConfig):
        return dict(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]
    return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in cfg.items()}


def _check_lite_path(uri: str) -> None:
    # pymilvus sends only '.db' paths to Milvus Lite (checked here for a clear message). Lite 3 takes
    # any such name; Lite 2.5 allowed at most 36 characters of [A-Za-z0-9._-].
    if not Path(uri).name.endswith(".db"):
        raise ValueError(f"Milvus Lite URI {uri!r} must be a path ending in '.db'; for a server use http://host:port")
