"""Every command's `--help` answers, says what the command does and which options it needs, and importing its
entry module loads none of the heavy libraries (they are imported when the command runs)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
}


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


def test_help_of_inference_commands_carries_no_training_options():
    """identify/enroll/remove/embed have their own small configs, not the training config."""
    for module in ("src.inference.identify", "src.inference.enroll", "src.inference.remove", "src.inference.embed"):
        options = _run("-m", module, "--help").stdout.split("== Options")[1]
        keys = {line.split(":")[0] for line in options.splitlines() if line and not line.startswith(" ")}
        assert not keys & {"trainer", "callbacks", "logger", "model", "data", "evaluation", "eval"}, (module, keys)
    remove_options = _run("-m", "src.inference.remove", "--help").stdout.split("== Options")[1]
    assert "ckpt_path" not in remove_options and "images" not in remove_options


@pytest.mark.parametrize("module", sorted(COMMANDS))
def test_entry_module_imports_no_heavy_library(module):
    probe = (f"import importlib, json, sys; importlib.import_module({module!r}); "
             f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))")
    done = _run("-c", probe)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [], f"importing {module} loads {done.stdout.strip()}"
