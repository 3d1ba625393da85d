"""Bounds on what a client may send: body size (checked before the body is read) and decoded image size."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import HTTPException
from PIL import Image
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from src.datamodules.image_decode import (
    ImageTooLargeError,
    UnknownFormatError,
    UnsupportedImageError,
    load_rgb,
    open_image,
)

MAX_PIXELS_OPTION = "serve.max_pixels"


class ImageRejected(Exception):
    """An uploaded file that is not a usable image; ``status`` is the HTTP answer (400, 413 or 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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


@contextmanager
def rejected_as_http(name: str) -> Iterator[None]:
    """Turn the decoder's refusals into ImageRejected: 413 over the pixel cap, 415 a format or mode the decoder
    refuses, 400 a broken file."""
    try:
        yield
    except (ImageTooLargeError, Image.DecompressionBombError) as error:
        raise ImageRejected(413, f"{error} Send a smaller image (a face crop).") from None
    except (UnsupportedImageError, UnknownFormatError) as error:
        raise ImageRejected(415, str(error)) from None
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageRejected(400, f"{name} could not be decoded (corrupt or truncated: {error}).") from None


@dataclass(frozen=True)
class ImageHeader:
    """What an upload's header says, read without decoding a pixel."""

    format: str
    pixels: int


def read_header(data: bytes, name: str, max_pixels: int) -> ImageHeader:
    """Format and pixel count of an upload, checked against the allow-list and ``max_pixels`` (ImageRejected)."""
    if not data:
        raise ImageRejected(400, f"{name} is empty; send the image file's bytes.")
    with rejected_as_http(name), open_image(data, name, max_pixels, MAX_PIXELS_OPTION) as probe:
        return ImageHeader(probe.format or "unknown", probe.size[0] * probe.size[1])


def decode_image(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """Decode an upload (whose header :func:`read_header` checked) to RGB with the one decoder."""
    with rejected_as_http(name):
        return load_rgb(data, name, max_pixels, MAX_PIXELS_OPTION)
