"""dlib's face ResNet in PyTorch against dlib itself, on dlib's own chips of real photos; the reader's errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from src.embedding.checkpoint import load_embedder, model_id
from src.models.dlib_format import DlibFormatError
from src.models.dlib_resnet import DLIB_FILE, DlibResNet, packaged_file
from tests.helpers import orl_root

dlib = pytest.importorskip("dlib", reason="dlib-bin (the dev extra) is the reference for this test")


def dlib_chips(photos: list[np.ndarray]) -> list[np.ndarray]:
    """dlib's own 150 px chips (padding 0.25) of the largest face of each photo: frontal detector + 5 landmarks."""
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(packaged_file().with_name("shape_predictor_5_face_landmarks.dat")))
    chips = []
    for photo in photos:
        faces = detector(photo, 1)
        assert faces, "dlib found no face in a test photo"
        box = max(faces, key=lambda r: r.area())
        chips.append(dlib.get_face_chip(photo, predictor(photo, box), size=150, padding=0.25))
    return chips


def real_photos() -> list[np.ndarray]:
    from PIL import Image
    from skimage.data import astronaut

    people = sorted(p for p in orl_root().iterdir() if p.is_dir())[:4]
    orl = [np.asarray(Image.open(person / "1.pgm").convert("RGB").resize((184, 224))) for person in people]
    return [astronaut(), *orl]


def project_input(chips: list[np.ndarray]) -> torch.Tensor:
    """The project's normalisation: RGB in [-1, 1]."""
    batch = torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float() / 255.0
    return (batch - 0.5) / 0.5


def test_descriptors_equal_dlibs_on_real_chips() -> None:
    chips = dlib_chips(real_photos())
    reference = dlib.face_recognition_model_v1(str(packaged_file()))
    expected = np.array([reference.compute_face_descriptor(chip) for chip in chips])
    loaded = load_embedder("dlib")
    with torch.no_grad():
        ours = loaded.model(project_input(chips)).numpy()
    assert np.abs(ours - expected).max() < 1e-4
    # the chips are of different people: the check compares real, distinct descriptors
    assert np.linalg.norm(expected[1] - expected[2]) > 0.3
    assert loaded.image_size == 150 and model_id(loaded).startswith("dlib-resnet29-128d@")


def test_truncated_or_altered_file_names_record_and_offset(tmp_path: Path) -> None:
    data = packaged_file().read_bytes()
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(data[:len(data) // 2])
    with pytest.raises(DlibFormatError, match=r"the file ends .* in record 'layer \d+ \(\w+\).* at byte offset \d+"):
        DlibResNet(pretrained=truncated)
    altered = bytearray(data)
    altered[data.index(b"con_4")] = ord("x")  # the first convolution's type name no longer reads as a string
    broken = tmp_path / "altered.dat"
    broken.write_bytes(bytes(altered))
    with pytest.raises(DlibFormatError, match=r"record 'layer 1 \(con\) counted from the input' at byte offset"):
        load_embedder(broken)


def test_packaged_file_is_found_without_importing_the_package() -> None:
    import sys

    path = packaged_file()
    assert path.name == DLIB_FILE and path.stat().st_size > 20_000_000
    assert "face_recognition_models" not in sys.modules


def test_dlib_template_in_facerec_align_options() -> None:
    """alignment.template=dlib cuts 150 px chips whose landmarks sit on the measured dlib-5pt-150 points."""
    from omegaconf import OmegaConf
    from PIL import Image
    from skimage.data import astronaut

    from src.alignment.aligner import FaceAligner
    from src.alignment.template import DLIB_150
    from tests.helpers import CONF_DIR

    options = OmegaConf.load(CONF_DIR / "alignment" / "mtcnn.yaml")
    aligner = FaceAligner.from_config({**options, "template": "dlib", "size": 150})
    assert aligner.metadata == {"aligned": True, "template": "dlib-5pt-150", "size": 150}
    chip = aligner.align_rgb(Image.fromarray(astronaut())).crops[0]
    again = aligner.detector.detect(chip)[0]
    # least squares over 5 points: the eyes land within a few pixels of the template (ArcFace's template at 150 px
    # puts them 24 px lower and 8 px closer together)
    assert np.abs(again.landmarks[:2] - DLIB_150[:2]).max() < 4.0
