"""Slice propagation of one object through a stack (napari-free generator).

Starting from the object's mask on slice ``start``, each neighbouring slice is prompted with the
previous slice's mask: its box grown by ``margin`` px and its inside point (distance-transform
maximum). Propagation in a direction stops at the user's limits ``z_min``/``z_max`` (inclusive),
at the stack end, when the predicted mask is empty / smaller than ``min_area``, or when the IoU
between consecutive slices drops below ``iou_threshold``. The slice that failed is reported but
never accepted. Nothing is written anywhere: the caller commits the accepted steps (so it can keep
manual edits outside the propagated range untouched and group the writes into one undo step).

Coordinates are pixel ``(row, col)`` of each 2D plane; slice indices count along the stack axis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from napari_iog.inference.session import prompt_from_mask
from napari_iog.structures import BBox, Click, MaskResult, Prompt, PromptError

if TYPE_CHECKING:
    from napari_iog.inference.base import ImagePredictorBase


class PropagationError(ValueError):
    """Bad propagation settings or start mask; the message says what to fix."""


@dataclass(frozen=True)
class PropagationConfig:
    """Settings of :func:`propagate`.

    - ``margin``: px added around the previous mask's box.
    - ``iou_threshold``: stop when IoU(previous, new) is below this (0 disables).
    - ``min_area``: stop when the new mask has fewer pixels.
    - ``min_confidence``: stop when the mean probability over the new mask is below this
      (``None`` = the predictor's ``propagation_confidence``: 0.88 for IOG, chosen on ssTEM
      training slices 00-09, ``benchmarks/propagation.py``; off for the classical predictors,
      whose probabilities are not calibrated). The object has ended where the network is unsure.
    - ``min_contrast_ratio``: stop when the object's contrast to its surround falls below this
      share of the start object's (None = off; measured: it cuts true continuations too).
    - ``z_min``/``z_max``: inclusive slice limits (``None`` = stack ends).
    - ``direction``: ``"both"``, ``"forward"`` (increasing index) or ``"backward"``.
    """

    margin: int = 3
    iou_threshold: float = 0.5
    min_area: int = 10
    min_confidence: float | None = None
    min_contrast_ratio: float | None = None
    z_min: int | None = None
    z_max: int | None = None
    direction: str = "both"

    def __post_init__(self):
        if self.direction not in ("both", "forward", "backward"):
            raise PropagationError(
                f"direction must be 'both', 'forward' or 'backward', got {self.direction!r}."
            )
        if not 0.0 <= self.iou_threshold <= 1.0:
            raise PropagationError(f"iou_threshold must be in [0, 1], got {self.iou_threshold}.")
        if self.margin < 0 or self.min_area < 0:
            raise PropagationError("margin and min_area must be >= 0.")


@dataclass(frozen=True)
class PropagationStep:
    """One visited slice. ``accepted`` steps are to be committed; a rejected step carries the
    ``reason`` its direction stopped. ``done``/``total`` count visited/possible slices."""

    index: int
    result: MaskResult | None
    iou: float
    accepted: bool
    reason: str | None
    done: int
    total: int
    stats: dict = field(default_factory=dict)  # object_stats() of the slice, see _verdict


def window_iou(a: MaskResult, b: MaskResult) -> float:
    """IoU of two windowed masks over the union of their windows (cheap on huge planes)."""
    r0 = min(a.origin[0], b.origin[0])
    c0 = min(a.origin[1], b.origin[1])
    r1 = max(a.origin[0] + a.mask.shape[0], b.origin[0] + b.mask.shape[0])
    c1 = max(a.origin[1] + a.mask.shape[1], b.origin[1] + b.mask.shape[1])
    canvas = np.zeros((2, r1 - r0, c1 - c0), dtype=bool)
    for k, m in enumerate((a, b)):
        rr, cc = m.origin[0] - r0, m.origin[1] - c0
        canvas[k, rr : rr + m.mask.shape[0], cc : cc + m.mask.shape[1]] = m.mask
    union = np.logical_or(canvas[0], canvas[1]).sum()
    return float(np.logical_and(canvas[0], canvas[1]).sum() / union) if union else 0.0


def mask_result_from_full(mask: np.ndarray, prompt: Prompt | None = None) -> MaskResult:
    """Wrap a full 2D bool mask ``[H, W]`` as a :class:`MaskResult` over its tight window."""
    mask = np.asarray(mask, dtype=bool)
    seed = prompt_from_mask(mask)  # PromptError for an empty mask
    p = prompt if prompt is not None else seed
    b = seed.box
    win = mask[b.row0 : b.row1 + 1, b.col0 : b.col1 + 1]
    return MaskResult(win.astype(np.float32), win.copy(), (b.row0, b.col0), mask.shape, p)


def prompt_from_result(result: MaskResult, margin: int) -> Prompt:
    """Prompt for the next slice from a windowed mask (no full-plane array): its box grown by
    ``margin`` px and clipped to the plane, and its inside point, in plane ``(row, col)``."""
    local = prompt_from_mask(result.mask)
    r0, c0 = result.origin
    b = local.box
    box = BBox(
        b.row0 + r0 - margin, b.col0 + c0 - margin, b.row1 + r0 + margin, b.col1 + c0 + margin
    )
    inside = Click(local.inside.row + r0, local.inside.col + c0, True)
    return Prompt(box.clip(result.image_shape), inside)


def object_stats(
    plane: np.ndarray, result: MaskResult, ring: int = 4, contrast: bool = True
) -> dict:
    """What tells an object from the place where it used to be: ``confidence`` (mean
    probability over the mask; window only) and, with ``contrast``, ``contrast`` (mean
    intensity of a ``ring``-px band around the mask minus the mean inside, over the plane's
    standard deviation; > 0 for dark objects; a pass over the whole plane).
    ``plane``: ``[H, W]`` or ``[H, W, C]`` (channels averaged); ``result``: its MaskResult."""
    from scipy import ndimage

    conf = float(result.prob[result.mask].mean()) if result.area else 0.0
    if not contrast:
        return {"confidence": conf}
    (wr, wc), m = result.window, result.mask
    r0, c0 = max(wr.start - ring, 0), max(wc.start - ring, 0)
    r1, c1 = min(wr.stop + ring, plane.shape[0]), min(wc.stop + ring, plane.shape[1])
    img = np.asarray(plane[r0:r1, c0:c1], dtype=np.float64)
    img = img.mean(axis=-1) if img.ndim == 3 else img
    inside = np.zeros(img.shape, dtype=bool)
    inside[wr.start - r0 : wr.stop - r0, wc.start - c0 : wc.stop - c0] = m
    band = ndimage.binary_dilation(inside, iterations=ring) & ~inside
    sd = float(np.asarray(plane, dtype=np.float32).std()) or 1.0
    if not inside.any() or not band.any():
        return {"confidence": conf, "contrast": 0.0}
    return {"confidence": conf, "contrast": float((img[band].mean() - img[inside].mean()) / sd)}


def _limits(n: int, cfg: PropagationConfig) -> tuple[int, int]:
    lo = 0 if cfg.z_min is None else max(0, int(cfg.z_min))
    hi = n - 1 if cfg.z_max is None else min(n - 1, int(cfg.z_max))
    return lo, hi


def propagate(
    predictor: ImagePredictorBase,
    get_plane: Callable[[int], np.ndarray],
    n_slices: int,
    start: int,
    start_result: MaskResult,
    config: PropagationConfig | None = None,
    *,
    rgb: bool | None = None,
    contrast_limits: tuple[float, float] | None = None,
    cancel: Callable[[], bool] | None = None,
    contrast: bool = False,
) -> Iterator[PropagationStep]:
    """Propagate ``start_result`` (the object on slice ``start``) through slices ``0..n_slices-1``.

    ``get_plane(i)`` returns slice ``i`` as ``[H, W]`` or ``[H, W, 3|4]``; ``predictor`` has
    ``set_image`` and ``predict`` (it is re-pointed at each slice). Forward first, then backward.
    Returns an iterator of :class:`PropagationStep` (one per visited slice; stops early when
    ``cancel()`` is true). The arguments are checked at call time: :class:`PropagationError`
    when ``start`` is outside the limits or the mask is empty. ``contrast``: also measure each
    step's object contrast (:func:`object_stats`; a pass over every plane, measured 0.15 s on an
    8000x8000 one), always done when ``config.min_contrast_ratio`` is set.
    """
    cfg = config or PropagationConfig()
    if not isinstance(start_result, MaskResult):
        raise PropagationError("start_result must be a MaskResult (the object on the start slice).")
    if n_slices < 1:
        raise PropagationError("The stack has no slices.")
    lo, hi = _limits(n_slices, cfg)
    if not lo <= start <= hi:
        raise PropagationError(
            f"The object is on slice {start}, outside the propagation limits {lo}..{hi}: widen "
            "the limits or annotate a slice inside them."
        )
    if start_result.area == 0:
        raise PropagationError("The start mask is empty: segment the object first.")
    need = contrast or cfg.min_contrast_ratio is not None
    return _walk(
        predictor, get_plane, start, start_result, cfg, lo, hi, rgb, contrast_limits, cancel, need
    )


def _walk(
    predictor, get_plane, start, start_result, cfg, lo, hi, rgb, contrast_limits, cancel, contrast
):
    directions = []
    if cfg.direction in ("both", "forward"):
        directions.append(range(start + 1, hi + 1))
    if cfg.direction in ("both", "backward"):
        directions.append(range(start - 1, lo - 1, -1))
    total = sum(len(d) for d in directions)
    done = 0
    first = object_stats(get_plane(start), start_result) if contrast else None
    if cfg.min_confidence is None:
        from dataclasses import replace

        cfg = replace(cfg, min_confidence=float(getattr(predictor, "propagation_confidence", 0.0)))
    for indices in directions:
        prev = start_result
        for i in indices:
            if cancel is not None and cancel():
                return
            done += 1
            prompt = prompt_from_result(prev, cfg.margin)
            plane = get_plane(i)
            predictor.set_image(plane, rgb=rgb, contrast_limits=contrast_limits)
            try:
                result = predictor.predict(prompt)
            except PromptError as err:
                yield PropagationStep(i, None, 0.0, False, f"prompt rejected: {err}", done, total)
                break
            iou = window_iou(prev, result)
            stats = object_stats(plane, result, contrast=contrast) if result.area else {}
            stats.update(iou_prev=iou, area_ratio=result.area / max(prev.area, 1))
            if first is not None:
                stats["contrast_ratio"] = stats.get("contrast", 0.0) / (first["contrast"] or 1e-9)
            reason = _verdict(cfg, result, stats)
            yield PropagationStep(i, result, iou, reason is None, reason, done, total, stats)
            if reason is not None:
                break
            prev = result


def _verdict(cfg: PropagationConfig, result: MaskResult, stats: dict) -> str | None:
    """Why propagation stops at this slice (None = accept it)."""
    if result.area < max(cfg.min_area, 1):
        return f"mask smaller than {max(cfg.min_area, 1)} px"
    if stats["iou_prev"] < cfg.iou_threshold:
        return f"IoU with previous slice {stats['iou_prev']:.2f} < {cfg.iou_threshold:.2f}"
    if stats["confidence"] < cfg.min_confidence:
        return f"confidence {stats['confidence']:.2f} < {cfg.min_confidence:.2f}"
    if cfg.min_contrast_ratio is not None and stats["contrast_ratio"] < cfg.min_contrast_ratio:
        return (
            f"object contrast {stats['contrast_ratio']:.2f} of the start's < "
            f"{cfg.min_contrast_ratio:.2f}"
        )
    return None
