"""ONNX export: onnxruntime agrees with PyTorch (batch 1 and 3) for both backbone architectures."""
from __future__ import annotations

import subprocess
import sys

import onnx
import pytest
import torch

from src.embedding.checkpoint import load_embedder
from src.export_onnx import export_onnx, max_cosine_gap
from src.models.backbone import build_embedder
from tests.helpers import ROOT

SIZE = 32


def _checkpoint(tmp_path, arch: str):
    """A facerec .ckpt (torchvision ResNet18) or an arcface_torch-style backbone.pth (IR-ResNet18)."""
    torch.manual_seed(0)
    backbone = {"arch": arch, "depth": 18, "embedding_dim": 512, "dropout": 0.0, "image_size": SIZE}
    model = build_embedder(**backbone, pretrained=None).eval()
    with torch.no_grad():  # non-trivial BN statistics, as a trained model has
        for name, tensor in model.state_dict().items():
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 2.0)
            elif name.endswith("running_mean"):
                tensor.normal_(0, 0.2)
    if arch == "iresnet":
        path = tmp_path / "backbone.pth"
        torch.save(model.state_dict(), path)
    else:
        path = tmp_path / "model.ckpt"
        torch.save({"hyper_parameters": {"backbone": backbone, "image_size": SIZE},
                    "state_dict": {f"embedder.{k}": v for k, v in model.state_dict().items()}}, path)
    return path, model


@pytest.mark.parametrize("arch", ["torchvision", "iresnet"])
def test_onnx_matches_pytorch(tmp_path, arch: str) -> None:
    ckpt, model = _checkpoint(tmp_path, arch)
    path = export_onnx(ckpt, tmp_path / "model.onnx")
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["embedding"]
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"  # dynamic batch
    gap = max_cosine_gap(path, model, SIZE, batch_sizes=(1, 3))
    print(f"{arch}: max cosine gap onnxruntime vs PyTorch {gap:.2e}")
    assert gap < 1e-5
    assert max_cosine_gap(path, load_embedder(ckpt).model, SIZE) < 1e-5  # as loaded by facerec


def test_export_onnx_command(tmp_path) -> None:
    ckpt, _ = _checkpoint(tmp_path, "iresnet")
    result = subprocess.run(
        [sys.executable, "-m", "src.export_onnx", f"ckpt_path={ckpt}", f"output={tmp_path / 'out' / 'm.onnx'}",
         f"paths.root_dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "out" / "m.onnx").is_file()
    gap = float(result.stdout.split("max cosine gap")[1].split()[0])
    assert gap < 1e-5
