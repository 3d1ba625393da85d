"""MTCNN's three networks (Zhang et al. 2016) as PyTorch modules, and the loader of their shipped weights.

The weights are the MIT-licensed P/R/O-Net weights of facenet-pytorch (ported from davidsandberg/facenet),
converted once by ``scripts/convert_mtcnn_weights.py`` into ``weights/mtcnn.pt`` (tensors only, loaded with
``weights_only=True``). The parameter names follow that file, so the state dicts load unchanged.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

WEIGHTS = Path(__file__).parent / "weights" / "mtcnn.pt"
CONVERT = "python scripts/convert_mtcnn_weights.py"


class WeightsError(RuntimeError):
    """The shipped MTCNN weight file is missing or unreadable."""


def _conv(cin: int, cout: int, k: int) -> tuple[nn.Conv2d, nn.PReLU]:
    return nn.Conv2d(cin, cout, k), nn.PReLU(cout)


class PNet(nn.Module):
    """Proposal net: fully convolutional, one 12x12 window every 2 pixels -> face logit pair and box offsets."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 10, 3)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv(10, 16, 3)
        self.conv3, self.prelu3 = _conv(16, 32, 3)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3, H, W) in [-1, 1] -> face probability (N, h, w) and box offsets (N, 4, h, w)."""
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return torch.softmax(self.conv4_1(x), 1)[:, 1], self.conv4_2(x)


class RNet(nn.Module):
    """Refinement net on 24x24 crops -> face probability and box offsets."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 28, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv(28, 48, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _conv(48, 64, 2)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        # The ported weights expect (width, height, channel) order when flattening.
        x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).flatten(1)))
        return torch.softmax(self.dense5_1(x), 1)[:, 1], self.dense5_2(x)


class ONet(nn.Module):
    """Output net on 48x48 crops -> face probability, box offsets and five landmarks (x1..x5, y1..y5)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 32, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv(32, 64, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _conv(64, 64, 3)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = _conv(64, 128, 2)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).flatten(1)))
        return torch.softmax(self.dense6_1(x), 1)[:, 1], self.dense6_2(x), self.dense6_3(x)


def load_nets(device: torch.device, path: Path = WEIGHTS) -> tuple[PNet, RNet, ONet]:
    """The three networks with the shipped weights, in eval mode on ``device``; one clear error when the
    weight file is missing or not the expected tensors."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        nets = PNet(), RNet(), ONet()
        for name, net in zip(("pnet", "rnet", "onet"), nets, strict=True):
            net.load_state_dict({k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(f"{name}.")})
    except Exception as error:  # missing file, truncated or foreign pickle, wrong keys or shapes
        raise WeightsError(
            f"MTCNN weights {path} are missing or corrupt ({type(error).__name__}: {error}). They ship inside the "
            f"facerec package; reinstall it (pip install -e .), or rebuild the file with `{CONVERT}`.") from error
    # channels_last: measured 1.9x faster on the CPU (oneDNN convolutions and pooling) for all three nets.
    return tuple(net.to(device, memory_format=torch.channels_last).eval().requires_grad_(False)  # type: ignore
                 for net in nets)
