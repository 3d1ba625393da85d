"""Face datamodules: an ImageFolder of aligned crops and deterministic synthetic identities."""
from src.datamodules.image_folder import FaceImageFolderDataModule
from src.datamodules.synthetic import SyntheticFacesDataModule

__all__ = ["FaceImageFolderDataModule", "SyntheticFacesDataModule"]
