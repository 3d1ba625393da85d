"""Opening a Milvus connection (server with retries, or a Milvus Lite file) and turning
pymilvus errors into the project's errors (callers never see pymilvus types)."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc
from pymilvus import MilvusClient, MilvusException

from .errors import AUTH_HINT, START_SERVER_HINT, MilvusAuthError, MilvusStoreError, MilvusUnavailableError
from .lite_logging import quiet_lite_loggers
from .settings import MilvusSettings

log = logging.getLogger(__name__)

_LITE_LOCK = threading.Lock()
_LITE_REFS: dict[str, int] = {}
_F = TypeVar("_F", bound=Callable[..., Any])


def short_error(exc: BaseException) -> str:
    """The first 300 characters of a pymilvus error's message."""
    return str(getattr(exc, "message", "") or exc).strip()[:300]


_AUTH_WORDS = ("auth", "credential", "password", "permission denied")
_AUTH_STATUS = ("UNAUTHENTICATED", "PERMISSION_DENIED")


def is_auth_error(exc: BaseException) -> bool:
    """True when the server rejected the credentials. pymilvus wraps the gRPC failure of a wrong
    password in a generic "Fail connecting" error; the gRPC status sits in the exception chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = current.code() if callable(getattr(current, "code", None)) else None
        if getattr(code, "name", None) in _AUTH_STATUS:
            return True
        text = str(getattr(current, "message", "") or current).lower()
        if any(word in text for word in _AUTH_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


def auth_error(settings: MilvusSettings, exc: BaseException) -> MilvusAuthError:
    """The project's error for rejected credentials (the secrets themselves are never shown)."""
    return MilvusAuthError(f"Milvus at {settings.display_uri} rejected the credentials "
                           f"({_auth_detail(exc)}). {AUTH_HINT}")


def _auth_detail(exc: BaseException) -> str:
    current: BaseException | None = exc
    while current is not None:
        details = current.details() if callable(getattr(current, "details", None)) else None
        if details:
            return str(details)[:200]
        current = current.__cause__
    return short_error(exc)


def translate_errors(method: _F) -> _F:
    """Re-raise pymilvus errors of a store method as MilvusStoreError / MilvusUnavailableError
    (callers cannot import pymilvus), naming the operation, collection and URI."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (MilvusException, grpc.RpcError) as exc:  # pymilvus lets some gRPC errors through raw
            if is_auth_error(exc):
                raise auth_error(self.settings, exc) from None  # no gRPC traceback for a user error
            text = (f"Milvus {method.__name__} on collection {self.collection_name!r} at "
                    f"{self.settings.display_uri} failed: {short_error(exc)}")
            if "unavailable" in text.lower() or "connect" in short_error(exc).lower():
                raise MilvusUnavailableError(f"{text}. {START_SERVER_HINT}") from exc
            raise MilvusStoreError(text) from exc

    return wrapper  # type: ignore[return-value]


# --------------------------------------------------------------------------- Milvus Lite

def lite_path(settings: MilvusSettings) -> Path:
    """The resolved gallery path; refuses a Milvus Lite 2.x gallery file, which Lite 3 cannot read."""
    path = Path(settings.uri).expanduser().resolve()
    if path.is_file():
        raise MilvusUnavailableError(
            f"{path} is a Milvus Lite 2.x gallery file; milvus-lite 3 (this project's) keeps a gallery "
            "in a directory and cannot read it. Rebuild it: run facerec-export again with "
            "milvus.uri=<new path> (or move the old file away and re-export to the same path).")
    return path


def open_lite(path: Path, alias: str) -> MilvusClient:
    """Open the Milvus Lite gallery at ``path``, creating it (and its parent folders) if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    quiet_lite_loggers()  # here, not at import: Hydra configures logging after the modules are imported
    try:
        client = MilvusClient(uri=str(path), alias=alias)
    except MilvusException as exc:
        raise MilvusUnavailableError(
            f"Could not open the Milvus Lite file {path}: {short_error(exc)}. Milvus Lite allows one "
            "process per file; is another process using it?"
        ) from exc
    with _LITE_LOCK:
        _LITE_REFS[str(path)] = _LITE_REFS.get(str(path), 0) + 1
    return client


def release_lite(path: Path) -> None:
    """Stop the Milvus Lite server of ``path`` once no store of this process uses it."""
    key = str(path)
    with _LITE_LOCK:
        _LITE_REFS[key] -= 1
        if _LITE_REFS[key] > 0:
            return
        del _LITE_REFS[key]
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(key)


# --------------------------------------------------------------------------- server

def _client_kwargs(settings: MilvusSettings, alias: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"uri": settings.uri, "alias": alias, "timeout": settings.connect_timeout_s}
    optional = {
        "token": settings.token, "user": settings.user, "password": settings.password,
        "db_name": settings.db_name, "server_pem_path": settings.server_pem_path,
        "server_name": settings.server_name,
    }
    kwargs.update({k: v for k, v in optional.items() if v})
    if settings.secure:
        kwargs["secure"] = True
    return kwargs


def connect_server(settings: MilvusSettings, alias: str) -> MilvusClient:
    """Connect with a few short retries; total time is about attempts x connect_timeout_s."""
    kwargs = _client_kwargs(settings, alias)
    start, last_error = time.monotonic(), ""
    for attempt in range(1, settings.connect_attempts + 1):
        try:
            return MilvusClient(**kwargs)
        except MilvusException as exc:
            if is_auth_error(exc):
                raise auth_error(settings, exc) from None  # the gRPC chain adds nothing for the user
            last_error = short_error(exc)
            log.warning("Milvus at %s not reachable (attempt %d/%d): %s",
                        settings.display_uri, attempt, settings.connect_attempts, last_error)
        if attempt < settings.connect_attempts:
            time.sleep(settings.connect_backoff_s * 2 ** (attempt - 1))
    raise MilvusUnavailableError(
        f"Could not reach Milvus at {settings.display_uri} after {settings.connect_attempts} "
        f"attempt(s) in {time.monotonic() - start:.1f}s (last error: {last_error}). {START_SERVER_HINT}"
    )


def server_version(client: MilvusClient | None, settings: MilvusSettings, rpc: dict[str, Any]) -> str | None:
    """The server's version string; None for Milvus Lite (no ``GetVersion``) or when unknown."""
    if client is None or not settings.is_server:
        return None
    try:
        return str(client.get_server_version(**rpc))
    except MilvusException:
        return None
