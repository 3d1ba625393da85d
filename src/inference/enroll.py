"""Enroll or remove a person: `facerec-enroll ckpt_path=... person_id=... images=<folder|image> milvus.uri=...`
and `facerec-remove person_id=... milvus.uri=...` (Hydra, conf/enroll.yaml)."""
from __future__ import annotations

import hydra
from omegaconf import DictConfig

from src.inference.config import model_from_config, required
from src.inference.gallery import FaceGallery, remove_person
from src.inference.images import collect_images
from src.utils.paths import CONF_DIR

USAGE = "facerec-enroll ckpt_path=<ckpt> person_id=<name> images=<folder or image> milvus.uri=<gallery>"
REMOVE_USAGE = "facerec-remove person_id=<name> milvus.uri=<gallery>"


def enroll(cfg: DictConfig) -> int:
    """Add one person's readable images to the existing gallery; returns the rows written."""
    person_id = str(required(cfg, "person_id", USAGE))
    images = collect_images(required(cfg, "images", USAGE))
    if images.by_identity:
        raise ValueError(f"images={images.source} holds identity folders; give one person's folder or image "
                         "(to add a whole dataset use facerec-export).")
    model = model_from_config(cfg, USAGE)
    images = model.keep_faces(images)  # align=true: photos without a face are skipped and counted
    images.report()
    with FaceGallery.open(model, cfg.milvus) as gallery:
        rows = gallery.enroll(person_id, images.paths, cfg.gallery.batch_size)
        total = gallery.count()
    print(f"Enrolled {rows} images of {person_id!r} ({len(images.skipped)} files skipped); "
          f"the gallery now has {total} rows.")
    return rows


def remove(cfg: DictConfig) -> int:
    """Delete every row of ``cfg.person_id``; returns the rows deleted."""
    person_id = str(required(cfg, "person_id", REMOVE_USAGE))
    deleted = remove_person(cfg.milvus, person_id)
    print(f"Removed {deleted} rows of {person_id!r}.")
    return deleted


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="enroll")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-enroll`."""
    enroll(cfg)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="enroll")
def remove_main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-remove`."""
    remove(cfg)


if __name__ == "__main__":
    main()
