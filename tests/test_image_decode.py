"""Every image mode decodes to the exact 8-bit RGB it shows, or is refused with a reason (image_decode)."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from src.datamodules.face_dataset import FaceImageDataset, load_rgb
from src.datamodules.folder_scan import scan_image_folder
from src.datamodules.image_decode import (
    BACKGROUND,
    DEFAULT_MAX_PIXELS,
    ENV_MAX_PIXELS,
    ImageTooLargeError,
    UnknownFormatError,
    UnsupportedImageError,
)
from src.datamodules.transforms import eval_transform
from src.models.backbone import FaceEmbedder


def _pixels(source) -> np.ndarray:
    image = load_rgb(source)
    assert image.mode == "RGB"
    return np.asarray(image).astype(int)


def _astronaut_grey() -> np.ndarray:
    """The face region of scikit-image's astronaut photo, 8-bit greyscale (a real face, bundled offline)."""
    rgb = skdata.astronaut()[16:208, 160:320].astype(float)
    return np.round(rgb @ [0.299, 0.587, 0.114]).astype(np.uint8)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "PPM"])
def test_16_bit_grey_is_rescaled_not_clipped(tmp_path, fmt):
    """A 16-bit gradient decodes to the 8-bit gradient (PNG/TIFF open as I;16, 16-bit PGM as I)."""
    gradient = np.linspace(0, 65535, 48 * 64).reshape(48, 64).astype(np.uint16)
    path = tmp_path / f"gradient.{fmt.lower()}"
    Image.fromarray(gradient).save(path, fmt)
    decoded = _pixels(path)
    expected = np.round(gradient / 257.0)
    assert np.abs(decoded - expected[..., None]).max() <= 1
    assert decoded.min() == 0 and decoded.max() == 255 and len(np.unique(decoded)) == 256  # not a white frame


def test_16_bit_png_embeds_like_its_8_bit_twin(tmp_path):
    """The same face saved as 8-bit and as 16-bit (v * 257) gives identical network inputs and embeddings."""
    face = _astronaut_grey()
    Image.fromarray(face).save(tmp_path / "face8.png")
    Image.fromarray(face.astype(np.uint16) * 257).save(tmp_path / "face16.png")
    assert Image.open(tmp_path / "face16.png").mode == "I;16"
    dataset = FaceImageDataset([(tmp_path / "face8.png", 0), (tmp_path / "face16.png", 0)], eval_transform(32))
    inputs = torch.stack([dataset[0][0], dataset[1][0]])
    assert torch.equal(inputs[0], inputs[1])
    torch.manual_seed(0)
    model = FaceEmbedder(depth=18, embedding_dim=64).eval()
    with torch.no_grad():
        embeddings = torch.nn.functional.normalize(model(inputs))
    assert float(embeddings[0] @ embeddings[1]) > 0.9999


def test_alpha_is_composited_on_white(tmp_path):
    """RGBA and LA: transparent pixels become the white background whatever colour the file stores under them."""
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)     # opaque: kept
    rgba[0, 1] = (0, 0, 0, 0)          # transparent black: white
    rgba[0, 2] = (200, 0, 0, 128)      # half: blended with white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    decoded = _pixels(tmp_path / "rgba.png")
    assert decoded[0, 0].tolist() == [10, 20, 30]
    assert decoded[0, 1].tolist() == list(BACKGROUND) == [255, 255, 255]
    blend = [round((c * 128 + 255 * 127) / 255) for c in (200, 0, 0)]
    assert np.abs(decoded[0, 2] - blend).max() <= 1
    la = np.array([[[90, 255], [0, 0]]], np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    assert _pixels(tmp_path / "la.png")[0].tolist() == [[90, 90, 90], [255, 255, 255]]


def test_palette_with_transparency_and_1_bit(tmp_path):
    palette = Image.new("P", (3, 1))
    palette.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (253 * 3))
    for x, index in enumerate([1, 0, 2]):
        palette.putpixel((x, 0), index)
    palette.save(tmp_path / "palette.png", transparency=0)  # index 0 (black) is transparent
    assert _pixels(tmp_path / "palette.png")[0].tolist() == [[255, 0, 0], [255, 255, 255], [0, 0, 255]]
    bits = Image.new("1", (2, 1))
    bits.putpixel((1, 0), 1)
    bits.save(tmp_path / "bits.png")
    assert _pixels(tmp_path / "bits.png")[0].tolist() == [[0, 0, 0], [255, 255, 255]]


def test_cmyk_and_file_objects():
    cmyk = Image.new("CMYK", (2, 1))
    cmyk.putpixel((0, 0), (255, 0, 0, 0))  # pure cyan
    buffer = io.BytesIO()
    cmyk.save(buffer, "TIFF")
    buffer.seek(0)
    assert _pixels(buffer)[0].tolist() == [[0, 255, 255], [255, 255, 255]]


