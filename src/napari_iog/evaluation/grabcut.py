"""GrabCut baseline (OpenCV ``cv2.grabCut``) with the predictor interface, for evaluation only.

OpenCV is optional: :func:`grabcut_available` says whether ``cv2`` imports (package
``opencv-python-headless``). The window is the box grown by ``relax`` px, clipped to the image.
GrabCut starts from the box (everything outside is background), the inside click and positive
clicks are disks of sure foreground, negative clicks disks of sure background; each call runs
``iterations`` rounds from scratch with all clicks so far (deterministic: fixed RNG seed).

Cost is bounded: a window longer than ``max_side`` (256) px on its long side is downscaled
before ``cv2.grabCut`` (whose time grows with the pixel count; 1000 s of a 1267 s evaluation on
large regions before) and the mask is scaled back, cut to the box, with the clicks re-applied.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..config import PreprocessConfig
from ..extras import available, require
from ..inference.postprocess import finalize_mask
from ..inference.predictor import ImagePredictorBase, PredictorStateError
from ..structures import Click, MaskResult, Prompt

MAX_SIDE = 256  # px: GrabCut runs on the window downscaled to at most this long side


def grabcut_available() -> bool:
    """True when OpenCV (``cv2``, the ``eval`` extra) imports."""
    return available("cv2")


class GrabCutPredictor(ImagePredictorBase):
    """Classical baseline: OpenCV GrabCut seeded from the same box and clicks as IOG."""

    name = "GrabCut (OpenCV, classical)"
    supports_refinement, classical = True, True

    def __init__(
        self,
        preprocess: PreprocessConfig | None = None,
        iterations: int = 5,
        radius: int = 3,
        max_side: int = MAX_SIDE,
    ):
        super().__init__(preprocess)
        require("cv2", "The GrabCut baseline")
        self.iterations = int(iterations)
        self.radius = int(radius)
        self.max_side = int(max_side)
        self._current: Prompt | None = None

    def reset(self) -> None:
        self._current = None

    def predict(self, prompt: Prompt) -> MaskResult:
        self._current = Prompt(prompt.box, prompt.inside)
        return self._segment(prompt)

    def refine(self, clicks: Sequence[Click]) -> MaskResult:
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
        inbox = np.zeros(bgr.shape[:2], bool)
        inbox[box.row0 - r0 : box.row1 - r0 + 1, box.col0 - c0 : box.col1 - c0 + 1] = True
        seeds = [] if prompt.inside is None else [(prompt.inside.row, prompt.inside.col, True)]
        seeds += [(c.row, c.col, c.positive) for c in prompt.clicks]
        seeds_win = [(row - r0, col - c0, pos) for row, col, pos in seeds]
        scale = min(1.0, self.max_side / max(bgr.shape[:2]))  # bounded cost on large boxes
        small = bgr
        if scale < 1.0:
            size = (max(2, round(bgr.shape[1] * scale)), max(2, round(bgr.shape[0] * scale)))
            small = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        sy, sx = small.shape[0] / bgr.shape[0], small.shape[1] / bgr.shape[1]
        mask = np.where(_resize_bool(inbox, small.shape[:2]), cv2.GC_PR_FGD, cv2.GC_BGD)
        mask = mask.astype(np.uint8)
        radius = max(1.0, self.radius * scale)
        for row, col, pos in seeds_win:
            mask[_disk(mask.shape, row * sy, col * sx, radius)] = cv2.GC_FGD if pos else cv2.GC_BGD
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(0)
        try:
            cv2.grabCut(small, mask, None, bgd, fgd, self.iterations, cv2.GC_INIT_WITH_MASK)
            fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD))
        except cv2.error:  # degenerate colour models (e.g. a flat window): fall back to the box
            fg = mask != cv2.GC_BGD
        fg = _resize_bool(fg, bgr.shape[:2]) & inbox  # back to full resolution, inside the box
        for row, col, pos in seeds_win:  # the clicks hold at full resolution
            fg[_disk(fg.shape, row, col, self.radius)] = pos
        pos_seeds = [(s[0], s[1]) for s in seeds if s[2]]
        return finalize_mask(fg.astype(np.float32), (r0, c0), (h, w), prompt, 0.5, False, pos_seeds)


def _disk(shape, row: float, col: float, radius: float) -> np.ndarray:
    """bool ``shape`` mask of the disk of ``radius`` px around ``(row, col)``."""
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    return (yy - row) ** 2 + (xx - col) ** 2 <= radius**2


def _resize_bool(mask: np.ndarray, shape) -> np.ndarray:
    """Nearest-neighbour resize of a bool mask to ``shape`` (a no-op at the same size)."""
    if mask.shape == tuple(shape):
        return mask
    import cv2

    out = cv2.resize(mask.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return out.astype(bool)
