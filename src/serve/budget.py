"""Memory of decoded images: a byte budget shared by every request, so a burst of small uploads that decode to
huge images (a 5000 x 5000 all-zero PNG is 73 kB on the wire) cannot take the machine's memory.

An image is charged :data:`BYTES_PER_PIXEL` x its pixel count (read from the header, before decoding) from the
start of its decoding until its network input (a 3 x 112 x 112 tensor) is made and the decoded image dropped.
Requests wait for room in arrival order; an image that could never fit is refused at once (413).
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

# Peak memory while one image is decoded and turned into the network input, per pixel: measured 290 MB growth
# for a 5000 x 5000 RGB PNG (Pillow keeps RGB as 4 bytes a pixel, and the EXIF transpose and RGB conversion each
# copy it once) = 11.6 bytes a pixel.
BYTES_PER_PIXEL = 12
MIN_DEFAULT_MB = 512
MAX_DEFAULT_MB = 4096


def default_budget_mb() -> float:
    """An eighth of the machine's memory, between 512 MiB and 4 GiB (serve.decode_memory_mb=null)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system that reports it
        return float(MIN_DEFAULT_MB)
    return float(min(MAX_DEFAULT_MB, max(MIN_DEFAULT_MB, total / 8 / 2**20)))


def image_cost(pixels: int) -> int:
    """Bytes charged to the budget while an image of ``pixels`` is decoded."""
    return pixels * BYTES_PER_PIXEL


def _malloc_trim():
    """glibc's ``malloc_trim`` (hands freed heap memory back to the system), or None elsewhere."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


class DecodeBudget:
    """At most ``capacity`` bytes of decoding in flight across requests (used on the event loop only)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self.peak = 0
        self._room = asyncio.Condition()
        self._trim = _malloc_trim()

    @asynccontextmanager
    async def hold(self, cost: int) -> AsyncIterator[None]:
        """Wait until ``cost`` bytes fit, keep them while the block runs, then give them back."""
        async with self._room:
            await self._room.wait_for(lambda: self.used + cost <= self.capacity)
            self.used += cost
            self.peak = max(self.peak, self.used)
        try:
            yield
        finally:
            async with self._room:
                self.used -= cost
                self._room.notify_all()
            if self.used == 0 and self._trim is not None:
                # Decoding threads leave freed memory in their malloc arenas; issue 25's probe saw a server keep
                # 6.7 of its 7.8 GB peak after a burst of 25 MP images. Costs milliseconds, only when idle.
                self._trim(0)
