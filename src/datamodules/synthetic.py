"""DataModule over synthetic identities rendered once into a cache folder, then read as an ImageFolder."""
from __future__ import annotations

from pathlib import Path

from src.datamodules.image_folder import FaceImageFolderDataModule
from src.datamodules.synthetic_faces import render_synthetic_faces


class SyntheticFacesDataModule(FaceImageFolderDataModule):
    """Renders ``num_identities`` x ``images_per_identity`` faces under ``cache_dir`` (deterministic, offline)
    and then behaves exactly like the ImageFolder datamodule on that folder.

    ``root`` names a face folder to read instead of rendering, so a synthetic experiment's commands also work on
    real faces (``facerec-eval experiment=quickstart ckpt_path=... data.root=<faces>``).
    """

    def __init__(
        self,
        cache_dir: str,
        num_identities: int = 100,
        images_per_identity: int = 12,
        render_seed: int = 0,
        root: str | None = None,
        **kwargs,
    ) -> None:
        image_size = kwargs.get("image_size", 112)
        render = root is None
        if render:  # resolved before super().__init__, whose save_hyperparameters reads this frame's `root`
            name = f"synthetic_{num_identities}x{images_per_identity}_{image_size}px_seed{render_seed}"
            root = str(Path(cache_dir) / name)
        super().__init__(root=root, **kwargs)
        self.render_args = (num_identities, images_per_identity, image_size, render_seed) if render else None

    def prepare_data(self) -> None:
        if self.render_args:
            render_synthetic_faces(self.root, *self.render_args)

    def setup(self, stage: str | None = None) -> None:
        self.prepare_data()
        super().setup(stage)
