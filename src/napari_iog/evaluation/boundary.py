"""Boundary tolerance: the PASCAL-VOC-style void band around an object's boundary.

Annotators disagree with each other (and with a network) by a pixel or two along object
boundaries. ``EvalConfig(void_band=w)`` ignores every pixel within ``w`` px of the ground-truth
boundary, inside or outside, both in the IoU and when placing corrective clicks. The headline
numbers stay strict (``w = 0``); the tolerant ones show how much error is boundary disagreement
(the benchmarks' ``boundary_tolerant`` passes, ``benchmarks/harness.py``).
"""

from __future__ import annotations

import numpy as np


def boundary_band(gt_full: np.ndarray, win: tuple[slice, slice], width: int) -> np.ndarray | None:
    """bool ``[win]``: pixels of window ``win`` (row, col slices of the plane) within ``width`` px
    (city-block) of the boundary of ``gt_full`` (bool ``[H, W]``), inside or outside; ``None``
    for ``width == 0``. The image edge is not a boundary (an object cut by it keeps its pixels)."""
    if width <= 0:
        return None
    from scipy import ndimage

    h, w = gt_full.shape
    pr0, pc0 = max(0, win[0].start - width), max(0, win[1].start - width)
    pr1, pc1 = min(h, win[0].stop + width), min(w, win[1].stop + width)
    sub = gt_full[pr0:pr1, pc0:pc1]
    band = ndimage.binary_dilation(sub, iterations=width) & ~ndimage.binary_erosion(
        sub, iterations=width, border_value=1
    )
    r0, c0 = win[0].start - pr0, win[1].start - pc0
    return band[r0 : r0 + win[0].stop - win[0].start, c0 : c0 + win[1].stop - win[1].start]
