"""The unit of distributed work: one image and all of its boxes -> a JSON-ready result.

:func:`harvest_image` runs on a dask worker (or inline). It reads nothing but the image and the
weights (cached per process), writes nothing, and never raises for bad data: problems come back
as issues so the client can count them. The client persists the result (see ``store``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from napari_iog.harvest import rle
from napari_iog.harvest.config import HarvestConfig
from napari_iog.harvest.images import ImageReadError, open_image
from napari_iog.harvest.plan import ImageTask, Issue
from napari_iog.harvest.predict import BoxMask, cached_predictor, check_boxes, iter_box_masks

LOAD_FAILED = "model load failed"  # the issue reason that stops a whole run (harvest.runner)


def image_failure(task: ImageTask, reason: str, detail: str) -> dict:
    """The result of an image that produced nothing: one failed issue covering all its boxes."""
    issue = Issue("failed", reason, detail, task.file_name, None, len(task.boxes))
    return {
        "image_id": task.image_id,
        "image": None,
        "annotations": [],
        "issues": [issue.to_dict()],
        "complete": False,
        "pid": os.getpid(),
        "seconds": 0.0,
    }


def annotation(task: ImageTask, bm: BoxMask, shape: tuple[int, ...]) -> dict:
    """COCO annotation of one mask (``bbox`` is the input box, ``segmentation`` compressed RLE);
    ``shape``: the image's ``(H, W, ...)``."""
    seg = rle.encode(bm.mask, bm.origin, shape)
    ann = {
        "id": bm.record.ann_id,
        "image_id": task.image_id,
        "category_id": bm.record.category_id,
        "bbox": [float(v) for v in bm.record.bbox_xywh],
        "area": int(bm.mask.sum()),
        "segmentation": seg,
        "iscrowd": 0,
        "score": bm.score,
    }
    if bm.inside is not None:
        ann["inside"] = [bm.inside[0], bm.inside[1]]  # (row, col) of the 2nd-stage inside click
    return ann


def harvest_image(
    task: ImageTask, config: HarvestConfig, images_dir: str, weights_id: str = ""
) -> dict:
    """Masks for every box of ``task``.

    Returns ``{"image_id", "image": COCO entry with real width/height (None if the image failed),
    "annotations": [...], "issues": [Issue dicts], "complete": no failures, "pid", "seconds"}``.
    """
    t0 = time.perf_counter()
    path = Path(images_dir) / task.file_name
    if not path.is_file():
        return image_failure(
            task,
            "image missing",
            f"image {task.file_name!r} was not found in "
            f"{str(images_dir)!r}. Add it or fix the file name, then re-run.",
        )
    try:
        img = open_image(path)
    except ImageReadError as err:
        return image_failure(task, "image unreadable", str(err))
    shape = (int(img.shape[0]), int(img.shape[1]))
    entry = dict(task.entry) or {"id": task.image_id, "file_name": task.file_name}
    entry.update(height=shape[0], width=shape[1])
    records, issues = check_boxes(task.boxes, shape, task.file_name)
    annotations = []
    if records:
        try:
            predictor, lock = cached_predictor(
                config.weights, config.device, config.amp, config.torch_threads, weights_id,
                config.threshold,
            )  # fmt: skip
        except Exception as err:  # CheckpointError and friends: same message for every image
            return image_failure(task, LOAD_FAILED, f"{type(err).__name__}: {err}")
        with lock:
            try:
                predictor.set_image(img)
            except ValueError as err:  # ImageError: the message says what is wrong
                return image_failure(task, "image unreadable", f"{task.file_name}: {err}")
            for batch in iter_box_masks(
                predictor, records, config.batch_size, config.two_stage, task.file_name
            ):
                for item in batch:
                    if isinstance(item, Issue):
                        issues.append(item)
                    else:
                        annotations.append(annotation(task, item, shape))
    return {
        "image_id": task.image_id,
        "image": entry,
        "annotations": annotations,
        "issues": [i.to_dict() for i in issues],
        "complete": not any(i.kind == "failed" for i in issues),
        "pid": os.getpid(),
        "seconds": round(time.perf_counter() - t0, 4),
    }
