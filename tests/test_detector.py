"""The project's batched PyTorch MTCNN: the same faces, boxes, landmarks and probabilities as the previous
detector (faceie, the dev-only reference) on real photos, the same answers in batches as one by one, and clear
errors for a broken weight file or a missing GPU."""
from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from src.alignment.detector import Face, FaceDetector, pick_device
from src.alignment.mtcnn_nets import WEIGHTS, WeightsError, load_nets
from src.alignment.scenes import Placement, background, paste, random_scene
from src.bench.align import agreement
from src.datamodules.face_dataset import load_rgb
from tests.helpers import ROOT, orl_root


@pytest.fixture(scope="module")
def photos() -> list[Image.Image]:
    """Astronaut (512x512), three empty backgrounds, a bare ORL photo (92x112), 5 pasted-ORL scenes (640x480,
    seeded) and one of them at 720x540: several sizes in one batch."""
    people = sorted(p for p in orl_root().iterdir() if p.is_dir())[:5]
    rng = np.random.default_rng(3)
    out = [Image.fromarray(data.astronaut()), background(0), background(3), background(5),
           load_rgb(people[0] / "1.pgm")]
    out += [random_scene(load_rgb(p / "2.pgm"), i, rng)[0] for i, p in enumerate(people)]
    return [*out, out[-1].resize((720, 540))]


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(batch_size=8)


@pytest.fixture(scope="module")
def batched(photos: list[Image.Image], detector: FaceDetector) -> list[list[Face]]:
    """The own detector's answers for all photos in one batch (shared by the tests below)."""
    return detector.detect_many(photos)


def test_same_answers_as_the_previous_detector(photos: list[Image.Image], batched: list[list[Face]]) -> None:
    pytest.importorskip("faceie")
    from src.bench.faceie_reference import FaceieDetector

    found = agreement(FaceieDetector().detect_many(photos), batched)
    assert found["same_face_count"] == len(photos) and found["faces"] >= 7  # one face each, none on backgrounds
    # Measured here: boxes and landmarks within 0.31 px (0.13% of the face size), median 0.10 px, probabilities
    # within 2e-5. On 67 photos (facerec-bench align's agreement table, docs/performance/align_cpu.json) the worst
    # face was 4.1 px / 2.4% of its size off (median 0.12 px), probabilities 0.005: 8-bit rounding differences of
    # the pyramid (torch vs PIL, at most 2 grey levels) let a neighbouring P-Net window win an NMS.
    assert found["box_max_of_face_size"] < 0.04 and found["landmark_max_of_face_size"] < 0.04
    assert found["landmark_median_px"] < 0.5 and found["probability_max"] < 0.02
    # The rotation search too (a face tilted 40 degrees, searched at -45/0/45): measured 2.7 px box, 1.8 px marks.
    tilted = paste(load_rgb(orl_root() / "s3" / "3.pgm"), background(1, (320, 240)), Placement(1.5, 40.0, 60, 40))
    angles = [-45.0, 0.0, 45.0]
    turned = agreement(FaceieDetector(rotations_deg=angles).detect_many([tilted]),
                       FaceDetector(rotations_deg=angles).detect_many([tilted]))
    assert turned["same_face_count"] == 1 and turned["faces"] == 1 and turned["landmark_max_of_face_size"] < 0.04


def test_batches_give_the_same_faces_as_one_by_one(photos: list[Image.Image], detector: FaceDetector,
                                                   batched: list[list[Face]]) -> None:
    many = batched  # photos of four sizes, zero-padded together per pyramid level
    single = [detector.detect(p) for p in photos]
    assert [len(f) for f in many] == [len(f) for f in single] and sum(map(len, many)) >= 7
    for a, b in zip(many, single, strict=True):
        for fa, fb in zip(a, b, strict=True):
            assert np.abs(fa.landmarks - fb.landmarks).max() < 0.01 and abs(fa.confidence - fb.confidence) < 1e-4
    assert detector.detect_many([]) == [] and detector.detect(Image.new("RGB", (11, 40))) == []


def test_broken_weights_and_missing_gpu_are_refused(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="missing or corrupt.*convert_mtcnn_weights"):
        load_nets(torch.device("cpu"), tmp_path / "absent.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a weight file")
    with pytest.raises(WeightsError, match="bad.pt"):
        load_nets(torch.device("cpu"), tmp_path / "bad.pt")
    torch.save({"pnet.conv1.weight": torch.zeros(1)}, tmp_path / "partial.pt")
    with pytest.raises(WeightsError, match="partial.pt"):
        load_nets(torch.device("cpu"), tmp_path / "partial.pt")
    with pytest.raises(ValueError, match="alignment.device='gpu'"):
        FaceDetector(device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="alignment.device=cpu"):
            FaceDetector(device="cuda")
        assert pick_device("auto").type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_finds_the_same_faces(photos: list[Image.Image], batched: list[list[Face]]) -> None:
    found = agreement(batched, FaceDetector(device="cuda", batch_size=8).detect_many(photos))
    assert found["same_face_count"] == len(photos) and found["landmark_max_of_face_size"] < 0.04


def test_weight_conversion_round_trip(tmp_path: Path) -> None:
    """scripts/convert_mtcnn_weights.py reads facenet-pytorch's wheel layout as data and writes the file the
    detector loads: a wheel rebuilt from the shipped tensors converts back to the same networks."""
    shipped = torch.load(WEIGHTS, weights_only=True)
    wheel = tmp_path / "facenet_pytorch-2.6.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for net in ("pnet", "rnet", "onet"):
            buffer = io.BytesIO()
            torch.save({k.split(".", 1)[1]: v for k, v in shipped.items() if k.startswith(f"{net}.")}, buffer)
            archive.writestr(f"facenet_pytorch/data/{net}.pt", buffer.getvalue())
    out = tmp_path / "mtcnn.pt"
    done = subprocess.run([sys.executable, "scripts/convert_mtcnn_weights.py", str(wheel), "--output", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    converted = torch.load(out, weights_only=True)
    assert converted.keys() == shipped.keys() and all(torch.equal(converted[k], shipped[k]) for k in shipped)
    nets = load_nets(torch.device("cpu"), out)
    assert sum(p.numel() for net in nets for p in net.parameters()) == 495_850  # P 6,632 + R 100,178 + O 389,040
