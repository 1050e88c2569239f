"""The boxes of one image -> masks, batched through an ``IOGPredictor`` (no dask, no files).

Used by the dask task (:mod:`napari_iog.harvest.task`) and by the napari widget alike.
Coordinates are pixel ``(row, col)``; boxes are inclusive ``BBox``. The predictor is the
contract's ``napari_iog.inference.IOGPredictor``: ``set_image`` once per image, then
``predict_batch(prompts, batch_size)`` per batch of boxes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from napari_iog.harvest.plan import BoxRecord, Issue
from napari_iog.structures import BBox, Click, Prompt, PromptError

if TYPE_CHECKING:
    from napari_iog.inference import IOGPredictor

MIN_BOX = 2  # px; smaller boxes cannot be cropped meaningfully


@dataclass(frozen=True)
class BoxMask:
    """The mask of one box: bool ``mask [h, w]`` whose top-left pixel is ``origin (row, col)``,
    ``score`` = mean foreground probability over the mask (0 for an empty mask), and the inside
    click used by the second pass (``None`` for the simulator's default)."""

    record: BoxRecord
    mask: np.ndarray
    origin: tuple[int, int]
    score: float
    inside: tuple[float, float] | None = None


def check_boxes(
    records: Sequence[BoxRecord], shape: tuple[int, ...], image: str | None = None
) -> tuple[list[BoxRecord], list[Issue]]:
    """Split ``records`` into usable ones (boxes clipped to the image ``shape`` ``(H, W, ...)``)
    and skip issues.

    Returns ``(list[BoxRecord], list[Issue])``."""
    h, w = int(shape[0]), int(shape[1])
    ok, issues = [], []
    for rec in records:
        b = rec.box
        where = f"annotation {rec.ann_id} in {image}" if image else f"box {rec.ann_id}"
        if b.row1 < 0 or b.col1 < 0 or b.row0 >= h or b.col0 >= w:
            issues.append(
                Issue(
                    "skipped",
                    "box outside image",
                    f"{where}: box rows {b.row0}..{b.row1}, "
                    f"cols {b.col0}..{b.col1} lies outside the {h}x{w} image. Check the "
                    "coordinates (x = column, y = row).",
                    image,
                    rec.ann_id,
                )
            )
            continue
        clipped = b.clip((h, w))
        if clipped.height < MIN_BOX or clipped.width < MIN_BOX:
            issues.append(
                Issue(
                    "skipped",
                    "box too small",
                    f"{where}: box is {clipped.height}x"
                    f"{clipped.width} px inside the image; it must be at least "
                    f"{MIN_BOX}x{MIN_BOX} px.",
                    image,
                    rec.ann_id,
                )
            )
            continue
        ok.append(
            rec if clipped == b else BoxRecord(rec.ann_id, clipped, rec.category_id, rec.bbox_xywh)
        )
    return ok, issues


def deepest_point(
    mask: np.ndarray, origin: tuple[int, int], box: BBox
) -> tuple[float, float] | None:
    """Image ``(row, col)`` of the mask pixel farthest from the mask boundary, within ``box``
    (the paper's inside-point rule, with the crop edge counting as boundary); None if empty."""
    from scipy.ndimage import distance_transform_edt

    r0, c0 = origin
    h, w = mask.shape
    ir0, ir1 = max(r0, box.row0), min(r0 + h, box.row1 + 1)
    ic0, ic1 = max(c0, box.col0), min(c0 + w, box.col1 + 1)
    sub = np.zeros((box.height, box.width), dtype=bool)
    if ir1 > ir0 and ic1 > ic0:
        sub[ir0 - box.row0 : ir1 - box.row0, ic0 - box.col0 : ic1 - box.col0] = mask[
            ir0 - r0 : ir1 - r0, ic0 - c0 : ic1 - c0
        ]
    if not sub.any():
        return None
    dist = distance_transform_edt(np.pad(sub, 1))[1:-1, 1:-1]
    r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return (float(box.row0 + r), float(box.col0 + c))


def _predict(predictor, prompts: list[Prompt], batch_size: int) -> list:
    """MaskResults for ``prompts``; if the batch call fails, each prompt is retried alone so one
    bad box costs only itself. Failed entries are the exception instead of a MaskResult."""
    try:
        results = list(predictor.predict_batch(prompts, batch_size=batch_size))
        if len(results) != len(prompts):
            raise RuntimeError(
                f"predict_batch returned {len(results)} results for {len(prompts)} prompts"
            )
        return results
    except Exception:  # isolate the failing prompt(s) below
        out = []
        for p in prompts:
            try:
                out.append(predictor.predict(p))
            except Exception as err:
                out.append(err)
        return out


def _error_issue(rec: BoxRecord, err: Exception, image: str | None) -> Issue:
    where = f"annotation {rec.ann_id}" + (f" in {image}" if image else "")
    if isinstance(err, PromptError):
        return Issue("skipped", "invalid box", f"{where}: {err}", image, rec.ann_id)
    return Issue(
        "failed",
        "prediction error",
        f"{where}: {type(err).__name__}: {str(err)[:200]}",
        image,
        rec.ann_id,
    )


def _to_boxmask(rec: BoxRecord, res, inside=None) -> BoxMask:
    mask = np.asarray(res.mask, dtype=bool)
    score = float(np.asarray(res.prob)[mask].mean()) if mask.any() else 0.0
    return BoxMask(rec, mask, (int(res.origin[0]), int(res.origin[1])), round(score, 4), inside)


def iter_box_masks(
    predictor: IOGPredictor,
    records: Sequence[BoxRecord],
    batch_size: int = 8,
    two_stage: bool = False,
    image: str | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Iterator[list[BoxMask | Issue]]:
    """Predict the (already checked) boxes on the predictor's current image, one batch at a time.

    Yields, per batch, a list with one ``BoxMask`` or ``Issue`` per record (input order). Stops
    early (without yielding the rest) when ``cancel()`` returns True."""
    for start in range(0, len(records), batch_size):
        if cancel is not None and cancel():
            return
        chunk = list(records[start : start + batch_size])
        first = _predict(predictor, [Prompt(r.box) for r in chunk], batch_size)
        out: list[BoxMask | Issue] = [
            _error_issue(r, res, image) if isinstance(res, Exception) else _to_boxmask(r, res)
            for r, res in zip(chunk, first)
        ]
        if two_stage:
            redo = []
            for i, item in enumerate(out):
                if isinstance(item, BoxMask):
                    pt = deepest_point(item.mask, item.origin, item.record.box)
                    if pt is not None:
                        redo.append((i, pt))
            if redo:
                prompts = [Prompt(out[i].record.box, Click(r, c, True)) for i, (r, c) in redo]
                second = _predict(predictor, prompts, batch_size)
                for (i, pt), res in zip(redo, second):
                    rec = out[i].record
                    out[i] = (
                        _error_issue(rec, res, image)
                        if isinstance(res, Exception)
                        else _to_boxmask(rec, res, pt)
                    )
        yield out


# ---------------------------------------------------------------- one model per worker process
_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()
_LOADS = {"count": 0}


def cached_predictor(
    weights: str,
    device: str = "auto",
    amp: bool = True,
    torch_threads: int | None = None,
    weights_id: str = "",
    threshold: float | None = None,
) -> tuple[IOGPredictor, threading.Lock]:
    """``(IOGPredictor, lock)`` for these weights, loaded once per process and reused by every
    task that runs there (a dask worker loads the model once). Hold ``lock`` while using it: the
    predictor keeps the current image as state. ``threshold``: mask threshold instead of the
    weights' own (None)."""
    key = (str(weights), weights_id, device, bool(amp), threshold)
    with _CACHE_LOCK:
        if key not in _CACHE:
            import torch

            from napari_iog.devices import resolve_device
            from napari_iog.inference import IOGPredictor
            from napari_iog.models.checkpoint import load_model

            if torch_threads:
                torch.set_num_threads(int(torch_threads))
            dev = str(resolve_device(device))
            loaded = load_model(weights, device=dev)
            predictor = IOGPredictor(loaded.model, loaded.preprocess, device=dev, amp=amp)
            if threshold is not None:
                predictor.mask_threshold = threshold
            _CACHE.clear()  # one model per process: drop the previous weights
            _CACHE[key] = (predictor, threading.Lock())
            _LOADS["count"] += 1
        return _CACHE[key]


def model_loads() -> int:
    """How many times this process has loaded a model (tests check: once per worker)."""
    return _LOADS["count"]
