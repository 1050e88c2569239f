"""Fit the mask threshold to the annotators' contour, on the validation objects.

A network trained with BCE on a /4 output grid puts its 0.5 level slightly inside the contour
its annotators drew: on ssTEM the IoU-optimal threshold of the 0.5-trained networks was 0.25-0.35
on every set of objects drawn the way their training objects were (docs/experiments.md, "The
mask threshold"). :func:`calibrate_checkpoint` measures the mean IoU (3 IOG clicks, the
annotator's pipeline) of the validation objects at each of :data:`THRESHOLDS` and rewrites the
checkpoint with the best one as ``PreprocessConfig.threshold``, its curve in
``meta["threshold_calibration"]``. It only moves the threshold if that gains at least
:data:`MIN_GAIN` on those objects, and only with at least ``MIN_VAL_FOR_BEST`` of them.

The threshold then fits images annotated the way the training objects were; a model used on
images drawn with another convention (tighter or looser) keeps the wrong one (measured too).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .config import MIN_VAL_FOR_BEST, FinetuneConfig

THRESHOLDS = tuple(round(0.2 + 0.05 * i, 2) for i in range(13))  # 0.20 ... 0.80
MIN_GAIN = 0.002  # mean validation IoU a new threshold must gain over the current one
MIN_OBJECTS = MIN_VAL_FOR_BEST


def threshold_curve(model, preprocess, dataset, cfg: FinetuneConfig, device, thresholds=THRESHOLDS):
    """float64 ``[len(thresholds)]``: mean IoU of the first ``cfg.val_max_objects`` objects of
    ``dataset`` (an ObjectDataset) when the network's probabilities are cut at each threshold.

    The annotator's pipeline (``IOGPredictor`` with ``preprocess``: crop, paste back, clip to the
    box, keep the seeded component), the protocol's 3 clicks (tight box + inside click), IoU on
    the image plane. The network runs once per object."""
    from ..data.prompts import simulate_prompt
    from ..inference import IOGPredictor
    from ..inference.postprocess import finalize_mask

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
        seeds = [(prompt.inside.row, prompt.inside.col)]
        row = []
        for t in ts:
            m = finalize_mask(
                res.prob, res.origin, gt.shape, prompt, t, preprocess.clip_to_box, seeds
            ).mask
            union = int((m | g).sum()) + outside
            row.append((m & g).sum() / union if union else 1.0)
        per_object.append(row)
    return np.asarray(per_object, dtype=np.float64).mean(axis=0)


def choose_threshold(curve, thresholds, current: float, min_gain: float = MIN_GAIN) -> float:
    """The threshold of ``thresholds`` with the highest ``curve`` value, or ``current`` (which
    must be one of ``thresholds``) when the best gains less than ``min_gain`` over it."""
    curve = np.asarray(curve, dtype=np.float64)
    ts = [float(t) for t in thresholds]
    here = min(range(len(ts)), key=lambda i: abs(ts[i] - current))
    if abs(ts[here] - current) > 1e-9:
        raise ValueError(f"current threshold {current} is not one of {ts}.")
    if not np.isfinite(curve).all():
        return float(current)
    best = int(np.argmax(curve))
    return ts[best] if curve[best] - curve[here] >= min_gain else float(current)


def calibrate_checkpoint(path, dataset, cfg: FinetuneConfig, device) -> dict:
    """Measure :func:`threshold_curve` of the network in checkpoint ``path`` on ``dataset``
    (the validation objects) and rewrite ``path`` atomically with the chosen threshold.

    Returns the record stored in ``meta["threshold_calibration"]``: ``thresholds``, ``val_iou``
    (one per threshold), ``previous``, ``chosen``, ``n_objects``; with fewer than
    :data:`MIN_OBJECTS` objects, ``skipped`` (the reason) instead of the curve, and the threshold
    stays."""
    from ..models.checkpoint import load_model, save_checkpoint

    n = min(len(dataset), cfg.val_max_objects) if dataset is not None else 0
    loaded = load_model(path, device=str(device))
    previous = float(loaded.preprocess.threshold)
    if n < MIN_OBJECTS:
        record = {
            "previous": previous,
            "chosen": previous,
            "n_objects": n,
            "skipped": f"{n} validation objects; the threshold is fitted with >= {MIN_OBJECTS}",
        }
    else:
        ts = sorted(set(THRESHOLDS) | {previous})
        curve = threshold_curve(loaded.model, loaded.preprocess, dataset, cfg, device, ts)
        record = {
            "thresholds": ts,
            "val_iou": [round(float(v), 5) for v in curve],
            "previous": previous,
            "chosen": choose_threshold(curve, ts, previous),
            "n_objects": n,
        }
    meta = dict(loaded.meta, threshold_calibration=record)
    pre = replace(loaded.preprocess, threshold=record["chosen"])
    save_checkpoint(path, loaded.model.cpu(), pre, meta)
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
        f"{record['n_objects']} objects (at {record['previous']:.2f}: {iou[i_old]:.4f})"
    )
