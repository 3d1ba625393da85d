"""HTTP endpoints: the versioned API under ``/v1`` (API key) and the operational ones (``/health``, ``/ready``,
``/metrics``; no key, no personal data)."""
from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Path, Query, Request, Response, Security, UploadFile
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from src.serve import schemas
from src.serve.auth import API_KEY_SCHEME
from src.serve.service import Service
from src.serve.settings import ServeSettings

log = logging.getLogger(__name__)

PersonId = Annotated[str, Path(description="The person's id, as in the gallery (no '/' in a URL path segment).")]
Threshold = Annotated[float | None, Query(ge=-1.0, le=1.0, description=(
    "Similarity below which the answer is unknown; default: the service's (serve.threshold, the evaluation "
    "report of this model, or serve.default_threshold)."))]


def v1_router(service: Service, settings: ServeSettings) -> APIRouter:
    """Identify, enroll, remove and list people."""
    router = APIRouter(prefix="/v1", dependencies=[Security(API_KEY_SCHEME)])

    def top_k() -> Any:  # a query parameter whose default and bound come from the settings
        return Query(settings.top_k, ge=1, le=settings.max_top_k, description=f"Matches to return (1-"
                     f"{settings.max_top_k}); default serve.top_k.")

    @router.post("/identify", response_model=schemas.Identification, tags=["identify"])
    async def identify(request: Request, image: Annotated[UploadFile, File(description="One face image.")],
                       top_k: int = top_k(), threshold: Threshold = None) -> dict[str, Any]:
        """Who is this? The best gallery match and the top-k list; concurrent calls are micro-batched."""
        sent = len((await request.form()).getlist("image"))  # the form is parsed once; this reads FastAPI's copy
        if sent > 1:  # FastAPI would answer for the last one and drop the others
            raise HTTPException(400, f"{sent} image fields in one /v1/identify request; it takes one image. Send "
                                     "several to /v1/identify/batch (one answer per image).")
        return (await service.identify([image], top_k, threshold))[0]

    @router.post("/identify/batch", response_model=schemas.Identifications, tags=["identify"])
    async def identify_batch(image: Annotated[list[UploadFile], File(description="Face images (repeat the field).")],
                             top_k: int = top_k(), threshold: Threshold = None) -> dict[str, Any]:
        """Several images in one request; answers in upload order."""
        return {"results": await service.identify(image, top_k, threshold)}

    @router.post("/persons/{person_id}/faces", response_model=schemas.Enrolled, tags=["gallery"])
    async def enroll(person_id: PersonId,
                     image: Annotated[list[UploadFile], File(description="The person's face images.")]
                     ) -> dict[str, Any]:
        """Add images of a person (re-sending an image replaces its row, never duplicates it)."""
        return await service.enroll(person_id, image)

    @router.delete("/persons/{person_id}", response_model=schemas.Removed, tags=["gallery"])
    async def remove(person_id: PersonId) -> dict[str, Any]:
        """Delete every row of a person and the images uploaded for them."""
        return await service.remove(person_id)

    @router.get("/persons", response_model=schemas.Persons, tags=["gallery"])
    async def persons() -> dict[str, Any]:
        """Every person in the gallery with their row count."""
        return await service.persons()

    return router


def ops_router(service: Service) -> APIRouter:
    """Liveness, readiness and Prometheus metrics."""
    router = APIRouter(tags=["operations"])

    @router.get("/health")
    async def health() -> dict[str, str]:
        """The process is up and answering (no model or Milvus call)."""
        return {"status": "ok"}

    @router.get("/ready", response_model=schemas.Ready, responses={503: {"description": "Milvus is not answering"}})
    async def ready() -> Any:
        """The model is loaded and Milvus answers a row count."""
        try:
            return await service.ready()
        except Exception as error:  # any failure means "do not send traffic here"; the reason goes to the log
            log.warning("Readiness check failed: %s", error)
            return JSONResponse({"ready": False, "detail": "The gallery (Milvus) is not answering; see the service "
                                 "log."}, status_code=503)

    @router.get("/metrics")
    async def metrics() -> Response:
        """Prometheus text format: requests, errors and latency by endpoint, batch sizes, identify stages."""
        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router
