"""GrabCut baseline (OpenCV ``cv2.grabCut``) with the predictor interface, for evaluation only.

OpenCV is optional: :func:`grabcut_available` says whether ``cv2`` imports (package
``opencv-python-headless``). The window is the box grown by ``relax`` px, clipped to the image.
GrabCut starts from the box (everything outside is background), the inside click and positive
clicks are disks of sure foreground, negative clicks disks of sure background; each call runs
``iterations`` rounds from scratch with all clicks so far (deterministic: fixed RNG seed).
"""

from __future__ import annotations

import numpy as np

from ..config import PreprocessConfig
from ..inference.postprocess import finalize_mask
from ..inference.predictor import ImagePredictorBase, PredictorStateError
from ..structures import MaskResult, Prompt


def grabcut_available() -> bool:
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


class GrabCutPredictor(ImagePredictorBase):
    """Classical baseline: OpenCV GrabCut seeded from the same box and clicks as IOG."""

    name = "GrabCut (OpenCV, classical)"
    supports_refinement = True

    def __init__(
        self, preprocess: PreprocessConfig | None = None, iterations: int = 5, radius: int = 3
    ):
        super().__init__(preprocess)
        if not grabcut_available():
            raise ImportError("GrabCut needs OpenCV: pip install opencv-python-headless.")
        self.iterations = int(iterations)
        self.radius = int(radius)
        self._current: Prompt | None = None

    def reset(self) -> None:
        self._current = None

    def predict(self, prompt: Prompt) -> MaskResult:
        self._current = Prompt(prompt.box, prompt.inside)
        return self._segment(prompt)

    def refine(self, clicks) -> MaskResult:
        if self._current is None:
            raise PredictorStateError("No current object: call predict(prompt) before refine().")
        return self._segment(self._current.with_clicks(tuple(clicks)))

    def _segment(self, prompt: Prompt) -> MaskResult:
        import cv2

        img = self._require_image()
        h, w = img.shape
        prompt.box.validate((h, w))
        box = prompt.box.clip((h, w))
        r = int(self.preprocess.relax)
        r0, c0 = max(box.row0 - r, 0), max(box.col0 - r, 0)
        r1, c1 = min(box.row1 + r, h - 1), min(box.col1 + r, w - 1)
        rgb = img.gather(np.arange(r0, r1 + 1), np.arange(c0, c1 + 1))
        bgr = np.ascontiguousarray(np.clip(rgb[..., ::-1], 0, 255).astype(np.uint8))
        mask = np.full(bgr.shape[:2], cv2.GC_BGD, np.uint8)
        mask[box.row0 - r0 : box.row1 - r0 + 1, box.col0 - c0 : box.col1 - c0 + 1] = cv2.GC_PR_FGD
        yy, xx = np.mgrid[: mask.shape[0], : mask.shape[1]]
        seeds = [] if prompt.inside is None else [(prompt.inside.row, prompt.inside.col, True)]
        seeds += [(c.row, c.col, c.positive) for c in prompt.clicks]
        for row, col, pos in seeds:
            disk = (yy - (row - r0)) ** 2 + (xx - (col - c0)) ** 2 <= self.radius**2
            mask[disk] = cv2.GC_FGD if pos else cv2.GC_BGD
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(0)
        try:
            cv2.grabCut(bgr, mask, None, bgd, fgd, self.iterations, cv2.GC_INIT_WITH_MASK)
            prob = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
        except cv2.error:  # degenerate colour models (e.g. a flat window): fall back to the box
            prob = (mask != cv2.GC_BGD).astype(np.float32)
        pos_seeds = [(s[0], s[1]) for s in seeds if s[2]]
        return finalize_mask(prob, (r0, c0), (h, w), prompt, 0.5, False, pos_seeds)
