"""Align a folder of photos (``<person>/<image>`` or flat) into ``<output>/<person>/<stem>.png`` with worker
processes, a progress bar and a report; re-runs skip the images an earlier run finished."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from src.alignment.aligner import Alignment, FaceAligner
from src.alignment.report import AlignReport, ImageResult, previous_results
from src.alignment.workers import map_batches
from src.datamodules.face_dataset import load_rgb
from src.datamodules.folder_scan import IMAGE_EXTENSIONS, list_identity_files

log = logging.getLogger(__name__)
SAVE_EVERY_S = 10.0  # the report is rewritten this often during a run, so an interrupted run can resume


@dataclass(frozen=True)
class Job:
    """One photo and the output stem (``<person>/<stem>``, relative to the output folder) its faces get."""

    source: Path
    key: str  # the photo's path relative to the input folder: its name in the report
    stem: str
    output_dir: Path


def check_folders(input_dir: Path, output_dir: Path) -> None:
    """Refuse a missing input and an output inside the input (the input is never written to)."""
    if not input_dir.is_dir():
        raise FileNotFoundError(f"input={input_dir} is not a folder; give a folder of photos "
                                "(flat, or <person>/<image>).")
    inp, out = input_dir.resolve(), output_dir.resolve()
    if out == inp or inp in out.parents:
        raise ValueError(f"output={output_dir} is inside input={input_dir}; the input folder is never written to. "
                         "Choose an output folder outside it.")


def find_jobs(input_dir: Path, output_dir: Path) -> tuple[list[Job], list[tuple[str, str]]]:
    """Photos under ``input_dir`` (flat files and one level of person folders) and the files not taken, with why.

    Symlinked folders are followed once each, as the training scan does; symlink loops and dangling links are
    reported (rglob skipped both without a word)."""
    files, broken = list_identity_files(input_dir)
    jobs: list[Job] = []
    rejected = [(path.relative_to(input_dir).as_posix(), problem) for path, problem in broken]
    taken: dict[str, str] = {}
    for path in files:
        key = path.relative_to(input_dir).as_posix()
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            rejected.append((key, f"not an image file (extensions: {', '.join(sorted(IMAGE_EXTENSIONS))})"))
        elif len(path.relative_to(input_dir).parts) > 2:
            rejected.append((key, "nested deeper than <person>/<image>; move it up or align that folder"))
        elif (stem := Path(key).with_suffix("").as_posix()) in taken:
            rejected.append((key, f"same output name as {taken[stem]} ({stem}.png); rename one of them"))
        else:
            taken[stem] = key
            jobs.append(Job(path, key, stem, output_dir))
    return jobs, rejected


def output_names(stem: str, count: int, multi_face: str) -> list[str]:
    """``<stem>.png`` for one kept face, ``<stem>_<k>.png`` for each face under ``multi_face=all``."""
    if multi_face == "all":
        return [f"{stem}_{k}.png" for k in range(count)]
    return [f"{stem}.png"][:count]


def align_jobs(jobs: list[Job], aligner: FaceAligner) -> list[ImageResult]:
    """Align a batch of photos (detected together) and write their crops; a photo the batch fails on is retried
    alone, so one bad photo fails only itself."""
    images: dict[int, Image.Image] = {}
    results: dict[int, ImageResult] = {}
    for k, job in enumerate(jobs):
        try:
            images[k] = load_rgb(job.source)
        except Exception as error:  # PIL and the decoder raise many types for broken files
            results[k] = ImageResult(job.key, "failed", reason=f"unreadable image: {type(error).__name__}: {error}")
    try:
        aligned = dict(zip(images, aligner.align_many(list(images.values())), strict=True))
    except Exception:
        aligned = {}
        for k, image in images.items():
            try:
                aligned[k] = aligner.align_rgb(image)
            except Exception as error:
                results[k] = ImageResult(jobs[k].key, "failed",
                                         reason=f"alignment failed: {type(error).__name__}: {error}")
    for k, result in aligned.items():
        results[k] = write_crops(jobs[k], result, aligner.multi_face)
    return [results[k] for k in range(len(jobs))]


def write_crops(job: Job, result: Alignment, multi_face: str) -> ImageResult:
    """Write one photo's crops (each to a temporary name, then renamed, so an interrupted run never leaves a
    half-written PNG that a re-run would take as done)."""
    names = output_names(job.stem, len(result.crops), multi_face)
    for crop, name in zip(result.crops, names, strict=True):
        target = job.output_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        crop.save(tmp, format="PNG")
        tmp.replace(target)
    return ImageResult(job.key, result.status, tuple(names), result.detected, result.cut_by_border)


def align_folder(input_dir: str | Path, output_dir: str | Path, aligner: FaceAligner, workers: int = 0,
                 progress: bool = True) -> AlignReport:
    """Align every photo of ``input_dir`` into ``output_dir`` and write ``align_report.json`` there.

    ``workers``: processes (0 = one per CPU core, 1 = in this process).
    """
    input_dir, output_dir = Path(input_dir).expanduser(), Path(output_dir).expanduser()
    check_folders(input_dir, output_dir)
    jobs, rejected = find_jobs(input_dir, output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    report = AlignReport(str(input_dir), str(output_dir), aligner.options)
    done = {key: r for key, r in previous_results(output_dir, aligner.options).items()
            if all((output_dir / name).is_file() for name in r.written)}
    todo = [job for job in jobs if job.key not in done]
    for job in jobs:
        if job.key in done:
            report.add(done[job.key])
    report.resumed = len(report.results)
    for key, reason in rejected:
        report.add(ImageResult(key, "failed", reason=reason))
    report.rejected = len(rejected)
    if report.resumed:
        log.warning("%s: %d of %d photos were aligned by an earlier run with the same options; skipping them.",
                    output_dir, report.resumed, len(jobs))
    workers = workers or os.cpu_count() or 1
    start = saved = time.perf_counter()
    with Progress(TextColumn("aligning"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  transient=True, disable=not progress) as bar:
        task = bar.add_task("aligning", total=len(todo))
        for result in map_batches(align_jobs, todo, aligner, workers):
            report.add(result)
            report.processed += 1
            bar.advance(task)
            if time.perf_counter() - saved > SAVE_EVERY_S:  # an interrupted run resumes from here
                report.seconds, saved = time.perf_counter() - start, time.perf_counter()
                report.write()
    report.seconds = time.perf_counter() - start
    report.write()
    return report

