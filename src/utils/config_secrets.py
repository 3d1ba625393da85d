"""Refuse to start a Hydra command whose configuration holds a secret, before Hydra writes it anywhere.

Hydra saves the composed config, its own config and the command-line overrides in clear to
``<run dir>/.hydra/{config,hydra,overrides}.yaml`` and repeats the overrides in its failure line, so a
password typed into ``milvus.uri=http://user:secret@host`` or ``milvus.password=...`` would be stored on
disk although the project masks it in its own logs and reports. This callback (registered in
``conf/hydra/default.yaml``) runs at ``on_run_start``/``on_multirun_start``, i.e. before the run dir, the
saved configs or the log file exist, and stops the command with a message naming the keys (never the
values) and the environment variables to use instead. Interpolations such as ``${oc.env:MILVUS_PASSWORD}``
are fine: Hydra saves them unresolved.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

SECRET_KEYS = frozenset({"password", "token", "secret", "api_key"})
# scheme://user:password@host (a user without a password is not a secret)
_URI_WITH_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]+:[^/\s@]+@")
ENV_HINT = ("Give credentials through the environment instead: MILVUS_USER and MILVUS_PASSWORD, or MILVUS_TOKEN "
            "(e.g. `MILVUS_PASSWORD=... facerec-export ... milvus.uri=http://host:19530`); they are read at connect "
            "time and never written to the run dir or the logs.")


def _literal(value: Any) -> bool:
    """A value written as-is (not null/empty and not a ``${...}`` interpolation resolved at run time)."""
    return isinstance(value, str) and bool(value.strip()) and not value.strip().startswith("${")


def _leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, f"{prefix}[{index}]")
    else:
        yield prefix, node


def _secret_kind(key: str, value: Any) -> str | None:
    """What secret ``value`` (stored under a key whose last part is ``key``) is, or ``None``."""
    if not isinstance(value, str):
        return None
    if key.lstrip("+~") in SECRET_KEYS and _literal(value):
        return f"a {key.lstrip('+~')}"
    if _URI_WITH_PASSWORD.search(value):
        return "a password inside a URI"
    return None


def find_secrets(config: DictConfig) -> list[str]:
    """The keys under which ``config`` (unresolved; overrides recorded in the ``hydra`` node included) holds a
    secret, as ``"key (what)"``; the values are never part of the answer."""
    found: set[str] = set()
    for where, value in _leaves(OmegaConf.to_container(config, resolve=False)):
        if where.startswith("hydra.overrides.") and isinstance(value, str) and "=" in value:
            where, value = value.split("=", 1)  # "milvus.uri=http://..." as typed on the command line
            where = where.lstrip("+~")
        elif where.startswith("hydra."):  # hydra.job.override_dirname etc. only repeat the overrides
            continue
        if kind := _secret_kind(where.rsplit(".", 1)[-1], value):
            found.add(f"{where} ({kind})")
    return sorted(found)


class SecretInConfigError(SystemExit):
    """Stops the command (exit code 2): Hydra ignores ordinary exceptions raised by its callbacks."""


def refuse_secrets(config: DictConfig) -> None:
    """Print which keys hold a secret (the values are never shown) and exit with code 2."""
    found = find_secrets(config)
    if found:
        print(f"Refusing to start: the configuration holds credentials that Hydra would save in clear to the run "
              f"dir's .hydra/config.yaml, hydra.yaml and overrides.yaml: {'; '.join(found)}. {ENV_HINT}",
              file=sys.stderr)
        raise SecretInConfigError(2)


class RefuseSecretsInConfig(Callback):
    """Hydra callback: stop a run or multirun before anything is written when the config holds a secret."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        refuse_secrets(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        refuse_secrets(config)
