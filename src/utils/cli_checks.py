"""Check a command's inputs before any heavy work: keys, required options, paths (one paragraph, no traceback).

The :class:`CheckInputs` Hydra callback (registered in ``conf/hydra/default.yaml``, so every command has it) runs at
``on_run_start``: after Hydra composed the config, before the run dir, the saved configs or the log exist, and
before the command imports torch, Lightning or pymilvus (~7 s on the shared 2-core machine, issue 24). It stops
the command (exit 2) when

* an override added a key that nothing reads (``+treshold=0.5``): Hydra accepts any ``+key``, so a typo would be
  ignored silently; keys added under a node with ``_target_`` (constructor arguments, e.g. ``+trainer.profiler``)
  and config groups (``+experiment=...``) are fine;
* a required option is unset (``???``, null, empty; :data:`REQUIRED`);
* an input path does not exist (:data:`INPUTS`; ``ckpt_path=dlib`` names the bundled dlib backbone, not a file;
  a Milvus server URI is not checked here, a Lite gallery must exist for the commands that only read it).

Each message names the key, the value and the override that fixes it. A new command adds its config name to the
tables below; :func:`closest_keys` is the "did you mean" used for misspelt keys with and without ``+``.
"""
from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

# config name -> keys that must be set
REQUIRED: dict[str, tuple[str, ...]] = {
    "export": ("ckpt_path", "data.root"), "eval": ("ckpt_path",), "embed": ("ckpt_path", "input"),
    "identify": ("ckpt_path", "image", "milvus.uri"), "enroll": ("ckpt_path", "person_id", "images", "milvus.uri"),
    "remove": ("person_id", "milvus.uri"), "serve": ("ckpt_path",), "align": ("input", "output"),
    "pack": ("input", "output"), "export_onnx": ("ckpt_path", "output"),
}
# config name -> keys naming an existing file or folder when set (list values: every entry); `???` = required
INPUTS: dict[str, tuple[str, ...]] = {
    "train": ("data.root", "ckpt_path"), "export": ("ckpt_path", "data.root", "threshold_from"),
    "eval": ("ckpt_path", "data.root", "evaluation.pairs_file", "evaluation.bins"),
    "embed": ("ckpt_path", "input"), "identify": ("ckpt_path", "image", "threshold_from", "milvus.uri"),
    "enroll": ("ckpt_path", "images", "milvus.uri"), "remove": ("milvus.uri",),
    "serve": ("ckpt_path", "serve.threshold_from", "milvus.uri"), "align": ("input",), "pack": ("input",),
    "export_onnx": ("ckpt_path",),
}
# ckpt_path values that name a bundled backbone rather than a file (issue 20: dlib's ResNet)
BUNDLED_CHECKPOINTS = frozenset({"dlib"})
SERVER_URI = re.compile(r"^(https?|tcp|grpc|unix)://", re.IGNORECASE)
RUN_DIR_MARKERS = ("${paths.output_dir}", "${hydra:")


class InputError(SystemExit):
    """Stops the command with exit code 2 (Hydra ignores ordinary exceptions raised by its callbacks)."""


def app_name(config: DictConfig, fallback: str = "facerec") -> str:
    """The command's name as typed (``hydra.help.app_name``, e.g. ``facerec-identify``)."""
    return str(OmegaConf.select(config, "hydra.help.app_name", default=None) or fallback)


def dotted_keys(node: Any, prefix: str = "") -> Iterator[str]:
    """Every key of ``node`` (nested ones dotted), the ``hydra`` node left out; values are not resolved."""
    if not isinstance(node, DictConfig):
        return
    for key in node.keys():
        if not prefix and key == "hydra":
            continue
        full = f"{prefix}.{key}" if prefix else str(key)
        yield full
        child = node._get_node(key)  # noqa: SLF001 - the raw node, so interpolations stay unresolved
        if isinstance(child, DictConfig):
            yield from dotted_keys(child, full)


def closest_keys(key: str, valid: list[str], n: int = 3) -> list[str]:
    """The valid keys nearest to a misspelt ``key`` (difflib ratio >= 0.6), the leaf name compared too."""
    close = difflib.get_close_matches(key, valid, n=n, cutoff=0.6)
    leaf = key.rsplit(".", 1)[-1]
    by_leaf = [k for k in valid if difflib.SequenceMatcher(None, leaf, k.rsplit(".", 1)[-1]).ratio() >= 0.75]
    return list(dict.fromkeys(close + by_leaf))[:n]


def unknown_key_message(key: str, valid: list[str], command: str) -> str:
    """One sentence for a key the command does not have, with the nearest valid ones."""
    near = closest_keys(key, valid)
    hint = f"did you mean {' or '.join(f'`{k}`' for k in near)}?" if near else "no option has a similar name."
    return (f"unknown option `{key}`: {hint} `{command} --help` lists every option (key=value; a leading `+` adds "
            f"a key nothing reads, so it is refused too)")


def _added_keys(config: DictConfig) -> Iterator[str]:
    """Keys added with ``+key=value`` on the command line (``++`` forces an existing key; ``~`` deletes)."""
    for override in OmegaConf.select(config, "hydra.overrides.task", default=None) or []:
        text = str(override)
        if text.startswith("+") and not text.startswith("++") and "=" in text:
            yield text[1:].split("=", 1)[0].strip()


