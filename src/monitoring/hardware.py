"""Resource sampling around a block of code (psutil + torch.cuda) and a description of the machine.

Usage::

    with HardwareSampler(interval=0.2) as sampler:
        run_benchmark()
    report["hardware"] = sampler.summary()
    report["machine"] = hardware_info()
"""
from __future__ import annotations

import os
import platform
import sys
import threading
import time
from typing import Any

import psutil

MB = 1024.0**2
GB = 1024.0**3


def _cuda_ready() -> bool:
    """True when torch is importable, CUDA is available *and already initialised* in this process.

    The sampler never initialises CUDA itself (that would create a context of several hundred MB).
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a project dependency
        return False
    return torch.cuda.is_available() and torch.cuda.is_initialized()


def _cuda_memory_mb() -> tuple[float, float, float]:
    """(allocated, reserved, max_allocated) in MB summed over all visible devices."""
    import torch

    allocated = reserved = peak = 0.0
    for device in range(torch.cuda.device_count()):
        allocated += torch.cuda.memory_allocated(device) / MB
        reserved += torch.cuda.memory_reserved(device) / MB
        peak += torch.cuda.max_memory_allocated(device) / MB
    return allocated, reserved, peak


class HardwareSampler:
    """Samples process/system resources every ``interval`` seconds in a daemon thread.

    Each sample records: process CPU % (psutil convention: 100 = one full core, so it can exceed 100 on
    several cores; with ``include_children`` the live child processes are added), process RSS in MB
    (plus children's RSS with ``include_children``), system memory used %, and, when CUDA is available
    and already initialised in this process, torch's allocated/reserved GPU memory (MB, summed over
    devices). One sample is taken on start and one on stop, so even a block shorter than ``interval``
    has two samples.

    Use as a context manager or via :meth:`start` / :meth:`stop`. :meth:`summary` may be called while
    running (summary so far) or after stopping. ``samples`` holds the raw per-sample dicts.
    """

    def __init__(self, interval: float = 0.2, include_children: bool = False, pid: int | None = None) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self.interval = float(interval)
        self.include_children = include_children
        self._process = psutil.Process(pid)
        self._children: dict[int, psutil.Process] = {}
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_time: float | None = None
        self._stop_time: float | None = None
        self._cuda_peak_at_start: float | None = None
        self._cuda_peak_at_stop: float | None = None
        self.samples: list[dict[str, Any]] = []

    # -- lifecycle ---------------------------------------------------------------------------------
    def __enter__(self) -> HardwareSampler:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> HardwareSampler:
        """Take the first sample and start the sampling thread (returns ``self``)."""
        if self._thread is not None:
            raise RuntimeError("HardwareSampler already started")
        self.samples = []
        self._stop_event.clear()
        self._start_time = time.perf_counter()
        self._stop_time = None
        self._cpu_percent()  # prime psutil's CPU counters; the first reading is meaningless
        if _cuda_ready():
            self._cuda_peak_at_start = _cuda_memory_mb()[2]
        self._sample(first=True)
        self._thread = threading.Thread(target=self._run, name="HardwareSampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and take the last sample (idempotent)."""
        if self._thread is None or self._stop_time is not None:
            return
        self._stop_event.set()
        self._thread.join()
        self._sample(first=False)
        if _cuda_ready():
            self._cuda_peak_at_stop = _cuda_memory_mb()[2]
        self._stop_time = time.perf_counter()

    def _run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self._sample(first=False)

    # -- sampling ----------------------------------------------------------------------------------
    def _processes(self) -> list[psutil.Process]:
        """The watched process and (optionally) its live children, with cached Process objects
        (psutil keeps the previous CPU times per object, which cpu_percent needs)."""
        if not self.include_children:
            return [self._process]
        try:
            live = {child.pid: child for child in self._process.children(recursive=True)}
        except psutil.Error:
            live = {}
        for pid, child in live.items():
            if pid not in self._children:
                self._children[pid] = child
                try:
                    child.cpu_percent(None)
                except psutil.Error:
                    pass
        self._children = {pid: proc for pid, proc in self._children.items() if pid in live}
        return [self._process, *self._children.values()]

    def _cpu_percent(self) -> float:
        total = 0.0
        for proc in self._processes():
            try:
                total += proc.cpu_percent(None)
            except psutil.Error:
                pass
        return total

    def _rss_mb(self) -> float:
        total = 0
        for proc in self._processes():
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total / MB

    def _sample(self, first: bool) -> None:
        with self._lock:
            now = time.perf_counter()
            sample: dict[str, Any] = {
                "t": now - (self._start_time or now),
                # the first reading only primes the counters: no CPU value
                "cpu_percent": None if first else self._cpu_percent(),
                "rss_mb": self._rss_mb(),
                "system_memory_percent": psutil.virtual_memory().percent,
                "gpu_allocated_mb": None,
                "gpu_reserved_mb": None,
            }
            if _cuda_ready():
                allocated, reserved, _ = _cuda_memory_mb()
                sample["gpu_allocated_mb"] = allocated
                sample["gpu_reserved_mb"] = reserved
            self.samples.append(sample)

    # -- results -----------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Peak and mean values over the samples so far.

        Keys (floats unless noted; ``None`` where there is no data):

        * ``samples`` (int), ``duration_s``, ``interval_s``
        * ``cpu_percent_mean`` (time-weighted over the sampling intervals, i.e. CPU time / wall time),
          ``cpu_percent_peak`` (highest single interval; 100 = one core)
        * ``rss_mb_start``, ``rss_mb_end``, ``rss_mb_mean``, ``rss_mb_peak``
        * ``system_memory_percent_mean``, ``system_memory_percent_peak``
        * ``gpu_memory_mb_peak``: peak torch-allocated GPU memory, also using
          ``torch.cuda.max_memory_allocated`` when it rose during the block (catches peaks between
          samples); ``gpu_memory_mb_mean``, ``gpu_reserved_mb_peak``. All ``None`` without CUDA or when
          CUDA was never initialised in this process.
        """
        with self._lock:
            samples = list(self.samples)
        end = self._stop_time if self._stop_time is not None else time.perf_counter()
        duration = end - self._start_time if self._start_time is not None else 0.0

        def mean(values: list[float]) -> float | None:
            return sum(values) / len(values) if values else None

        def peak(values: list[float]) -> float | None:
            return max(values) if values else None

        cpu_weighted, cpu_time, cpu_values = 0.0, 0.0, []
        for previous, current in zip(samples, samples[1:], strict=False):  # consecutive pairs
            if current["cpu_percent"] is None:
                continue
            dt = current["t"] - previous["t"]
            cpu_values.append(current["cpu_percent"])
            cpu_weighted += current["cpu_percent"] * dt
            cpu_time += dt
        cpu_mean = cpu_weighted / cpu_time if cpu_time > 0 else mean(cpu_values)

        rss = [s["rss_mb"] for s in samples]
        system = [s["system_memory_percent"] for s in samples]
        gpu = [s["gpu_allocated_mb"] for s in samples if s["gpu_allocated_mb"] is not None]
        gpu_reserved = [s["gpu_reserved_mb"] for s in samples if s["gpu_reserved_mb"] is not None]
        gpu_peak = peak(gpu)
        if self._cuda_peak_at_stop is not None and (
            self._cuda_peak_at_start is None or self._cuda_peak_at_stop > self._cuda_peak_at_start
        ):
            # a new all-time peak was reached inside the block, possibly between two samples
            gpu_peak = max(gpu_peak or 0.0, self._cuda_peak_at_stop)

        return {
            "samples": len(samples),
            "duration_s": duration,
            "interval_s": self.interval,
            "cpu_percent_mean": cpu_mean,
            "cpu_percent_peak": peak(cpu_values),
            "rss_mb_start": rss[0] if rss else None,
            "rss_mb_end": rss[-1] if rss else None,
            "rss_mb_mean": mean(rss),
            "rss_mb_peak": peak(rss),
            "system_memory_percent_mean": mean(system),
            "system_memory_percent_peak": peak(system),
            "gpu_memory_mb_mean": mean(gpu),
            "gpu_memory_mb_peak": gpu_peak,
            "gpu_reserved_mb_peak": peak(gpu_reserved),
        }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def hardware_info() -> dict[str, Any]:
    """Description of this machine for benchmark reports.

    Keys: ``cpu_model`` (str), ``cpu_logical_cores`` (int), ``cpu_physical_cores`` (int or None),
    ``cpu_usable_cores`` (int: CPUs this process may run on, e.g. a container's affinity),
    ``ram_total_gb`` (float), ``gpu_count`` (int), ``gpus`` (list of ``{"name": str, "memory_gb": float}``,
    empty without CUDA), ``cuda_version`` (str or None), ``os`` (e.g. ``"Linux 6.8.0"``), ``platform``
    (``platform.platform()``), ``python_version``, ``torch_version`` (str or None).
    Querying GPU properties initialises CUDA when a GPU is present.
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = psutil.cpu_count(logical=True)
    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "cpu_logical_cores": psutil.cpu_count(logical=True),
        "cpu_physical_cores": psutil.cpu_count(logical=False),
        "cpu_usable_cores": usable,
        "ram_total_gb": round(psutil.virtual_memory().total / GB, 2),
        "gpu_count": 0,
        "gpus": [],
        "cuda_version": None,
        "os": f"{platform.system()} {platform.release()}",
        "platform": platform.platform(),
        "python_version": sys.version.split()[0],
        "torch_version": None,
    }
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a project dependency
        return info
    info["torch_version"] = torch.__version__
    info["cuda_version"] = torch.version.cuda
    if torch.cuda.is_available():
        for device in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(device)
            info["gpus"].append({"name": props.name, "memory_gb": round(props.total_memory / GB, 2)})
        info["gpu_count"] = len(info["gpus"])
    return info
