"""experiment=finetune_dlib on raw photos: they are cut as dlib chips first (data.align=dlib), step 0 is dlib's
pretrained network, class centres start at the class means, and no kept checkpoint is worse than step 0 on held-out
people; a fine-tuned checkpoint reloads as arch dlib."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from src.datamodules.face_dataset import load_rgb
from src.datamodules.transforms import eval_transform
from src.embedding.checkpoint import load_embedder
from src.train import train
from src.utils.checkpoint_file import read_checkpoint
from tests.helpers import compose_config, orl_root

PEOPLE, PHOTOS = 6, 4  # 4 trained, 2 held out: a mechanics check, small enough for CI


def small_orl(tmp_path: Path) -> Path:
    """A few ORL people and photos (links), as <person>/<image>."""
    root = tmp_path / "faces"
    for person in sorted(p for p in orl_root().iterdir() if p.is_dir())[:PEOPLE]:
        (root / person.name).mkdir(parents=True)
        for photo in sorted(person.glob("*.pgm"))[:PHOTOS]:
            (root / person.name / photo.name).symlink_to(photo)
    return root


def test_finetune_starts_at_the_pretrained_network_and_keeps_no_worse_checkpoint(tmp_path: Path) -> None:
    root = small_orl(tmp_path)
    cfg = compose_config("train", [
        "experiment=finetune_dlib", f"data.root={root}", "data.val_fraction=0.34", "data.batch_size=8",
        "data.num_workers=0", "data.persistent_workers=false", "data.pin_memory=false", "trainer.min_steps=0",
        "trainer.max_epochs=1", "trainer.check_val_every_n_epoch=1", "~callbacks.progress_bar",
        "~callbacks.milvus_export", "eval=false", "+trainer.enable_model_summary=false"], tmp_path)
    _, objects = train(cfg)
    module, best = objects["model"], Path(objects["best_ckpt"])
    # trained on dlib chips of the raw photos, cached under data/aligned/ and listed in that folder's report
    chips = objects["datamodule"].root
    assert chips.parent == tmp_path / "data" / "aligned" and chips.name.startswith("faces-aligned-dlib150-")
    assert sorted(p.name for p in chips.iterdir() if p.is_dir()) == sorted(p.name for p in root.iterdir())
    assert all(Image.open(chip).size == (150, 150) for chip in chips.glob("*/*.png"))
    assert (chips / "align_report.json").is_file()
    step0 = next((tmp_path / "checkpoints").glob("step0-rank1*.ckpt"))
    untrained = round(module.untrained_metrics["rank1"], 4)  # as checkpoint names write it
    # kept checkpoints are all at least as good as step 0 on the held-out people
    for path in (tmp_path / "checkpoints").glob("epoch*-rank1*.ckpt"):
        assert float(path.stem.split("rank1")[1]) >= untrained
    assert best.is_file() and float(best.stem.split("rank1")[1]) >= untrained

    # the step-0 checkpoint IS dlib's network (reloaded as arch dlib), with centres at the class means
    pretrained, saved = load_embedder("dlib").model, load_embedder(step0)
    assert saved.model.arch == "dlib" and saved.image_size == 150
    people = sorted(objects["datamodule"].split.train)
    transform = eval_transform(150)
    images = torch.stack([transform(load_rgb(p)) for name in people for p in sorted((chips / name).iterdir())])
    with torch.no_grad():
        ours, reference = saved.model(images), pretrained(images)
    assert torch.allclose(ours, reference, atol=1e-5)
    means = F.normalize(F.normalize(reference, dim=1).view(len(people), PHOTOS, -1).mean(1), dim=1)
    centres = F.normalize(read_checkpoint(step0)["state_dict"]["head.weight"], dim=1)
    # the centres came from augmented views (crop, flip, jitter): close to, not equal to, the eval-view means;
    # random centres give |cos| ~ 0.1 in 128 dims
    assert (centres * means).sum(1).min() > 0.9
