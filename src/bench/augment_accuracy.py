"""Held-out rank-1 with the per-image worker augmentation vs the batched device augmentation, over seeds:
``python -m src.bench.augment_accuracy [seeds=0,1,2] [out=...] <facerec-train overrides>``

Each seed trains ``experiment=quickstart`` (synthetic identities, ResNet18) twice, ``data.augment=worker`` (the
pipeline before issue 21) and ``data.augment=device``, and records the final ``val/rank1`` and ``val/verif_acc``.
The two augmentations draw different random numbers, so their difference is judged against the spread over
seeds, printed beside it. Writes ``result.json`` and prints a table.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from rich.console import Console

from src.bench.report import make_table
from src.monitoring.hardware import hardware_info
from src.train import train
from src.utils.paths import CONF_DIR

QUIET = ["~callbacks.progress_bar", "~callbacks.milvus_export", "~callbacks.lr_monitor", "logger=[]", "eval=false",
         "data.num_workers=0", "data.persistent_workers=false", "+trainer.enable_model_summary=false"]


def run_once(overrides: list[str], work: Path) -> dict[str, float]:
    """One quickstart fit; its final validation metrics."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.root_dir={work}", f"paths.output_dir={work}/run",
                                          f"paths.checkpoint_dir={work}/ckpt", "experiment=quickstart", *QUIET,
                                          *overrides])
    metrics, _ = train(cfg)
    return {"rank1": round(metrics["val/rank1"], 4), "verif_acc": round(metrics["val/verif_acc"], 4)}


def main(argv: Sequence[str] | None = None) -> Path:
    args = list(sys.argv[1:] if argv is None else argv)
    options = {k: v for k, _, v in (a.partition("=") for a in args) if k in ("seeds", "out")}
    overrides = [a for a in args if a.split("=")[0] not in ("seeds", "out")]
    seeds = [int(s) for s in options.get("seeds", "0,1,2").split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for augment in ("worker", "device"):
                work = Path(tmp) / f"{augment}_{seed}"
                metrics = run_once([*overrides, f"seed={seed}", f"data.augment={augment}"], work)
                rows.append({"seed": seed, "augment": augment, **metrics})
                print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for augment in ("worker", "device"):
        values = [r["rank1"] for r in rows if r["augment"] == augment]
        summary[augment] = {"rank1_mean": round(statistics.mean(values), 4),
                            "rank1_stdev": round(statistics.stdev(values), 4) if len(values) > 1 else None}
    result = {"benchmark": "augment_accuracy", "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "command": " ".join(["python -m src.bench.augment_accuracy", *args]),
              "data": "experiment=quickstart: synthetic identities (60 x 10, 25% held out), ResNet18 from scratch",
              "machine": hardware_info(), "runs": rows, "summary": summary}
    out = Path(options.get("out") or Path("outputs/bench/augment_accuracy") / datetime.now().strftime("%Y%m%d_%H%M%S"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(result, indent=2))
    table = [(r["seed"], r["augment"], r["rank1"], r["verif_acc"]) for r in rows]
    table += [("mean", a, f"{s['rank1_mean']} ± {s['rank1_stdev']}", "") for a, s in summary.items()]
    Console().print(make_table("held-out rank-1: worker vs device augmentation", ["seed", "augment", "val/rank1",
                                                                                   "val/verif_acc"], table))
    print(f"Result: {out / 'result.json'}")
    return out / "result.json"


if __name__ == "__main__":
    main()
