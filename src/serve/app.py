"""The ASGI application: routes, error answers and the request gates, around one :class:`Service`.

Layers, outermost first: metrics (sees every answer) -> FastAPI's error answers -> without an API key, loopback
``Host`` and ``Origin`` only (403) -> API key (401 before the body is read) -> body size (413 before the body is
read when its length is declared) -> routes.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp

from src.gallery.rows import GalleryError as MilvusStoreError
from src.serve.auth import ApiKeyMiddleware, BrowserSafeMiddleware
from src.serve.limits import BodySizeLimit, ImageRejected
from src.serve.metrics import MetricsMiddleware
from src.serve.routes import ops_router, v1_router
from src.serve.service import Service

log = logging.getLogger(__name__)


def _validation_message(error: RequestValidationError) -> str:
    problems = [f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()]
    return "Bad request: " + "; ".join(problems) + " (see /docs for the parameters)."


def add_error_answers(app: FastAPI) -> None:
    """JSON ``{"detail": ...}`` answers; never a stack trace (those go to the service log)."""

    @app.exception_handler(ImageRejected)
    async def image_rejected(_: Request, error: ImageRejected) -> JSONResponse:
        return JSONResponse({"detail": error.message}, status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(error)}, status_code=400)

    @app.exception_handler(MilvusStoreError)
    async def gallery_unavailable(request: Request, error: MilvusStoreError) -> JSONResponse:
        log.error("%s %s: gallery error: %s", request.method, request.url.path, error)
        return JSONResponse({"detail": "The gallery (Milvus) failed or is unreachable; retry later. The service "
                             "log has the reason."}, status_code=503)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"detail": "Internal error; the service log has the details."}, status_code=500)


def create_app(service: Service, api_key: str | None) -> ASGIApp:
    """The ASGI app for uvicorn; its lifespan starts the batcher and, at shutdown, drains it and closes the gallery."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            await service.close()

    settings = service.settings
    app = FastAPI(title="facerec", summary="Face identification against a Milvus gallery", version="1",
                  lifespan=lifespan)
    routers = [v1_router(service, settings), ops_router(service)]
    if settings.cluster_output:
        from src.serve.cluster_routes import cluster_router

        routers.append(cluster_router(service, settings.cluster_output))
    for router in routers:
        app.include_router(router)
    add_error_answers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(ApiKeyMiddleware, key=api_key)
    if api_key is None:  # added last: runs first
        app.add_middleware(BrowserSafeMiddleware)
    # The routers' own routes carry the full templates (the app keeps included routers as opaque groups).
    return MetricsMiddleware(app, service.metrics, [route for router in routers for route in router.routes])
