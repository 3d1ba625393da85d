"""DataModule over synthetic identities rendered once into a cache folder, then read as an ImageFolder."""
from __future__ import annotations

from pathlib import Path

from src.datamodules.image_folder import FaceImageFolderDataModule
from src.datamodules.synthetic_faces import render_synthetic_faces


class SyntheticFacesDataModule(FaceImageFolderDataModule):
    """Renders ``num_identities`` x ``images_per_identity`` faces under ``cache_dir`` (deterministic, offline)
    and then behaves exactly like the ImageFolder datamodule on that folder."""

    def __init__(
        self,
        cache_dir: str,
        num_identities: int = 100,
        images_per_identity: int = 12,
        render_seed: int = 0,
        **kwargs,
    ) -> None:
        image_size = kwargs.get("image_size", 112)
        name = f"synthetic_{num_identities}x{images_per_identity}_{image_size}px_seed{render_seed}"
        super().__init__(root=str(Path(cache_dir) / name), **kwargs)
        self.render_args = (num_identities, images_per_identity, image_size, render_seed)

    def prepare_data(self) -> None:
        render_synthetic_faces(self.root, *self.render_args)

    def setup(self, stage: str | None = None) -> None:
        self.prepare_data()
        super().setup(stage)
