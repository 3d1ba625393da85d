"""The entry point of every Hydra command: ``@command("identify")`` instead of ``@hydra.main(...)``.

On top of ``hydra.main`` it answers user mistakes in one paragraph, exit code 2, without a traceback
(``HYDRA_FULL_ERROR=1`` shows the traceback, as Hydra does):

* ``--ckpt_path x`` style arguments: the commands take ``key=value``;
* a misspelt key (``treshold=0.5``): Hydra's own answer advises ``+treshold=0.5``, which would then be ignored;
  here the nearest valid keys are named (:func:`src.utils.cli_checks.closest_keys`), and ``+key`` is refused by
  the :class:`~src.utils.cli_checks.CheckInputs` callback;
* bad values Hydra finds while composing (a wrong type, an unknown group option);
* :data:`USER_ERRORS` raised by the command (missing files, bad values: the project's messages say what to do).

A failed run leaves no empty run folder behind: a run dir holding only Hydra's ``.hydra`` and log files and an empty
checkpoint dir are removed.
"""
from __future__ import annotations

import contextvars
import functools
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from src.utils.cli_checks import dotted_keys, unknown_key_message
from src.utils.paths import CONF_DIR

# Hydra's own flags (`--help` etc.); any other `--name` is a key typed the argparse way
HYDRA_FLAGS = frozenset({"--help", "-h", "--hydra-help", "--version", "--cfg", "-c", "--resolve", "--package", "-p",
                         "--run", "-r", "--multirun", "-m", "--shell-completion", "-sc", "--config-path", "-cp",
                         "--config-name", "-cn", "--config-dir", "-cd", "--experimental-rerun", "--info", "-i"})
# what a command raises for input it cannot use (its message says what to do); anything else is a bug: traceback
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
                                                PermissionError, OmegaConfBaseException)
_OVERRIDE_FAILED = re.compile(r"Could not override '([^']+)'")
# whether the user asked for tracebacks (read before HYDRA_FULL_ERROR is set for Hydra's sake)
_VERBOSE: contextvars.ContextVar[bool] = contextvars.ContextVar("facerec_verbose", default=False)


def _is_user_error(error: BaseException) -> bool:
    """A mistake in the input (the message says what to do), not a bug: answered without a traceback."""
    return isinstance(error, USER_ERRORS) or any(c.__name__ == "MilvusStoreError" for c in type(error).__mro__)


def _verbose() -> bool:
    return os.environ.get("HYDRA_FULL_ERROR", "") not in ("", "0")


def fail(command: str, message: str) -> None:
    """Print ``message`` as one paragraph and exit 2."""
    text = " ".join(line.strip() for line in str(message).strip().splitlines() if line.strip())
    print(f"{command}: {text} (HYDRA_FULL_ERROR=1 shows the traceback.)", file=sys.stderr)
    sys.exit(2)


def check_argv(command: str, argv: list[str]) -> None:
    """Refuse ``--key value`` / ``--key=value``: the commands take ``key=value`` (Hydra overrides)."""
    flags = [arg for arg in argv if arg.startswith("-") and arg.split("=", 1)[0] not in HYDRA_FLAGS
             and not re.match(r"^-?\d", arg.lstrip("-"))]
    if flags:
        examples = [f"{flag.lstrip('-').split('=', 1)[0]}=..." for flag in flags]
        fail(command, f"options are key=value, not --flags: write {' '.join(examples)} instead of {' '.join(flags)} "
                      f"(`{command} --help` lists them).")


def _valid_keys(config_name: str, overrides: list[str]) -> list[str]:
    """The keys of ``config_name`` composed with ``overrides`` (only on the error path: composing takes ~0.4 s)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            return list(dotted_keys(compose(config_name=config_name, overrides=overrides)))
    except HydraException:
        return []


def explain_composition(error: BaseException, command: str, config_name: str, argv: list[str]) -> str:
    """Hydra's composition error as one sentence; a key it could not override gets the nearest valid keys."""
    found = _OVERRIDE_FAILED.search(str(error))
    if found:
        key = found.group(1)
        others = [a for a in argv if "=" in a and a.split("=", 1)[0].lstrip("+~") != key and not a.startswith("-")]
        return unknown_key_message(key, _valid_keys(config_name, others), command) + "."
    cause = f" {error.__cause__}" if isinstance(error.__cause__, OmegaConfBaseException) else ""
    return f"{error}{cause}"


def _job_name() -> str:
    """Hydra's job name (its log file is ``<job name>.log`` in the run dir); empty outside a Hydra run."""
    from hydra.core.hydra_config import HydraConfig

    try:
        return str(HydraConfig.get().job.name)
    except ValueError:  # HydraConfig is not set
        return ""


def _remove_empty_run_dirs(cfg: DictConfig) -> None:
    """After a failure: drop the run dir if it holds only Hydra's bookkeeping, and an empty checkpoint dir."""
    for key in ("paths.output_dir", "paths.checkpoint_dir"):
        try:
            path = Path(str(OmegaConf.select(cfg, key)))
        except Exception:  # noqa: BLE001 - an unresolvable path has nothing to clean
            continue
        if not path.is_dir() or path.resolve() == Path.cwd().resolve():
            continue
        # Hydra's own files only: `.hydra/` and `<job name>.log`; any other file (a log the caller pointed into the
        # run dir, as the service tests do) keeps the folder
        leftovers = [p for p in path.iterdir() if p.name not in (".hydra", f"{_job_name()}.log")]
        if not leftovers:
            shutil.rmtree(path, ignore_errors=True)
            if path.parent.is_dir() and not any(path.parent.iterdir()):  # outputs/<task>/ held only this run
                path.parent.rmdir()


def command(config_name: str) -> Callable[[Callable[[DictConfig], Any]], Callable[[], Any]]:
    """Decorate a command's ``main(cfg)`` (see the module docstring)."""

    def decorate(task: Callable[[DictConfig], Any]) -> Callable[[], Any]:
        name = f"facerec-{config_name.replace('_', '-')}"

        @functools.wraps(task)
        def run_task(cfg: DictConfig) -> Any:
            try:
                return task(cfg)
            except BaseException as error:
                _remove_empty_run_dirs(cfg)
                if _is_user_error(error) and not _VERBOSE.get():
                    fail(name, str(error) or type(error).__name__)  # here: Hydra would print its own line first
                raise

        hydra_main = hydra.main(version_base="1.3", config_path=CONF_DIR, config_name=config_name)(run_task)

        @functools.wraps(task)
        def main() -> Any:
            argv = sys.argv[1:]
            check_argv(name, argv)
            _VERBOSE.set(_verbose())
            if _VERBOSE.get():
                return hydra_main()
            os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises, so the answer is ours, not its traceback
            try:
                return hydra_main()
            except HydraException as error:
                fail(name, explain_composition(error, name, config_name, argv))
            except Exception as error:
                if _is_user_error(error):
                    fail(name, str(error) or type(error).__name__)
                raise
            finally:
                os.environ.pop("HYDRA_FULL_ERROR", None)

        return main

    return decorate
