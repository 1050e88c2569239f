"""The predictor interface, declared: what the annotator, the session, evaluation and harvest call.

Two levels (``typing.Protocol``, ``runtime_checkable``: ``isinstance`` checks that the names
exist, not their signatures):

- :class:`PromptPredictor` - the least the simulated-click protocol
  (``evaluation.protocol``) and :class:`~napari_iog.inference.session.InteractionSession` need:
  ``set_image``, ``predict`` and ``supports_refinement``.
- :class:`Predictor` - the full interface every predictor shipped here implements
  (:class:`~napari_iog.inference.IOGPredictor`, the random walker and box fill of
  ``inference.classical``, GrabCut of ``evaluation.grabcut``): also ``refine``, ``reset``,
  ``mask_threshold``, ``name`` and ``classical``.

Coordinates are pixel ``(row, col)`` of the plane given to ``set_image``; masks come back as
:class:`~napari_iog.structures.MaskResult`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ..structures import Click, MaskResult, Prompt


@runtime_checkable
class PromptPredictor(Protocol):
    """A plane in, one mask per prompt out.

    ``supports_refinement``: True when correction clicks change the mask (then ``refine``, or
    ``predict(prompt.with_clicks(...))``, is worth calling); False when they are recorded but
    change nothing (box fill)."""

    supports_refinement: bool

    def set_image(self, image: np.ndarray) -> None:
        """Use the 2D plane ``image`` (``[H, W]`` or ``[H, W, C]``); forgets the current object."""
        ...

    def predict(self, prompt: Prompt) -> MaskResult:
        """Segment one object from its box, inside click and correction clicks."""
        ...


@runtime_checkable
class Predictor(PromptPredictor, Protocol):
    """The full predictor interface (see the module doc).

    ``name``: a short label for reports and provenance; ``classical``: True for the methods
    without deep learning (the annotator labels them); ``mask_threshold``: the probability at
    which masks are cut (settable, in (0, 1))."""

    name: str
    classical: bool

    @property
    def mask_threshold(self) -> float: ...

    @mask_threshold.setter
    def mask_threshold(self, value: float) -> None: ...

    def refine(self, clicks: Sequence[Click]) -> MaskResult:
        """Re-segment the current object (the last ``predict``) with all correction clicks so
        far (image ``(row, col)``)."""
        ...

    def reset(self) -> None:
        """Forget the current object (the image stays)."""
        ...
