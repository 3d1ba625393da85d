"""The clustering endpoints under ``/v1`` (API key): list the clusters of one clustering output, fetch a cluster's
contact sheet, and name a cluster (its faces are enrolled into the service's gallery, then identify answers the
name). Mounted when ``serve.cluster_output`` names a ``facerec-cluster`` output dir."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Security
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from src.cluster.edit import name_cluster
from src.cluster.output import read_output
from src.serve.auth import API_KEY_SCHEME
from src.serve.service import Service

ClusterId = Annotated[int, PathParam(ge=0, description="The cluster's id, as in GET /v1/clusters.")]


class NameRequest(BaseModel):
    person_id: str = Field(min_length=1, description="The person these faces show (becomes their gallery id).")


def cluster_router(service: Service, output: str | Path) -> APIRouter:
    """List clusters, get a contact sheet, name a cluster."""
    output = Path(output)
    router = APIRouter(prefix="/v1/clusters", dependencies=[Security(API_KEY_SCHEME)], tags=["clusters"])

    def clusters() -> dict[str, Any]:
        try:
            return read_output(output)[0]
        except FileNotFoundError as error:
            raise HTTPException(404, str(error)) from None

    @router.get("")
    async def list_clusters() -> dict[str, Any]:
        """Every cluster (id, person_id once named, size, faces with source image, box and similarity to the
        cluster's centre) and the number of faces left alone."""
        result = await service.run(clusters)
        return {"clusters": [{key: c[key] for key in ("id", "person_id", "size", "faces")} for c in result["clusters"]],
                "unclustered": len(result["unclustered"]), "threshold": result["threshold"]}

    @router.get("/{cluster_id}/sheet", response_class=FileResponse)
    async def sheet(cluster_id: ClusterId) -> FileResponse:
        """The cluster's contact sheet (PNG): the faces to look at before naming it."""
        path = output / "sheets" / f"{cluster_id}.png"
        if not path.is_file():
            raise HTTPException(404, f"No cluster {cluster_id} (GET /v1/clusters lists them).")
        return FileResponse(path, media_type="image/png")

    @router.post("/{cluster_id}/name")
    async def name(cluster_id: ClusterId, body: NameRequest) -> dict[str, Any]:
        """Enroll the cluster's faces as ``person_id``; identify then answers that name for them."""
        try:
            answer = await service.run(name_cluster, output, cluster_id, body.person_id, service.recognizer.gallery)
        except FileNotFoundError as error:
            raise HTTPException(404, str(error)) from None
        except ValueError as error:  # an unknown cluster, a refused person id, another model: nothing written
            raise HTTPException(400, str(error)) from None
        service.metrics.gallery_rows.set(answer["gallery_rows"])
        return answer

    return router
