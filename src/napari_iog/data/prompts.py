"""The click simulator shared by training, evaluation and the annotator's "auto" prompts.

All coordinates are pixel ``(row, col)`` of the array passed in; masks are 2D ``[H, W]`` (bool, or
numbers where nonzero = object).

- :func:`box_from_mask` - the tight box of an object (the two outside clicks).
- :func:`jitter_box` - training only: each box edge moved by a random amount (user imprecision).
- :func:`inside_click` - the distance-transform maximum of the object inside its box (via
  :func:`napari_iog.inference.guidance.inside_point_from_mask`, the one implementation).
- :func:`simulate_prompt` - box + inside click, the 3 IOG clicks.
- :func:`prompt_from_mask` - the prompt that reproduces an existing object (seeding, propagation).
- :func:`next_click` - the next corrective click: the point deepest inside the *largest* error
  region; positive if that region is missed foreground, negative if it is a false positive.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..structures import BBox, Click, Prompt, PromptError


def _mask2d(mask, what: str = "mask") -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim != 2:
        raise PromptError(f"The {what} must be 2D [H, W], got shape {m.shape}.")
    return m > 0.5 if m.dtype.kind == "f" else m.astype(bool)


def box_from_mask(mask: np.ndarray) -> BBox:
    """Tight inclusive box of the object in ``mask`` ``[H, W]`` (bool, int > 0, or float > 0.5);
    ``PromptError`` if the mask is empty."""
    return BBox.from_mask(_mask2d(mask))


def jitter_box(
    box: BBox,
    rng: np.random.Generator,
    frac: float = 0.1,
    max_px: int = 10,
    image_shape: tuple[int, int] | None = None,
) -> BBox:
    """Move each edge of ``box`` independently by ``U(-d, d)`` px, ``d = min(frac * side, max_px)``.

    Simulates a user's imprecise box during training (``frac=0`` returns the box unchanged). The
    result is clipped to ``image_shape`` when given and never inverted.
    """
    if frac <= 0:
        return box
    dr = min(frac * box.height, max_px)
    dc = min(frac * box.width, max_px)
    j = rng.uniform(-1.0, 1.0, size=4) * np.array([dr, dc, dr, dc])
    r0, c0, r1, c1 = (int(round(v)) for v in np.array(box.as_tuple(), float) + j)
    r0, r1 = min(r0, box.row1), max(r1, box.row0)
    c0, c1 = min(c0, box.col1), max(c1, box.col0)
    out = BBox(r0, c0, r1, c1)
    return out.clip(image_shape) if image_shape is not None else out


def inside_click(mask: np.ndarray, box: BBox | None = None) -> Click:
    """The inside click: the point farthest from the object boundary (EDT maximum) of ``mask``
    ``[H, W]`` (bool, int > 0, or float > 0.5).

    Computed on the object restricted to ``box`` (default: its tight box); pixels outside the box
    or outside the array count as background. Returns a positive :class:`Click` in the mask's
    ``(row, col)``. Raises ``PromptError`` if no object pixel lies inside the box.
    """
    from ..inference.guidance import inside_point_from_mask

    m = _mask2d(mask)
    box = box_from_mask(m) if box is None else box.clip(m.shape)
    win = m[box.row0 : box.row1 + 1, box.col0 : box.col1 + 1]
    if not win.any():
        raise PromptError(f"No object pixel lies inside the box {box.as_tuple()}.")
    r, c = inside_point_from_mask(win)
    return Click(float(box.row0 + r), float(box.col0 + c), True)


def simulate_prompt(
    mask: np.ndarray,
    rng: np.random.Generator | None = None,
    jitter: float = 0.0,
    max_jitter_px: int = 10,
) -> Prompt:
    """The 3 IOG clicks from a ground-truth mask ``[H, W]`` (bool, int > 0, or float > 0.5):
    box (jittered if ``jitter > 0`` and ``rng``) and the inside click at the EDT maximum of the
    object within that box."""
    m = _mask2d(mask)
    box = box_from_mask(m)
    if jitter > 0 and rng is not None:
        box = jitter_box(box, rng, jitter, max_jitter_px, m.shape)
    return Prompt(box, inside_click(m, box))


def prompt_from_mask(mask: np.ndarray, margin: int = 0) -> Prompt:
    """The IOG prompt for an existing 2D mask ``[H, W]``: its tight box grown by ``margin`` px
    (clipped to the plane) and the inside click of :func:`inside_click`. ``PromptError`` for an
    empty mask."""
    m = _mask2d(mask)
    tight = box_from_mask(m)
    box = tight
    if margin:
        box = BBox(tight.row0 - margin, tight.col0 - margin, tight.row1 + margin,
                   tight.col1 + margin).clip(m.shape)  # fmt: skip
    return Prompt(box, inside_click(m, tight))


def error_regions(
    pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """bool ``(missed, false_positive)`` maps ``[H, W]``: ``gt & ~pred`` and ``pred & ~gt``, void
    excluded. ``pred``, ``gt``, ``void``: masks ``[H, W]`` (bool, int > 0, or float > 0.5)."""
    p, g = _mask2d(pred, "prediction"), _mask2d(gt, "ground truth")
    if p.shape != g.shape:
        raise PromptError(f"Prediction shape {p.shape} != ground-truth shape {g.shape}.")
    fn, fp = g & ~p, p & ~g
    if void is not None:
        keep = ~_mask2d(void, "void mask")
        fn, fp = fn & keep, fp & keep
    return fn, fp


def next_click(
    pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None, min_region: int = 1
) -> Click | None:
    """The next corrective click, or ``None`` if the prediction is already perfect. ``pred``,
    ``gt``, ``void``: masks ``[H, W]`` (bool, int > 0, or float > 0.5; see :func:`error_regions`).

    Picks the largest 8-connected error region (by area) among missed foreground and false
    positives, and clicks at its distance-transform maximum (region and array borders count as
    boundary, ties to the first pixel in raster order). The click is positive for missed
    foreground, negative for a false positive. Regions smaller than ``min_region`` px are ignored.
    """
    fn, fp = error_regions(pred, gt, void)
    best = None  # (area, is_fn, region mask)
    for is_fn, err in ((True, fn), (False, fp)):
        if not err.any():
            continue
        lab, n = ndimage.label(err, structure=np.ones((3, 3), bool))
        areas = np.bincount(lab.ravel())[1:]
        k = int(np.argmax(areas))
        if areas[k] >= min_region and (best is None or areas[k] > best[0]):
            best = (int(areas[k]), is_fn, lab == k + 1)
    if best is None:
        return None
    _, is_fn, region = best
    # Crop to the region's bounding box (+1 px of background) so the EDT stays cheap.
    sl = ndimage.find_objects(region.astype(np.uint8))[0]
    sub = np.pad(region[sl], 1)
    dist = ndimage.distance_transform_edt(sub)
    r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return Click(float(sl[0].start + r - 1), float(sl[1].start + c - 1), bool(is_fn))
