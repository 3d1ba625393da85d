"""Shared pytest fixtures: a real Milvus standalone server and Milvus Lite files.

The server is the one shipped by the PyPI package ``milvus`` 2.3.5 (a dev dependency). Every
port it opens is a free port picked here, including the embedded etcd client/peer ports that
the package would otherwise hard-wire to 2379/2380, so parallel test runs do not clash. The
decompressed binaries (~6 s to unpack) are cached in ``$FACEREC_MILVUS_BIN_CACHE`` (default
``~/.cache/facerec/milvus-server-<version>``). If the server does not come up the fixture
fails with the tail of its logs; it never skips.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from train_helpers import TRAINED_RUN_OVERRIDES, compose_config

SERVER_START_TIMEOUT_S = 90.0


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary_cache(version: str) -> Path:
    default = Path.home() / ".cache" / "facerec" / f"milvus-server-{version}"
    return Path(os.environ.get("FACEREC_MILVUS_BIN_CACHE", default))


def _link_cached_binaries(milvus_pkg, base_dir: Path) -> None:
    """Unpack the server binaries once (file-locked) and link them into ``base_dir/bin``."""
    cache = _binary_cache(milvus_pkg.__version__)
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        milvus_pkg._initialize_data_files(str(cache))  # no-op when already unpacked
    (base_dir / "bin").symlink_to(cache / "bin", target_is_directory=True)


def _write_embedded_etcd_config(base_dir: Path) -> Path:
    client, peer = free_port(), free_port()
    path = base_dir / "embed-etcd.yaml"
    path.write_text(
        "name: default\n"
        f"listen-client-urls: http://127.0.0.1:{client}\n"
        f"advertise-client-urls: http://127.0.0.1:{client}\n"
        f"listen-peer-urls: http://127.0.0.1:{peer}\n"
        f"initial-advertise-peer-urls: http://127.0.0.1:{peer}\n"
        f"initial-cluster: default=http://127.0.0.1:{peer}\n"
    )
    return path


def _log_tail(base_dir: Path, lines: int = 40) -> str:
    parts = []
    for log in sorted((base_dir / "logs").glob("*.log")):
        text = log.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {log.name} (last {len(text)} lines) ---\n" + "\n".join(text))
    return "\n".join(parts) or "(no server logs written)"


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return b"OK" in resp.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _wait_until_serving(server, uri: str, base_dir: Path) -> None:
    """Poll the health endpoint, then make one real client connection."""
    from src.vector_store import MilvusSettings, MilvusStore

    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not _healthy(server.webservice_port):
        if server.server_proc.poll() is not None:
            raise RuntimeError(f"milvus exited with code {server.server_proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"milvus not healthy after {SERVER_START_TIMEOUT_S:.0f}s")
        time.sleep(0.2)
    MilvusStore(MilvusSettings(uri=uri, connect_timeout_s=5.0)).close()


@pytest.fixture(scope="session")
def milvus_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a Milvus 2.3.5 standalone server started for this session."""
    import milvus as milvus_pkg

    started = time.monotonic()
    base_dir = tmp_path_factory.mktemp("milvus-server")
    _link_cached_binaries(milvus_pkg, base_dir)
    etcd_config = _write_embedded_etcd_config(base_dir)
    server = milvus_pkg.MilvusServer(wait_for_started=False)
    server.set_base_dir(str(base_dir))
    for key in list(server.config_keys):
        if key.endswith("_port"):
            server.config.update(**{key: free_port()})
    proxy_port = free_port()
    server.config.update(proxy_port=proxy_port)
    server.webservice_port = free_port()
    # Strongly consistent reads wait for the next proxy time tick (default 200 ms); a shorter
    # tick makes the many small reads of the tests ~3x faster without changing their results.
    server.config.set("proxy.timeTickInterval", 50)
    uri = f"http://127.0.0.1:{proxy_port}"

    previous = os.environ.get("ETCD_CONFIG_PATH")
    os.environ["ETCD_CONFIG_PATH"] = str(etcd_config)  # read by the embedded etcd
    try:
        server.start()
        _wait_until_serving(server, uri, base_dir)
    except Exception as exc:  # noqa: BLE001 - report anything with the server log
        server.stop()
        pytest.fail(f"Milvus test server did not start ({exc!r}).\n{_log_tail(base_dir)}", pytrace=False)
    finally:
        if previous is None:
            os.environ.pop("ETCD_CONFIG_PATH", None)
        else:
            os.environ["ETCD_CONFIG_PATH"] = previous
    print(f"\nMilvus {milvus_pkg.__version__} test server at {uri} ready in "
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
