"""HardwareSampler and hardware_info: fast checks on the real machine."""
import subprocess
import sys
import time

import numpy as np
import pytest

from src.monitoring import HardwareSampler, hardware_info

SUMMARY_KEYS = {
    "samples",
    "duration_s",
    "interval_s",
    "cpu_percent_mean",
    "cpu_percent_peak",
    "rss_mb_start",
    "rss_mb_end",
    "rss_mb_mean",
    "rss_mb_peak",
    "system_memory_percent_mean",
    "system_memory_percent_peak",
    "gpu_memory_mb_mean",
    "gpu_memory_mb_peak",
    "gpu_reserved_mb_peak",
}


def test_peak_rss_grows_with_a_large_allocation():
    with HardwareSampler(interval=0.05) as baseline:
        time.sleep(0.2)
    with HardwareSampler(interval=0.05) as loaded:
        big = np.ones(400 * 1024 * 1024 // 8)  # 400 MB of float64, every page written
        time.sleep(0.2)
        assert big[-1] == 1.0
    del big
    base, load = baseline.summary(), loaded.summary()
    assert load["rss_mb_peak"] > base["rss_mb_peak"] + 300
    assert load["rss_mb_peak"] >= load["rss_mb_mean"] >= base["rss_mb_start"] - 50
    assert load["rss_mb_end"] > load["rss_mb_start"] + 300  # the stop sample still sees the array


def test_summary_keys_and_sane_values():
    with HardwareSampler(interval=0.05) as sampler:
        end = time.perf_counter() + 0.4
        while time.perf_counter() < end:  # keep one core busy
            sum(range(1000))
    summary = sampler.summary()
    assert set(summary) == SUMMARY_KEYS
    assert summary["samples"] >= 4
    assert summary["duration_s"] == pytest.approx(0.4, abs=0.3)
    assert summary["interval_s"] == 0.05
    assert 0 < summary["cpu_percent_mean"] <= summary["cpu_percent_peak"]
    assert summary["cpu_percent_mean"] > 10  # a busy loop: this process used a good share of a core
    assert 0 < summary["rss_mb_mean"] <= summary["rss_mb_peak"]
    assert 0 < summary["system_memory_percent_peak"] <= 100
    if summary["gpu_memory_mb_peak"] is None:
        assert summary["gpu_memory_mb_mean"] is None and summary["gpu_reserved_mb_peak"] is None
    assert len(sampler.samples) == summary["samples"]


def test_very_short_block_has_start_and_stop_samples():
    with HardwareSampler(interval=10.0) as sampler:
        pass
    summary = sampler.summary()
    assert summary["samples"] == 2
    assert summary["duration_s"] < 5  # stop does not wait for the interval
    assert summary["rss_mb_peak"] > 0 and summary["cpu_percent_peak"] is not None
    sampler.stop()  # idempotent
    assert sampler.summary()["samples"] == 2


def test_include_children_adds_child_rss():
    code = "import sys, time; b = bytearray(200 * 1024 * 1024); print('ready', flush=True); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        with HardwareSampler(interval=0.05) as own, HardwareSampler(interval=0.05, include_children=True) as all_:
            time.sleep(0.1)
    finally:
        child.kill()
        child.wait()
    assert all_.summary()["rss_mb_peak"] > own.summary()["rss_mb_peak"] + 150


def test_invalid_interval():
    with pytest.raises(ValueError):
        HardwareSampler(interval=0)


def test_hardware_info_keys():
    info = hardware_info()
    expected = {
        "cpu_model",
        "cpu_logical_cores",
        "cpu_physical_cores",
        "cpu_usable_cores",
        "ram_total_gb",
        "gpu_count",
        "gpus",
        "cuda_version",
        "os",
        "platform",
        "python_version",
        "torch_version",
    }
    assert expected <= set(info)
    assert isinstance(info["cpu_model"], str) and info["cpu_model"]
    assert info["cpu_logical_cores"] >= info["cpu_usable_cores"] >= 1
    assert info["ram_total_gb"] > 0.1
    assert info["gpu_count"] == len(info["gpus"])
    assert all(set(gpu) == {"name", "memory_gb"} for gpu in info["gpus"])
    assert info["python_version"] == sys.version.split()[0]
    assert info["torch_version"]
