"""Run a function of (item, aligner) over many items in worker processes, each holding one aligner."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from src.alignment.aligner import FaceAligner

T = TypeVar("T")
R = TypeVar("R")
_WORKER: tuple[FaceAligner, Callable[..., Any]] | None = None  # set in each worker process by _start


def _start(aligner: FaceAligner, fn: Callable[..., Any]) -> None:
    global _WORKER
    _WORKER = (aligner, fn)


def _call(item: Any) -> Any:
    assert _WORKER is not None, "worker process started without an aligner"
    aligner, fn = _WORKER
    return fn(item, aligner)


def map_with_aligner(fn: Callable[[T, FaceAligner], R], items: Sequence[T], aligner: FaceAligner,
                     workers: int) -> Iterator[R]:
    """``fn(item, aligner)`` for every item, in order; ``workers`` processes (this process when ``<= 1``).

    The detector is pure NumPy and holds the GIL for much of its work, so processes, not threads.
    ``fn`` must be a module-level function (it is pickled to the workers).
    """
    if workers <= 1 or len(items) < 2:
        yield from (fn(item, aligner) for item in items)
        return
    with ProcessPoolExecutor(workers, initializer=_start, initargs=(aligner, fn)) as pool:
        yield from pool.map(_call, items, chunksize=max(1, min(8, len(items) // (4 * workers))))
