"""Synthetic (image, instance labels) pairs for tests and demos: dark ellipses on a noisy background.

``blobs(shape, n, seed)`` -> ``(image uint8 [H, W], labels int32 [H, W])``; objects do not
overlap, have area >= ~60 px for the default radii and may touch the border if ``allow_border``.
"""

from __future__ import annotations

import numpy as np


def blobs(
    shape: tuple[int, int] = (128, 128),
    n: int = 4,
    seed: int = 0,
    radius: tuple[float, float] = (7, 14),
    allow_border: bool = False,
    contrast: float = 90.0,
    noise: float = 12.0,
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, w = int(shape[0]), int(shape[1])
    labels = np.zeros((h, w), np.int32)
    yy, xx = np.mgrid[:h, :w]
    placed, tries = 0, 0
    while placed < n and tries < 200 * n:
        tries += 1
        ry, rx = rng.uniform(radius[0], radius[1], size=2)
        lo_r, lo_c = (0, 0) if allow_border else (int(ry) + 2, int(rx) + 2)
        if h - 2 * lo_r < 2 or w - 2 * lo_c < 2:
            break
        cy, cx = rng.uniform(lo_r, h - lo_r), rng.uniform(lo_c, w - lo_c)
        a = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = (dy * np.cos(a) + dx * np.sin(a)) / ry
        v = (-dy * np.sin(a) + dx * np.cos(a)) / rx
        m = u * u + v * v <= 1.0
        grown = np.zeros_like(m)
        grown[
            max(int(cy - ry - 4), 0) : int(cy + ry + 5), max(int(cx - rx - 4), 0) : int(cx + rx + 5)
        ] = True
        if m.sum() < 20 or (labels[m | (grown & m)] > 0).any() or (labels[_dilate(m, 2)] > 0).any():
            continue
        placed += 1
        labels[m] = placed
    image = 170.0 + rng.normal(0, noise, size=(h, w))
    image[labels > 0] -= contrast
    return np.clip(image, 0, 255).astype(np.uint8), labels


def _dilate(m: np.ndarray, r: int) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_dilation(m, iterations=r)
