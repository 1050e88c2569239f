"""Classical predictors (no deep learning) with the IOGPredictor interface.

Used by the annotator when no IOG weights are available and by evaluation as baselines. Both take
the same :class:`Prompt` and return the same :class:`MaskResult` as ``IOGPredictor``:
``set_image``, ``predict``, ``refine``, ``predict_batch``, ``supports_refinement``.

- :class:`RandomWalkerPredictor` - ``skimage.segmentation.random_walker`` on the crop window
  (box +- ``relax``, clipped to the image, downsampled so its longer side is at most
  ``max_side``). Foreground seeds: a small disk at the inside click (default: the box
  centre) and at every positive click. Background seeds: the
  ring between box and window (the crop margin; if the box fills the whole window, the window's
  1 px frame) and a disk at every negative click. Later clicks override earlier seeds.
- :class:`BoxFillPredictor` - the box itself is the mask (the trivial baseline).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..config import PreprocessConfig
from ..structures import MaskResult, Prompt, PromptError
from .postprocess import finalize_mask
from .predictor import ImagePredictorBase, PredictorStateError, check_batch_args
from .resample import axis_table, offset_table, resample
from .transforms import CropTransform, as_clicks, check_clicks_in_crop, validate_prompt


class _ClassicalBase(ImagePredictorBase):
    classical = True

    def __init__(self, preprocess: PreprocessConfig | None = None):
        super().__init__(preprocess)
        self._current: Prompt | None = None

    def reset(self) -> None:
        self._current = None

    def _transform(self, prompt: Prompt) -> CropTransform:
        image = self._require_image()
        validate_prompt(prompt, image.shape)
        t = CropTransform.from_box(
            prompt.box, image.shape, self.preprocess.relax, self.preprocess.crop_size
        )
        check_clicks_in_crop(prompt.clicks, t)
        return t

    def predict(self, prompt: Prompt) -> MaskResult:
        """Segment one object (box + optional inside and correction clicks, image (row, col))."""
        t = self._transform(prompt)
        result = self._segment(prompt, t)
        self._current = Prompt(prompt.box, prompt.inside)
        return result

    def refine(self, clicks) -> MaskResult:
        """Re-segment the current object with all correction clicks so far."""
        self._require_image()
        if self._current is None:
            raise PredictorStateError("No current object: call predict(prompt) before refine().")
        clicks = as_clicks(clicks)
        prompt = self._current.with_clicks(clicks)
        return self._segment(prompt, self._transform(prompt))

    def predict_batch(self, prompts, batch_size: int = 8, on_error: str = "raise") -> list:
        """One :meth:`predict`-equivalent per prompt (``batch_size`` is accepted for interface
        compatibility). ``on_error="none"`` puts None for unusable prompts instead of raising."""
        self._require_image()
        check_batch_args(batch_size, on_error)
        out = []
        for i, p in enumerate(prompts):
            try:
                out.append(self._segment(p, self._transform(p)))
            except PromptError as exc:
                if on_error == "raise":
                    raise PromptError(f"Prompt {i}: {exc}") from None
                out.append(None)
        return out

    def _segment(self, prompt: Prompt, t: CropTransform) -> MaskResult:
        raise NotImplementedError


class BoxFillPredictor(_ClassicalBase):
    """Classical baseline (no deep learning): the mask is the box (clipped to the image)."""

    name = "box fill (classical, no deep learning)"
    supports_refinement = False  # clicks are accepted and recorded but change nothing

    def _segment(self, prompt: Prompt, t: CropTransform) -> MaskResult:
        box = prompt.box.clip(t.image_shape)
        prob = np.ones((box.height, box.width), dtype=np.float32)
        return finalize_mask(prob, (box.row0, box.col0), t.image_shape, prompt, 0.5)


class RandomWalkerPredictor(_ClassicalBase):
    """Classical predictor (no deep learning): random walker seeded from the IOG prompt.

    ``beta``: edge sensitivity of ``random_walker``; ``inside_fraction``: radius of the inside
    seed disk as a fraction of half the box's shorter side (a tight box's central part is
    usually object); ``seed_radius``: radius of the click seed disks (and the minimum inside
    radius) in work-grid pixels; ``max_side``: the window is downsampled so its longer side is at
    most this (speed; the linear system is solved directly); ``threshold``: on the foreground
    probability (the walker's 0.5 under-segments: the background ring is much larger than the
    inside seed). Defaults were picked on the SpaceNet tile and ssTEM slice 02 (train split):
    beta 130, inside_fraction 0.6, threshold 0.2.
    """

    name = "random walker (classical, no deep learning)"
    supports_refinement = True
    # a concurrent.futures.Executor that runs the walk (e.g. a process pool: the GUI uses one,
    # so its event loop never waits for the GIL); None = in the calling thread. Same results.
    executor = None

    def __init__(
        self,
        preprocess: PreprocessConfig | None = None,
        beta: float = 130.0,
        inside_fraction: float = 0.6,
        seed_radius: float = 3.0,
        max_side: int = 256,
        threshold: float = 0.2,
    ):
        super().__init__(preprocess)
        if max_side < 8 or seed_radius < 0 or beta <= 0 or not 0 <= inside_fraction < 1:
            raise ValueError(
                "Need max_side >= 8, seed_radius >= 0, beta > 0 and 0 <= inside_fraction < 1."
            )
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}.")
        self.threshold = float(threshold)
        self.beta, self.inside_fraction, self.seed_radius = beta, inside_fraction, seed_radius
        self.max_side = max_side

    @property
    def mask_threshold(self) -> float:
        """The walker's own probability threshold (``threshold``), not ``preprocess``'s."""
        return self.threshold

    @mask_threshold.setter
    def mask_threshold(self, value: float) -> None:
        if not 0 < float(value) < 1:
            raise ValueError(f"threshold must be in (0, 1), got {value}.")
        self.threshold = float(value)

    def _segment(self, prompt: Prompt, t: CropTransform) -> MaskResult:
        image = self._require_image()
        r0, c0, r1, c1 = t.window()
        h, w = r1 - r0 + 1, c1 - c0 + 1
        f = max(1.0, max(h, w) / self.max_side)
        gh, gw = max(1, round(h / f)), max(1, round(w / f))
        (ri, rw, rn), (ci, cw, cn) = (
            offset_table(axis_table(h, gh), r0, image.shape[0]),
            offset_table(axis_table(w, gw), c0, image.shape[1]),
        )
        data = resample(image.gather(rn, cn), (ri, rw), (ci, cw)) / np.float32(255)
        gray = bool(np.array_equal(data[..., 0], data[..., 1]))
        gray = gray and bool(np.array_equal(data[..., 0], data[..., 2]))
        data = data[..., 0] if gray else data

        def to_grid(rc):  # image (row, col) -> work grid (row, col)
            return (rc[0] - r0 + 0.5) * gh / h - 0.5, (rc[1] - c0 + 0.5) * gw / w - 0.5

        b = prompt.box
        centre = ((b.row0 + b.row1) / 2.0, (b.col0 + b.col1) / 2.0)  # default inside point
        inside_rc = (prompt.inside.row, prompt.inside.col) if prompt.inside else centre
        in_box = _grid_box_mask(prompt, (r0, c0), (h, w), (gh, gw))
        r_in = max(
            self.seed_radius, self.inside_fraction * min(b.height * gh / h, b.width * gw / w) / 2
        )
        seeds = [(to_grid(inside_rc), r_in, 1)]
        seeds += [
            (to_grid((c.row, c.col)), self.seed_radius, 1 if c.positive else 2)
            for c in prompt.clicks
        ]
        labels = _seed_labels(in_box, seeds)
        if np.ptp(data) < 1e-3:  # flat window: nothing to walk on, the box is the best guess
            prob_grid = in_box.astype(np.float32)
        elif not (labels == 1).any() or (labels > 0).all():  # no fg seed left / nothing to solve
            prob_grid = (labels == 1).astype(np.float32)
        else:
            prob_grid = self._walk(data, labels, gray)
        prob = resample(prob_grid.astype(np.float32), axis_table(gh, h), axis_table(gw, w))
        np.clip(prob, 0, 1, out=prob)
        img_seeds = [inside_rc] + [(c.row, c.col) for c in prompt.clicks if c.positive]
        pre = self.preprocess
        return finalize_mask(
            prob, (r0, c0), t.image_shape, prompt, self.threshold, pre.clip_to_box, img_seeds
        )

    def _walk(self, data: np.ndarray, labels: np.ndarray, gray: bool) -> np.ndarray:
        if self.executor is None:
            return walk_probability(data, labels, self.beta, gray)
        # another process: this thread only waits, so it never holds the GIL for the solve
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self.executor.submit(walk_probability, data, labels, self.beta, gray).result()
        except BrokenProcessPool:  # the process died (killed, out of memory): solve here
            self.executor = None
            return walk_probability(data, labels, self.beta, gray)


def walk_probability(data: np.ndarray, labels: np.ndarray, beta: float, gray: bool) -> np.ndarray:
    """Foreground probability float32 ``[h, w]`` of ``random_walker`` on the work grid ``data``
    (float ``[h, w]`` grey or ``[h, w, 3]``) with int32 seed ``labels`` (1 fg, 2 bg, 0 free).
    A module-level function, so an executor can run it in another process."""
    from skimage.segmentation import random_walker

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = random_walker(
            data,
            labels,
            beta=beta,
            mode="bf",  # direct sparse solve: far faster than CG at <= max_side^2 px
            channel_axis=None if gray else -1,
            return_full_prob=True,
        )
    return np.asarray(full[0], dtype=np.float32)


def _seed_labels(in_box: np.ndarray, seeds) -> np.ndarray:
    """int32 seed labels on the work grid: 2 (background) outside the box - or on the grid's
    frame if the box covers it all - then each ``((row, col), radius, label)`` disk in order."""
    labels = np.where(in_box, 0, 2).astype(np.int32)
    if in_box.all():
        labels[[0, -1], :] = 2
        labels[:, [0, -1]] = 2
    rr, cc = np.mgrid[0 : in_box.shape[0], 0 : in_box.shape[1]]
    for (sr, sc), radius, lab in seeds:
        labels[(rr - sr) ** 2 + (cc - sc) ** 2 <= max(radius, 0.5) ** 2] = lab
    return labels


def _grid_box_mask(prompt: Prompt, origin, size, grid) -> np.ndarray:
    """bool work-grid mask of the box (window ``size`` at ``origin`` sampled on ``grid``)."""
    (r0, c0), (h, w), (gh, gw) = origin, size, grid
    rows = (np.arange(gh) + 0.5) * h / gh - 0.5 + r0
    cols = (np.arange(gw) + 0.5) * w / gw - 0.5 + c0
    b = prompt.box
    return ((rows >= b.row0 - 0.5) & (rows <= b.row1 + 0.5))[:, None] & (
        (cols >= b.col0 - 0.5) & (cols <= b.col1 + 0.5)
    )[None, :]
