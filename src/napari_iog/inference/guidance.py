"""IOG guidance heatmaps (``reference/iog-method.md`` §3.5-3.6 and §6), numpy only.

Every point is ``(row, col)`` in pixels of the map it is drawn on (the network crop). Every
Gaussian is ``exp(-4 ln2 r^2 / sigma^2)``: ``sigma`` is the full width at half maximum (FWHM),
so the value is 0.5 at ``r = sigma / 2`` (a standard deviation of about ``0.425 sigma``).

- :func:`gaussian_map` - pixelwise max of point Gaussians, float64 ``[H, W]`` in 0..1.
- :func:`inside_point_from_mask` - the distance-transform maximum of a mask (the inside click).
- :func:`outside_points` - the 4 box corners pushed outward by ``pad`` (the outside clicks).
- :func:`iog_guidance` - the initial ``[inside, outside]`` maps, jointly scaled to 0..255.
- :func:`add_click` - the official click-update rule for correction clicks.

This module is shared by inference, training and evaluation: it is the one place where clicks
become network input.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage

from ..structures import BBox, Click, PromptError

_FOUR_LN2 = 4.0 * math.log(2.0)


def _as_points(points_rc) -> np.ndarray:
    pts = np.asarray(points_rc, dtype=np.float64)
    if pts.size == 0:
        return pts.reshape(0, 2)
    pts = pts.reshape(-1, 2) if pts.ndim == 1 else pts
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"Points must be (row, col) pairs, shape [N, 2]; got shape {pts.shape}.")
    if not np.all(np.isfinite(pts)):
        raise ValueError("Point coordinates must be finite numbers (no NaN or inf).")
    return pts


def gaussian_map(shape: tuple[int, int], points_rc: ArrayLike, sigma: float) -> np.ndarray:
    """Pixelwise max of one Gaussian per point.

    ``shape`` = ``(H, W)``; ``points_rc`` = ``[N, 2]`` (row, col), may lie outside the map;
    ``sigma`` = FWHM in pixels. Returns float64 ``[H, W]`` in 0..1 (all zeros for N = 0).
    Computed on the full grid in float64 (same arithmetic as the official ``make_gaussian``).
    """
    h, w = int(shape[0]), int(shape[1])
    if sigma <= 0:
        raise ValueError(f"sigma (the Gaussian FWHM in pixels) must be > 0, got {sigma}.")
    out = np.zeros((h, w), dtype=np.float64)
    rows = np.arange(h, dtype=np.float64)[:, None]
    cols = np.arange(w, dtype=np.float64)[None, :]
    for r0, c0 in _as_points(points_rc):
        g = np.exp(-_FOUR_LN2 * ((cols - c0) ** 2 + (rows - r0) ** 2) / sigma**2)
        np.maximum(out, g, out=out)
    return out


def inside_point_from_mask(mask: np.ndarray) -> tuple[int, int]:
    """The inside click for a mask: argmax of its Euclidean distance transform.

    The 2D ``mask`` (nonzero = object) is padded by one zero pixel first, so the map border
    counts as boundary; ties go to the first maximum in raster (row-major) order.
    Returns ``(row, col)`` ints. Raises ValueError for an empty mask.
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"inside_point_from_mask needs a 2D mask, got shape {m.shape}.")
    m = m > 0.5 if m.dtype.kind == "f" else m.astype(bool)
    if not m.any():
        raise PromptError("The mask is empty: there is no object to place an inside click in.")
    dist = ndimage.distance_transform_edt(np.pad(m, 1))[1:-1, 1:-1]
    r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(r), int(c)


def outside_points(
    box_in_crop: BBox | tuple[float, float, float, float],
    pad: float,
    size: int | tuple[int, int],
) -> np.ndarray:
    """The 4 outside clicks: box corners moved ``pad`` pixels outward, clipped to ``[0, size]``.

    ``box_in_crop`` = ``(row0, col0, row1, col1)`` (or a :class:`BBox`) in crop pixels;
    ``size`` = crop side ``S`` or ``(H, W)``. The upper clip is ``size``, not ``size - 1``,
    like the official code. Returns float64 ``[4, 2]`` (row, col) in the order
    top-left, bottom-left, top-right, bottom-right.
    """
    if isinstance(box_in_crop, BBox):
        box_in_crop = box_in_crop.as_tuple()
    r0, c0, r1, c1 = (float(v) for v in box_in_crop)
    h, w = (size, size) if np.isscalar(size) else size
    pts = np.array(
        [[r0 - pad, c0 - pad], [r1 + pad, c0 - pad], [r0 - pad, c1 + pad], [r1 + pad, c1 + pad]],
        dtype=np.float64,
    )
    pts[:, 0] = np.clip(pts[:, 0], 0, h)
    pts[:, 1] = np.clip(pts[:, 1], 0, w)
    return pts


def iog_guidance(
    inside_rc: ArrayLike, corners_rc: ArrayLike, shape: tuple[int, int], sigma: float
) -> np.ndarray:
    """The initial guidance: float32 ``[2, H, W]`` = ``[inside, outside]`` in 0..255.

    Channel 0 is the Gaussian of ``inside_rc`` (one ``(row, col)``, or ``[N, 2]``), channel 1
    the pixelwise max of the ``corners_rc`` Gaussians. Both channels are min-max scaled
    *together* to 0..255 in float32, like the official ``ToImage``:
    ``255 * (t - min) / (max - min + 1e-10)``. ``shape`` = ``(H, W)`` or a side ``S``.
    """
    h, w = (int(shape), int(shape)) if np.isscalar(shape) else (int(shape[0]), int(shape[1]))
    t = np.stack(
        [gaussian_map((h, w), inside_rc, sigma), gaussian_map((h, w), corners_rc, sigma)]
    ).astype(np.float32)
    lo, hi = t.min(), t.max()
    return (np.float32(255) * (t - lo) / (hi - lo + np.float32(1e-10))).astype(np.float32)


def add_click(click_maps: np.ndarray, click: Click, sigma: float) -> np.ndarray:
    """Add one correction click to the ``[positive, negative]`` click maps (official rule).

    ``click_maps``: ``[2, H, W]`` uint8 or float (0..255). ``click``: a :class:`Click` in the
    maps' ``(row, col)`` pixels; positive clicks go to channel 0, negative ones to channel 1.
    The clicked channel becomes ``255 * max(prev / 255, gaussian)``, then the whole map is
    truncated to uint8 (as the official refinement loop does). Returns a new float32
    ``[2, H, W]`` with integer values 0..255; the input is not modified.
    """
    maps = np.asarray(click_maps)
    if maps.ndim != 3 or maps.shape[0] != 2:
        raise ValueError(f"click_maps must be [2, H, W], got shape {maps.shape}.")
    ch = 0 if click.positive else 1
    g = gaussian_map(maps.shape[1:], [(click.row, click.col)], sigma)
    out = maps.astype(np.float64)
    out[ch] = 255 * np.maximum(maps[ch] / 255, g)
    return out.astype(np.uint8).astype(np.float32)
