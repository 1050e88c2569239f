"""A deterministic stand-in predictor (numpy only) for session / propagation tests.

It segments the connected bright region (> 0.5 * max) that contains the inside click (or the box
centre), restricted to the box grown by 2 px, and counts how often each entry point runs.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_iog.structures import MaskResult, Prompt


class FakePredictor:
    supports_refinement = True

    def __init__(self):
        self.image = None
        self.calls = {"set_image": 0, "predict": 0, "refine": 0}
        self._prompt = None

    def set_image(self, image, rgb=None, contrast_limits=None):
        self.calls["set_image"] += 1
        img = np.asarray(image, dtype=np.float32)
        self.image = img.mean(-1) if img.ndim == 3 else img

    def predict(self, prompt: Prompt) -> MaskResult:
        self.calls["predict"] += 1
        self._prompt = prompt
        return self._segment(prompt)

    def refine(self, clicks) -> MaskResult:
        self.calls["refine"] += 1
        return self._segment(self._prompt.with_clicks(clicks))

    def _segment(self, prompt: Prompt) -> MaskResult:
        h, w = self.image.shape
        b = prompt.box
        r0, c0 = max(b.row0 - 2, 0), max(b.col0 - 2, 0)
        r1, c1 = min(b.row1 + 3, h), min(b.col1 + 3, w)
        win = self.image[r0:r1, c0:c1]
        fg = win > 0.5 * max(float(self.image.max()), 1e-6)
        lab, _ = ndimage.label(fg)
        if prompt.inside is not None:
            seed = (int(prompt.inside.row) - r0, int(prompt.inside.col) - c0)
        else:
            seed = (win.shape[0] // 2, win.shape[1] // 2)
        seed = (min(max(seed[0], 0), win.shape[0] - 1), min(max(seed[1], 0), win.shape[1] - 1))
        mask = lab == lab[seed] if lab[seed] else np.zeros_like(fg)
        for c in prompt.clicks:  # negative clicks erase a 3x3 patch, positive add one
            rr, cc = int(c.row) - r0, int(c.col) - c0
            mask[max(rr - 1, 0) : rr + 2, max(cc - 1, 0) : cc + 2] = bool(c.positive)
        return MaskResult(mask.astype(np.float32), mask, (r0, c0), (h, w), prompt)
