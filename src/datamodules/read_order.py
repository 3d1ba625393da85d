"""Record read orders for large ``.rec`` sets (``data.read_order``): ``random`` (any record next: a seek per
image), ``sequential`` (file order, every epoch the same: for sets packed in a shuffled order) and
``shuffle_buffer`` (file order through a buffer of ``data.shuffle_buffer`` records, one drawn at random at a time,
from a start that moves every epoch: reads stay near the previous one, as streaming loaders do)."""
from __future__ import annotations

import random
from collections.abc import Iterator

from torch.utils.data import Sampler

READ_ORDERS = ("random", "sequential", "shuffle_buffer")


def check_read_order(read_order: str, shuffle_buffer: int) -> None:
    """ValueError naming the override when the settings are unusable."""
    if read_order not in READ_ORDERS:
        raise ValueError(f"data.read_order={read_order!r} is not one of {READ_ORDERS} (e.g. data.read_order=random).")
    if read_order == "shuffle_buffer" and shuffle_buffer < 1:
        raise ValueError(f"data.shuffle_buffer={shuffle_buffer} must be at least 1 (records held for shuffling).")


class ShuffleBufferSampler(Sampler[int]):
    """Indices ``0..size-1`` (the dataset in file order) through a shuffle buffer of ``buffer`` indices.

    Epoch ``e`` draws from ``Random(seed + e)``, so every DDP process yields the same order (Lightning's
    distributed wrapper then gives each rank its share) and a rerun repeats it.
    """

    def __init__(self, size: int, buffer: int, seed: int) -> None:
        self.size, self.buffer, self.seed, self.epoch = size, buffer, seed, 0

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        rng = random.Random(self.seed + self.epoch)
        self.epoch += 1
        start = rng.randrange(self.size) if self.size else 0
        held: list[int] = []
        for step in range(self.size):
            index = (start + step) % self.size
            if len(held) < self.buffer:
                held.append(index)
                continue
            slot = rng.randrange(self.buffer)
            yield held[slot]
            held[slot] = index
        rng.shuffle(held)
        yield from held
