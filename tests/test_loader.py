"""The training data pipeline of issue 21: fast JPEG decoding (same pixels as load_rgb), batched augmentation on
the device (same distribution as the per-image transform), unchanged evaluation inputs, GPU-decode fallback,
RecordIO read orders."""
from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
import simplejpeg
import torch
from PIL import Image
from torchvision.transforms import v2 as T

from src.datamodules import FaceImageFolderDataModule
from src.datamodules.batch_augment import BatchAugment, crop_boxes
from src.datamodules.fast_decode import DecodeToTensor, decode_rgb, fast_path
from src.datamodules.gpu_decode import collate_mixed, decode_batch, resolve_decode_device
from src.datamodules.image_decode import ENV_MAX_PIXELS, ImageTooLargeError, load_rgb
from src.datamodules.read_order import ShuffleBufferSampler
from src.datamodules.recordio import RecordFaceDataModule
from src.datamodules.synthetic_faces import render_synthetic_faces
from src.datamodules.transforms import eval_transform, train_transform
from src.models.backbone import build_embedder
from src.pack import pack

SIZE = 32


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    """12 synthetic people x 4 images at 40 px (not SIZE: the loaders must resize them)."""
    root = tmp_path_factory.mktemp("loader") / "faces"
    render_synthetic_faces(root, 12, 4, 40, 0)
    return root


def _encoded(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _reference(data: bytes) -> np.ndarray:
    return np.asarray(load_rgb(io.BytesIO(data)))


def test_fast_decode_gives_load_rgb_pixels(faces, monkeypatch) -> None:
    face = load_rgb(next(faces.rglob("*.png")))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: Pillow's path turns the image, simplejpeg would not
    cases = {
        "jpeg": (_encoded(face, quality=95), True),
        "grey jpeg": (_encoded(face.convert("L")), True),
        "exif orientation": (_encoded(face, exif=exif.tobytes()), False),
        "cmyk jpeg": (_encoded(face.convert("CMYK")), False),
        "png": (_encoded(face, "PNG"), False),
    }
    for name, (data, fast) in cases.items():
        assert fast_path(data) is fast, name
        assert np.array_equal(decode_rgb(data), _reference(data)), name
    assert decode_rgb(cases["exif orientation"][0]).shape == (40, 40, 3)
    monkeypatch.setenv(ENV_MAX_PIXELS, "1000")  # the cap applies before any pixel is decoded, on either path
    with pytest.raises(ImageTooLargeError, match=ENV_MAX_PIXELS):
        decode_rgb(cases["jpeg"][0])
    broken = cases["jpeg"][0][:200]
    with pytest.raises(OSError):  # a truncated JPEG: refused by load_rgb's rules, not decoded to grey
        decode_rgb(broken)


def _augmented_stats(images: torch.Tensor) -> torch.Tensor:
    """Per-image mean, std and left-right brightness difference (flip-sensitive), in [-1, 1] units."""
    half = images.shape[-1] // 2
    return torch.stack([images.mean(dim=(1, 2, 3)), images.std(dim=(1, 2, 3)),
                        images[..., :half].mean(dim=(1, 2, 3)) - images[..., half:].mean(dim=(1, 2, 3))], dim=1)


def _ks(a: torch.Tensor, b: torch.Tensor) -> float:
    """Two-sample Kolmogorov-Smirnov statistic."""
    grid = torch.cat([a, b]).sort().values
    cdf = lambda x: torch.searchsorted(x.sort().values, grid, right=True).float() / len(x)  # noqa: E731
    return float((cdf(a) - cdf(b)).abs().max())


def test_batch_augment_matches_the_per_image_transform(faces) -> None:
    """The same face augmented 1,000 times both ways: per-image statistics follow the same distributions (KS test
    at a 0.1% level), and the test tells a colour jitter of 0.3 from 0.2."""
    torch.manual_seed(0)
    n = 1000
    # a face with a bright left half, so flips move the left-right statistic
    face = np.asarray(load_rgb(next(faces.rglob("*.png"))).resize((SIZE, SIZE))).copy()
    face[:, : SIZE // 2] = np.clip(face[:, : SIZE // 2].astype(int) + 60, 0, 255)
    old = train_transform(SIZE)
    reference = _augmented_stats(torch.stack([old(Image.fromarray(face)) for _ in range(n)]))
    batch = torch.from_numpy(face).permute(2, 0, 1).unsqueeze(0).repeat(n, 1, 1, 1)
    new = _augmented_stats(BatchAugment(SIZE)(batch))
    wrong = _augmented_stats(BatchAugment(SIZE, color_jitter=0.3)(batch))
    critical = 1.95 * (2 / n) ** 0.5  # KS critical value, alpha = 0.001
    for column, name in enumerate(["mean", "std", "left-right"]):
        assert _ks(reference[:, column], new[:, column]) < critical, name
    assert _ks(reference[:, 1], wrong[:, 1]) > critical
    assert abs(float((new[:, 2] > 0).float().mean()) - 0.5) < 0.05  # half of them flipped
    assert abs(float((reference[:, 2] > 0).float().mean()) - 0.5) < 0.05


def test_crop_boxes_follow_random_resized_crop() -> None:
    torch.manual_seed(0)
    n, height, width = 4000, 40, 36  # a non-square image exercises the aspect-ratio rejections
    rrc = T.RandomResizedCrop(SIZE, scale=(0.5, 1.0), ratio=(0.9, 1.1))
    image = torch.zeros(3, height, width)
    old = torch.tensor([[p["left"], p["top"], p["width"], p["height"]] for p in
                        (rrc.make_params([image]) for _ in range(n))], dtype=torch.float)
    boxes = crop_boxes(n, height, width, (0.5, 1.0), (0.9, 1.1))
    new = torch.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], dim=1)
    assert (new[:, 0] >= 0).all() and (boxes[:, 2] <= width).all() and (boxes[:, 3] <= height).all()
    critical = 1.95 * (2 / n) ** 0.5
    area = lambda b: b[:, 2] * b[:, 3] / (height * width)  # noqa: E731
    for name, a, b in [("area", area(old), area(new)), ("aspect", old[:, 2] / old[:, 3], new[:, 2] / new[:, 3]),
                       ("left", old[:, 0], new[:, 0]), ("top", old[:, 1], new[:, 1])]:
        assert _ks(a, b) < critical, name


