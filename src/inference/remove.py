"""Remove a person from a gallery: `facerec-remove person_id=... milvus.uri=...` (conf/remove.yaml)."""
from __future__ import annotations

from omegaconf import DictConfig

from src.inference.config import RemoveConfig
from src.utils.cli_entry import command
from src.utils.typed_config import typed

USAGE = "facerec-remove person_id=<name> milvus.uri=<gallery.db or http://host:port>"


def remove(cfg: DictConfig) -> int:
    """Delete every row of ``cfg.person_id``; returns the rows deleted."""
    from src.gallery.face_gallery import remove_person  # pymilvus: loaded when removing, not for --help

    options = typed(RemoveConfig, cfg, USAGE)
    deleted = remove_person(options.milvus, options.person_id)
    print(f"Removed {deleted} rows of {options.person_id!r}.")
    return deleted


@command("remove")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-remove`."""
    remove(cfg)


if __name__ == "__main__":
    main()
