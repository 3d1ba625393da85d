"""Time `--help` of every facerec command and what its entry module imports, for one or more checkouts.

    python scripts/cli_help_time.py [--repeat 3] [--out docs/performance/cli_help_time.json] ROOT [ROOT ...]

For each ROOT (a checkout: the reference first, e.g. the main branch, then this one) and command it runs
``python -m <module> --help`` in ROOT ``--repeat`` times (median wall seconds), and ``python -X importtime`` on the
entry module alone (median cumulative import seconds; lists which of torch / lightning / pymilvus / matplotlib it
pulled in). Writes JSON and
prints a table. Wall times on a shared machine are noisy: compare the columns of one run, not across runs.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {
    "facerec-train": "src.train", "facerec-export": "src.export", "facerec-eval": "src.eval",
    "facerec-embed": "src.inference.embed", "facerec-identify": "src.inference.identify",
    "facerec-enroll": "src.inference.enroll", "facerec-remove": "src.inference.remove",
}
HEAVY = ("torch", "lightning", "pymilvus", "matplotlib")
PROBE = ("import importlib, json, sys; importlib.import_module(sys.argv[1]); "
         "print(json.dumps([m for m in sys.argv[2:] if m in sys.modules]))")


def _import_seconds(root: Path, module: str) -> float:
    """Cumulative import time of ``module`` from ``-X importtime`` (its own line: ``... | cumulative_us | module``)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], cwd=root,
                          capture_output=True, text=True)
    lines = [line.split("|") for line in done.stderr.splitlines() if line.startswith("import time:")]
    return next(int(cells[1]) for cells in lines if cells[2].strip() == module) / 1e6


def _module(root: Path, module: str) -> str | None:
    """The module of a command in this checkout (``facerec-remove`` lived in enroll.py before)."""
    path = root / (module.replace(".", "/") + ".py")
    return module if path.is_file() else ("src.inference.enroll" if module == "src.inference.remove" else None)


def measure(root: Path, module: str, repeat: int) -> dict:
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=root, capture_output=True, text=True)
        seconds.append(time.perf_counter() - start)
    imports = [_import_seconds(root, module) for _ in range(repeat)]
    probe = subprocess.run([sys.executable, "-c", PROBE, module, *HEAVY], cwd=root, capture_output=True, text=True)
    return {"module": module, "help_exit_code": done.returncode, "help_lines": len(done.stdout.splitlines()),
            "help_seconds_median": statistics.median(seconds), "help_seconds": seconds,
            "import_seconds_median": statistics.median(imports),
            "heavy_imported": json.loads(probe.stdout) if probe.returncode == 0 else f"error: {probe.stderr[-300:]}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = {str(root): {cmd: measure(root, m, args.repeat) for cmd, module in COMMANDS.items()
                           if (m := _module(root, module))} for root in args.roots}
    if args.out:
        args.out.write_text(json.dumps({"python": sys.executable, "repeat": args.repeat, "results": results}, indent=1))
    roots = [str(r) for r in args.roots]
    print("| command | " + " | ".join(f"{r}: --help s (lines) | import s | heavy imports" for r in roots) + " |")
    print("| --- |" + " --- | --- | --- |" * len(roots))
    for cmd in COMMANDS:
        cells = []
        for r in roots:
            row = results[r].get(cmd)
            cells += (["-", "-", "-"] if row is None else
                      [f"{row['help_seconds_median']:.2f} ({row['help_lines']}, rc {row['help_exit_code']})",
                       f"{row['import_seconds_median']:.2f}",
                       ", ".join(row["heavy_imported"]) if isinstance(row["heavy_imported"], list) else "error"])
        print(f"| {cmd} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
