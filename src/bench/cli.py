"""``facerec-bench <sub-command> [key=value ...]``: run one benchmark, write its report.

Each run writes ``result.json`` and a PNG plot into ``out_dir`` (default
``outputs/bench/<sub-command>/<timestamp>``) and prints its tables.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import MISSING, asdict, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from src.bench.config import BenchConfigError, parse_overrides

# sub-command -> (module, config dataclass, run function); the module is imported only for the chosen one, so
# `facerec-bench <sub> --help` and a usage error never wait for torch or pymilvus of the other benchmarks
COMMANDS: dict[str, tuple[str, str, str]] = {
    "ingest": ("src.bench.ingest", "IngestConfig", "run_ingest"),
    "search": ("src.bench.search", "SearchConfig", "run_search"),
    "embed": ("src.bench.embed", "EmbedConfig", "run_embed"),
    "arch": ("src.bench.arch", "ArchConfig", "run_arch"),
    "serve": ("src.bench.serve", "ServeBenchConfig", "run_serve_bench"),
    "align": ("src.bench.align", "AlignConfig", "run_align"),
    "cluster": ("src.bench.cluster", "ClusterBenchConfig", "run_cluster_bench"),
    "cluster_scale": ("src.bench.cluster_scale", "ClusterScaleConfig", "run_cluster_scale"),
    "loader": ("src.bench.loader", "LoaderConfig", "run_loader"),
    "dlib-speed": ("src.bench.dlib_speed", "DlibSpeedConfig", "run_dlib_speed"),
    "dlib-chips": ("src.bench.dlib_chips", "DlibChipsConfig", "run_dlib_chips"),
}
USAGE = ("usage: facerec-bench {" + ",".join(COMMANDS) + "} [key=value ...]\n"
         "  e.g. facerec-bench ingest n=5000   facerec-bench search sizes=[10000] ms=[16]\n"
         "       facerec-bench embed depth=18 image_size=64 batch_sizes=[8]   facerec-bench align people=10\n"
         "       facerec-bench serve ckpt_path=<ckpt> [images=<identity folders>] concurrency=[1,8,32]\n"
         "       facerec-bench cluster ckpt_path=dlib data=../shared/data/orl_faces_30   "
         "facerec-bench cluster_scale sizes=[10000]\n"
         "       facerec-bench loader images=100000 workers=[0,1,2]")


def _load(command: str) -> tuple[type, Callable[[Any], Any]]:
    module_name, config_name, run_name = COMMANDS[command]
    module = importlib.import_module(module_name)
    return getattr(module, config_name), getattr(module, run_name)


def describe(command: str) -> str:
    """``facerec-bench <command> --help``: what it measures and every key with its default."""
    config_type, _ = _load(command)
    module_doc = (sys.modules[COMMANDS[command][0]].__doc__ or "").strip().split("\n\n")[0]
    lines = [f"facerec-bench {command}: {' '.join(module_doc.split())}", "",
             f"  facerec-bench {command} [key=value ...]", "", "== Options (key=value) =="]
    for item in fields(config_type):
        default = item.default if item.default is not MISSING else (
            item.default_factory() if item.default_factory is not MISSING else "???")
        lines.append(f"{item.name}: {default!r}")
    return "\n".join(lines)


def _params(cfg: Any) -> dict[str, Any]:
    from src.vector_store.settings import redact_uri

    params = asdict(cfg)
    if params.get("server_uri"):
        params["server_uri"] = redact_uri(params["server_uri"])
    return params


def _command(command: str, overrides: Sequence[str]) -> str:
    """The command line as typed, with a password in ``server_uri=`` masked."""
    from src.vector_store.settings import redact_uri

    shown = [f"server_uri={redact_uri(item.split('=', 1)[1])}" if item.startswith("server_uri=") else item
             for item in overrides]
    return " ".join(["facerec-bench", command, *shown])


def run(command: str, overrides: Sequence[str]) -> Path:
    """Run one benchmark; returns the path of its result.json."""
    from src.bench.report import default_out_dir, print_table, write_result
    from src.monitoring.hardware import HardwareSampler, hardware_info

    config_type, bench = _load(command)
    cfg = parse_overrides(config_type, overrides, f"facerec-bench {command}")
    out_dir = Path(cfg.out_dir) if cfg.out_dir else default_out_dir(command)
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with HardwareSampler(interval=0.5, include_children=True) as sampler:  # children: Lite / local server
        outcome = bench(cfg)
    resources = sampler.summary()
    result = {
        "benchmark": command, "created": created, "command": _command(command, overrides),
        "params": _params(cfg), "data": outcome.data, "backends": outcome.backends, "machine": hardware_info(),
        "resources": resources, "results": outcome.results, "summary": outcome.summary,
        "duration_s": resources["duration_s"],
    }
    path = write_result(result, outcome.figure, out_dir, plot_name=command)
    for table in outcome.tables:
        print_table(table)
    print(f"wrote {path} and {result['plots'][command]}")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("src.bench").setLevel(logging.INFO)  # progress of long runs
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE + "\n  facerec-bench <sub-command> --help lists that benchmark's keys and defaults.")
        return 0
    if not args or args[0] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        return 2
    if {"-h", "--help"} & set(args[1:]):
        print(describe(args[0]))
        return 0
    try:
        run(args[0], args[1:])
    except BenchConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
