"""A password given in the config never reaches the disk: the command stops before Hydra saves anything."""
from __future__ import annotations

import os
import subprocess
import sys

from src.utils.config_secrets import find_secrets
from tests.helpers import ROOT, compose_config

SECRETS = ("S3cretInUri", "S3cretPassword")


def test_command_with_secrets_stops_before_writing_them(tmp_path):
    """`facerec-export` with a password in `milvus.uri` and in `milvus.password`: exit 2, keys named, the secrets
    in no file under the project root and in neither output stream."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MILVUS_", "HYDRA_"))}
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-m", "src.export", "ckpt_path=missing.ckpt", "milvus=standalone",
               f"milvus.uri=http://facerec:{SECRETS[0]}@127.0.0.1:19530", f"milvus.password={SECRETS[1]}",
               f"paths.root_dir={tmp_path}"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "milvus.uri (a password inside a URI)" in done.stderr and "milvus.password (a password)" in done.stderr
    assert "MILVUS_PASSWORD" in done.stderr and "MILVUS_TOKEN" in done.stderr
    for secret in SECRETS:
        assert secret not in done.stdout and secret not in done.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in written if any(s.encode() in p.read_bytes() for s in SECRETS)]
    assert not list(tmp_path.rglob(".hydra"))  # stopped before the run dir was made


def test_environment_credentials_and_plain_uris_pass(tmp_path):
    """The shipped configs (credentials from ${oc.env:...}, saved unresolved) and URIs without a password pass."""
    for overrides in (["milvus=standalone"], ["milvus=standalone", "milvus.uri=https://reader@milvus.example:443"],
                      ["milvus=lite"]):
        assert find_secrets(compose_config("export", overrides, tmp_path)) == []
    cfg = compose_config("export", ["milvus=standalone", "milvus.token=abc:def"], tmp_path)
    assert find_secrets(cfg) == ["milvus.token (a token)"]
