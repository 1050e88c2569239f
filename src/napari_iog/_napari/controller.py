"""AnnotatorController: the annotation loop between napari layers and the core session.

Prompt layers -> Prompt (``layers.py``) -> ``InteractionSession`` computed in a worker
(``workers.py``) -> preview layer (``preview.py``) -> commit into a Labels layer (``commit.py``)
+ provenance. No model logic and no Qt widget here: the dock widget (``widget.py``) only sets
the attributes below and calls the methods; tests drive this class directly.
"""

from __future__ import annotations

from collections.abc import Callable

import napari
import numpy as np
from napari.layers import Image
from napari.utils.events import Event
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QTimer

from napari_iog._napari import layers as L
from napari_iog._napari import overlays as O
from napari_iog._napari import preview as P
from napari_iog._napari.labels_ops import NEW_LABELS, LabelsOps
from napari_iog._napari.model_choice import predictor_description
from napari_iog._napari.workers import PredictionRunner, offload_walker
from napari_iog.inference.interface import PromptPredictor
from napari_iog.inference.session import InteractionSession, SessionError
from napari_iog.structures import Prompt, PromptError


def normalisation(image: Image) -> dict:
    """How the model sees ``image`` (``set_image`` keywords): from its pixels, never from the
    display contrast - uint8/bool as is, other dtypes each plane's 0.5-99.5 percentiles mapped to
    0..255 (``inference.image``; as ``napari-iog predict``). numpy, dask and multiscale layers of
    the same pixels get the same masks, and dragging the contrast slider changes none."""
    return {"rgb": image.rgb, "contrast_limits": None}


def normalisation_record(image: Image) -> dict:
    """The rule of :func:`normalisation` for provenance records."""
    data = image.data[0] if image.multiscale else image.data
    kind = np.dtype(data.dtype)
    rule = "as is (0..255)" if kind in (np.uint8, np.bool_) else "plane 0.5-99.5 percentiles"
    return {"rule": rule, "dtype": kind.name, "display_contrast_used": False}