def test_exif_orientation_is_applied(tmp_path):
    """Orientation 6 (camera held sideways): the decoded image is rotated 90 degrees clockwise, as viewers show it."""
    stored = np.zeros((2, 3, 3), np.uint8)
    stored[0, 0] = (255, 0, 0)  # red top-left as stored
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "rotated.png", exif=exif)
    decoded = _pixels(tmp_path / "rotated.png")
    assert decoded.shape == (3, 2, 3)
    assert np.array_equal(decoded, np.rot90(stored, k=-1))  # red now top-right


@pytest.mark.parametrize("mode, dtype", [("F", np.float32), ("I", np.int32)])
def test_float_and_32_bit_images_are_refused(tmp_path, mode, dtype):
    path = tmp_path / f"{mode}.tif"
    Image.fromarray(np.full((4, 4), 70000, dtype), mode).save(path)
    with pytest.raises(UnsupportedImageError, match="no defined white level.*8- or 16-bit") as error:
        load_rgb(path)
    assert str(path) in str(error.value)


def test_pixel_cap_refuses_before_decoding(tmp_path, monkeypatch):
    """Default cap 40 MP: a 42 MP image is refused by its header; the override is named and works."""
    big = tmp_path / "big.png"
    Image.new("1", (7000, 6000)).save(big)  # 42 MP, a few kB on disk
    with pytest.raises(ImageTooLargeError, match=f"{DEFAULT_MAX_PIXELS:,}.*{ENV_MAX_PIXELS}"):
        load_rgb(big)
    monkeypatch.setenv(ENV_MAX_PIXELS, "50000000")
    assert load_rgb(big).size == (7000, 6000)
    monkeypatch.setenv(ENV_MAX_PIXELS, str(10**12))
    with pytest.raises(ValueError, match="decompression-bomb limit"):
        load_rgb(big)


def _write(root: Path, person: str, name: str, image: Image.Image) -> Path:
    (root / person).mkdir(parents=True, exist_ok=True)
    image.save(root / person / name)
    return root / person / name


def test_scan_applies_the_same_rules_and_counts_refusals(tmp_path, monkeypatch):
    """The folder scan refuses exactly what load_rgb refuses; refused files are counted, nothing is changed."""
    root = tmp_path / "faces"
    face = _astronaut_grey()
    for person in ("ann", "bob"):
        _write(root, person, "a.png", Image.fromarray(face))
        _write(root, person, "b16.png", Image.fromarray(face.astype(np.uint16) * 257))
    _write(root, "ann", "float.tif", Image.fromarray(face.astype(np.float32), "F"))
    _write(root, "bob", "large.png", Image.new("L", (200, 200)))
    monkeypatch.setenv(ENV_MAX_PIXELS, str(192 * 160))  # the face crops fit, the 200 x 200 image does not
    for decode in (True, False):
        scan = scan_image_folder(root, decode=decode, workers=2)
        skipped = {path.name: reason for path, reason in scan.skipped}
        assert set(skipped) == {"float.tif", "large.png"}
        assert skipped["float.tif"].startswith("unsupported image") and "no defined white level" in skipped["float.tif"]
        assert ENV_MAX_PIXELS in skipped["large.png"]
        assert {k: [p.name for p in v] for k, v in scan.identities.items()} == {"ann": ["a.png", "b16.png"],
                                                                              "bob": ["a.png", "b16.png"]}
    monkeypatch.setenv(ENV_MAX_PIXELS, "40MP")
    with pytest.raises(ValueError, match=f"{ENV_MAX_PIXELS}='40MP' is not an integer"):
        scan_image_folder(root)


def test_only_allow_listed_formats_are_opened(tmp_path, monkeypatch):
    """A PostScript file named photo.jpg is refused before any plugin sees it: the `gs` on PATH (which Pillow's
    EPS plugin would run to rasterise it) is never called. Bytes in memory go through the same checks."""
    from PIL import EpsImagePlugin

    marker, tools = tmp_path / "ghostscript_ran", tmp_path / "bin"
    tools.mkdir()
    (tools / "gs").write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    (tools / "gs").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)  # found again on the PATH above
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\nnewpath 0 0 moveto 64 64 lineto stroke\n"
                      b"showpage\n")
    with pytest.raises(UnknownFormatError, match=r"photo\.jpg is not a JPEG, PNG, PGM/PPM/PBM, BMP, TIFF, WebP or GIF"):
        load_rgb(photo)
    with pytest.raises(UnknownFormatError, match=r"^record 7 is not a JPEG"):
        load_rgb(photo.read_bytes(), "record 7")
    assert not marker.exists()
    for fmt in ("JPEG", "PNG", "PPM", "BMP", "TIFF", "WEBP", "GIF"):
        encoded = io.BytesIO()
        Image.fromarray(_astronaut_grey()).convert("RGB").save(encoded, fmt)
        assert load_rgb(encoded.getvalue(), fmt).size == (160, 192), fmt
    icon = io.BytesIO()
    Image.new("RGB", (32, 32)).save(icon, "ICO")  # a format Pillow reads, but not on the list
    with pytest.raises(UnknownFormatError):
        load_rgb(icon.getvalue())
