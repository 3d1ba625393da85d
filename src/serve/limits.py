"""Bounds on what a client may send: body size (checked before the body is read) and decoded image size."""
from __future__ import annotations

import io
from dataclasses import dataclass

from fastapi import HTTPException
from PIL import Image, UnidentifiedImageError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from src.datamodules.face_dataset import load_rgb


class ImageRejected(Exception):
    """An uploaded file that is not a usable image; ``status`` is the HTTP answer (400, 413 or 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class DecodedImage:
    """An upload decoded to RGB, with what the stored copy needs (the original bytes and their format)."""

    image: Image.Image
    data: bytes
    format: str


class BodySizeLimit:
    """ASGI middleware: 413 for bodies above ``max_bytes``.

    A declared ``Content-Length`` above the limit is answered before one body byte is read. A body without one
    (chunked) is counted while it streams in and stopped at the limit: the HTTPException raised from ``receive``
    reaches FastAPI's error handling as it is (FastAPI re-raises HTTPExceptions met while reading a body).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def message(self, size: str) -> str:
        return (f"Request body is {size}; this service accepts at most {self.max_bytes / 2**20:.1f} MiB "
                "(serve.max_body_mb). Send fewer or smaller images.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse({"detail": self.message(f"{int(declared) / 2**20:.1f} MiB")}, status_code=413)
            await response(scope, receive, send)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, self.message(f"over {self.max_bytes / 2**20:.1f} MiB"))
            return message

        await self.app(scope, counted_receive, send)


def decode_image(data: bytes, name: str, max_pixels: int) -> DecodedImage:
    """Decode an uploaded file to RGB; the pixel count is checked from the header before decoding.

    Raises ImageRejected: 400 empty or corrupt, 413 more than ``max_pixels`` pixels, 415 not an image.
    """
    if not data:
        raise ImageRejected(400, f"{name} is empty; send the image file's bytes.")
    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            width, height, image_format = *probe.size, probe.format or "unknown"
    except UnidentifiedImageError:
        raise ImageRejected(415, f"{name} is not an image file Pillow can read; send a JPEG, PNG, BMP, PGM, "
                                 "TIFF or WebP image.") from None
    except Image.DecompressionBombError:
        raise ImageRejected(413, f"{name} declares more pixels than Pillow's safety limit; the service accepts at "
                                 f"most {max_pixels:,} pixels (serve.max_pixels).") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageRejected(400, f"{name} has an unreadable image header ({error}).") from None
    if width * height > max_pixels:
        raise ImageRejected(413, f"{name} is {width}x{height} = {width * height:,} pixels; the service accepts at "
                                 f"most {max_pixels:,} (serve.max_pixels). Send a smaller image (a face crop).")
    try:
        image = load_rgb(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise ImageRejected(413, f"{name} is too large to decode safely (Pillow's pixel limit).") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageRejected(400, f"{name} could not be decoded (corrupt or truncated {image_format}: "
                                 f"{error}).") from None
    return DecodedImage(image, data, image_format)