class AnnotatorController(LabelsOps):
    """State and actions of the IOG annotator for one viewer.

    Settings (set by the widget): ``labels_name`` (target layer name or NEW_LABELS), ``mode``
    (keep/overwrite/background), ``semantic`` + ``class_value``, ``label_id`` (0 = next free id).
    ``on_status(str)`` reports short status lines to the widget.
    """

    normalisation_record = staticmethod(normalisation_record)  # for LabelsOps.commit

    def __init__(self, viewer: napari.Viewer, predictor: PromptPredictor | None = None,
                 on_status: Callable[[str], object] | None = None):  # fmt: skip
        self.viewer = viewer
        self.session = InteractionSession(predictor)
        self.runner = PredictionRunner(self.session, self._on_result, self._on_error)
        self.image: Image | None = None
        self.points = None
        self.box = None
        self.polarity_positive = True
        self.labels_name = NEW_LABELS
        self.mode = "keep"
        self.semantic = False
        self.class_value = 1
        self.label_id = 0
        self.edit_id: int | None = None
        self.leading: tuple[int, ...] = ()
        self.last_commit = None  # (labels layer, leading, MaskResult, value) for propagation
        self.predictor_name = "none"
        self.propagating = False
        self._update_scheduled = False
        self._connected: set[int] = set()
        self._image_serial = 0
        self._token = 0
        self._on_status = on_status or (lambda msg: None)
        self.on_labels_created = None  # callback(name) when a new Labels layer is made
        viewer.camera.events.zoom.connect(self.fit_overlays)
        viewer.dims.events.ndisplay.connect(self._on_ndisplay)
        self._warned: set[str] = set()  # image warnings already shown (once each)

    # ----------------------------------------------------------------- setup
    @property
    def busy(self) -> bool:
        """True while a prediction runs or a layer change waits to be read."""
        return self.runner.busy or self._update_scheduled

    def set_predictor(self, predictor: PromptPredictor, name: str | None = None) -> None:
        offload_walker(predictor)  # the random walker's solve runs in another process
        self.session.set_predictor(predictor)
        self.predictor_name = name or predictor_description(predictor)
        self._status(f"Model: {self.predictor_name}")

    def set_threshold(self, value: float) -> None:
        """Cut masks at probability ``value`` from now on; the preview (and this object's undo
        history) is re-cut at once from the stored probabilities, without a new prediction."""
        try:
            result = self.session.set_threshold(value)
        except (SessionError, ValueError) as err:
            show_warning(str(err))
            return
        if self.image is not None and result is not None:
            P.show_preview(self.viewer, self.image, self.leading, result)
        tail = f": preview {result.area} px." if result is not None else "."
        self._status(f"Mask threshold {float(value):.2f}{tail}")

    def set_image(self, image: Image | None) -> None:
        """Annotate ``image``: create/reuse the prompt layers with its scale/translate."""
        same = image is not None and self.image is not None and image.name == self.image.name
        if image is self.image or (same and image in self.viewer.layers):
            return  # napari may hand plugins a new proxy of the same layer
        self.clear()
        self.image = image
        self._image_serial += 1
        if image is None:
            self.points = self.box = None
            return
        for msg in L.image_warnings(self.viewer, image):
            self._warn_once(msg)
        self.points = L.get_points_layer(self.viewer, image)
        self.box = L.get_box_layer(self.viewer, image)
        for layer in (self.points, self.box):
            if id(layer) not in self._connected:
                layer.events.data.connect(self._on_layer_data)
                self._connected.add(id(layer))
        P.show_preview(self.viewer, image, (), None, create=True)  # now, not on the first result
        self.fit_overlays()
        self.points.mode = "add"
        self.viewer.layers.selection.active = self.points
        self._update_next_role()

    def _warn_once(self, msg: str) -> None:
        if msg not in self._warned:
            self._warned.add(msg)
            show_warning(msg)

    def _on_ndisplay(self, event=None) -> None:
        if self.image is not None and self.viewer.dims.ndisplay == 3:
            self._warn_once(
                "3D display: the annotator segments 2D slices; prompts need the 2D view. Switch "
                "back to 2D (the 2D/3D button, bottom left) to annotate."
            )

    def fit_overlays(self, event: Event | None = None) -> None:
        """Markers, box outline and preview contour at their constant on-screen sizes."""
        if self.image is None or self.points is None:
            return
        v = self.viewer
        preview = v.layers[L.PREVIEW_NAME] if L.PREVIEW_NAME in v.layers else None
        O.fit_to_zoom(v, self.image, self.points, self.box, preview)

    # --------------------------------------------------------------- prompts
    def _on_layer_data(self, event=None) -> None:
        action = getattr(event, "action", "added")
        if str(getattr(action, "value", action)) in ("adding", "removing", "changing"):
            return
        # napari selects the new point after this event (which resets the layer's defaults):
        # read the layers once the event has finished, coalescing bursts of events.
        if not self._update_scheduled:
            self._update_scheduled = True
            QTimer.singleShot(0, self._deferred_update)

    def _deferred_update(self) -> None:
        self._update_scheduled = False
        self.update()

    def _placed(self):
        return L.read_points(self.points, self.image) if self.points is not None else []

    def _object_leading(self, placed) -> tuple[int, ...]:
        if placed:
            return placed[0].leading
        rect = L.last_rect_leading(self.box, self.image) if self.box is not None else None
        return rect if rect is not None else L.current_leading(self.viewer, self.image)

    def _update_next_role(self, placed=None, has_rect=None) -> None:
        if self.points is None or self.image is None:
            return
        placed = self._placed() if placed is None else placed
        if has_rect is None:
            has_rect = L.read_box(self.box, self.image, self._object_leading(placed)) is not None
        roles = [p.role for p in placed]
        self.points.selected_data = set()
        if roles and len(self.points.face_color) == len(roles):
            self.points.face_color = [L.ROLE_COLORS[r] for r in roles]
        L.set_next_role(self.points, L.next_role(placed, has_rect, self.polarity_positive))

    def current_prompt(self, force: bool = False) -> Prompt | None:
        """The prompt shown in the layers (None while incomplete; ``force`` accepts a box
        without inside click)."""
        if self.image is None:
            return None
        placed = self._placed()
        self.leading = self._object_leading(placed)
        rect = L.read_box(self.box, self.image, self.leading)
        box, inside, clicks, elsewhere = L.assemble_prompt(placed, rect, self.leading)
        O.show_corner_box(self.box, self.image, self.leading, box if rect is None else None)
        self._update_next_role(placed, rect is not None)
        if elsewhere:
            show_warning(
                f"{len(elsewhere)} click(s) lie on another slice than the object (slice "
                f"{self.leading}) and are ignored: commit [Shift+C] or clear [Shift+X] first."
            )
        if box is None or (inside is None and not force):
            return None
        return Prompt(box, inside, clicks)

    def update(self, force: bool = False) -> None:
        """Read the prompt layers and run the model if the prompt is complete and new."""
        if self.image is None:
            return
        if self.propagating:
            show_info("Propagation is running: wait for it or cancel it before new clicks.")
            return
        prompt = self.current_prompt(force)
        if prompt is None:
            self._status("Click the object's two opposite corners (or draw a box), then inside it.")
            return
        try:
            self._point_session()
            prompt.box.validate(self.session.image_shape)
        except (PromptError, ValueError) as err:
            show_warning(str(err))
            return
        if self.session.plan(prompt) == "none" and not force:
            return
        self._status("Segmenting...")
        self.runner.request(prompt, self._token)

    def segment(self) -> None:
        self.update(force=True)

    def _point_session(self) -> None:
        plane = L.plane(self.image, self.leading)
        key = (self._image_serial, self.leading)
        if key != self.session.image_key:
            self.session.set_image(plane, key, **normalisation(self.image))

    def _on_result(self, prompt, result, token) -> None:
        if token != self._token:
            return  # the object was cleared or committed meanwhile
        self.session.push(prompt, result)
        P.show_preview(self.viewer, self.image, self.leading, result)
        if result.area == 0:
            self._status("The model found nothing here: add a positive click or redraw the box.")
        else:
            self._status(f"Preview: {result.area} px. Correct with clicks or commit [Shift+C].")

    def _on_error(self, err) -> None:
        if isinstance(err, ValueError):
            show_warning(str(err))
        else:
            show_error(
                f"Prediction failed ({type(err).__name__}: {err}). Try the CPU device or reload the model."
            )
        self._status("Prediction failed; see the notification.")

    # ----------------------------------------------------------- object ops
    def toggle_polarity(self) -> bool:
        self.polarity_positive = not self.polarity_positive
        self._update_next_role()
        self._status(
            "Correction clicks: "
            + ("positive (add)" if self.polarity_positive else "negative (remove)")
        )
        return self.polarity_positive

    def clear(self) -> None:
        """Drop the current object: clicks, box, preview, history (labels untouched)."""
        self._token += 1
        self.runner.cancel_pending()
        self.session.reset()
        self.edit_id = self.edit_mask = None
        if self.image is not None and self.points is not None:
            L.write_prompt(self.points, self.box, self.image, (), None)
            P.show_preview(self.viewer, self.image, (), None)
            self._update_next_role()

    def _show_interaction(self, inter) -> None:
        self._token += 1
        prompt = None if inter is None else inter.prompt
        L.write_prompt(self.points, self.box, self.image, self.leading, prompt)
        result = None if inter is None else inter.result
        P.show_preview(self.viewer, self.image, self.leading, result)
        self._update_next_role()

    def undo_click(self) -> None:
        if self.image is not None and self.session.can_undo:
            self._show_interaction(self.session.undo())

    def redo_click(self) -> None:
        if self.image is not None and self.session.can_redo:
            self._show_interaction(self.session.redo())

    def _status(self, msg: str) -> None:
        self._on_status(msg)
