"""Replay committed objects with other weights (napari-free).

After a fine-tune (or with other weights), every object of a label image is segmented again from
the prompt that made it: its stored box, inside click and correction clicks (the provenance
records of the annotator, ``_napari/provenance.py``), or, for an object without a usable record
(painted by hand, edited since, or from another tool), a prompt seeded from its mask - the same
seed as "Edit id" (:func:`napari_iog.inference.session.prompt_from_mask`, ``MASK_MARGIN`` px).
Nothing is written here: :func:`replay` yields one result per object and the caller shows them
as a preview and commits what the user accepts.

Label data: ``[..., H, W]`` integer instance ids (0 = background); leading axes are slice
indices. Prompts and masks are pixel ``(row, col)`` of each 2D plane.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING

import numpy as np

from napari_iog.data.prompts import prompt_from_mask
from napari_iog.structures import MaskResult, Prompt, PromptError

if TYPE_CHECKING:
    from napari_iog.inference.base import ImagePredictorBase
    from napari_iog.inference.interface import PromptPredictor

MASK_MARGIN = (
    5  # px around a mask-seeded box (replay, and "Edit id" of an object without provenance)
)


@dataclass(frozen=True)
class ReplayItem:
    """One object to replay: label ``value`` on slice ``leading``, the ``prompt`` to run and
    where it comes from (``source``: ``"provenance"`` or ``"mask"``)."""

    value: int
    leading: tuple[int, ...]
    prompt: Prompt
    source: str


@dataclass(frozen=True)
class Replayed:
    """The outcome of one item: ``result`` (None when it could not run: ``error`` says why) and
    ``iou_before``: IoU of the new mask with the object's current mask on its slice."""

    item: ReplayItem
    result: MaskResult | None
    iou_before: float
    error: str | None = None


def stored_prompt(
    records: list[dict], value: int, leading: Sequence[int], mask: np.ndarray
) -> Prompt | None:
    """The prompt (box, inside click, correction clicks) of the latest provenance record of
    object ``value`` on slice ``leading``, if the object (``mask``, bool ``[H, W]``) is still
    there: its inside click (else its box centre) lies on the mask. None otherwise (painted by
    hand, moved since, or a semantic class)."""
    for rec in reversed(records):
        if rec.get("value") != value or rec.get("semantic") or not rec.get("prompt"):
            continue
        if list(rec.get("slice", [])) != [int(v) for v in leading]:
            continue
        try:
            prompt = Prompt.from_dict(rec["prompt"])
        except (KeyError, TypeError, ValueError):
            return None
        b = prompt.box
        r, c = (
            (prompt.inside.row, prompt.inside.col)
            if prompt.inside is not None
            else ((b.row0 + b.row1) / 2, (b.col0 + b.col1) / 2)
        )
        r, c = int(round(r)), int(round(c))
        inside = 0 <= r < mask.shape[0] and 0 <= c < mask.shape[1] and bool(mask[r, c])
        return prompt if inside else None
    return None


def _semantic_values(records: list[dict]) -> set[int]:
    return {int(r["value"]) for r in records if r.get("semantic") and "value" in r}


def plan_replay(
    labels: np.ndarray,
    records: list[dict],
    leadings: Iterable[Sequence[int]] | None = None,
) -> list[ReplayItem]:
    """One :class:`ReplayItem` per (object id, slice) of ``labels`` (``[..., H, W]`` ints),
    in slice then id order. ``records``: provenance records (may be empty). ``leadings``: the
    slices to visit (default: all). Values committed as semantic classes are skipped (a class
    is not one object)."""
    shape = tuple(int(s) for s in labels.shape)
    if len(shape) < 2:
        raise ValueError(f"Labels must be [..., H, W], got shape {shape}.")
    planes = list(product(*(range(n) for n in shape[:-2]))) if leadings is None else leadings
    skip = _semantic_values(records)
    items = []
    for leading in planes:
        leading = tuple(int(v) for v in leading)
        plane = np.asarray(labels[leading] if leading else labels)
        for value in np.unique(plane):
            value = int(value)
            if value == 0 or value in skip:
                continue
            mask = plane == value
            prompt = stored_prompt(records, value, leading, mask)
            source = "provenance"
            if prompt is None:
                prompt, source = prompt_from_mask(mask, margin=MASK_MARGIN), "mask"
            items.append(ReplayItem(value, leading, prompt, source))
    return items


def run_prompt(predictor: PromptPredictor, prompt: Prompt) -> MaskResult:
    """Segment ``prompt`` as the annotator did: box + inside click first, then all correction
    clicks at once with ``refine`` (predictors that support it), else ``predict`` with them."""
    if prompt.clicks and getattr(predictor, "supports_refinement", False):
        predictor.predict(Prompt(prompt.box, prompt.inside))
        return predictor.refine(prompt.clicks)
    return predictor.predict(prompt)


def result_iou(result: MaskResult, mask: np.ndarray) -> float:
    """IoU of a windowed ``result`` with a full bool plane ``mask`` ``[H, W]``."""
    wr, wc = result.window
    inter = int(np.count_nonzero(mask[wr, wc] & result.mask))
    union = int(mask.sum()) + result.area - inter
    return inter / union if union else 0.0


def replay(
    predictor: ImagePredictorBase,
    get_plane: Callable[[tuple[int, ...]], np.ndarray],
    labels: np.ndarray,
    items: list[ReplayItem],
    *,
    rgb: bool | None = None,
    contrast_limits: tuple[float, float] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Iterator[Replayed]:
    """Run ``predictor`` on every item (grouped by slice: ``set_image`` once per plane) and
    yield a :class:`Replayed` each. ``get_plane(leading)`` returns the image plane ``[H, W]``
    or ``[H, W, 3|4]``; ``labels`` the current label data (for ``iou_before``); ``rgb`` and
    ``contrast_limits`` go to ``set_image`` (the normalisation rule). Stops early when
    ``cancel()`` is true. A prompt the predictor rejects yields ``result=None`` and the reason."""
    current = None
    for item in sorted(items, key=lambda it: (it.leading, it.value)):
        if cancel is not None and cancel():
            return
        if item.leading != current:  # each slice's image and labels are read once
            predictor.set_image(get_plane(item.leading), rgb=rgb, contrast_limits=contrast_limits)
            plane = np.asarray(labels[item.leading] if item.leading else labels)
            current = item.leading
        try:
            result = run_prompt(predictor, item.prompt)
        except PromptError as err:
            yield Replayed(item, None, 0.0, str(err))
            continue
        yield Replayed(item, result, result_iou(result, plane == item.value))
