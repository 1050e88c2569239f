"""From a probability window to a mask, and from a mask to a label-image edit.

- :func:`finalize_mask` - threshold, optional clip to the box, keep the connected component(s)
  holding the seed clicks (fallback: the largest), optionally fill small holes -> MaskResult.
- :func:`check_finite_prob` - NaN/inf probabilities raise :class:`NonFiniteOutputError`.
- :func:`rethreshold` - the same result cut at another threshold (no network run).
- :func:`paste_labels` - the pixels a commit would change in a label image, as
  ``(index, old_values, new_values)`` for napari's undoable ``Labels.data_setitem``.

All coordinates are image ``(row, col)``; windows are given by their top-left ``origin``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from scipy import ndimage

from ..structures import BBox, MaskResult, Prompt

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

COMMIT_MODES = ("keep", "overwrite", "background")
_EIGHT = np.ones((3, 3), dtype=bool)


class NonFiniteOutputError(ValueError):
    """A predictor returned NaN/inf probabilities: its weights are broken; never a silent empty
    mask. The message says what to do."""


def check_finite_prob(prob: np.ndarray, source: str = "The network") -> None:
    """Raise :class:`NonFiniteOutputError` if float ``prob`` (any shape) holds NaN or inf."""
    prob = np.asarray(prob)
    if prob.dtype.kind in "fc" and not np.isfinite(prob).all():
        bad = int(prob.size - np.count_nonzero(np.isfinite(prob)))
        raise NonFiniteOutputError(
            f"{source} returned NaN/inf probabilities ({bad} of {prob.size} pixels): its weights "
            "are broken (a diverged fine-tuning run, or a damaged file), so no mask can be made. "
            "Use other weights (`napari-iog weights list`), or fine-tune again with a lower --lr."
        )


def keep_seeded_components(mask: np.ndarray, seeds_rc: ArrayLike) -> np.ndarray:
    """Keep the 8-connected components of bool ``mask`` ``[h, w]`` that contain a seed
    (``[N, 2]`` (row, col) in mask pixels, rounded; seeds off the mask are ignored). If no seed
    hits the mask, keep the largest component. Returns a new bool ``[h, w]``."""
    mask = np.asarray(mask, dtype=bool)
    lab, n = ndimage.label(mask, structure=_EIGHT)
    if n <= 1:
        return mask.copy()
    ids = set()
    for r, c in np.asarray(seeds_rc, dtype=np.float64).reshape(-1, 2):
        ri, ci = int(round(r)), int(round(c))
        if 0 <= ri < mask.shape[0] and 0 <= ci < mask.shape[1] and lab[ri, ci] > 0:
            ids.add(int(lab[ri, ci]))
    if not ids:
        ids = {int(np.argmax(np.bincount(lab.ravel())[1:])) + 1}
    return np.isin(lab, sorted(ids))


def finalize_mask(
    prob: np.ndarray,
    origin: tuple[int, int],
    image_shape: tuple[int, int],
    prompt: Prompt,
    threshold: float = 0.5,
    clip_to_box: bool = False,
    seeds_rc: ArrayLike = (),
    max_hole_area: int = 0,
) -> MaskResult:
    """Turn a float ``[h, w]`` probability window at ``origin`` into a :class:`MaskResult`.

    ``mask = prob >= threshold``; with ``clip_to_box`` pixels outside ``prompt.box`` are dropped
    (:func:`clip_window_mask`: a side of the box stops clipping once a positive click lies beyond
    it, so a box drawn too small can be corrected with clicks); then
    :func:`keep_seeded_components` with ``seeds_rc`` (image ``(row, col)``: the inside click and
    the positive correction clicks); ``max_hole_area > 0`` fills enclosed background
    holes up to that many pixels.
    """
    check_finite_prob(prob, "The predictor")
    prob = np.asarray(prob, dtype=np.float32)
    r0, c0 = int(origin[0]), int(origin[1])
    mask = prob >= threshold
    if clip_to_box:
        mask &= clip_window_mask(prompt, (r0, c0), prob.shape)
    seeds = np.asarray(seeds_rc, dtype=np.float64).reshape(-1, 2) - [r0, c0]
    mask = keep_seeded_components(mask, seeds)
    if max_hole_area > 0:
        holes = ndimage.binary_fill_holes(mask) & ~mask
        lab, n = ndimage.label(holes)
        if n:
            sizes = np.bincount(lab.ravel())
            small = np.flatnonzero(sizes <= max_hole_area)
            mask |= np.isin(lab, small[small > 0])
    return MaskResult(
        prob=prob,
        mask=mask,
        origin=(r0, c0),
        image_shape=(int(image_shape[0]), int(image_shape[1])),
        prompt=prompt,
        threshold=float(threshold),
        seeds=tuple((float(r), float(c)) for r, c in np.asarray(seeds_rc, float).reshape(-1, 2)),
    )


def rethreshold(result: MaskResult, threshold: float, clip_to_box: bool = False) -> MaskResult:
    """``result`` with its mask re-cut from its own ``prob`` at ``threshold`` (the network is not
    run again): :func:`finalize_mask` with the seeds the result was cut with (``result.seeds``;
    a result that did not record them: its prompt's inside click and positive corrections).
    Returns ``result`` itself when the threshold is unchanged."""
    if float(threshold) == float(result.threshold):
        return result
    p = result.prompt
    seeds = result.seeds or [(c.row, c.col) for c in _positive_clicks(p)]
    return finalize_mask(
        result.prob, result.origin, result.image_shape, p, threshold, clip_to_box, seeds
    )


def _positive_clicks(prompt: Prompt) -> list:
    """The inside click and the positive corrections of ``prompt``, in order."""
    return [c for c in (prompt.inside, *prompt.clicks) if c is not None and c.positive]


def box_window_mask(box: BBox, origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """bool ``shape`` window at ``origin``: True inside the inclusive ``box``."""
    rows = np.arange(shape[0]) + origin[0]
    cols = np.arange(shape[1]) + origin[1]
    return ((rows >= box.row0) & (rows <= box.row1))[:, None] & (
        (cols >= box.col0) & (cols <= box.col1)
    )[None, :]


def clip_window_mask(prompt: Prompt, origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """bool ``shape`` window at ``origin``: where a clip-to-box mask may be True. That is the
    inclusive ``prompt.box``, except that each side beyond which a positive click (the inside
    click or a correction) lies is released to the window's edge: the user has said that the
    object reaches past that side of the box."""
    box = prompt.box
    pos = _positive_clicks(prompt)
    rows = [int(round(c.row)) for c in pos]
    cols = [int(round(c.col)) for c in pos]
    lo_r, lo_c = origin[0], origin[1]
    hi_r, hi_c = origin[0] + shape[0] - 1, origin[1] + shape[1] - 1
    released = BBox(
        lo_r if any(r < box.row0 for r in rows) else box.row0,
        lo_c if any(c < box.col0 for c in cols) else box.col0,
        hi_r if any(r > box.row1 for r in rows) else box.row1,
        hi_c if any(c > box.col1 for c in cols) else box.col1,
    )
    return box_window_mask(released, origin, shape)


class LabelEdit(NamedTuple):
    """The pixels a commit changes: ``labels[index] = new_values`` (``old_values`` for undo).
    ``index`` is a tuple of int arrays, one per axis of the label array given."""

    index: tuple[np.ndarray, ...]
    old_values: np.ndarray
    new_values: np.ndarray

    def apply(self, labels: np.ndarray) -> None:
        """Write the edit into ``labels`` in place (outside napari)."""
        labels[self.index] = self.new_values

    @property
    def size(self) -> int:
        return int(self.old_values.size)


def paste_labels(
    labels: np.ndarray,
    result: MaskResult,
    label_id: int,
    mode: str = "keep",
    plane: int | Sequence[int] | None = None,
) -> LabelEdit:
    """The edit that commits ``result`` as ``label_id`` into ``labels`` (not written here).

    ``labels``: a 2D ``[H, W]`` array (possibly a view of one slice of an nD array), or an nD
    array with ``plane`` = the leading indices of the slice (e.g. ``(z,)``). Modes:

    - ``"keep"`` (default): keep other objects - write where ``labels`` is 0 or ``label_id``;
    - ``"overwrite"``: write every mask pixel;
    - ``"background"``: write only where ``labels == 0``.

    Pixels already equal to ``label_id`` are left out of the edit (writing them is a no-op), so
    ``"keep"`` and ``"background"`` give the same edit; both names are accepted because the UI
    offers them. Returns :class:`LabelEdit`
    whose ``index`` addresses ``labels`` as given (nD when ``plane`` is used).
    """
    if mode not in COMMIT_MODES:
        raise ValueError(f"Unknown commit mode {mode!r}; use one of {COMMIT_MODES}.")
    if isinstance(label_id, bool) or not float(label_id).is_integer() or int(label_id) < 1:
        raise ValueError(
            f"label_id must be a positive integer (0 is background), got {label_id!r}."
        )
    label_id = int(label_id)
    plane = () if plane is None else tuple(int(p) for p in np.atleast_1d(plane))
    if labels.ndim != 2 + len(plane):
        raise ValueError(
            f"labels has {labels.ndim} dims; pass a 2D slice, or plane= with "
            f"{labels.ndim - 2} leading index/indices (got {len(plane)})."
        )
    if tuple(labels.shape[-2:]) != tuple(result.image_shape):
        raise ValueError(
            f"labels plane {tuple(labels.shape[-2:])} and the result's image "
            f"{tuple(result.image_shape)} differ; segment the same image plane you label."
        )
    dt = np.dtype(labels.dtype)
    if dt.kind in "iu" and label_id > np.iinfo(dt).max:
        raise ValueError(f"label_id {label_id} does not fit the labels' dtype {dt}.")
    window = plane + result.window
    old = np.asarray(labels[window])
    write = result.mask & (old != label_id)
    if mode != "overwrite":  # keep / background: other objects' pixels stay untouched
        write &= old == 0
    rr, cc = np.nonzero(write)
    index = tuple(np.full(rr.shape, p, dtype=np.intp) for p in plane) + (
        rr + result.origin[0],
        cc + result.origin[1],
    )
    return LabelEdit(index, old[rr, cc], np.full(rr.shape, label_id, dtype=dt))
