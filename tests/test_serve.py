"""facerec-serve as a running process with a real HTTP client, on Milvus Lite and on the Milvus test server.

One service process per backend (module fixture) serves every test; the last test stops it with SIGTERM while
a request is in flight. Expected answers come from the same checkpoint embedding the same files in this
process (exact cosine search), never from hard-coded numbers.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from omegaconf import OmegaConf
from PIL import Image

from src.alignment.scenes import background, random_scene
from src.bench.serve_process import PROJECT_ROOT, ServeProcess, ServeStartError
from src.datamodules.face_dataset import load_rgb
from src.inference import load_model
from src.serve.auth import api_key_from_env
from tests.helpers import orl_root

KEY = "test-key-0123456789abcdef"
ENROLLED = 3  # images per enrolled person; the synthetic run has 6 per identity, the rest are probes
PEOPLE = 4
MAX_BODY_MB = 1  # small limits so the 413 cases send little data
MAX_PIXELS = 100_000


@pytest.fixture(scope="module")
def faces(trained_run):
    """Training identities of the tiny model: ``(checkpoint, {person: [paths]}, reference model)``."""
    _, objects = trained_run
    split = objects["datamodule"].split.train
    people = {person: sorted(split[person]) for person in sorted(split)[:PEOPLE]}
    return objects["best_ckpt"], people, load_model(objects["best_ckpt"])


@pytest.fixture(scope="module")
def service(faces, milvus_module_uri, tmp_path_factory):
    """A facerec-serve process with an API key, on an empty collection of its own."""
    ckpt, _, _ = faces
    out = tmp_path_factory.mktemp("serve")
    backend = "server" if milvus_module_uri.startswith("http") else "lite"
    process = ServeProcess(
        [f"ckpt_path={ckpt}", f"milvus.uri={milvus_module_uri}", f"milvus.collection=serve_{backend}_{os.getpid()}",
         "serve.create_gallery=true", f"serve.upload_dir={out}/uploads", f"hydra.run.dir={out}/run",
         f"serve.max_body_mb={MAX_BODY_MB}", f"serve.max_pixels={MAX_PIXELS}", "serve.max_wait_ms=50"],
        out / "serve.log", env={"FACEREC_API_KEY": KEY})
    process.start()
    yield process
    process.stop()


def client(process: ServeProcess, key: str | None = KEY) -> httpx.Client:
    return httpx.Client(base_url=process.url, headers={"X-API-Key": key} if key else {}, timeout=60)


def files(paths) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("image", (Path(p).name, Path(p).read_bytes(), "image/png")) for p in paths]


def reference(model, people: dict[str, list[Path]], probe: Path) -> tuple[str, float]:
    """Best enrolled person and similarity by exact search over the enrolled images (this process)."""
    enrolled = [(person, p) for person, paths in people.items() for p in paths[:ENROLLED]]
    scores = model.embed([p for _, p in enrolled]) @ model.embed([probe])[0]
    return enrolled[int(np.argmax(scores))][0], float(scores.max())


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        sample, value = line.rsplit(" ", 1)
        series, _, rest = sample.partition("{")
        if series == name and ",".join(sorted(rest.rstrip("}").split(","))) == wanted:
            return float(value)
    return 0.0


def test_enroll_identify_remove(service, faces):
    _, people, model = faces
    with client(service) as http:
        assert http.get("/v1/persons").json() == {"persons": [], "total_rows": 0}
        for person, paths in people.items():
            answer = http.post(f"/v1/persons/{person}/faces", files=files(paths[:ENROLLED]))
            assert answer.status_code == 200, answer.text
            assert answer.json()["rows_written"] == ENROLLED
            assert all(Path(p).is_file() and Path(p).read_bytes() == Path(src).read_bytes()
                       for p, src in zip(answer.json()["image_paths"], paths[:ENROLLED], strict=True))
        listed = http.get("/v1/persons").json()
        assert listed == {"persons": [{"person_id": p, "rows": ENROLLED} for p in sorted(people)],
                          "total_rows": PEOPLE * ENROLLED}

        # a held-out probe the reference search assigns to its own person
        probes = [(person, p) for person, paths in people.items() for p in paths[ENROLLED:]]
        person, probe, expected = next((who, p, ref) for who, p in probes
                                       if (ref := reference(model, people, p))[0] == who)
        found = http.post("/v1/identify", params={"top_k": 3, "threshold": expected[1] - 0.01},
                          files=files([probe])).json()
        assert found["person_id"] == person and found["known"] and len(found["matches"]) == 3
        assert found["similarity"] == pytest.approx(expected[1], abs=1e-3)
        assert found["threshold_source"].startswith("request")
        assert {"decode_ms", "queue_ms", "embed_ms", "search_ms", "total_ms"} <= set(found["timings_ms"])
        just_above = http.post("/v1/identify", params={"threshold": found["similarity"] + 1e-4},
                               files=files([probe])).json()
        assert just_above["person_id"] == "unknown" and not just_above["known"]

        removed = http.delete(f"/v1/persons/{person}").json()
        assert removed["rows_deleted"] == ENROLLED and removed["files_deleted"] == ENROLLED
        assert removed["gallery_rows"] == (PEOPLE - 1) * ENROLLED
        after = http.post("/v1/identify", params={"top_k": 10}, files=files([probe])).json()
        assert person not in {m["person_id"] for m in after["matches"]} and len(after["matches"]) == 9
        assert http.delete(f"/v1/persons/{person}").status_code == 404
        assert person not in {p["person_id"] for p in http.get("/v1/persons").json()["persons"]}


def test_auth_and_bad_input(service, faces, tmp_path):
    _, people, _ = faces
    probe = next(iter(people.values()))[-1]
    with client(service, key=None) as anonymous:
        assert anonymous.get("/health").json() == {"status": "ok"}
        assert anonymous.post("/v1/identify", files=files([probe])).status_code == 401
        assert anonymous.get("/v1/persons", headers={"X-API-Key": KEY[:-1] + "x"}).status_code == 401
        assert anonymous.get("/ready").json()["ready"] is True
        api = anonymous.get("/openapi.json").json()
        assert {"/v1/identify", "/v1/persons/{person_id}/faces", "/v1/persons"} <= set(api["paths"])
        assert api["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
        assert anonymous.get("/docs").status_code == 200
    big = io.BytesIO()
    Image.new("RGB", (400, 400)).save(big, "PNG")  # 160,000 pixels in a ~1 kB file
    png = Path(probe).read_bytes()
    cases = {
        "body over the limit": (413, [("image", ("big.bin", os.urandom(MAX_BODY_MB * 2**20 + 1000), "x/y"))]),
        "too many pixels": (413, [("image", ("big.png", big.getvalue(), "image/png"))]),
        "not an image": (415, [("image", ("notes.txt", b"hello, not a face", "text/plain"))]),
        "truncated image": (400, [("image", ("cut.png", png[: len(png) // 2], "image/png"))]),
        "empty file": (400, [("image", ("empty.png", b"", "image/png"))]),
        "no image field": (400, [("other", ("a.png", png, "image/png"))]),
    }
    with client(service) as http:
        for case, (status, upload) in cases.items():
            answer = http.post("/v1/identify", files=upload)
            assert answer.status_code == status, f"{case}: {answer.text}"
            assert answer.json()["detail"] and "Traceback" not in answer.text, case
        assert "serve.max_pixels" in http.post("/v1/identify", files=cases["too many pixels"][1]).json()["detail"]
        assert http.post("/v1/identify", params={"top_k": 0}, files=files([probe])).status_code == 400
        # with a key, API clients elsewhere (any Host, a web app's Origin) keep working: the key is the protection
        assert http.get("/v1/persons", headers={"Host": "faces.example.com",
                                                "Origin": "https://app.example.com"}).status_code == 200
        bad_id = http.post("/v1/persons/bad%01id/faces", files=files([probe]))
        assert bad_id.status_code == 400 and "control characters" in bad_id.json()["detail"]
        twice = http.post("/v1/persons/twice/faces", files=files([probe, probe]))
        assert twice.status_code == 400 and "same image" in twice.json()["detail"]
        assert "twice" not in {p["person_id"] for p in http.get("/v1/persons").json()["persons"]}
        metrics = http.get("/metrics").text
    for status, count in (("401", 1), ("413", 3), ("415", 1), ("400", 4)):  # 401/413 are answered before routing
        assert metric(metrics, "facerec_http_errors_total", method="POST", endpoint="/v1/identify",
                      status=status) >= count, status


def test_concurrent_identify_and_metrics(service, faces):
    _, people, model = faces
    probes = [p for paths in people.values() for p in paths][:16]
    with client(service) as http:
        expected = [http.post("/v1/identify", files=files([p])).json() for p in probes]  # one at a time
        before = http.get("/metrics").text
        with ThreadPoolExecutor(len(probes)) as pool:
            answers = list(pool.map(lambda p: http.post("/v1/identify", files=files([p])), probes))
        after = http.get("/metrics").text
    assert all(a.status_code == 200 for a in answers)
    for one, alone in zip([a.json() for a in answers], expected, strict=True):
        assert one["person_id"] == alone["person_id"]
        assert one["similarity"] == pytest.approx(alone["similarity"], abs=1e-4)
    assert max(a.json()["batch_size"] for a in answers) > 1, "concurrent requests were never batched"
    ok = {"method": "POST", "endpoint": "/v1/identify", "status": "200"}
    assert metric(after, "facerec_http_requests_total", **ok) - metric(before, "facerec_http_requests_total", **ok) \
        == len(probes)
    assert metric(after, "facerec_identify_batch_size_sum") - metric(before, "facerec_identify_batch_size_sum") \
        == len(probes)
    batches = metric(after, "facerec_identify_batch_size_count") - metric(before, "facerec_identify_batch_size_count")
    assert 1 <= batches < len(probes)


def test_sigterm_drains_the_request_in_flight(service, faces):
    """Last test of the module: the service gets SIGTERM while a request body is half sent."""
    _, people, _ = faces
    probe = next(iter(people.values()))[-1]
    request = httpx.Request("POST", f"{service.url}/v1/identify", files=files([probe]))
    body = request.read()
    headers = {"X-API-Key": KEY, "Content-Type": request.headers["Content-Type"]}
    half_sent, resume = threading.Event(), threading.Event()

    def stream():
        yield body[: len(body) // 2]
        half_sent.set()
        resume.wait(30)
        yield body[len(body) // 2:]

    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(httpx.post, f"{service.url}/v1/identify", content=stream(), headers=headers, timeout=60)
        assert half_sent.wait(30)
        time.sleep(0.5)  # the service has the request's headers and is waiting for the rest of its body
        service.terminate()
        time.sleep(1.0)
        with pytest.raises(httpx.ConnectError):  # no new connections while draining
            httpx.get(f"{service.url}/health", timeout=5)
        resume.set()
        answered = answer.result(60)
    assert answered.status_code == 200, answered.text
    assert answered.json()["matches"]
    assert service.process.wait(60) == 0, service.log_tail()


def test_refuses_to_start(tmp_path):
    """Off loopback without a key: exit 2 with the reason, before loading anything. Short keys are refused."""
    env = {k: v for k, v in os.environ.items() if k != "FACEREC_API_KEY"}
    unused = tmp_path / "unused.ckpt"
    unused.write_bytes(b"never loaded")  # the input checks pass (the file exists); the key check refuses
    refused = subprocess.run([sys.executable, "-m", "src.serve", f"ckpt_path={unused}", f"hydra.run.dir={tmp_path}",
                              "serve.host=0.0.0.0"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode == 2 and "FACEREC_API_KEY is not set" in refused.stdout + refused.stderr
    with pytest.raises(ValueError, match="at least 16"):
        api_key_from_env({"FACEREC_API_KEY": "short"})
    assert api_key_from_env({}) is None


@pytest.mark.server
def test_refuses_a_gallery_of_another_tta_mode(faces, milvus_server_uri, milvus_collection, tmp_path):
    """The gallery is checked at start: another TTA mode than the one that built it stops with both named."""
    from src.inference import FaceGallery

    ckpt, _, model = faces
    FaceGallery.open(model, {"uri": milvus_server_uri, "collection": milvus_collection}, create=True).close()
    refused = ServeProcess([f"ckpt_path={ckpt}", f"milvus.uri={milvus_server_uri}",
                            f"milvus.collection={milvus_collection}", "gallery.tta=sum", f"hydra.run.dir={tmp_path}"],
                           tmp_path / "stdout.txt")  # not Hydra's serve.log: a failed run's own log goes with its dir
    with pytest.raises(ServeStartError, match="exited with code 2"):
        refused.start()
    assert "TTA mode" in refused.log_tail()


def test_align_true_answers_raw_photos(faces, tmp_path):
    """align=true: raw photos (ORL faces pasted into larger scenes) in; the answer is this process's aligned
    embedding + exact search over what was enrolled; a photo without a face is answered 422."""
    ckpt = faces[0]
    rng = np.random.default_rng(3)
    photos = {}
    for person in ("s1", "s2"):
        for shot in (1, 2):
            photos[person, shot] = tmp_path / f"{person}_{shot}.jpg"
            random_scene(load_rgb(orl_root() / person / f"{shot}.pgm"), 0, rng)[0].save(photos[person, shot])
    background(4).save(tmp_path / "empty.png")
    alignment = {**OmegaConf.to_container(OmegaConf.load(PROJECT_ROOT / "conf/alignment/mtcnn.yaml")), "workers": 1}
    model = load_model(ckpt, align=True, alignment=alignment)
    enrolled = model.embed([photos["s1", 1], photos["s2", 1]])
    expected = enrolled @ model.embed([photos["s1", 2]])[0]
    process = ServeProcess([f"ckpt_path={ckpt}", f"milvus.uri={tmp_path / 'gallery.db'}", "serve.create_gallery=true",
                            "align=true", f"serve.upload_dir={tmp_path}/uploads", f"hydra.run.dir={tmp_path}/run"],
                           tmp_path / "serve.log")
    with process, client(process, None) as http:
        for person in ("s1", "s2"):
            assert http.post(f"/v1/persons/{person}/faces", files=files([photos[person, 1]])).status_code == 200
        answer = http.post("/v1/identify", files=files([photos["s1", 2]]), params={"top_k": 2}).json()
        assert answer["matches"][0]["person_id"] == ("s1", "s2")[int(np.argmax(expected))]
        assert answer["matches"][0]["similarity"] == pytest.approx(float(expected.max()), abs=1e-3)
        no_face = http.post("/v1/identify", files=files([tmp_path / "empty.png"]))
        assert no_face.status_code == 422 and "face" in no_face.json()["detail"]


def test_bench_serve_checks_its_options(capsys):
    """`facerec-bench serve` without a checkpoint, or with two backends, stops with the option to fix."""
    from src.bench.cli import main

    assert main(["serve"]) == 2
    assert "ckpt_path=<checkpoint> is required" in capsys.readouterr().err
    assert main(["serve", "ckpt_path=x.ckpt", "backends=[lite,server]"]) == 2
    assert "one backend per run" in capsys.readouterr().err
