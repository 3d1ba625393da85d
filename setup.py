"""Packaging glue that pyproject.toml cannot express: conf/ ships inside the wheel as the package data src/conf."""
from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["src", "src.*"]), "src.conf"],
    package_dir={"src.conf": "conf"},
    package_data={"src.conf": ["*.yaml", "**/*.yaml"], "src.alignment": ["weights/mtcnn.pt"]},
)
