"""Peak memory of facerec-serve under decompression-bomb-like uploads (issue 25): all-zero 5000 x 5000 PNGs
(73 kB each on the wire, 25 MP decoded) sent to ``/v1/identify/batch`` by concurrent clients, the server's
resident memory sampled every 10 ms.

    python -m src.bench.serve_memory <checkpoint> [out.json] [budget_mb] [max_request_pixels]

Runs the scenario on the service of the checkout that ``src`` resolves to with ``serve.decode_memory_mb=
<budget_mb>`` (default 400; 0: leave the option out, for a checkout without it) and writes the peak RSS growth over
the idle server, the RSS kept afterwards and the answers' status codes. Two requests of 2 images, one of 16,
and (with a budget) two of 16 at once; ``max_request_pixels=400000000`` lets those through to the decoding
budget. Point ``PYTHONPATH`` at another checkout to measure it as a reference.
"""
from __future__ import annotations

import io
import json
import os
import platform
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
from PIL import Image

from src.bench import serve_process
from src.bench.serve_process import ServeProcess

SIDE = 5000


def zero_png(side: int = SIDE) -> bytes:
    """An all-zero RGB PNG of ``side`` x ``side`` pixels (25 MP in ~73 kB at the default side)."""
    encoded = io.BytesIO()
    Image.new("RGB", (side, side)).save(encoded, "PNG")
    return encoded.getvalue()


class PeakRss:
    """Samples a process's resident memory every 10 ms while the block runs (``base``, ``peak`` in bytes)."""

    def __init__(self, pid: int) -> None:
        self.process, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self) -> PeakRss:
        self.base = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def burst(url: str, pid: int, requests: int, images: int) -> dict[str, object]:
    """``requests`` concurrent batch requests of ``images`` zero PNGs each: statuses and memory in MiB."""
    png = zero_png()
    upload = [("image", (f"zero{i}.png", png, "image/png")) for i in range(images)]
    with httpx.Client(base_url=url, timeout=600) as http, PeakRss(pid) as rss, ThreadPoolExecutor(requests) as pool:
        answers = list(pool.map(lambda _: http.post("/v1/identify/batch", files=upload), range(requests)))
    time.sleep(1.0)
    kept = psutil.Process(pid).memory_info().rss - rss.base
    return {"requests": requests, "images_per_request": images, "statuses": [a.status_code for a in answers],
            "refusal": next((a.json()["detail"] for a in answers if a.status_code != 200), None),
            "base_mib": round(rss.base / 2**20), "peak_growth_mib": round((rss.peak - rss.base) / 2**20),
            "kept_after_mib": round(kept / 2**20)}


def main(ckpt: str, out: str | None = None, budget_mb: float = 400,
         max_request_pixels: float = 0) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k != "FACEREC_API_KEY"}
        overrides = [f"ckpt_path={ckpt}", f"milvus.uri={tmp}/gallery.db", "serve.create_gallery=true",
                     f"serve.upload_dir={tmp}/uploads", f"hydra.run.dir={tmp}/run", "serve.torch_threads=1"]
        overrides += [f"serve.decode_memory_mb={budget_mb}"] if budget_mb else []
        overrides += [f"serve.max_request_pixels={int(max_request_pixels)}"] if max_request_pixels else []
        shapes = [(2, 2), (1, 16)] + ([(2, 16)] if budget_mb else [])
        with ServeProcess(overrides, Path(tmp) / "serve.log", env=env) as process:
            result = {"service": str(Path(serve_process.__file__).resolve().parents[2]), "budget_mib": budget_mb,
                      "max_request_pixels": max_request_pixels or "default",
                      "data": "all-zero 5000 x 5000 RGB PNGs (73 kB each)", "cpu": platform.processor(),
                      "runs": [burst(process.url, process.process.pid, *shape) for shape in shapes]}
    print(json.dumps(result, indent=1))
    if out:
        Path(out).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main(*sys.argv[1:3], *map(float, sys.argv[3:5]))
