"""Run a harvest plan: resume bookkeeping, persistence, summary and the final merge.

The images still to do go to dask (:mod:`napari_iog.harvest.dask_run`: a local cluster by
default, an existing scheduler by address) or, with ``scheduler="inline"``, run in this process.
Workers return JSON-ready results; this process (the client) writes each finished image's part
file atomically as it arrives, so an interrupted run loses at most the images in flight and a
re-run skips the rest; the merged COCO JSON is rewritten at the end of every run.

:func:`iter_harvest` is a generator of :class:`HarvestProgress` (for progress bars and GUIs, with
a ``cancel`` callable); :func:`run_harvest` drives it and returns the :class:`HarvestSummary`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari_iog.harvest.config import (
    HarvestConfig,
    HarvestConfigError,
    run_fingerprint,
    weights_identity,
)
from napari_iog.harvest.dask_run import run_on_dask
from napari_iog.harvest.plan import HarvestPlan, ImageTask, Issue
from napari_iog.harvest.store import ResultStore, atomic_write, image_key
from napari_iog.harvest.summary import HarvestSummary
from napari_iog.harvest.task import LOAD_FAILED, harvest_image
from napari_iog.harvest.zarr_labels import ZarrLabelsSink

if TYPE_CHECKING:
    from distributed import Client

INLINE = "inline"  # scheduler value: run in this process, no dask (debugging, tiny jobs)


@dataclass(frozen=True)
class HarvestProgress:
    """Where the run stands. ``boxes_done`` counts every box dealt with (mask, skipped or failed).
    The last event has ``summary`` set."""

    images_done: int
    images_total: int
    boxes_done: int
    boxes_total: int
    image: str | None = None
    summary: HarvestSummary | None = None


class _Tally:
    """Turns per-image results into the summary and progress counts."""

    def __init__(self, plan: HarvestPlan):
        self.s = HarvestSummary(images_total=len(plan.images), boxes_total=plan.n_input_boxes)
        self.s.issues.extend(plan.issues)
        self.boxes_seen = sum(i.n_boxes for i in plan.issues)

    def add(self, task: ImageTask, result: dict, resumed: bool = False) -> None:
        s = self.s
        issues = [Issue.from_dict(d) for d in result["issues"]]
        s.issues.extend(issues)
        if result["image"] is None:
            s.images_failed += 1
        else:
            s.images_done += 1
            s.images_resumed += int(resumed)
        n = len(result["annotations"])
        s.boxes_done += n
        s.boxes_resumed += n if resumed else 0
        s.empty_masks += sum(1 for a in result["annotations"] if a["area"] == 0)
        self.boxes_seen += len(task.boxes)

    def progress(self, image: str | None = None, summary=None) -> HarvestProgress:
        s = self.s
        return HarvestProgress(
            s.images_done + s.images_failed,
            s.images_total,
            self.boxes_seen,
            s.boxes_total,
            image,
            summary,
        )


def _check_weights(weights: str) -> None:
    """Fail fast on a weights *path* that does not exist (names are resolved by the workers)."""
    path = Path(weights).expanduser()
    looks_like_path = "/" in weights or os.sep in weights or path.suffix in (".pt", ".pth", ".ckpt")
    if looks_like_path and not path.is_file():
        raise HarvestConfigError(
            f"Weights file {weights!r} not found. Give an existing checkpoint, or a weights name "
            "(see `napari-iog weights list`)."
        )


def iter_harvest(
    plan: HarvestPlan,
    config: HarvestConfig,
    images_dir: str | Path,
    out: str | Path,
    *,
    scheduler: str | None = None,
    client: Client | None = None,
    n_workers: int | None = None,
    cancel: Callable[[], bool] | None = None,
    task_fn: Callable = harvest_image,
    zarr_labels: str | Path | None = None,
) -> Iterator[HarvestProgress]:
    """Harvest every image of ``plan``; yields progress, the last event carries the summary.

    ``scheduler``: a dask scheduler address, ``"inline"`` (this process, no dask) or None (a new
    ``LocalCluster`` of ``n_workers`` single-threaded processes). ``client``: an existing
    ``distributed.Client`` to use instead. ``task_fn(task, config, images_dir, weights_id)``
    computes one image (default :func:`harvest_image`; must be picklable for dask).
    ``zarr_labels``: also write the masks into this zarr labels volume, one plane per image
    (:mod:`napari_iog.harvest.zarr_labels`; resumable like the parts).
    """
    images_dir = str(images_dir)
    if not Path(images_dir).is_dir():
        raise HarvestConfigError(
            f"--images {images_dir!r} is not a folder; give the folder of the images."
        )
    _check_weights(config.weights)
    if Path(config.weights).expanduser().is_file():  # workers may run in another folder
        config = replace(config, weights=str(Path(config.weights).expanduser().resolve()))
    images_dir = str(Path(images_dir).resolve())
    store = ResultStore(out)
    clashes = store.label_clashes(plan) if config.write_labels else {}
    if clashes:
        listed = "; ".join(f"{', '.join(n)} -> {p.name}" for p, n in list(clashes.items())[:5])
        raise HarvestConfigError(
            f"{len(clashes)} label file(s) would be shared by several images ({listed}): one "
            "image's labels would overwrite the other's. Rename the images so that their names "
            "differ without the extension, or harvest without --labels."
        )
    weights_id = weights_identity(config.weights)
    run_fp = run_fingerprint(config, weights_id)
    keys = {t.image_id: image_key(run_fp, t) for t in plan.images}
    tally = _Tally(plan)
    sink = ZarrLabelsSink(zarr_labels, plan) if zarr_labels is not None else None

    def persist(task: ImageTask, result: dict) -> None:
        if result["image"] is not None:
            if sink is not None:  # the plane first, then the part (the resume marker)
                sink.write(task, result, keys[task.image_id])
            part = store.write_part(task, keys[task.image_id], result)
            if config.write_labels:
                store.write_labels(task, part)

    todo = []
    for task in plan.images:
        part = store.load_part(task, keys[task.image_id])
        if part is None:
            todo.append(task)
            continue
        if config.write_labels and not store.labels_ok(task, part):
            store.write_labels(task, part)  # missing or unreadable: rewritten from the part
        if sink is not None and not sink.done(task, keys[task.image_id]):
            sink.write(task, part, keys[task.image_id])  # the zarr plane did not get written
        tally.add(task, part, resumed=True)
    yield tally.progress()

    finished: set[int] = set()
    fatal: list[str] = []  # weights that fail to load fail the same way on every image: stop

    def stop() -> bool:
        return bool(fatal) or (cancel is not None and cancel())

    def on_result(task: ImageTask, result: dict) -> HarvestProgress:
        failed = [i for i in result["issues"] if i.get("reason") == LOAD_FAILED]
        if failed:
            fatal.append(str(failed[0].get("detail", "")))
            return tally.progress(task.file_name)
        persist(task, result)
        tally.add(task, result)
        finished.add(task.image_id)
        return tally.progress(task.file_name)

    args = (config, images_dir, weights_id)
    if todo and scheduler == INLINE and client is None:
        for task in todo:
            if stop():
                break
            yield on_result(task, task_fn(task, *args))
    elif todo:
        yield from run_on_dask(
            todo, task_fn, args, config, scheduler, client, n_workers, stop, on_result
        )
    if fatal:
        raise HarvestConfigError(
            f"The weights {config.weights!r} could not be loaded, so the run stopped: "
            f"{fatal[0]} Fix --weights and run again (finished images are kept)."
        )

    unfinished = [t for t in todo if t.image_id not in finished]
    if unfinished:
        tally.s.cancelled = True
        tally.s.boxes_not_run = sum(len(t.boxes) for t in unfinished)
    info = {
        "description": "Instance masks harvested from boxes with napari-iog (Inside-Outside Guidance)",
        "source": plan.source,
        "weights": weights_id,
        "two_stage": config.two_stage,
        "bbox": "the input box; segmentation = COCO RLE of the predicted mask",
    }
    store.merge(plan, keys, info)
    tally.s.output = str(store.out)
    summary_path = store.out.with_name(store.out.stem + "_summary.json")
    atomic_write(
        summary_path, lambda fh: fh.write(json.dumps(tally.s.to_dict(), indent=1).encode())
    )
    yield tally.progress(summary=tally.s)


def run_harvest(
    plan: HarvestPlan,
    config: HarvestConfig,
    images_dir: str | Path,
    out: str | Path,
    progress: Callable[[HarvestProgress], object] | None = None,
    **kwargs: Any,
) -> HarvestSummary:
    """Run :func:`iter_harvest` to the end; ``progress(event)`` is called for every event."""
    summary = None
    for event in iter_harvest(plan, config, images_dir, out, **kwargs):
        if progress is not None:
            progress(event)
        summary = event.summary or summary
    return summary