def unknown_added_keys(config: DictConfig, command: str) -> list[str]:
    """A message per ``+key`` that adds a key nothing reads (see the module docstring for what is allowed)."""
    groups = set(OmegaConf.select(config, "hydra.runtime.choices", default=None) or {})
    problems = []
    for key in _added_keys(config):
        if key.startswith("hydra.") or key in groups or key.split("@", 1)[0] in groups:
            continue
        parent = OmegaConf.select(config, key.rsplit(".", 1)[0]) if "." in key else config
        if isinstance(parent, DictConfig) and "_target_" in parent:
            continue
        problems.append(unknown_key_message(key, [k for k in dotted_keys(config) if k != key], command))
    return problems


def _value(config: DictConfig, key: str) -> tuple[bool, Any]:
    """(present, value) of ``key``; an unresolvable interpolation (run dir) is returned as its raw text."""
    parent_key, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(config, parent_key) if parent_key else config
    if not isinstance(parent, DictConfig) or parent._get_node(leaf) is None:  # noqa: SLF001 - `in` skips ???
        return False, None
    if OmegaConf.is_missing(parent, leaf):
        return True, MISSING
    try:
        return True, OmegaConf.select(parent, leaf)
    except Exception:  # noqa: BLE001 - ${hydra:...} resolves only once the run starts
        return True, str(parent._get_node(leaf)._value())  # noqa: SLF001


def _is_unset(value: Any) -> bool:
    return value is None or value == MISSING or (isinstance(value, str) and not value.strip())


def _uses_new_run_dir(value: Any) -> bool:
    return isinstance(value, str) and any(marker in value for marker in RUN_DIR_MARKERS)


def missing_inputs(config: DictConfig, config_name: str) -> list[str]:
    """A message per required option that is unset and per input path that does not exist."""
    problems = []
    needs_gallery = config_name in ("identify", "enroll", "remove") or (
        config_name == "serve" and not OmegaConf.select(config, "serve.create_gallery", default=False))
    for key in REQUIRED.get(config_name, ()):
        present, value = _value(config, key)
        if present and _is_unset(value):
            problems.append(f"`{key}` is required: pass {key}=<value>")
        elif key == "milvus.uri" and needs_gallery and _uses_new_run_dir(value):
            problems.append("`milvus.uri` is required: the default is a new, empty gallery in this run's folder; "
                            "pass milvus.uri=<the gallery facerec-export wrote, e.g. outputs/export/<run>/gallery.db> "
                            "or milvus=standalone milvus.uri=http://host:19530")
    for key in INPUTS.get(config_name, ()):
        present, value = _value(config, key)
        skip = key in REQUIRED.get(config_name, ()) or (config_name == "eval" and key == "data.root")
        if value == MISSING and not skip:  # REQUIRED keys are reported above; eval: .bin sets need no data.root
            problems.append(f"`{key}` is required: pass {key}=<path>")
        if not present or _is_unset(value) or _uses_new_run_dir(value):
            continue
        values = list(value) if isinstance(value, (list, tuple, ListConfig)) else [value]
        for item in map(str, values):
            if key == "ckpt_path" and item in BUNDLED_CHECKPOINTS:
                continue
            if key == "milvus.uri" and (SERVER_URI.match(item) or not needs_gallery):
                continue
            path = Path(item).expanduser()
            if not path.exists():
                problems.append(f"{key}={item} does not exist (looked in {Path.cwd()}); pass {key}=<an existing "
                                f"{'gallery' if key == 'milvus.uri' else 'path'}>")
            elif key == "ckpt_path" and path.is_file() and path.stat().st_size == 0:
                problems.append(f"ckpt_path={item} is empty (0 bytes: cut off while being written?); pass another "
                                "checkpoint, e.g. last.ckpt")
    if config_name == "eval":
        present, root = _value(config, "data.root")
        if present and _is_unset(root) and not OmegaConf.select(config, "evaluation.bins", default=None):
            problems.append("nothing to evaluate: pass data.root=<folder of people> and/or evaluation.bins=[...]")
    return problems


def refuse(command: str, problems: list[str], config_name: str = "") -> None:
    """Print one paragraph naming every problem and exit 2."""
    if problems:
        print(f"{command}: {'; '.join(problems)}. (Nothing was started or written. See `{command} --help`; "
              "HYDRA_FULL_ERROR=1 shows where a failure comes from.)", file=sys.stderr)
        raise InputError(2)


class CheckInputs(Callback):
    """Hydra callback: refuse unknown ``+keys``, unset required options and missing input paths before the run."""

    def on_run_start(self, config: DictConfig, config_name: str | None = None, **kwargs: Any) -> None:
        command = app_name(config)
        refuse(command, unknown_added_keys(config, command) + missing_inputs(config, config_name or ""))

    def on_multirun_start(self, config: DictConfig, config_name: str | None = None, **kwargs: Any) -> None:
        refuse(app_name(config), unknown_added_keys(config, app_name(config)))
