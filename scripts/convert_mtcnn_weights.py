"""One-time conversion: facenet-pytorch's MTCNN weight files -> src/alignment/weights/mtcnn.pt (already committed;
run this only to rebuild it).

    pip download --no-deps facenet-pytorch==2.6.0 -d /tmp/fnp
    python scripts/convert_mtcnn_weights.py /tmp/fnp/facenet_pytorch-2.6.0-py3-none-any.whl

The wheel is read as data (a zip holding facenet_pytorch/data/{pnet,rnet,onet}.pt, plain state dicts); nothing of
facenet-pytorch is imported or installed. Weights: MIT (facenet-pytorch, Tim Esler, ported from
davidsandberg/facenet, MIT). The output holds the three state dicts under ``pnet.``, ``rnet.``, ``onet.`` prefixes.
"""
from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import torch

OUTPUT = Path(__file__).resolve().parents[1] / "src" / "alignment" / "weights" / "mtcnn.pt"


def convert(wheel: Path, output: Path = OUTPUT) -> dict[str, torch.Tensor]:
    """Read the three state dicts out of ``wheel`` and write them, float32 and contiguous, to ``output``."""
    merged: dict[str, torch.Tensor] = {}
    with zipfile.ZipFile(wheel) as archive:
        for net in ("pnet", "rnet", "onet"):
            state = torch.load(io.BytesIO(archive.read(f"facenet_pytorch/data/{net}.pt")), weights_only=True)
            merged.update({f"{net}.{key}": value.float().contiguous() for key, value in state.items()})
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.save(merged, output)
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path, help="facenet_pytorch-2.6.0-py3-none-any.whl")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    merged = convert(args.wheel, args.output)
    print(f"{len(merged)} tensors ({sum(v.numel() for v in merged.values()):,} values) -> {args.output}")


if __name__ == "__main__":
    main()
