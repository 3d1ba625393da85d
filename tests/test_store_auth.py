"""Rejected credentials on a real Milvus 2.3.5 server with authorization on: the project's
MilvusAuthError with its hint, at once (no retries), secrets never shown, no gRPC traceback."""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymilvus import MilvusClient

from src.bench.local_server import ROOT_TOKEN, LocalMilvusServer, ServerStartError
from src.vector_store import MilvusAuthError, MilvusSettings, MilvusStore

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def auth_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second 2.3.5 server, with ``common.security.authorizationEnabled: true``."""
    server = LocalMilvusServer(tmp_path_factory.mktemp("milvus-auth"), authorization=True)
    try:
        uri = server.start()
    except ServerStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield uri
    server.stop()


def _rendered(exc: BaseException) -> str:
    """The traceback a user would see; it must not carry the pymilvus/gRPC exceptions underneath."""
    text = "".join(traceback.format_exception(exc))
    assert "_InactiveRpcError" not in text and "MilvusException" not in text and "During handling" not in text
    return text


@pytest.mark.parametrize("credentials", [
    {"user": "root", "password": "pw-SECRET-wrong"},
    {"token": "root:tok-SECRET-wrong"},
    {},
], ids=["password", "token", "none"])
def test_rejected_credentials_raise_auth_error_with_hint(auth_server_uri: str, credentials: dict) -> None:
    started = time.monotonic()
    with pytest.raises(MilvusAuthError) as err:
        MilvusStore(MilvusSettings(uri=auth_server_uri, **credentials))
    assert time.monotonic() - started < 5.0  # rejected at once: no connect retries
    text = _rendered(err.value)
    assert "rejected the credentials" in text and "MILVUS_TOKEN" in text and auth_server_uri in text
    assert "SECRET" not in text


def test_denied_operation_after_connect_is_an_auth_error(auth_server_uri: str, tmp_path: Path) -> None:
    admin = MilvusClient(auth_server_uri, token=ROOT_TOKEN)
    admin.create_user("reader", "reader-SECRET-1")
    try:
        with MilvusStore(MilvusSettings(uri=auth_server_uri, user="reader", password="reader-SECRET-1",
                                        collection="guarded")) as store:
            with pytest.raises(MilvusAuthError) as err:
                store.ensure_collection(8, model_id="m", tta_mode="none")
        text = _rendered(err.value)
        assert "MILVUS_TOKEN" in text and "SECRET" not in text
        with MilvusStore(MilvusSettings(uri=auth_server_uri, token=ROOT_TOKEN, collection="guarded")) as root:
            assert not root.has_collection()  # the right credentials work; nothing was created
    finally:
        admin.drop_user("reader")
        admin.close()
