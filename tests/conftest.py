"""Shared pytest fixtures: a real Milvus standalone server and Milvus Lite files.

The server is the one shipped by the PyPI package ``milvus`` 2.3.5 (a dev dependency), started by
:class:`src.bench.local_server.LocalMilvusServer`: every port it opens is a free port, so parallel
test runs do not clash, and its unpacked binaries are cached (``$FACEREC_MILVUS_BIN_CACHE``). If
the server does not come up the fixture fails with the tail of its logs; it never skips.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Two test processes on 2 cores: each (and what it starts) computes on one thread; torch's default of one thread per
# core gave 4 spinning threads on 2 cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

from src.bench.local_server import LocalMilvusServer, ServerStartError  # noqa: E402
from tests.helpers import TRAINED_RUN_OVERRIDES, compose_config

# The slowest files (measured with --durations on the 2-core CI machine, 35-180 s each) run first: the suite runs
# in 2 processes that take whole files in this order (--no-loadscope-reorder in pyproject.toml; xdist's own order is
# by test count), and a 3-minute file handed out last ran alone at the end (tests 16.5 instead of ~12 minutes).
SLOW_FILES_FIRST = ("test_readme_examples.py", "test_learning.py", "test_resume_ddp.py", "test_notebooks.py",
                    "test_row_identity.py", "test_export.py", "test_serve.py", "test_cluster.py")


# A whole run wrote at most 2.6 GB of temporary files (sampled every 20 s, 2026-12-07); with less free than that (and
# a margin) the run used to fail 10 minutes in with dozens of "No space left on device" errors from unrelated tests.
PEAK_TEMP_GB = 2.6
MIN_FREE_TEMP_GB = 3.0


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop at once, saying what to do, when the disk under pytest's temporary folders cannot hold a run."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller checks once for both processes
    root = Path(session.config.option.basetemp or os.environ.get("PYTEST_DEBUG_TEMPROOT") or tempfile.gettempdir())
    while not root.exists():
        root = root.parent
    free_gb = shutil.disk_usage(root).free / 1e9
    if free_gb < MIN_FREE_TEMP_GB:
        pytest.exit(f"Only {free_gb:.1f} GB free under {root}; the tests write up to ~{PEAK_TEMP_GB} GB of temporary "
                    f"files there. Free space (old runs lie in {tempfile.gettempdir()}/pytest-of-<user>/) or point "
                    "them at a bigger disk with `pytest --basetemp=<empty dir>`.", returncode=1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the collected tests slowest file first (a stable sort: the rest keep their order)."""
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOW_FILES_FIRST.index(name) if name in SLOW_FILES_FIRST else len(SLOW_FILES_FIRST)

    items.sort(key=rank)


@pytest.fixture(scope="session")
def milvus_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a Milvus 2.3.5 standalone server started for this session."""
    started = time.monotonic()
    server = LocalMilvusServer(tmp_path_factory.mktemp("milvus-server"))
    try:
        uri = server.start()
    except ServerStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    print(f"\nMilvus {server.version} test server at {uri} ready in "
          f"{time.monotonic() - started:.1f}s (binaries unpacked/linked, process started, connected)")
    yield uri
    server.stop()


@pytest.fixture
def milvus_lite_uri(tmp_path: Path) -> str:
    """A fresh Milvus Lite database file path."""
    return str(tmp_path / "gallery.db")


MILVUS_BACKENDS = ["lite", pytest.param("server", marks=pytest.mark.server)]


@pytest.fixture(params=MILVUS_BACKENDS)
def milvus_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs a test once on Milvus Lite and once on the Milvus standalone server."""
    if request.param == "lite":
        return str(tmp_path / "gallery.db")
    return request.getfixturevalue("milvus_server_uri")


@pytest.fixture(scope="module", params=MILVUS_BACKENDS)
def milvus_module_uri(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Like ``milvus_uri`` but shared by a module (for read-only tests on one filled gallery)."""
    if request.param == "lite":
        return str(tmp_path_factory.mktemp("milvus-lite") / "gallery.db")
    return request.getfixturevalue("milvus_server_uri")


@pytest.fixture
def milvus_collection(request: pytest.FixtureRequest) -> str:
    """A collection name unique to the test (server collections outlive a single test)."""
    digest = hashlib.blake2b(request.node.nodeid.encode(), digest_size=6).hexdigest()
    return f"t_{digest}_{os.getpid()}"



@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory):
    """A tiny model trained on synthetic identities (CPU, ResNet18, 32 px); its gallery exported to Lite.

    Returns ``(cfg, objects)`` from :func:`src.train.train` (``objects["best_ckpt"]`` is the checkpoint).
    """
    from src.train import train

    out = tmp_path_factory.mktemp("trained")
    cfg = compose_config("train", TRAINED_RUN_OVERRIDES, out)
    _, objects = train(cfg)
    return cfg, objects
