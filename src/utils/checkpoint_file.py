"""Read a checkpoint file as data only: tensors and plain containers, never code.

``torch.load(weights_only=False)`` unpickles arbitrary objects, so a crafted ``.ckpt`` runs whatever it
names (``os.system``, ...) the moment it is loaded. Every checkpoint this project writes (Lightning
``.ckpt`` with plain-dict hyper-parameters, state dicts) loads with ``weights_only=True``, so anything that
needs more is refused without being executed. Lives in ``src/utils`` because both ``src.models`` (pretrained
weights) and ``src.embedding`` (export/inference) read checkpoints and must not import each other.
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch


class CheckpointFileError(ValueError):
    """The file is not a checkpoint that can be read (empty, truncated, another format, wrong content)."""


class UnsafeCheckpointError(CheckpointFileError):
    """The file asks the unpickler for more than tensors and plain data; it was refused, not executed."""


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The dictionary stored in ``path`` (a Lightning checkpoint or a state dict), loaded on CPU as data only.

    Raises ``FileNotFoundError`` for a missing file, :class:`UnsafeCheckpointError` for a file whose
    unpickling would run or build anything but tensors and plain data (not executed), and
    :class:`CheckpointFileError` for empty, truncated or non-checkpoint files; every message names the file.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint not found: {path}. Pass an existing .ckpt (training writes last.ckpt "
                                f"and the best ones under checkpoints/).")
    if path.stat().st_size == 0:
        raise CheckpointFileError(f"Checkpoint {path} is empty (0 bytes); it was probably cut off while being "
                                  f"written. Use another checkpoint (e.g. last.ckpt) or train again.")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # torch's own message advises allow-listing the object: the opposite of what an unknown file deserves
        if named := re.search(r"GLOBAL ([\w.]+)", str(error)):
            raise UnsafeCheckpointError(
                f"Refused to load {path}: it is not a data-only checkpoint (it asks to import and call "
                f"{named.group(1)}). It was NOT executed. facerec checkpoints never need this; if the file is yours "
                f"and trusted, re-save its tensors with torch.save(state_dict) and pass that file."
            ) from None
        operation = re.search(r"Unsupported operand \d+", str(error))
        raise CheckpointFileError(
            f"Cannot read checkpoint {path}: not a complete PyTorch checkpoint of tensors and plain data "
            f"({operation.group(0) if operation else 'unpickling failed'}); nothing in it was executed."
        ) from None
    except Exception as error:  # torch raises RuntimeError, EOFError, KeyError, ... for damaged/foreign files
        first_line = str(error).splitlines()[0] if str(error) else ""
        raise CheckpointFileError(
            f"Cannot read checkpoint {path}: not a complete PyTorch checkpoint (truncated, still being written, or "
            f"another format): {type(error).__name__}: {first_line}"
        ) from error
    if not isinstance(content, dict):
        raise CheckpointFileError(f"Checkpoint {path} holds a {type(content).__name__}, not a checkpoint dictionary "
                                  f"(state_dict / hyper_parameters).")
    return content