def _folder_module(root: Path, **options) -> FaceImageFolderDataModule:
    datamodule = FaceImageFolderDataModule(root=str(root), image_size=SIZE, batch_size=8, val_fraction=0.34, seed=0,
                                           num_workers=0, pin_memory=False, persistent_workers=False, **options)
    datamodule.setup()
    return datamodule


def test_training_items_are_uint8_and_evaluation_inputs_unchanged(faces, tmp_path) -> None:
    dm = _folder_module(faces)
    images, labels, _ = next(iter(dm.train_dataloader()))
    assert images.dtype == torch.uint8 and images.shape == (8, 3, SIZE, SIZE)
    augmented = dm.training_batch([images, labels, None], "cpu")[0]
    assert augmented.dtype == torch.float32 and -1 <= augmented.min() < augmented.max() <= 1
    worker = _folder_module(faces, augment="worker")
    assert next(iter(worker.train_dataloader()))[0].dtype == torch.float32
    # validation of folders and records: exactly the deterministic transform of load_rgb, so identical embeddings
    pack(faces, tmp_path / "rec", image_size=SIZE)
    rec = RecordFaceDataModule(root=str(tmp_path / "rec"), image_size=SIZE, batch_size=64, val_fraction=0.34,
                               seed=0, num_workers=0, pin_memory=False, persistent_workers=False)
    rec.setup()
    embedder = build_embedder(depth=18, pretrained=None).eval()
    for module, read in [(dm, lambda path: path), (rec, lambda key: io.BytesIO(rec.reader.read(key)[1]))]:
        batch = next(iter(module.val_dataloader()))
        dataset = module.val_dataloader().dataset
        expected = torch.stack([eval_transform(SIZE)(load_rgb(read(dataset.samples[int(i)][0]))) for i in batch[2]])
        assert torch.equal(module.training_batch(batch, "cpu")[0], expected)
        with torch.no_grad():
            assert torch.equal(embedder(batch[0]), embedder(expected))


