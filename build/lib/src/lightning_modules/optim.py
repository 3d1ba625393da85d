"""Optimizer and learning-rate schedule built from plain config values."""
from __future__ import annotations

import math

import torch
from torch import nn


def build_optimizer(
    backbone: nn.Module, head: nn.Module, name: str, lr_backbone: float, lr_head: float,
    weight_decay: float, momentum: float = 0.9,
) -> torch.optim.Optimizer:
    """SGD (with Nesterov-free momentum) or AdamW with separate learning rates for backbone and head."""
    groups = [
        {"params": list(backbone.parameters()), "lr": lr_backbone, "name": "backbone"},
        {"params": list(head.parameters()), "lr": lr_head, "name": "head"},
    ]
    if name == "sgd":
        return torch.optim.SGD(groups, momentum=momentum, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(groups, weight_decay=weight_decay)
    raise ValueError(f"Unknown optimizer '{name}'; use 'sgd' or 'adamw'.")


def warmup_cosine(total_steps: int, warmup_steps: int, min_lr_ratio: float = 0.01):
    """LR multiplier: linear warm-up from ~0 to 1, then cosine decay to ``min_lr_ratio``."""
    total_steps = max(total_steps, 1)
    warmup_steps = min(warmup_steps, total_steps - 1)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor
