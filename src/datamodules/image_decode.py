"""Decode any supported image file to exact 8-bit RGB, or refuse it with a message that says why.

``Image.convert("RGB")`` alone is wrong for several modes: a 16-bit greyscale PNG (mode ``I;16``) is
clipped at 255 and becomes a white frame, transparent pixels keep whatever colour the file stored under
them, and the EXIF orientation is ignored. :func:`load_rgb` handles each mode explicitly:

* 16-bit greyscale (``I;16*``, and ``I`` from PGM/PPM, which Pillow scales to 0..65535): rescaled by the
  bit depth (``round(v * 255 / 65535)``), so an 8-bit image saved as 16 bits decodes to itself;
* 32-bit integer (``I`` from TIFF) and floating point (``F``): refused, they have no defined white level;
* transparency (``LA``, ``RGBA``, ``PA``, palette or colour-key transparency): composited on white
  (:data:`BACKGROUND`), so the result does not depend on the colour a file stores under transparent pixels;
* palette, 1-bit, CMYK, YCbCr, LAB, ...: Pillow's conversion to RGB;
* EXIF orientation is applied (``ImageOps.exif_transpose``).

Images larger than :func:`max_pixels` (width x height; default 40 MP, override with the environment
variable ``FACEREC_MAX_IMAGE_PIXELS``) are refused before any pixel is decoded, below Pillow's own
decompression-bomb limit, so a huge or malicious file cannot exhaust memory.

Only the formats in :data:`ALLOWED_FORMATS` are opened (JPEG, PNG, PGM/PPM/PBM, BMP, TIFF, WebP, GIF's first
frame): Pillow is asked to identify the file among these alone (``Image.open(formats=...)``), so no other
plugin ever sees the bytes. A PostScript file named ``photo.jpg`` is refused before Ghostscript could run.
Files, uploads, RecordIO payloads and ``.bin`` entries all go through :func:`load_rgb`; in-memory bytes carry
a ``name`` (file and record or pair) for the error messages.
"""
from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ENV_MAX_PIXELS = "FACEREC_MAX_IMAGE_PIXELS"
# 40 MP: a 7,300 x 5,500 photo; aligned face crops are ~0.01 MP. Decoded RGB at this size is 120 MB.
DEFAULT_MAX_PIXELS = 40_000_000
BACKGROUND = (255, 255, 255)  # transparent pixels are composited on white
# Pillow format names; PPM covers PGM and PBM, JPEG covers camera MPO files, GIF decodes its first frame.
ALLOWED_FORMATS = ("JPEG", "PNG", "PPM", "BMP", "TIFF", "WEBP", "GIF")
FORMATS_TEXT = "JPEG, PNG, PGM/PPM/PBM, BMP, TIFF, WebP or GIF"

ImageSource = str | Path | BinaryIO | bytes


class UnsupportedImageError(ValueError):
    """The file is an image, but one that cannot be converted to 8-bit RGB exactly (or at all)."""


class ImageTooLargeError(UnsupportedImageError):
    """The image has more pixels than the configured cap."""


class UnknownFormatError(ValueError):
    """Not an image in one of :data:`ALLOWED_FORMATS` (maybe no image at all: no other decoder is tried)."""


def max_pixels() -> int:
    """The pixel cap: ``$FACEREC_MAX_IMAGE_PIXELS`` or 40,000,000; never above Pillow's bomb limit."""
    raw = os.environ.get(ENV_MAX_PIXELS, "").strip()
    try:
        value = int(raw) if raw else DEFAULT_MAX_PIXELS
    except ValueError:
        raise ValueError(f"{ENV_MAX_PIXELS}={raw!r} is not an integer number of pixels (default "
                         f"{DEFAULT_MAX_PIXELS}).") from None
    limit = Image.MAX_IMAGE_PIXELS
    if value < 1 or (limit is not None and value > limit):
        raise ValueError(f"{ENV_MAX_PIXELS}={value} must be between 1 and Pillow's decompression-bomb limit "
                         f"{limit} (PIL.Image.MAX_IMAGE_PIXELS).")
    return value


def _name(source: ImageSource) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    return str(getattr(source, "name", "image data"))


