"""Start-up of the facerec commands, for one or more checkouts: time to a user error and to a one-photo answer.

    python scripts/cli_startup.py --ckpt CKPT --gallery GALLERY_DB --image PHOTO [--repeat 2]
        [--out docs/performance/cli_startup.json] ROOT [ROOT ...]

For each ROOT (a checkout: the reference first, e.g. /work/main, then this one) every case runs as
``python -m <module> <args>`` with ``PYTHONPATH=ROOT`` and the run dirs in a temporary ``FACEREC_ROOT``; the roots
alternate within each repeat, so both see the same machine load. Cases: ``--help``; a mistyped input path
(identify, remove, export, train); a misspelt key; a one-photo ``facerec-identify`` (imports, model load, Lite
start, one search; the same checkpoint and gallery for every root). Records the median wall seconds, the exit code
and whether a traceback was printed. Wall times on a shared machine are noisy: compare the columns of one run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def cases(ckpt: str, gallery: str, image: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (module, arguments)."""
    identify = "src.inference.identify"
    return {
        "identify --help": (identify, ["--help"]),
        "identify: mistyped image path": (identify, [f"ckpt_path={ckpt}", "image=no_such_photo.jpg",
                                                     f"milvus.uri={gallery}"]),
        "identify: misspelt key (treshold=)": (identify, [f"ckpt_path={ckpt}", f"image={image}",
                                                          f"milvus.uri={gallery}", "treshold=0.5"]),
        "remove: mistyped gallery path": ("src.inference.remove", ["person_id=alice", "milvus.uri=no_such.db"]),
        "export: mistyped checkpoint path": ("src.export", ["ckpt_path=no_such.ckpt",
                                                            f"data.root={Path(image).parent.parent}"]),
        "train: mistyped data.root": ("src.train", ["data.root=no_such_folder"]),
        "identify: one photo (answer)": (identify, [f"ckpt_path={ckpt}", f"image={image}", f"milvus.uri={gallery}"]),
    }


def run_once(root: Path, module: str, args: list[str], work: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root), "FACEREC_ROOT": str(work)}
    env.pop("HYDRA_FULL_ERROR", None)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "exit_code": done.returncode, "traceback": "Traceback" in done.stderr,
            "stderr_lines": len(done.stderr.strip().splitlines()), "stderr_tail": done.stderr.strip()[-300:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--gallery", required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    todo = cases(str(Path(args.ckpt).resolve()), str(Path(args.gallery).resolve()), str(Path(args.image).resolve()))
    runs: dict[str, dict[str, list[dict]]] = {str(r): {name: [] for name in todo} for r in args.roots}
    with tempfile.TemporaryDirectory() as work:
        for _ in range(args.repeat):
            for name, (module, case_args) in todo.items():
                for root in args.roots:  # alternate: both roots see the same load
                    runs[str(root)][name].append(run_once(root, module, case_args, Path(work)))
    results = {root: {name: {"seconds_median": statistics.median(r["seconds"] for r in rows),
                             "seconds": [r["seconds"] for r in rows], "exit_code": rows[-1]["exit_code"],
                             "traceback": rows[-1]["traceback"], "stderr_lines": rows[-1]["stderr_lines"],
                             "stderr_tail": rows[-1]["stderr_tail"]}
                      for name, rows in by_case.items()} for root, by_case in runs.items()}
    machine = {"cpus": os.cpu_count(), "load_average_1m": os.getloadavg()[0], "python": sys.version.split()[0]}
    if args.out:
        args.out.write_text(json.dumps({"machine": machine, "repeat": args.repeat, "ckpt": args.ckpt,
                                        "gallery": args.gallery, "image": args.image, "results": results}, indent=1))
    roots = [str(r) for r in args.roots]
    print(f"machine: {machine}")
    print("| case | " + " | ".join(f"{r}: s (exit, traceback)" for r in roots) + " |")
    print("| --- |" + " --- |" * len(roots))
    for name in todo:
        cells = [f"{results[r][name]['seconds_median']:.2f} ({results[r][name]['exit_code']}, "
                 f"{'yes' if results[r][name]['traceback'] else 'no'})" for r in roots]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
