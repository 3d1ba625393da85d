"""Enroll a person: `facerec-enroll ckpt_path=... person_id=... images=<folder|image> milvus.uri=...`
(conf/enroll.yaml)."""
from __future__ import annotations

from omegaconf import DictConfig

from src.inference.config import EnrollConfig
from src.utils.cli_entry import command
from src.utils.typed_config import typed

USAGE = "facerec-enroll ckpt_path=<ckpt> person_id=<name> images=<folder or image> milvus.uri=<gallery>"


def enroll(cfg: DictConfig) -> int:
    """Add one person's readable images to the existing gallery; returns the rows written."""
    # Imported here, not at the top: torch and pymilvus take ~10 s to import and `--help` needs neither.
    from src.gallery.face_gallery import FaceGallery
    from src.inference.images import collect_images, keep_faces

    options = typed(EnrollConfig, cfg, USAGE)
    images = collect_images(options.images)
    if images.by_identity:
        raise ValueError(f"images={images.source} holds identity folders; give one person's folder or image "
                         "(to add a whole dataset use facerec-export).")
    model = options.gallery.load(options.ckpt_path, options.align, options.alignment)
    images = keep_faces(model, images)  # align=true: photos without a face are skipped and counted
    images.report()
    with FaceGallery.open(model, options.milvus) as gallery:
        rows = gallery.enroll(options.person_id, images.paths, options.gallery.batch_size)
        total = gallery.count()
    print(f"Enrolled {rows} images of {options.person_id!r} ({len(images.skipped)} files skipped); "
          f"the gallery now has {total} rows.")
    return rows


@command("enroll")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-enroll`."""
    enroll(cfg)


if __name__ == "__main__":
    main()
