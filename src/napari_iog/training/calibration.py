"""Fit the mask threshold to the annotators' contour, on the validation objects.

The networks trained here put their 0.5 level slightly inside the contour their annotators drew:
on ssTEM the IoU-optimal threshold was 0.25-0.35 on every set of objects drawn the way the
training objects were (docs/results.md, "The mask threshold"). :func:`fit_threshold` measures the mean IoU (3 IOG clicks, the
annotator's pipeline) of the validation objects at each of :data:`THRESHOLDS` and rewrites the
checkpoint with the best one as ``PreprocessConfig.threshold``, its curve in
``meta["threshold_calibration"]``. It only moves the threshold if that gains at least
:data:`MIN_GAIN` on those objects, and only with at least ``MIN_VAL_FOR_BEST`` of them.

The threshold then fits images annotated the way the training objects were; a model used on
images drawn with another convention (tighter or looser) keeps the wrong one (measured too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..words import count
from .config import MIN_VAL_FOR_BEST, FinetuneConfig

if TYPE_CHECKING:
    import torch

    from ..config import PreprocessConfig
    from ..data.datasets import ObjectDataset
    from ..models.checkpoint import LoadedModel

THRESHOLDS = tuple(round(0.2 + 0.05 * i, 2) for i in range(13))  # 0.20 ... 0.80
MIN_GAIN = 0.002  # mean validation IoU a new threshold must gain over the current one
MIN_OBJECTS = MIN_VAL_FOR_BEST


def threshold_curve(
    model: torch.nn.Module,
    preprocess: PreprocessConfig,
    dataset: ObjectDataset,
    cfg: FinetuneConfig,
    device: torch.device | str,
    thresholds: Sequence[float] = THRESHOLDS,
    progress: Callable[[int, int], object] | None = None,
) -> np.ndarray:
    """float64 ``[len(thresholds)]``: mean IoU of the first ``cfg.val_max_objects`` objects of
    ``dataset`` (an ObjectDataset) when the network's probabilities are cut at each threshold.
    ``progress(done, total)`` is called after each object.

    The annotator's pipeline (``IOGPredictor`` with ``preprocess``: crop, paste back, clip to the
    box, keep the seeded component), the protocol's 3 clicks (tight box + inside click), IoU on
    the image plane. The network runs once per object."""
    from ..data.prompts import simulate_prompt
    from ..inference import IOGPredictor
    from ..inference.postprocess import rethreshold

    n = min(len(dataset), cfg.val_max_objects)
    ts = [float(t) for t in thresholds]
    if n == 0:
        return np.full(len(ts), np.nan)
    pred = IOGPredictor(model, preprocess, device=str(device))
    per_object, plane = [], None
    for rec in sorted(dataset.objects[:n], key=lambda o: o.plane):
        if rec.plane != plane:
            plane = rec.plane
            pred.set_image(dataset.rgb[plane], rgb=True, contrast_limits=(0.0, 255.0))
        gt = dataset.labels[plane] == rec.label
        prompt = simulate_prompt(gt)
        res = pred.predict(prompt)
        (r0, c0), (h, w) = res.origin, res.prob.shape
        g = gt[r0 : r0 + h, c0 : c0 + w]
        outside = int(gt.sum() - g.sum())  # object pixels beyond the crop window
        row = []
        for t in ts:
            m = rethreshold(res, t, preprocess.clip_to_box).mask  # the predictor's own seeds
            union = int((m | g).sum()) + outside
            row.append((m & g).sum() / union if union else 1.0)
        per_object.append(row)
        if progress is not None:
            progress(len(per_object), n)
    return np.asarray(per_object, dtype=np.float64).mean(axis=0)


def choose_threshold(
    curve: np.ndarray | Sequence[float],
    thresholds: Sequence[float],
    current: float,
    min_gain: float = MIN_GAIN,
) -> float:
    """The threshold of ``thresholds`` with the highest ``curve`` value (float
    ``[len(thresholds)]``, as :func:`threshold_curve` returns), or ``current`` (which must be
    one of ``thresholds``) when the best gains less than ``min_gain`` over it."""
    curve = np.asarray(curve, dtype=np.float64)
    ts = [float(t) for t in thresholds]
    here = min(range(len(ts)), key=lambda i: abs(ts[i] - current))
    if abs(ts[here] - current) > 1e-9:
        raise ValueError(f"current threshold {current} is not one of {ts}.")
    if not np.isfinite(curve).all():
        return float(current)
    best = int(np.argmax(curve))
    return ts[best] if curve[best] - curve[here] >= min_gain else float(current)


def fit_threshold(
    loaded: LoadedModel,
    dataset: ObjectDataset | None,
    cfg: FinetuneConfig,
    device: torch.device | str,
    progress: Callable[[int, int], object] | None = None,
) -> dict:
    """Measure :func:`threshold_curve` of ``loaded`` (a ``LoadedModel``) on ``dataset`` and
    choose a threshold; nothing is written. Returns the record for
    ``meta["threshold_calibration"]``: ``thresholds``, ``val_iou`` (one per threshold),
    ``previous``, ``chosen``, ``n_objects``; with fewer than :data:`MIN_OBJECTS` objects,
    ``skipped`` (the reason) instead of the curve, and ``chosen`` = ``previous``."""
    n = min(len(dataset), cfg.val_max_objects) if dataset is not None else 0
    previous = float(loaded.preprocess.threshold)
    if n < MIN_OBJECTS:
        return {
            "previous": previous,
            "chosen": previous,
            "n_objects": n,
            "skipped": f"{n} validation object{'' if n == 1 else 's'}; the threshold is "
            f"fitted with >= {MIN_OBJECTS}",
        }
    ts = sorted(set(THRESHOLDS) | {previous})
    curve = threshold_curve(loaded.model, loaded.preprocess, dataset, cfg, device, ts, progress)
    return {
        "thresholds": ts,
        "val_iou": [round(float(v), 5) for v in curve],
        "previous": previous,
        "chosen": choose_threshold(curve, ts, previous),
        "n_objects": n,
    }


def save_fitted(
    path: str | Path, loaded: LoadedModel, record: dict, meta: dict | None = None
) -> Path:
    """Write ``loaded`` to ``path`` (atomically) with ``record["chosen"]`` as its threshold and
    ``record`` in ``meta["threshold_calibration"]`` (``meta``: default ``loaded.meta``)."""
    from ..models.checkpoint import save_checkpoint

    meta = dict(loaded.meta if meta is None else meta, threshold_calibration=record)
    pre = replace(loaded.preprocess, threshold=record["chosen"])
    return save_checkpoint(path, loaded.model.cpu(), pre, meta)


def calibrate_checkpoint(
    path: str | Path,
    dataset: ObjectDataset | None,
    cfg: FinetuneConfig,
    device: torch.device | str,
    progress: Callable[[int, int], object] | None = None,
) -> dict:
    """:func:`fit_threshold` for the network in checkpoint ``path``, then rewrite ``path`` with
    the result (:func:`save_fitted`). Returns the record."""
    from ..models.checkpoint import load_model

    loaded = load_model(path, device=str(device))
    record = fit_threshold(loaded, dataset, cfg, device, progress)
    save_fitted(path, loaded, record)
    return record


def describe(record: dict) -> str:
    """One line for logs and the GUI."""
    if "skipped" in record:
        return f"mask threshold stays {record['previous']:.2f} ({record['skipped']})"
    ts, iou = record["thresholds"], record["val_iou"]
    i_new = ts.index(record["chosen"])
    i_old = ts.index(record["previous"])
    verb = "set to" if record["chosen"] != record["previous"] else "stays"
    return (
        f"mask threshold {verb} {record['chosen']:.2f}: mean IoU {iou[i_new]:.4f} on "
        f"{count(record['n_objects'], 'object')} (at {record['previous']:.2f}: {iou[i_old]:.4f})"
    )
