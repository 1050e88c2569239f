"""InteractionSession: the state of annotating ONE object on ONE 2D image plane (napari-free).

The annotator UI turns what the user clicked into a :class:`~napari_iog.structures.Prompt`
(box, inside click, correction clicks; pixel ``(row, col)`` of the plane) and hands it here. The
session decides what the predictor must do (nothing, a full ``predict`` or a cheap ``refine`` that
reuses the cached backbone features), keeps the history of interactions so that undo/redo of a click
never re-runs the network, and remembers the result until it is committed or cleared.

Threading: :meth:`compute` is the only method that runs the model; it may run in a worker thread.
All other methods are cheap bookkeeping meant for the main thread. The session holds no
napari, Qt or torch object; the predictor is a
:class:`~napari_iog.inference.interface.PromptPredictor` (``set_image(image, rgb=None,
contrast_limits=None)``, ``predict(Prompt) -> MaskResult``, ``supports_refinement``) and, to
re-use its cached work on correction clicks, ``refine(clicks) -> MaskResult``.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from napari_iog.data.prompts import prompt_from_mask  # noqa: F401  (re-exported)
from napari_iog.inference.interface import PromptPredictor
from napari_iog.structures import MaskResult, Prompt


class SessionError(ValueError):
    """The session cannot do what was asked (no predictor, no image, no prompt); the message says
    what to do."""


@dataclass(frozen=True)
class Interaction:
    """One step of the object's history: the prompt the user had and the result it gave."""

    prompt: Prompt
    result: MaskResult


def _same_object(a: Prompt | None, b: Prompt | None) -> bool:
    """True when two prompts share box and inside click (then only correction clicks differ)."""
    return a is not None and b is not None and a.box == b.box and a.inside == b.inside


