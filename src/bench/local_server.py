"""Start a local Milvus 2.3.5 standalone server from the PyPI package ``milvus`` (a dev dependency).

Used by the test fixtures (``tests/conftest.py``) and by ``facerec-bench`` when no server URI is
given. Every port the server opens is a free port picked here, including the embedded etcd
client/peer ports that the package would otherwise hard-wire to 2379/2380, so parallel runs do
not clash. The decompressed binaries (~6 s to unpack) are cached in ``$FACEREC_MILVUS_BIN_CACHE``
(default ``~/.cache/facerec/milvus-server-<version>``).
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

SERVER_START_TIMEOUT_S = 90.0
# Strongly consistent reads wait for the next proxy time tick (default 200 ms); a shorter tick
# makes many small reads ~3x faster without changing their results.
TIME_TICK_MS = 50
ROOT_TOKEN = "root:Milvus"  # Milvus's default superuser, used when authorization is on


class ServerStartError(RuntimeError):
    """The server did not come up; the message ends with the tail of its logs."""


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary_cache(version: str) -> Path:
    default = Path.home() / ".cache" / "facerec" / f"milvus-server-{version}"
    return Path(os.environ.get("FACEREC_MILVUS_BIN_CACHE", default))


def _link_cached_binaries(milvus_pkg: ModuleType, base_dir: Path) -> None:
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


def log_tail(base_dir: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of every server log in ``base_dir/logs``."""
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


def _wait_until_serving(server: Any, uri: str, token: str | None) -> None:
    """Poll the health endpoint, then make one real client connection."""
    from src.vector_store import MilvusSettings, MilvusStore

    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not _healthy(server.webservice_port):
        if server.server_proc.poll() is not None:
            raise RuntimeError(f"milvus exited with code {server.server_proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"milvus not healthy after {SERVER_START_TIMEOUT_S:.0f}s")
        time.sleep(0.2)
    MilvusStore(MilvusSettings(uri=uri, token=token, connect_timeout_s=5.0)).close()


class LocalMilvusServer:
    """A Milvus standalone server whose data and logs live in ``base_dir`` (a context manager).

    ``start()`` returns ``http://127.0.0.1:<port>``; ``stop()`` ends the server process. With
    ``authorization=True`` the server checks credentials (user ``root``, password ``Milvus``).
    """

    def __init__(self, base_dir: Path, time_tick_ms: int = TIME_TICK_MS, authorization: bool = False) -> None:
        import milvus as milvus_pkg

        self.base_dir = Path(base_dir)
        self.version: str = milvus_pkg.__version__
        self.time_tick_ms = int(time_tick_ms)
        self.authorization = bool(authorization)
        self._pkg = milvus_pkg
        self._server: Any = None
        self.uri: str | None = None

    def start(self) -> str:
        """Start the server and wait until a client can connect; raises ServerStartError."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        _link_cached_binaries(self._pkg, self.base_dir)
        etcd_config = _write_embedded_etcd_config(self.base_dir)
        server = self._pkg.MilvusServer(wait_for_started=False)
        server.set_base_dir(str(self.base_dir))
        for key in list(server.config_keys):
            if key.endswith("_port"):
                server.config.update(**{key: free_port()})
        proxy_port = free_port()
        server.config.update(proxy_port=proxy_port)
        server.webservice_port = free_port()
        server.config.set("proxy.timeTickInterval", self.time_tick_ms)
        server.config.set("common.security.authorizationEnabled", self.authorization)
        uri = f"http://127.0.0.1:{proxy_port}"
        previous = os.environ.get("ETCD_CONFIG_PATH")
        os.environ["ETCD_CONFIG_PATH"] = str(etcd_config)  # read by the embedded etcd
        self._server = server
        try:
            server.start()
            _wait_until_serving(server, uri, ROOT_TOKEN if self.authorization else None)
        except Exception as exc:  # noqa: BLE001 - report anything with the server log
            self.stop()
            raise ServerStartError(f"Milvus test server did not start ({exc!r}).\n{log_tail(self.base_dir)}") from exc
        finally:
            if previous is None:
                os.environ.pop("ETCD_CONFIG_PATH", None)
            else:
                os.environ["ETCD_CONFIG_PATH"] = previous
        self.uri = uri
        return uri

    def stop(self) -> None:
        """Stop the server process (idempotent)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LocalMilvusServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
