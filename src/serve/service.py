"""The asynchronous side of the service: reads uploads, decodes them off the event loop, and hands the work
to the one gallery thread (identify through the micro-batcher, the rest directly)."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import torch
from fastapi import HTTPException, UploadFile
from starlette.concurrency import run_in_threadpool

from src.inference.threshold import Threshold
from src.serve.batching import MicroBatcher
from src.serve.budget import DecodeBudget, image_cost
from src.serve.engine import Face, NoFaceError, Query, Recognizer
from src.serve.limits import ImageHeader, decode_image, read_header
from src.serve.metrics import ServiceMetrics
from src.serve.settings import ServeSettings

V = TypeVar("V")
READY_TIMEOUT_S = 10.0


def field_name(index: int, upload: UploadFile) -> str:
    """How an upload is named in error messages: its position and file name."""
    return f"image #{index + 1} ({upload.filename or 'no file name'})"


@dataclass(frozen=True)
class Upload:
    """One uploaded file, read, with its header checked."""

    name: str
    data: bytes
    header: ImageHeader


class Service:
    """Owns the gallery thread and the batcher; ``start``/``close`` run in the app's lifespan."""

    def __init__(self, recognizer: Recognizer, settings: ServeSettings, metrics: ServiceMetrics) -> None:
        self.recognizer = recognizer
        self.settings = settings
        self.metrics = metrics
        # One thread owns the network and the Milvus client: calls never interleave, and a batch being
        # processed lets the next one fill up behind it.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gallery")
        self.decoding = 0  # images between arrival and submission to the batcher
        self.budget = DecodeBudget(settings.decode_budget_bytes)
        self.batcher: MicroBatcher[Query, dict[str, Any]] = MicroBatcher(
            recognizer.identify, self.executor, settings.max_batch, settings.max_wait_ms / 1e3,
            more_coming=lambda: self.decoding > 0, on_batch=metrics.batch_size.observe)

    def start(self) -> None:
        self.batcher.start()

    async def close(self) -> None:
        """Answer what is still queued, then release the model thread and the Milvus connection."""
        await self.batcher.close()
        await self.run(self.recognizer.close)
        self.executor.shutdown(wait=True)

    async def run(self, function: Callable[..., V], *args: Any) -> V:
        """``function(*args)`` on the gallery thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, partial(function, *args))

    def check_count(self, uploads: list[UploadFile]) -> None:
        """413 for more images in one request than ``serve.max_images``."""
        if len(uploads) > self.settings.max_images:
            raise HTTPException(413, f"{len(uploads)} images in one request; the limit is {self.settings.max_images} "
                                     "(serve.max_images). Split the request.")

    async def read(self, uploads: list[UploadFile]) -> list[Upload]:
        """Read every upload and its header (format and size, no pixel decoded): the first bad one answers, and
        a request whose images together decode to more than ``serve.max_request_pixels`` or hold one image that
        could never fit the decoding budget is refused (413) before anything is decoded."""
        self.check_count(uploads)
        read = []
        for index, upload in enumerate(uploads):
            name, data = field_name(index, upload), await upload.read()
            read.append(Upload(name, data, read_header(data, name, self.settings.max_pixels)))
        pixels = sum(u.header.pixels for u in read)
        if pixels > self.settings.max_request_pixels:
            raise HTTPException(413, f"The {len(read)} images of this request decode to {pixels:,} pixels; the "
                                     f"service decodes at most {self.settings.max_request_pixels:,} per request "
                                     "(serve.max_request_pixels). Send fewer or smaller images (face crops).")
        for upload in read:
            if image_cost(upload.header.pixels) > self.budget.capacity:
                raise HTTPException(413, f"{upload.name} needs {image_cost(upload.header.pixels) / 2**20:,.0f} MiB "
                                         f"to decode; the service decodes within {self.budget.capacity / 2**20:,.0f}"
                                         " MiB (serve.decode_memory_mb). Send a smaller image.")
        return read

    async def prepare(self, upload: Upload) -> torch.Tensor:
        """Decode one upload and make its network input, within the decoding budget (the decoded image is
        dropped before the budget is given back; only the small tensor is kept)."""
        self.decoding += 1  # only touched on the event loop thread
        try:
            async with self.budget.hold(image_cost(upload.header.pixels)):
                return await run_in_threadpool(self._tensor, upload)
        except NoFaceError as error:
            raise HTTPException(422, f"{upload.name}: {error}") from None
        finally:
            self.decoding -= 1

    def _tensor(self, upload: Upload) -> torch.Tensor:
        return self.recognizer.to_tensor(decode_image(upload.data, upload.name, self.settings.max_pixels))

    async def identify(self, uploads: list[UploadFile], top_k: int, threshold: float | None) -> list[dict[str, Any]]:
        """Each image through the batcher; the answers carry their timings and batch size, in upload order."""
        read = await self.read(uploads)
        return list(await asyncio.gather(*(self._identify(upload, top_k, threshold) for upload in read)))

    async def _identify(self, upload: Upload, top_k: int, threshold: float | None) -> dict[str, Any]:
        began = time.perf_counter()
        tensor = await self.prepare(upload)
        decoded = time.perf_counter()
        chosen = self.recognizer.threshold if threshold is None else Threshold(threshold, "request (threshold=)")
        answer, batch = await self.batcher.submit(Query(tensor, top_k, chosen))
        answer["timings_ms"].update(decode_ms=1e3 * (decoded - began), queue_ms=1e3 * batch.queued_s,
                                    total_ms=1e3 * (time.perf_counter() - began))
        self.metrics.observe_stages(answer["timings_ms"])
        return {**answer, "batch_size": batch.size}

    async def enroll(self, person_id: str, uploads: list[UploadFile]) -> dict[str, Any]:
        """Decode every upload first, one budgeted image at a time (the first bad one answers and nothing is
        written), then enroll them."""
        read = await self.read(uploads)
        tensors = [await self.prepare(upload) for upload in read]
        faces = [Face(t, u.data, u.header.format, u.name) for t, u in zip(tensors, read, strict=True)]
        return await self._gallery_write(self.recognizer.enroll, person_id, faces, self.settings.max_batch)

    async def remove(self, person_id: str) -> dict[str, Any]:
        answer = await self._gallery_write(self.recognizer.remove, person_id)
        if not answer["rows_deleted"]:
            raise HTTPException(404, f"No rows of person {person_id!r} in the gallery (GET /v1/persons lists them).")
        return answer

    async def _gallery_write(self, function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        try:
            answer = await self.run(function, *args)
        except ValueError as error:  # a person id or images the gallery refuses; nothing was written
            raise HTTPException(400, str(error)) from None
        self.metrics.gallery_rows.set(answer["gallery_rows"])
        return answer

    async def persons(self) -> dict[str, Any]:
        return await self.run(self.recognizer.persons)

    async def ready(self) -> dict[str, Any]:
        """Model loaded and Milvus answering (a row count within READY_TIMEOUT_S)."""
        gallery = self.recognizer.gallery
        rows = await asyncio.wait_for(self.run(gallery.count), READY_TIMEOUT_S)
        self.metrics.gallery_rows.set(rows)
        return {"ready": True, "gallery_rows": rows, "collection": gallery.store.collection_name,
                "model_id": gallery.model.model_id, "tta_mode": gallery.model.tta_mode}
