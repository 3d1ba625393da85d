"""Run `facerec-serve` as a child process on a free loopback port (for the serve benchmark and the tests).

The child is ``python -m src.serve`` from the project root with the given Hydra overrides; its output goes to
a log file whose tail is quoted when it does not come up.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from src.bench.local_server import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180.0  # importing torch and pymilvus and loading the model on a busy 2-core machine


class ServeStartError(RuntimeError):
    """The service did not answer /health; the message ends with the tail of its log."""


class ServeProcess:
    """`facerec-serve <overrides> serve.host=127.0.0.1 serve.port=<free>` in a child process (a context manager).

    ``env`` is added to the parent's environment (e.g. ``FACEREC_API_KEY``); ``log_path`` receives stdout/stderr.
    """

    def __init__(self, overrides: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.overrides = [*overrides, "serve.host=127.0.0.1", f"serve.port={self.port}"]
        self.log_path = Path(log_path)
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = START_TIMEOUT_S) -> str:
        """Start the child and wait until /health answers; returns the base URL. Raises ServeStartError."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "src.serve", *self.overrides], cwd=PROJECT_ROOT,
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while not self._healthy():
            if self.process.poll() is not None:
                raise ServeStartError(f"facerec-serve exited with code {self.process.returncode}.\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise ServeStartError(f"facerec-serve not answering after {timeout_s:.0f}s.\n{self.log_tail()}")
            time.sleep(0.3)
        return self.url

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        return f"--- {self.log_path} (last {min(lines, len(text))} lines) ---\n" + "\n".join(text[-lines:])

    def terminate(self) -> None:
        """Send SIGTERM (the service drains requests in flight, then exits)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout_s``); returns the exit code (None if never started)."""
        if self.process is None:
            return None
        self.terminate()
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def __enter__(self) -> ServeProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
