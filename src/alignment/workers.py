"""Run a batch function of (items, aligner) over many items: batches of ``detector.batch_size`` through the
batched detector, in worker processes (each holding one aligner) or in this process."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import torch

from src.alignment.aligner import FaceAligner

T = TypeVar("T")
R = TypeVar("R")
_WORKER: tuple[FaceAligner, Callable[..., Any]] | None = None  # set in each worker process by _start


def _start(aligner: FaceAligner, fn: Callable[..., Any]) -> None:
    global _WORKER
    # One torch thread per worker process: the processes are the parallelism (and OpenMP pools do not survive fork).
    torch.set_num_threads(1)
    _WORKER = (aligner, fn)


def _call(batch: list[Any]) -> list[Any]:
    assert _WORKER is not None, "worker process started without an aligner"
    aligner, fn = _WORKER
    return fn(batch, aligner)


def map_batches(fn: Callable[[list[T], FaceAligner], list[R]], items: Sequence[T], aligner: FaceAligner,
                workers: int) -> Iterator[R]:
    """``fn(batch, aligner)`` over batches of ``aligner.detector.batch_size`` items; yields one result per item,
    in order. ``workers`` processes on the CPU (this process when ``<= 1``); on a GPU always this process (one
    process drives the device best, and CUDA does not survive fork). ``fn`` must be a module-level function
    (it is pickled to the workers)."""
    size = aligner.detector.batch_size
    if workers > 1 and len(items) > 1 and aligner.detector.device.type == "cpu":
        # Batches small enough that every worker gets several (the last ones finish together).
        size = max(1, min(size, len(items) // (2 * workers)))
    batches = [list(items[i:i + size]) for i in range(0, len(items), size)]
    if workers <= 1 or len(batches) < 2 or aligner.detector.device.type != "cpu":
        for batch in batches:
            yield from fn(batch, aligner)
        return
    with ProcessPoolExecutor(workers, initializer=_start, initargs=(aligner, fn)) as pool:
        for results in pool.map(_call, batches):
            yield from results
