"""What every image predictor shares: ``set_image`` once, then many prompts on that plane;
the mask threshold; the errors for calls out of order and bad batch arguments. The IOG
predictor (:mod:`.predictor`), the classical ones (:mod:`.classical`) and GrabCut
(``evaluation.grabcut``) build on :class:`ImagePredictorBase`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..config import PreprocessConfig
from .image import NetworkImage


class PredictorStateError(ValueError):
    """A predictor method was called out of order; the message says what to call first."""


def check_batch_args(batch_size: int, on_error: str) -> None:
    """ValueError unless ``batch_size >= 1`` and ``on_error`` is ``"raise"`` or ``"none"``."""
    if on_error not in ("raise", "none"):
        raise ValueError(f"on_error must be 'raise' or 'none', got {on_error!r}.")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")


class ImagePredictorBase:
    """Shared image handling: ``set_image`` once, then many prompts on that plane. Subclasses
    implement :class:`napari_iog.inference.interface.Predictor` (each declares ``name`` and
    ``supports_refinement``)."""

    classical: bool = False  # True for the methods without deep learning

    def __init__(self, preprocess: PreprocessConfig | None = None):
        self.preprocess = preprocess or PreprocessConfig()
        self._image: NetworkImage | None = None

    @property
    def mask_threshold(self) -> float:
        """Probability at which masks are cut (``preprocess.threshold``; lower = larger masks).
        Set it to change every later prediction; raises ValueError outside (0, 1)."""
        return float(self.preprocess.threshold)

    @mask_threshold.setter
    def mask_threshold(self, value: float) -> None:
        self.preprocess = replace(self.preprocess, threshold=float(value))

    def set_image(
        self,
        image: np.ndarray,
        rgb: bool | None = None,
        contrast_limits: tuple[float, float] | None = None,
    ) -> None:
        """Prepare a 2D plane (``[H, W]`` or ``[H, W, 3|4]``, any numeric dtype; see
        ``inference.image``). Forgets the current object. Raises ImageError for bad images."""
        self._image = NetworkImage(image, rgb=rgb, contrast_limits=contrast_limits)
        self.reset()

    def reset(self) -> None:
        """Forget the current object (cached crop and features)."""

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return None if self._image is None else self._image.shape

    def _require_image(self) -> NetworkImage:
        if self._image is None:
            raise PredictorStateError("No image: call set_image(image) before predicting.")
        return self._image
