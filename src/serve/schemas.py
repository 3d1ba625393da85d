"""Response bodies of the HTTP API (they also make the OpenAPI document at /openapi.json and /docs)."""
from __future__ import annotations

from pydantic import BaseModel, Field


class Match(BaseModel):
    person_id: str
    similarity: float = Field(description="Cosine similarity to the gallery image (higher is closer).")
    image_path: str


class Identification(BaseModel):
    person_id: str = Field(description='The best match, or "unknown" when its similarity is below the threshold.')
    known: bool = Field(description="similarity >= threshold.")
    similarity: float | None = Field(description="Similarity of the best match; null for an empty gallery.")
    threshold: float
    threshold_source: str = Field(description="Where the threshold came from (request, config, evaluation report).")
    matches: list[Match]
    batch_size: int = Field(description="Queries embedded and searched together with this one (micro-batching).")
    timings_ms: dict[str, float] = Field(description="decode, queue, embed, search and total milliseconds.")


class Identifications(BaseModel):
    results: list[Identification] = Field(description="One answer per uploaded image, in upload order.")


class Relabelled(BaseModel):
    image_path: str
    previous_person_id: str = Field(description="The person this image was enrolled under before this request.")


class Enrolled(BaseModel):
    person_id: str
    rows_written: int
    image_paths: list[str] = Field(description="Where each image is kept (serve.upload_dir/<person_id>/, by "
                                               "content hash).")
    relabelled: list[Relabelled] = Field(description="Images that were in the gallery under another person: an "
                                                     "image shows one person, so their rows now belong to this one.")
    gallery_rows: int


class Removed(BaseModel):
    person_id: str
    rows_deleted: int
    files_deleted: int = Field(description="Uploaded images of the person deleted from serve.upload_dir.")
    gallery_rows: int


class PersonRows(BaseModel):
    person_id: str
    rows: int


class Persons(BaseModel):
    persons: list[PersonRows]
    total_rows: int


class Ready(BaseModel):
    ready: bool
    gallery_rows: int
    collection: str
    model_id: str
    tta_mode: str
