"""API key: read from the environment, compared in constant time, required off loopback.

The key never comes from the Hydra config (which Hydra saves into the run dir) and is never logged.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from fastapi.security import APIKeyHeader
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

API_KEY_ENV = "FACEREC_API_KEY"
API_KEY_HEADER = "X-API-Key"
MIN_KEY_CHARS = 16
KEY_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def api_key_from_env(environ: Mapping[str, str] = os.environ) -> str | None:
    """The configured key, or None when ``FACEREC_API_KEY`` is unset or empty; a short key raises ValueError."""
    key = environ.get(API_KEY_ENV, "")
    if not key:
        return None
    if len(key) < MIN_KEY_CHARS:
        raise ValueError(f"{API_KEY_ENV} has {len(key)} characters; use at least {MIN_KEY_CHARS} ({KEY_HINT}).")
    return key


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1); False for 0.0.0.0 and other hosts."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, key: str | None) -> None:
    """Refuse to listen beyond loopback without an API key (anyone on the network could read the gallery)."""
    if key is None and not is_loopback(host):
        raise ValueError(f"serve.host={host} is reachable from other machines, but {API_KEY_ENV} is not set: "
                         f"set {API_KEY_ENV} (clients send it as {API_KEY_HEADER}; {KEY_HINT}) or use "
                         "serve.host=127.0.0.1.")


# Declares the header in the OpenAPI document (the "Authorize" button of /docs); the check itself is
# ApiKeyMiddleware, which runs before the request body is read, so an unauthenticated client cannot make the
# service parse a 10 MB upload.
API_KEY_SCHEME = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                              description=f"The service's key ({API_KEY_ENV} on the server).")


class ApiKeyMiddleware:
    """ASGI middleware: 401 for requests under ``protected_prefix`` without the right ``X-API-Key``."""

    def __init__(self, app: ASGIApp, key: str | None, protected_prefix: str = "/v1/") -> None:
        self.app = app
        self.expected = key.encode() if key is not None else None
        self.prefix = protected_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.expected is not None and scope["type"] == "http" and scope["path"].startswith(self.prefix):
            given = dict(scope["headers"]).get(API_KEY_HEADER.lower().encode(), b"")  # raw bytes, as sent
            # compare_digest takes the same time wherever the first difference is: no timing oracle on the key.
            if not hmac.compare_digest(given, self.expected):
                response = JSONResponse({"detail": f"Missing or wrong {API_KEY_HEADER} header."}, status_code=401,
                                        headers={"WWW-Authenticate": API_KEY_HEADER})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def host_name(host_header: str) -> str:
    """The host of a ``Host`` header value (``name``, ``name:port``, ``[v6]:port``), without port or brackets."""
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0]
    return host_header.rpartition(":")[0] if host_header.count(":") == 1 else host_header


def browser_safe_problem(headers: Mapping[bytes, bytes]) -> str | None:
    """Why a request to a key-less service is refused, or None. Such a service listens on loopback, but every web
    page the machine's browser opens can reach loopback too: a page's form POST is sent without asking (a CORS
    "simple request"), and DNS rebinding lets a page on ``evil.example`` read answers. Browsers always send the
    page's ``Origin`` on cross-origin POST/DELETE and the name they resolved in ``Host``, so both must be loopback."""
    host = headers.get(b"host", b"").decode("latin-1")
    if not is_loopback(host_name(host)):
        return f"Host {host!r} is not a loopback name"
    origin = headers.get(b"origin")
    if origin is not None and not is_loopback(urlsplit(origin.decode("latin-1")).hostname or ""):
        return f"Origin {origin.decode('latin-1')!r} is another site"
    return None


class BrowserSafeMiddleware:
    """ASGI middleware of the key-less mode: 403 for requests whose ``Host`` or ``Origin`` is not loopback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (problem := browser_safe_problem(dict(scope["headers"]))):
            response = JSONResponse({"detail": f"{problem}: without {API_KEY_ENV} this service answers only "
                                     "clients on this machine that address it as localhost/127.0.0.1/[::1] and "
                                     f"are not a web page of another site. Set {API_KEY_ENV} to serve API clients "
                                     "elsewhere."}, status_code=403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
