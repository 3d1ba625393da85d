"""The commands: every `--help` answers, says what the command does and which options it needs; importing an
entry module loads none of the heavy libraries (they are imported when the command runs); each command has its
own typed config."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "lightning", "pymilvus", "matplotlib")
# module -> (command name, options its --help must list as required)
COMMANDS = {
    "src.train": ("facerec-train", ["data.root"]),
    "src.export": ("facerec-export", ["ckpt_path", "data.root"]),
    "src.inference.embed": ("facerec-embed", ["ckpt_path", "input"]),
    "src.inference.identify": ("facerec-identify", ["ckpt_path", "image", "milvus.uri"]),
    "src.inference.enroll": ("facerec-enroll", ["ckpt_path", "person_id", "images", "milvus.uri"]),
    "src.inference.remove": ("facerec-remove", ["person_id", "milvus.uri"]),
    "src.eval": ("facerec-eval", ["ckpt_path", "data.root"]),
    "src.pack": ("facerec-pack", ["input", "output"]),
    "src.export_onnx": ("facerec-export-onnx", ["ckpt_path", "output"]),
    "src.align": ("facerec-align", ["input", "output"]),
    "src.serve.cli": ("facerec-serve", ["ckpt_path", "milvus.uri"]),
    "src.cluster.command": ("facerec-cluster", ["ckpt_path", "input", "output"]),
}

TRAINING = {"trainer", "callbacks", "logger", "model", "data", "evaluation", "eval", "head"}
# the inference commands have their own small configs, not the training config
NOT_OPTIONS = {"src.inference.embed": TRAINING, "src.inference.identify": TRAINING, "src.inference.enroll": TRAINING,
               "src.inference.remove": TRAINING | {"ckpt_path", "images", "gallery"}}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("module", sorted(COMMANDS))
def test_help_says_what_the_command_needs(module):
    name, required = COMMANDS[module]
    done = _run("-m", module, "--help")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith(f"{name}: "), text[:200]
    assert "\nRequired: " in text, text
    required_text = text.split("\nRequired: ")[1].split("\n\n")[0]
    missing = [option for option in required if option not in required_text]
    assert not missing, f"{name} --help does not list {missing} as required: {required_text}"
    options = text.split("== Options")[1]
    keys = {line.split(":")[0] for line in options.splitlines() if line and not line.startswith(" ")}
    assert not keys & NOT_OPTIONS.get(module, set()), f"{name} carries options it does not use: {keys}"


@pytest.mark.parametrize("module", sorted(COMMANDS))
def test_entry_module_imports_no_heavy_library(module):
    probe = (f"import importlib, json, sys; importlib.import_module({module!r}); "
             f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))")
    done = _run("-c", probe)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [], f"importing {module} loads {done.stdout.strip()}"


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml")))
def test_export_takes_every_training_recipe(experiment, tmp_path):
    """`facerec-export experiment=<name>` exports the data that recipe trained on (its own config, typed)."""
    from src.gallery.config import ExportConfig
    from src.utils.typed_config import typed
    from tests.helpers import compose_config

    train = compose_config("train", [f"experiment={experiment}"], tmp_path)
    # a recipe for the user's own data (finetune_dlib) leaves data.root to the command line
    given = [f"data.root={tmp_path}"] if OmegaConf.is_missing(train.data, "root") else []
    train = compose_config("train", [f"experiment={experiment}", *given], tmp_path)
    export = typed(ExportConfig, compose_config("export", [f"experiment={experiment}", "ckpt_path=x.ckpt", *given],
                                                tmp_path), "facerec-export")
    assert export.data == OmegaConf.to_container(train.data, resolve=True)
    assert export.gallery.image_size == train.data.image_size and export.task_name == train.task_name


# (module, arguments, what the one-paragraph answer must say); every case is answered before torch is imported
MISTAKES = [
    ("src.inference.identify", ["treshold=0.5"], "unknown option `treshold`: did you mean `threshold`"),
    ("src.inference.identify", ["+treshold=0.5", "ckpt_path=dlib", "image=README.md", "milvus.uri=README.md"],
     "unknown option `treshold`: did you mean `threshold`"),
    ("src.export", ["gallery.tta_mode=sum"], "did you mean `gallery.tta`"),
    ("src.inference.identify", ["--ckpt_path", "x.ckpt"], "options are key=value, not --flags: write ckpt_path="),
    ("src.inference.identify", ["ckpt_path=missing.ckpt", "image=missing.jpg", "milvus.uri=missing.db"],
     "image=missing.jpg does not exist"),
    ("src.inference.identify", ["ckpt_path=dlib", "image=README.md"], "`milvus.uri` is required"),
    ("src.inference.remove", ["person_id=alice", "milvus.uri=missing.db"], "milvus.uri=missing.db does not exist"),
    ("src.eval", ["ckpt_path=dlib"], "nothing to evaluate"),
    ("src.inference.identify", ["top_k=abc"], "could not be converted to Integer"),
]


@pytest.mark.parametrize(("module", "args", "expected"), MISTAKES,
                         ids=lambda v: v if isinstance(v, str) else None)
def test_mistakes_answer_fast_in_one_paragraph(module, args, expected, tmp_path):
    """A user mistake: exit 2 before torch, Lightning or pymilvus is imported (so in ~1 s, not ~8: timings in
    docs/performance/cli_startup.json), one line, no traceback, nothing written; the message names the key
    (``ckpt_path=dlib`` is the bundled backbone, never a missing file)."""
    probe = ("import atexit, runpy, sys; atexit.register(lambda: print('heavy:', [m for m in "
             f"{list(HEAVY)!r} if m in sys.modules])); sys.argv = ['facerec', *sys.argv[1:]]; "
             f"runpy.run_module({module!r}, run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", probe, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "FACEREC_ROOT": str(tmp_path)})
    assert done.returncode == 2, done.stderr[-2000:]
    assert expected in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "dlib does not exist" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "heavy: []" in done.stdout, done.stdout
    assert not list(tmp_path.iterdir()), "a refused command wrote a run dir"


def test_traceback_on_request(tmp_path):
    done = subprocess.run([sys.executable, "-m", "src.inference.identify", "treshold=0.5"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "FACEREC_ROOT": str(tmp_path), "HYDRA_FULL_ERROR": "1"})
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_added_key_under_a_constructor_node_is_allowed():
    """`+trainer.x=` adds a Trainer argument (Lightning refuses unknown ones itself); `+x=` at the top is refused."""
    from src.utils.cli_checks import unknown_added_keys
    from tests.helpers import compose_config

    def added(override: str) -> list[str]:
        cfg = compose_config("train", [override], ROOT / "outputs")
        OmegaConf.set_struct(cfg, False)
        cfg.hydra = OmegaConf.create({"overrides": {"task": [override]}, "runtime": {"choices": {"data": "x"}}})
        return unknown_added_keys(cfg, "facerec-train")

    assert added("+trainer.enable_model_summary=false") == []
    assert "did you mean `seed`" in added("+sed=1")[0]


@pytest.mark.parametrize("sub", ["ingest", "search", "embed", "arch", "serve", "align"])
def test_bench_subcommand_help(sub, capsys):
    """`facerec-bench <sub> --help`: exit 0, what it measures and every key with its default."""
    from src.bench.cli import COMMANDS, main

    assert sub in COMMANDS and main([sub, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"facerec-bench {sub}: ") and "\nout_dir: None" in out and "\nseed: 0" in out
