"""``facerec-bench {ingest,search,embed,arch,serve,align,loader} [key=value ...]``: run one benchmark, write its report.

Each run writes ``result.json`` and a PNG plot into ``out_dir`` (default
``outputs/bench/<sub-command>/<timestamp>``) and prints its tables.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from src.bench.align import AlignConfig, run_align
from src.bench.arch import ArchConfig, run_arch
from src.bench.config import BenchConfigError, parse_overrides
from src.bench.embed import EmbedConfig, run_embed
from src.bench.ingest import IngestConfig, run_ingest
from src.bench.loader import LoaderConfig, run_loader
from src.bench.report import Outcome, default_out_dir, print_table, write_result
from src.bench.search import SearchConfig, run_search
from src.bench.serve import ServeBenchConfig, run_serve_bench
from src.monitoring.hardware import HardwareSampler, hardware_info
from src.vector_store.settings import redact_uri

COMMANDS: dict[str, tuple[type, Callable[[Any], Outcome]]] = {
    "ingest": (IngestConfig, run_ingest),
    "search": (SearchConfig, run_search),
    "embed": (EmbedConfig, run_embed),
    "arch": (ArchConfig, run_arch),
    "serve": (ServeBenchConfig, run_serve_bench),
    "align": (AlignConfig, run_align),
    "loader": (LoaderConfig, run_loader),
}
USAGE = ("usage: facerec-bench {ingest,search,embed,arch,serve,align,loader} [key=value ...]\n"
         "  e.g. facerec-bench ingest n=5000   facerec-bench search sizes=[10000] ms=[16]\n"
         "       facerec-bench embed depth=18 image_size=64 batch_sizes=[8]   facerec-bench align people=10\n"
         "       facerec-bench serve ckpt_path=<ckpt> [images=<identity folders>] concurrency=[1,8,32]\n"
         "       facerec-bench loader images=100000 workers=[0,2]")


def _params(cfg: Any) -> dict[str, Any]:
    params = asdict(cfg)
    if params.get("server_uri"):
        params["server_uri"] = redact_uri(params["server_uri"])
    return params


def _command(command: str, overrides: Sequence[str]) -> str:
    """The command line as typed, with a password in ``server_uri=`` masked."""
    shown = [f"server_uri={redact_uri(item.split('=', 1)[1])}" if item.startswith("server_uri=") else item
             for item in overrides]
    return " ".join(["facerec-bench", command, *shown])


def run(command: str, overrides: Sequence[str]) -> Path:
    """Run one benchmark; returns the path of its result.json."""
    config_type, bench = COMMANDS[command]
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
    if not args or args[0] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        run(args[0], args[1:])
    except BenchConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
