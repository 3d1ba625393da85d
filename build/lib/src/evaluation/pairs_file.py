"""Read LFW-style ``pairs.txt`` verification pairs into image paths under a face folder."""
from __future__ import annotations

from pathlib import Path

from src.datamodules.folder_scan import IMAGE_EXTENSIONS


def _image(root: Path, person: str, number: str) -> Path:
    """Image ``number`` of ``person``: a file named ``<person>_<number>`` or ``<number>`` (any zero padding)."""
    wanted = int(number)
    for candidate in sorted((root / person).glob("*")):
        stem = candidate.stem.removeprefix(f"{person}_")
        if candidate.suffix.lower() in IMAGE_EXTENSIONS and stem.isdigit() and int(stem) == wanted:
            return candidate
    raise FileNotFoundError(f"pairs file names image {number} of {person}, but {root / person} has no "
                            f"{person}_{wanted:04d}.* or {wanted}.* image")


def read_pairs_file(pairs_file: str | Path, root: str | Path) -> list[tuple[Path, Path, bool]]:
    """Pairs ``(image a, image b, same person)``.

    Lines are ``name n1 n2`` (same person) or ``name1 n1 name2 n2`` (different people); a first line of
    one or two integers (fold count / pairs per fold) is skipped. Image ``n`` of ``name`` is
    ``<root>/<name>/<name>_<n:04d>.<ext>`` (LFW) or ``<root>/<name>/<n>.<ext>`` (any zero padding).
    """
    root = Path(root)
    pairs = []
    for number, line in enumerate(Path(pairs_file).read_text().splitlines(), start=1):
        tokens = line.split()
        if not tokens or (number == 1 and all(t.isdigit() for t in tokens)):
            continue
        if len(tokens) == 3:
            pairs.append((_image(root, tokens[0], tokens[1]), _image(root, tokens[0], tokens[2]), True))
        elif len(tokens) == 4:
            pairs.append((_image(root, tokens[0], tokens[1]), _image(root, tokens[2], tokens[3]), False))
        else:
            raise ValueError(f"{pairs_file}:{number}: expected 'name n1 n2' or 'name1 n1 name2 n2', got {line!r}")
    if not pairs:
        raise ValueError(f"{pairs_file} holds no pairs.")
    return pairs
