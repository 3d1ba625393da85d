"""The Milvus backends a benchmark runs on: a temporary Lite file and/or a server URI."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from src.bench.config import MilvusBenchConfig
from src.bench.local_server import LocalMilvusServer
from src.vector_store import MilvusSettings, MilvusStore, path_to_id
from src.vector_store.settings import redact_uri


@dataclass(frozen=True)
class Backend:
    """One place to store vectors: ``lite`` (a local file) or ``server`` (an http URI)."""

    name: str
    uri: str
    started_local: bool = False
    server_package: str | None = None

    def store(self, collection: str, **settings: Any) -> MilvusStore:
        """A store on ``collection`` of this backend (``settings``: MilvusSettings fields)."""
        return MilvusStore(MilvusSettings(uri=self.uri, collection=collection, **settings).with_env_credentials())

    def describe(self) -> dict[str, Any]:
        """JSON-ready description; passwords in the URI are masked."""
        return {"name": self.name, "uri": redact_uri(self.uri), "started_local": self.started_local,
                "server_package": self.server_package}


def collection_name(*parts: object) -> str:
    """A collection name unique to this process (runs against a shared server do not clash)."""
    return "_".join(["bench", *map(str, parts), str(os.getpid())])


def row_keys(n: int, labels: np.ndarray) -> tuple[list[str], list[str], dict[int, int]]:
    """Image paths, person ids and ``primary key -> row number`` for ``n`` benchmark rows."""
    paths = [f"/bench/{i:08d}.jpg" for i in range(n)]
    people = [f"id{int(label):07d}" for label in labels[:n]]
    return paths, people, {path_to_id(path): row for row, path in enumerate(paths)}


@contextmanager
def open_backends(cfg: MilvusBenchConfig) -> Iterator[list[Backend]]:
    """The backends named in ``cfg.backends``; a local server (and the Lite file) live only
    inside the ``with`` block."""
    with ExitStack() as stack:
        scratch = Path(tempfile.mkdtemp(prefix="facerec-bench-"))
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        backends = []
        for name in cfg.backends:
            if name == "lite":
                backends.append(Backend("lite", str(scratch / "bench.db")))
            elif cfg.server_uri:
                backends.append(Backend("server", cfg.server_uri))
            else:  # MilvusBenchConfig.check: start_server is true here
                server = LocalMilvusServer(scratch / "milvus-server")
                stack.callback(server.stop)
                backends.append(Backend("server", server.start(), True, f"milvus=={server.version} (PyPI)"))
        yield backends
