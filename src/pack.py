"""Pack an image folder as an InsightFace RecordIO set: `facerec-pack input=<faces> output=<folder>` (Hydra)."""
from __future__ import annotations

import io
import logging
from pathlib import Path

from omegaconf import DictConfig

from src.utils.cli_entry import command

log = logging.getLogger(__name__)


def encode(path: Path, image_size: int, quality: int) -> bytes:
    """RGB JPEG of the image, resized to ``image_size`` squared."""
    from src.datamodules.image_decode import load_rgb

    image = load_rgb(path)
    if image.size != (image_size, image_size):
        image = image.resize((image_size, image_size))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def pack(input_dir: str | Path, output_dir: str | Path, image_size: int = 112, quality: int = 95,
         name: str = "train") -> dict[str, int]:
    """Write ``<output>/<name>.rec``, ``<name>.idx`` and ``property`` (``num_classes,H,W``) from
    ``<input>/<person_id>/<image>``; labels are the identities in sorted order. Unreadable files are skipped,
    counted and reported (as the image-folder datamodule does). Returns the counts."""
    # Imported here, not at the top, so `facerec-pack --help` answers at once.
    from src.datamodules.folder_scan import scan_image_folder
    from src.datamodules.recordio.writer import write_face_records

    scan = scan_image_folder(input_dir)
    scan.report()
    names = sorted(scan.identities)
    samples = [(path, label) for label, person in enumerate(names) for path in scan.identities[person]]
    output = Path(output_dir).expanduser()
    output.mkdir(parents=True, exist_ok=True)
    encoded = ((encode(path, image_size, quality), label) for path, label in samples)  # streamed, not held
    write_face_records(output / f"{name}.rec", encoded, len(samples), len(names))
    (output / "property").write_text(f"{len(names)},{image_size},{image_size}\n")
    (output / f"{name}_identities.txt").write_text("".join(f"{n}\n" for n in names))  # label -> person_id
    counts = {"identities": len(names), "images": len(samples), "skipped_files": len(scan.skipped)}
    log.info("Packed %s into %s: %s", input_dir, output, counts)
    return counts


@command("pack")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-pack`."""
    counts = pack(cfg.input, cfg.output, cfg.image_size, cfg.quality, cfg.name)
    print(f"Packed {counts['images']} images of {counts['identities']} identities into {cfg.output} "
          f"({counts['skipped_files']} files skipped).")


if __name__ == "__main__":
    main()
