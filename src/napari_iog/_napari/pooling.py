"""The preview of a large image, zoomed out: about one screen pixel per preview pixel.

napari draws a Labels contour with a grey erosion whose footprint grows with the contour width in
layer pixels, so a full-resolution preview of a 300-px object on a zoomed-out 8000x8000 tile cost
~2 s of GUI time (``benchmarks/ui_stall.py --large``); pooled, it costs a few ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import napari


def preview_step(viewer: napari.Viewer, image_scale: Sequence[float]) -> int:
    """Image pixels per preview pixel at the current zoom (1 when zoomed in)."""
    per_px = 1.0 / ((float(viewer.camera.zoom) or 1.0) * abs(float(image_scale[-1])) or 1.0)
    return max(1, int(per_px))


def pooled(mask: np.ndarray, step: int) -> np.ndarray:
    """bool ``mask`` ``[h, w]`` reduced by ``step`` (a block is on if any of its pixels is):
    ``[ceil(h / step), ceil(w / step)]``."""
    if step <= 1:
        return mask
    h, w = mask.shape
    padded = np.zeros((-(-h // step) * step, -(-w // step) * step), dtype=bool)
    padded[:h, :w] = mask
    return padded.reshape(padded.shape[0] // step, step, -1, step).any(axis=(1, 3))
