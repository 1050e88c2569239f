"""Interactive-segmentation metrics: IoU, mIoU@k, NoC@t.

Conventions (as in the interactive-segmentation literature, adapted to IOG):

- An object's *IoU curve* is ``ious[k]`` for ``k = 0..K``: ``ious[0]`` is the IoU after the 3 IOG
  clicks (box + inside click), ``ious[k]`` after ``k`` corrective clicks. Its total click count
  is ``3 + k``.
- ``mIoU@c`` is the mean over objects of the IoU after ``c`` total clicks (``c >= 3``).
- ``NoC@t`` is the mean over objects of the smallest total click count reaching IoU ``>= t``; an
  object that never reaches it counts as ``3 + K`` (the click limit), as in RITM/FocalClick.
  ``noc90_corrective`` = ``NoC@90 - 3``: the corrective clicks alone (the box and inside click
  not counted), the number to compare with tools whose first interaction is one box.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

IOG_CLICKS = 3  # two box corners + one inside click


def iou(pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None) -> float:
    """IoU of two boolean masks of the same shape, ignoring ``void`` pixels; 1.0 if both empty."""
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    if pred.shape != gt.shape:
        raise ValueError(f"pred shape {pred.shape} != gt shape {gt.shape}.")
    if void is not None:
        keep = ~np.asarray(void, bool)
        pred, gt = pred & keep, gt & keep
    union = np.count_nonzero(pred | gt)
    if union == 0:
        return 1.0
    return float(np.count_nonzero(pred & gt)) / float(union)


def _as_curves(curves) -> np.ndarray:
    arr = np.asarray(curves, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ValueError(f"IoU curves must be [n_objects, n_steps], got shape {arr.shape}.")
    return arr


def noc_per_object(curves: ArrayLike, threshold: float) -> np.ndarray:
    """int ``[n_objects]``: total clicks (3 + corrections) to reach ``threshold``; limit if never."""
    arr = _as_curves(curves)
    limit = IOG_CLICKS + arr.shape[1] - 1
    hit = arr >= threshold
    first = np.where(hit.any(axis=1), hit.argmax(axis=1), arr.shape[1] - 1)
    out = IOG_CLICKS + first
    out[~hit.any(axis=1)] = limit
    return out


def noc(curves: ArrayLike, threshold: float) -> float:
    """NoC@threshold: mean of :func:`noc_per_object` (e.g. ``noc(curves, 0.9)`` = NoC@90)."""
    return float(noc_per_object(curves, threshold).mean())


def miou_at(curves: ArrayLike, clicks: int) -> float:
    """mIoU after ``clicks`` total clicks (``3`` = the IOG prompt only). Uses the last step if the
    curves are shorter (the object stopped improving: IoU is held)."""
    arr = _as_curves(curves)
    if clicks < IOG_CLICKS:
        raise ValueError(f"IOG starts with {IOG_CLICKS} clicks; mIoU@{clicks} is undefined.")
    k = min(clicks - IOG_CLICKS, arr.shape[1] - 1)
    return float(arr[:, k].mean())


def summarize(curves: ArrayLike) -> dict:
    """Standard summary of IoU curves: mIoU@3..@(3+K), NoC@85/90, counts of failures."""
    arr = _as_curves(curves)
    k_max = arr.shape[1] - 1
    return {
        "n_objects": int(arr.shape[0]),
        "max_corrective_clicks": int(k_max),
        "miou_at_3": miou_at(arr, 3),
        "miou_by_clicks": {str(IOG_CLICKS + k): float(arr[:, k].mean()) for k in range(k_max + 1)},
        "noc85": noc(arr, 0.85),
        "noc90": noc(arr, 0.90),
        "noc85_corrective": noc(arr, 0.85) - IOG_CLICKS,
        "noc90_corrective": noc(arr, 0.90) - IOG_CLICKS,
        "n_fail85": int((arr.max(axis=1) < 0.85).sum()),
        "n_fail90": int((arr.max(axis=1) < 0.90).sum()),
        "best_miou_within_3_corrections": float(arr[:, : min(4, k_max + 1)].max(axis=1).mean()),
        "miou_after_3_corrections": miou_at(arr, 6),
    }