def test_gpu_decode_falls_back_to_cpu_with_one_line(faces, caplog) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine decodes on the GPU; the fallback is for machines without CUDA")
    with caplog.at_level(logging.WARNING):
        dm = _folder_module(faces, decode_device="cuda")
        loader = dm.train_dataloader()
        dm.train_dataloader()
    assert [r.getMessage() for r in caplog.records].count(
        "data.decode_device=cuda: no CUDA device is available; decoding JPEGs on the CPU in the DataLoader workers "
        "instead.") == 1
    assert next(iter(loader))[0].dtype == torch.uint8
    with pytest.raises(ValueError, match="data.decode_device=cpu"):
        resolve_decode_device("gpu")


def test_batched_decode_of_mixed_items(faces) -> None:
    """The GPU path's batching (run here with the CPU decoder): encoded JPEGs, one not at SIZE, and a decoded PNG
    come out as one uint8 batch."""
    face = load_rgb(next(faces.rglob("*.png")))
    small = simplejpeg.encode_jpeg(np.asarray(face.resize((SIZE, SIZE))), quality=95)
    large = _encoded(face, quality=95)
    decode = DecodeToTensor(SIZE, keep_jpeg=True)
    items = [(decode(small), 0, 0), (decode(large), 1, 1), (decode(_encoded(face, "PNG")), 2, 2)]
    assert [item[0].dim() for item in items] == [1, 1, 3]
    images, labels, _ = collate_mixed(items)
    batch = decode_batch(images, SIZE, "cpu")
    assert batch.shape == (3, 3, SIZE, SIZE) and batch.dtype == torch.uint8 and labels.tolist() == [0, 1, 2]
    assert torch.equal(batch[0], DecodeToTensor(SIZE)(small))
    assert (batch[1].float() - DecodeToTensor(SIZE)(large).float()).abs().mean() < 2  # resized by torch vs Pillow


def test_read_orders(faces, tmp_path) -> None:
    sampler = ShuffleBufferSampler(1000, 50, seed=3)
    first, second = list(sampler), list(sampler)
    assert sorted(first) == list(range(1000)) and first != second
    assert list(ShuffleBufferSampler(1000, 50, seed=3)) == first  # every DDP rank draws the same order
    jumps = np.abs(np.diff(first))
    assert np.median(np.minimum(jumps, 1000 - jumps)) < 60  # reads stay near each other (random order: ~250)
    pack(faces, tmp_path / "rec", image_size=SIZE)
    keys = {}
    for order in ("random", "sequential", "shuffle_buffer"):
        dm = RecordFaceDataModule(root=str(tmp_path / "rec"), image_size=SIZE, batch_size=4, val_fraction=0.34,
                                  seed=0, num_workers=0, pin_memory=False, persistent_workers=False,
                                  read_order=order, shuffle_buffer=8)
        dm.setup()
        loader = dm.train_dataloader()
        keys[order] = [loader.dataset.samples[int(i)][0] for _, _, index in loader for i in index]
        assert len(set(keys[order])) == len(keys[order]) == 32  # 8 training people x 4, each once
    assert keys["sequential"] == sorted(keys["sequential"]) and keys["shuffle_buffer"] != keys["sequential"]
    with pytest.raises(ValueError, match="data.read_order"):
        RecordFaceDataModule(root=str(tmp_path / "rec"), read_order="backwards")
