"""`facerec-eval ckpt_path=dlib align=true` on real people it never saw: rank-1 through Milvus Lite.

Measured on all 30 ORL people (docs/performance/dlib_pretrained_orl_eval.json): rank-1 1.00 on 274 probes
(Milvus and exact), verification 0.995; 298 of 300 photos have a face at the default alignment.min_face_size=40
(ORL photos are 92x112, faces ~60 px). Here 10 people x 6 photos keep the run short.
"""
from __future__ import annotations

from pathlib import Path

from src.eval import evaluate
from tests.helpers import compose_config, orl_root

PEOPLE, PHOTOS = 10, 6
FAST = ["evaluation.latency.queries=20", "evaluation.latency.warmup=2", "evaluation.latency.sweep_queries=10",
        "evaluation.latency.batch_sizes=[1,8]", "evaluation.num_workers=0", "evaluation.max_pairs=300"]


def test_pretrained_dlib_identifies_unseen_real_people(tmp_path: Path, milvus_lite_uri: str) -> None:
    root = tmp_path / "faces"
    for person in sorted(p for p in orl_root().iterdir() if p.is_dir())[-PEOPLE:]:
        (root / person.name).mkdir(parents=True)
        for photo in sorted(person.glob("*.pgm"))[:PHOTOS]:
            (root / person.name / photo.name).symlink_to(photo)
    cfg = compose_config("eval", ["trainer=cpu", "ckpt_path=dlib", f"data.root={root}", "align=true",
                                  "alignment.workers=1", "data.num_workers=0", f"milvus.uri={milvus_lite_uri}",
                                  *FAST], tmp_path)
    report = evaluate(cfg)
    assert report["model"]["model_id"].startswith("dlib-resnet29-128d@")
    assert report["model"]["preprocessing"] == {"aligned": True, "template": "dlib-5pt-150", "size": 150}
    assert report["data"]["identities_in_folder"] == PEOPLE and report["data"]["excluded_identities"] == 0
    assert report["data"]["probes_enrolled"] >= 30
    assert report["identification"]["milvus"]["rank1"] >= 0.97
    assert report["identification"]["exact"]["rank1"] >= 0.97
