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
from dataclasses import dataclass

import numpy as np

from napari_iog.inference.session import prompt_from_mask
from napari_iog.structures import BBox, Click, MaskResult, Prompt, PromptError


class PropagationError(ValueError):
    """Bad propagation settings or start mask; the message says what to fix."""


@dataclass(frozen=True)
class PropagationConfig:
    """Settings of :func:`propagate`.

    - ``margin``: px added around the previous mask's box.
    - ``iou_threshold``: stop when IoU(previous, new) is below this (0 disables).
    - ``min_area``: stop when the new mask has fewer pixels.
    - ``z_min``/``z_max``: inclusive slice limits (``None`` = stack ends).
    - ``direction``: ``"both"``, ``"forward"`` (increasing index) or ``"backward"``.
    """

    margin: int = 3
    iou_threshold: float = 0.5
    min_area: int = 10
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


def _limits(n: int, cfg: PropagationConfig) -> tuple[int, int]:
    lo = 0 if cfg.z_min is None else max(0, int(cfg.z_min))
    hi = n - 1 if cfg.z_max is None else min(n - 1, int(cfg.z_max))
    return lo, hi


def propagate(
    predictor,
    get_plane: Callable[[int], np.ndarray],
    n_slices: int,
    start: int,
    start_result: MaskResult,
    config: PropagationConfig | None = None,
    *,
    rgb: bool | None = None,
    contrast_limits=None,
    cancel: Callable[[], bool] | None = None,
) -> Iterator[PropagationStep]:
    """Propagate ``start_result`` (the object on slice ``start``) through slices ``0..n_slices-1``.

    ``get_plane(i)`` returns slice ``i`` as ``[H, W]`` or ``[H, W, 3|4]``; ``predictor`` has
    ``set_image`` and ``predict`` (it is re-pointed at each slice). Forward first, then backward.
    Returns an iterator of :class:`PropagationStep` (one per visited slice; stops early when
    ``cancel()`` is true). The arguments are checked at call time: :class:`PropagationError`
    when ``start`` is outside the limits or the mask is empty.
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
    return _walk(
        predictor, get_plane, start, start_result, cfg, lo, hi, rgb, contrast_limits, cancel
    )


def _walk(predictor, get_plane, start, start_result, cfg, lo, hi, rgb, contrast_limits, cancel):
    directions = []
    if cfg.direction in ("both", "forward"):
        directions.append(range(start + 1, hi + 1))
    if cfg.direction in ("both", "backward"):
        directions.append(range(start - 1, lo - 1, -1))
    total = sum(len(d) for d in directions)
    done = 0
    for indices in directions:
        prev = start_result
        for i in indices:
            if cancel is not None and cancel():
                return
            done += 1
            prompt = prompt_from_result(prev, cfg.margin)
            predictor.set_image(get_plane(i), rgb=rgb, contrast_limits=contrast_limits)
            try:
                result = predictor.predict(prompt)
            except PromptError as err:
                yield PropagationStep(i, None, 0.0, False, f"prompt rejected: {err}", done, total)
                break
            iou = window_iou(prev, result)
            reason = None
            if result.area < max(cfg.min_area, 1):
                reason = f"mask smaller than {max(cfg.min_area, 1)} px"
            elif iou < cfg.iou_threshold:
                reason = f"IoU with previous slice {iou:.2f} < {cfg.iou_threshold:.2f}"
            yield PropagationStep(i, result, iou, reason is None, reason, done, total)
            if reason is not None:
                break
            prev = result
