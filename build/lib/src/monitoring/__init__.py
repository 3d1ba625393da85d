"""Hardware monitoring: a background resource sampler and a description of the machine."""
from src.monitoring.hardware import HardwareSampler, hardware_info

__all__ = ["HardwareSampler", "hardware_info"]