class InteractionSession:
    """State of one object being annotated on one image plane.

    - ``image_key``: any hashable that identifies the plane (e.g. ``(layer_name, slice_index)``);
      the predictor's ``set_image`` runs again only when it changes.
    - ``history``: list of :class:`Interaction`, ``position`` points at the current one
      (``-1`` = nothing yet). Undo/redo move ``position`` without running the model.
    """

    def __init__(self, predictor: PromptPredictor | None = None):
        self._predictor = predictor
        self._lock = threading.Lock()
        self._image = None
        self._image_kwargs: dict = {}
        self.image_key = None
        self._predictor_key = None  # image_key the predictor's set_image last saw
        self._encoded: Prompt | None = None  # prompt whose crop the predictor has cached
        self.history: list[Interaction] = []
        self.position = -1

    # ------------------------------------------------------------------ setup
    @property
    def predictor(self) -> PromptPredictor | None:
        return self._predictor

    def set_predictor(self, predictor: PromptPredictor | None) -> None:
        """Swap the predictor (new weights or device); the current object is kept, its result
        will be recomputed on the next prompt."""
        with self._lock:
            self._predictor = predictor
            self._predictor_key = None
            self._encoded = None

    def set_image(
        self,
        image: np.ndarray,
        key: Hashable,
        rgb: bool | None = None,
        contrast_limits: tuple[float, float] | None = None,
    ) -> None:
        """Set the 2D plane ``[H, W]`` or ``[H, W, 3|4]`` (any numeric dtype). A different ``key``
        starts a new object (the history is cleared)."""
        image = np.asarray(image) if not hasattr(image, "shape") else image
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (3, 4)):
            raise SessionError(
                f"The annotator works on one 2D plane [H, W] or an RGB(A) plane [H, W, 3|4]; got "
                f"shape {tuple(image.shape)}. For a stack, pick a slice with the slider; for a "
                "multichannel image, mark the layer as RGB or split its channels."
            )
        if key != self.image_key:
            self.reset()
        self._image = image
        self._image_kwargs = {"rgb": rgb, "contrast_limits": contrast_limits}
        self.image_key = key

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return None if self._image is None else tuple(int(s) for s in self._image.shape[:2])

    # ---------------------------------------------------------------- queries
    @property
    def current(self) -> Interaction | None:
        return self.history[self.position] if self.position >= 0 else None

    @property
    def prompt(self) -> Prompt | None:
        return None if self.current is None else self.current.prompt

    @property
    def result(self) -> MaskResult | None:
        return None if self.current is None else self.current.result

    @property
    def can_undo(self) -> bool:
        return self.position >= 0

    @property
    def can_redo(self) -> bool:
        return self.position < len(self.history) - 1

    def plan(self, prompt: Prompt) -> str:
        """What :meth:`compute` would do for ``prompt``: ``"none"`` (same as current),
        ``"refine"`` (only correction clicks changed, predictor supports it) or ``"predict"``."""
        if self.prompt == prompt:
            return "none"
        refinable = bool(getattr(self._predictor, "supports_refinement", False))
        if refinable and prompt.clicks and _same_object(self._encoded, prompt):
            return "refine"
        return "predict"

    # ---------------------------------------------------------------- compute
    def compute(self, prompt: Prompt) -> MaskResult:
        """Run the model for ``prompt`` (may run in a worker thread) and return its result. Does
        not change the history: call :meth:`push` with the result on the main thread.

        Raises :class:`SessionError` without predictor or image, ``PromptError`` for a box off the
        image."""
        with self._lock:
            if self._predictor is None:
                raise SessionError(
                    "No model is loaded: pick weights (or the classical predictor) in the "
                    "annotator's Model section and press Load."
                )
            if self._image is None:
                raise SessionError("No image: choose an image layer in the annotator first.")
            prompt.box.validate(self.image_shape)
            if self._predictor_key != self.image_key:
                self._predictor.set_image(self._image, **self._image_kwargs)
                self._predictor_key = self.image_key
                self._encoded = None
            if self.plan(prompt) == "refine":
                result = self._predictor.refine(prompt.clicks)
            else:
                result = self._predictor.predict(prompt)
            if not isinstance(result, MaskResult):
                raise SessionError(
                    f"The predictor returned {type(result).__name__}, not MaskResult."
                )
            self._encoded = Prompt(prompt.box, prompt.inside)
            return result

    def push(self, prompt: Prompt, result: MaskResult) -> None:
        """Record a computed interaction as the current one (drops the redo tail). A result cut
        at another threshold than the predictor's now (computed before :meth:`set_threshold`)
        is re-cut at the current one."""
        del self.history[self.position + 1 :]
        self.history.append(Interaction(prompt, self._recut(result)))
        self.position = len(self.history) - 1

    # ------------------------------------------------------------- threshold
    @property
    def threshold(self) -> float | None:
        """The predictor's mask threshold (None without a predictor that has one)."""
        return getattr(self._predictor, "mask_threshold", None)

    def set_threshold(self, value: float) -> MaskResult | None:
        """Cut masks at ``value`` from now on: the predictor's threshold changes, and every result
        in this object's history is re-cut from its stored probabilities (no network run), so
        undo/redo and commit show the same threshold. Returns the current result.

        Raises :class:`SessionError` without a predictor with a settable threshold, ValueError
        outside (0, 1)."""
        if self.threshold is None:
            raise SessionError("Load a model first: the mask threshold belongs to the model.")
        # no lock: a compute() running meanwhile may cut at either threshold, push() re-cuts
        self._predictor.mask_threshold = float(value)
        self.history = [Interaction(i.prompt, self._recut(i.result)) for i in self.history]
        return self.result

    def _recut(self, result: MaskResult) -> MaskResult:
        from .postprocess import rethreshold

        t = self.threshold
        if t is None or float(result.threshold) == t:
            return result
        clip = bool(getattr(getattr(self._predictor, "preprocess", None), "clip_to_box", False))
        return rethreshold(result, t, clip)

    def run(self, prompt: Prompt) -> MaskResult:
        """Synchronous :meth:`compute` + :meth:`push` (tests, scripts). A prompt equal to the
        current one returns the current result without running the model."""
        if self.plan(prompt) == "none":
            return self.result
        result = self.compute(prompt)
        self.push(prompt, result)
        return result

    # ------------------------------------------------------------- undo/redo
    def undo(self) -> Interaction | None:
        """Step back one interaction; returns the new current one (``None`` = empty object)."""
        if not self.can_undo:
            return self.current
        self.position -= 1
        return self.current

    def redo(self) -> Interaction | None:
        if self.can_redo:
            self.position += 1
        return self.current

    def reset(self) -> None:
        """Drop the current object (its prompts, results and history); the image stays."""
        self.history = []
        self.position = -1

    def seed_from_mask(self, mask: np.ndarray) -> Prompt:
        """A prompt that reproduces an existing object: the tight box of the 2D bool ``mask``
        ``[H, W]`` and an inside click at the pixel deepest inside it (distance-transform max).
        Raises ``PromptError`` for an empty mask."""
        return prompt_from_mask(mask)
