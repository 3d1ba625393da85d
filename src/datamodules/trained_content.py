"""Recognise a checkpoint's training people by their images' content, not only by folder name.

A checkpoint stores, per training person, a bottom-k sketch of their images' content hashes: the
:data:`SKETCH_SIZE` smallest 32-bit blake2b digests of the image files (8 hex characters each, ~40 bytes a person:
3.4 MB for 85,000 people). An evaluated person counts as trained when any of their images' digests is in a stored
sketch, whatever their folder is called; a person whose name matches a training person but whose images share no
digest is a new person with the same name (issue 24: 45 new synthetic people rendered with another seed carried
the training names and were silently excluded), and is evaluated, with a warning.

A trained person evaluated on a subset of their training images that misses all :data:`SKETCH_SIZE` sketched ones
is taken for new: the identity split is by person, so the training folder keeps every image of a trained person.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SKETCH_SIZE = 4
_CHUNK = 1 << 20


def content_digest(path: str | Path) -> str:
    """32-bit blake2b digest of the file's bytes as 8 hex characters."""
    if not isinstance(path, (str, Path)):  # open(<int>) would read, then close, that file descriptor
        raise TypeError(f"content_digest takes an image file path, not {type(path).__name__} {path!r}")
    digest = hashlib.blake2b(digest_size=4)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sketch(paths: Iterable[str | Path], size: int = SKETCH_SIZE) -> list[str]:
    """The ``size`` smallest content digests of ``paths`` (unreadable files are left out)."""
    digests = set()
    for path in paths:
        try:
            digests.add(content_digest(path))
        except OSError as error:
            log.warning("Cannot read %s for its content digest: %s", path, error)
    return sorted(digests)[:size]


def sketches(identities: Mapping[str, Iterable[str | Path]]) -> dict[str, list[str]]:
    """``{person: sketch}`` of a training split (stored in the checkpoint)."""
    return {person: sketch(paths) for person, paths in identities.items()}


@dataclass(frozen=True)
class ContentMatch:
    """Which people of a folder were trained on, judged by content."""

    trained: frozenset[str]  # folder people with an image digest in a stored sketch
    renamed: dict[str, str]  # folder person -> the training person their images belong to (another name)
    same_name_new: frozenset[str]  # folder people named like a training person, none of whose images match


def match_trained(folder: Mapping[str, Iterable[str | Path]], stored: Mapping[str, Iterable[str]]) -> ContentMatch:
    """Compare every folder person's image digests with the checkpoint's sketches (see the module docstring)."""
    owner = {digest: person for person, digests in stored.items() for digest in digests}
    trained, renamed, same_name_new = set(), {}, set()
    for person, paths in folder.items():
        matched = {owner[d] for d in (content_digest(p) for p in paths) if d in owner}
        if matched:
            trained.add(person)
            if person not in matched:
                renamed[person] = sorted(matched)[0]
        elif person in stored:
            same_name_new.add(person)
    if same_name_new:
        names = sorted(same_name_new)
        log.warning("%d people share a name with a training person but none of their images was trained on (e.g. %s): "
                    "they are evaluated as new people.", len(names), ", ".join(names[:5]))
    if renamed:
        log.warning("%d people were trained on under another name (e.g. %s): they count as trained.", len(renamed),
                    ", ".join(f"{a} = {b}" for a, b in sorted(renamed.items())[:5]))
    return ContentMatch(frozenset(trained), renamed, frozenset(same_name_new))
