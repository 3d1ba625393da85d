"""`facerec-serve ckpt_path=... milvus.uri=... [serve.host=127.0.0.1 serve.port=8000]` (Hydra, conf/serve.yaml).

Opens the model and the gallery once, checks that the gallery was built with this model and TTA mode, then
serves HTTP with uvicorn until SIGTERM/SIGINT, which drain the requests in flight and exit 0.
"""
from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

from omegaconf import DictConfig, OmegaConf

from src.serve.auth import API_KEY_ENV, api_key_from_env, check_bind
from src.serve.settings import ServeSettings
from src.utils.cli_entry import command

log = logging.getLogger(__name__)
USAGE = "facerec-serve ckpt_path=<ckpt> milvus.uri=<gallery.db or http://host:port> [serve.port=8000]"


def build_app(cfg: DictConfig, settings: ServeSettings, api_key: str | None) -> Any:
    """Load the model, open (and check) the gallery, pick the threshold, warm up; returns the ASGI app."""
    import torch  # heavy imports after the cheap checks, so a refused start answers in a second

    from src.inference import FaceGallery, load_model
    from src.inference.threshold import resolve_threshold
    from src.serve.app import create_app
    from src.serve.engine import Recognizer
    from src.serve.metrics import ServiceMetrics
    from src.serve.service import Service

    if not cfg.get("ckpt_path"):
        raise ValueError(f"ckpt_path is required: {USAGE}")
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    model = load_model(cfg.ckpt_path, cfg.gallery.tta, align=bool(cfg.align), alignment=cfg.alignment)
    gallery = FaceGallery.open(model, cfg.milvus, create=settings.create_gallery)
    try:
        threshold = resolve_threshold(settings.threshold, settings.threshold_from,
                                      gallery, model.model_id, model.tta_mode,
                                      settings.default_threshold)
        recognizer = Recognizer(gallery, threshold, settings.upload_dir)
        recognizer.warm_up()
        rows = gallery.count()
    except BaseException:
        gallery.close()
        raise
    log.info("Gallery %r at %s: %d rows, model %s (%s); unknown below %.4f (%s); uploads in %s; API key %s.",
             gallery.store.collection_name, gallery.store.settings.display_uri, rows, model.model_id,
             model.tta_mode, threshold.value, threshold.source, Path(settings.upload_dir).resolve(),
             "required" if api_key else f"not set ({API_KEY_ENV}; loopback only)")
    return create_app(Service(recognizer, settings, ServiceMetrics()), api_key)


def run(app: Any, settings: ServeSettings) -> None:
    """Serve ``app`` with uvicorn until SIGTERM/SIGINT; a drained shutdown returns normally (exit 0)."""
    import uvicorn

    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                            log_level=settings.log_level, lifespan="on",
                            timeout_graceful_shutdown=settings.graceful_timeout_s)
    # uvicorn drains in-flight requests on SIGTERM/SIGINT, restores the previous handlers and raises the signal
    # again; with these handlers that second delivery only logs, so a drained shutdown exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: log.info("Stopped by %s after draining requests.",
                                                           signal.Signals(number).name))
    log.info("Serving on http://%s:%d (API docs at /docs).", settings.host, settings.port)
    uvicorn.Server(config).run()


def refuse(error: BaseException) -> NoReturn:
    """Say why the service cannot start (console and run-dir log) and exit 2."""
    log.error("facerec-serve cannot start: %s", error)
    sys.exit(2)


@command("serve")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of `facerec-serve`; a refused start prints why and exits 2."""
    try:
        settings = ServeSettings.from_config(OmegaConf.to_container(cfg.serve, resolve=True))
        api_key = api_key_from_env()
        check_bind(settings.host, api_key)
    except ValueError as error:
        refuse(error)
    from src.gallery.rows import GalleryError as MilvusStoreError

    try:
        app = build_app(cfg, settings, api_key)
    except (ValueError, FileNotFoundError, MilvusStoreError) as error:
        refuse(error)
    run(app, settings)


if __name__ == "__main__":
    main()