def _too_large(name: str, pixels: str, cap: int, cap_option: str) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"{name}: {pixels} pixels is more than the {cap:,}-pixel cap for one image; refused without decoding. "
        f"Downscale the image, or raise the cap ({cap_option})."
    )


def _sixteen_bit(image: Image.Image) -> bool:
    """True for greyscale images whose samples span 0..65535 (Pillow scales PGM/PPM maxval > 255 to that)."""
    return image.mode.startswith("I;16") or (image.mode == "I" and image.format == "PPM")


def _check_mode(image: Image.Image, name: str) -> None:
    if image.mode in ("I", "F") and not _sixteen_bit(image):
        kind = "floating-point" if image.mode == "F" else "32-bit integer"
        raise UnsupportedImageError(
            f"{name}: {kind} image (Pillow mode {image.mode}) has no defined white level, so it cannot be "
            f"converted to 8 bits without guessing; save it as an 8- or 16-bit image."
        )


@contextmanager
def open_image(source: ImageSource, name: str | None = None, cap: int | None = None,
               cap_option: str = f"environment variable {ENV_MAX_PIXELS}=<pixels>") -> Iterator[Image.Image]:
    """Open ``source`` (header only: a path, a binary file object or bytes) after checking its format against
    :data:`ALLOWED_FORMATS`, its size against ``cap`` (default :func:`max_pixels`) and its mode. ``name`` is how
    errors call it (default: the path or the file object's name); ``cap_option`` is the setting that raises the cap.
    """
    name, cap = name or _name(source), cap or max_pixels()
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)
    try:
        image = Image.open(source, formats=ALLOWED_FORMATS)
    except UnidentifiedImageError:
        raise UnknownFormatError(f"{name} is not a {FORMATS_TEXT} image; other formats (EPS, PSD, ICO, ...) are "
                                 f"refused without being decoded. Convert it to PNG or JPEG.") from None
    except Image.DecompressionBombError as error:  # over twice Pillow's limit: refused by Pillow at open
        raise _too_large(name, "more than " + f"{2 * Image.MAX_IMAGE_PIXELS:,}", cap, cap_option) from error
    with image:
        width, height = image.size
        if width * height > cap:
            raise _too_large(name, f"{width} x {height} = {width * height:,}", cap, cap_option)
        _check_mode(image, name)
        yield image


def _sixteen_to_rgb(image: Image.Image) -> Image.Image:
    samples = np.asarray(image).astype(np.uint32)  # I;16 (any byte order) and I hold 0..65535 here
    eight = (samples * 255 + 32767) // 65535  # round(v / 257): an 8-bit value v saved as v * 257 decodes to v
    return Image.fromarray(eight.astype(np.uint8), "L").convert("RGB")


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("LA", "La", "RGBA", "RGBa", "PA") or "transparency" in image.info


def to_rgb(image: Image.Image, name: str = "image") -> Image.Image:
    """Convert a loaded image to 8-bit RGB as described in the module docstring (orientation included)."""
    _check_mode(image, name)
    sixteen = _sixteen_bit(image)  # before the transpose, whose copy forgets the file format
    image = ImageOps.exif_transpose(image)
    if sixteen:
        return _sixteen_to_rgb(image)
    try:
        if not _has_alpha(image):
            return image.convert("RGB")
        rgba = image.convert("RGBA")  # applies palette and colour-key transparency too
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (*BACKGROUND, 255)), rgba).convert("RGB")
    except ValueError as error:
        raise UnsupportedImageError(f"{name}: Pillow mode {image.mode} cannot be converted to RGB ({error}); "
                                    f"save the image as 8-bit RGB or greyscale.") from error


def load_rgb(source: ImageSource, name: str | None = None, cap: int | None = None,
             cap_option: str = f"environment variable {ENV_MAX_PIXELS}=<pixels>") -> Image.Image:
    """Decode an image (path, binary file object or bytes) to 8-bit RGB; arguments as :func:`open_image`.

    Raises :class:`UnknownFormatError` for files outside :data:`ALLOWED_FORMATS`, :class:`ImageTooLargeError`
    above the pixel cap, :class:`UnsupportedImageError` for modes that cannot be converted exactly, and Pillow's
    errors (``OSError``, ``SyntaxError``) for broken files.
    """
    with open_image(source, name, cap, cap_option) as image:
        image.load()
        return to_rgb(image, name or _name(source))
