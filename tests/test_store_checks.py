"""Checks an exporter can make before embedding anything: rows Milvus would reject (whole batch at
once) and whether the configured server is reachable at all."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from src.vector_store import MilvusSettings, MilvusStore, MilvusUnavailableError

CONF_DIR = Path(__file__).resolve().parents[1] / "conf" / "milvus"


def test_check_rows_reports_every_rejected_person_id_before_writing(tmp_path: Path) -> None:
    n = 1000
    paths = [f"/faces/p{i % 50}/{i}.jpg" for i in range(n)]
    people = [f"p{i % 50}" for i in range(n)]
    people[10] = "x" * 257                  # longer than the VARCHAR(256) field
    people[500] = "tab\there"               # control character
    people[999] = "caf\udce9"               # undecodable folder name (os.fsdecode surrogate)
    with MilvusStore(MilvusSettings(uri=str(tmp_path / "gallery.db"))) as store:
        with pytest.raises(ValueError) as err:
            store.check_rows(paths, people)
        text = str(err.value)
        assert text.startswith("3 of 1000 rows cannot be stored") and "rename the folder" in text
        assert "257 bytes" in text and "control characters" in text and "not valid UTF-8" in text
        assert "/faces/p10/10.jpg" in text and "/faces/p0/500.jpg" in text and "/faces/p49/999.jpg" in text
        store.ensure_collection(4, model_id="m", tta_mode="none")
        with pytest.raises(ValueError, match="3 of 1000 rows"):  # upsert makes the same checks first
            store.upsert(paths, people, np.ones((n, 4), dtype=np.float32))
        assert store.count() == 0
        store.check_rows(paths[:10], people[:10])  # a clean batch passes


def test_unreachable_server_fails_before_any_embedding(tmp_path: Path) -> None:
    """Export opens the store (MilvusStore.from_config connects eagerly) before it embeds images."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = OmegaConf.create({"paths": {"output_dir": str(tmp_path)}})
    cfg.milvus = OmegaConf.load(CONF_DIR / "standalone.yaml")
    cfg.milvus.uri = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with pytest.raises(MilvusUnavailableError, match="docker compose up -d"):
        MilvusStore.from_config(cfg.milvus)
    # Default settings (3 attempts, 2 s connect timeout, 0.5 s backoff): measured ~1.5 s, against
    # minutes to embed a gallery of thousands of images on CPU.
    assert time.monotonic() - started < 10.0
