"""napari entry of harvesting: every box of a Shapes layer on the current slice -> masks in one
Labels layer ("IOG harvest"), computed in a thread worker with a progress bar.

The boxes are the bounding boxes of the shapes (rectangles, or any shape) lying on the image's
current slice, converted from world to image pixels through ``layers.world_to_pixel`` (the one
conversion place). Masks are committed in ONE undoable step (``Labels.data_setitem`` under
``block_history``), keep-existing mode (labels already there are never overwritten), new ids from
max + 1 in shape order; where new masks overlap, the smaller object wins.
The model is the same per-process cache as the dask workers (``harvest.predict.cached_predictor``).
The weights picker lists what the annotator's does (shipped starters, cached weights and
checkpoints, a local file, the classical random walker), read in a worker once the widget is up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    PushButton,
    SpinBox,
    create_widget,
)
from napari.layers import Image, Labels, Shapes
from napari.utils import progress
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QFileDialog

from napari_iog._napari import model_choice as M
from napari_iog._napari.commit import check_labels, commit_result, make_labels_layer, next_id
from napari_iog._napari.layers import current_leading, plane, world_to_pixel
from napari_iog._napari.workers import start_worker
from napari_iog.harvest.plan import BoxRecord, Issue
from napari_iog.harvest.predict import BoxMask, cached_predictor, check_boxes, iter_box_masks
from napari_iog.structures import BBox, MaskResult, Prompt

if TYPE_CHECKING:
    import napari
    from napari.qt.threading import WorkerBase

HARVEST_LABELS_NAME = "IOG harvest"


def shapes_to_records(shapes: Shapes, image: Image, leading: tuple[int, ...]) -> list[BoxRecord]:
    """Boxes (inclusive pixel ``BBox``) of the shapes on slice ``leading``; ``ann_id`` = shape
    index + 1. Shapes on other slices are left out."""
    out = []
    for i, verts in enumerate(shapes.data):
        pix = [world_to_pixel(image, shapes.data_to_world(v)) for v in verts]
        if any(p[0] != tuple(leading) for p in pix):
            continue
        rows, cols = [p[1] for p in pix], [p[2] for p in pix]
        box = BBox.from_corners((min(rows), min(cols)), (max(rows), max(cols)))
        xywh = (float(box.col0), float(box.row0), float(box.width), float(box.height))
        out.append(BoxRecord(i + 1, box, 1, xywh))
    return out


@dataclass(frozen=True)
class HarvestOutcome:
    """The last item a :func:`harvest_job` yields: the masks and the boxes that got none."""

    masks: list
    issues: list


def harvest_job(
    weights: str,
    image_plane: np.ndarray,
    records: Sequence[BoxRecord],
    batch_size: int,
    two_stage: bool,
    cancel: Callable[[], bool] | None,
    threshold: float | None = None,
) -> Iterator[int | HarvestOutcome]:
    """Generator run in the worker: yields the number of boxes finished per batch (int), then one
    :class:`HarvestOutcome` (the generator's last item, so any worker wrapper passes it on).
    ``image_plane``: ``[H, W]`` or ``[H, W, 3|4]``; ``records``: boxes in its pixel ``(row, col)``.
    ``threshold``: mask threshold instead of the weights' own (None)."""
    if weights == M.CLASSICAL:  # no IOG weights: a random walker seeded by each box
        from napari_iog.inference import RandomWalkerPredictor

        predictor, lock = RandomWalkerPredictor(), threading.Lock()
    else:
        predictor, lock = cached_predictor(weights, "auto", True, threshold=threshold)
    masks: list[BoxMask] = []
    with lock:
        image_plane = np.asarray(image_plane)
        predictor.set_image(image_plane)
        ok, issues = check_boxes(records, image_plane.shape[:2])
        yield len(issues)
        for batch in iter_box_masks(predictor, ok, batch_size, two_stage, cancel=cancel):
            for item in batch:
                (issues if isinstance(item, Issue) else masks).append(item)
            yield len(batch)
    yield HarvestOutcome(masks, issues)


def commit_masks(
    labels: Labels, leading: Sequence[int], masks: list[BoxMask], shape: Sequence[int]
) -> int:
    """Write ``masks`` into ``labels`` as one undo step (see module doc); returns masks written.
    ``leading``: the slice's leading indices; ``shape``: the plane's ``(H, W)``."""
    base = next_id(labels)
    ids = {bm.record.ann_id: base + i for i, bm in enumerate(masks)}
    written = 0
    with labels.block_history():
        for bm in sorted(masks, key=lambda m: (int(m.mask.sum()), m.record.ann_id)):
            if not bm.mask.any():
                continue
            res = MaskResult(
                bm.mask.astype(np.float32), bm.mask, bm.origin, tuple(shape), Prompt(bm.record.box)
            )
            commit_result(labels, tuple(leading), res, ids[bm.record.ann_id], "keep")
            written += 1
    return written


class HarvestWidget(Container):
    """Harvest masks for all boxes of a Shapes layer on the current image slice."""

    def __init__(self, napari_viewer: napari.Viewer):
        self.viewer = napari_viewer
        self._image = create_widget(annotation=Image, label="image")
        self._shapes = create_widget(annotation=Shapes, label="boxes")
        self._items: list[tuple[str, str]] = [("Looking for weights...", "")]
        self._weights = ComboBox(
            label="weights", choices=lambda _w: self._items,  # re-read on reset_choices
            tooltip="IOG weights (shipped starters, cached, fine-tuned), a local file, or the "
            "classical random walker (no weights)",
        )  # fmt: skip
        self._weights_file = PushButton(text="Local weights file...")
        self._batch = SpinBox(label="batch size", value=8, min=1, max=512)
        self._two_stage = CheckBox(text="two-stage (2nd pass from the first mask)", value=False)
        self._threshold = FloatSpinBox(
            label="mask threshold", value=0.0, min=0.0, max=0.95, step=0.05,
            tooltip="probability at which masks are cut; 0 = the weights' own (0.5, or the one "
            "fitted after fine-tuning)",
        )  # fmt: skip
        self._run_btn = PushButton(text="Harvest boxes")
        self._cancel_btn = PushButton(text="Cancel", enabled=False)
        self._status = Label(value="")
        super().__init__(
            widgets=[
                self._image,
                self._shapes,
                self._weights,
                self._weights_file,
                self._batch,
                self._two_stage,
                self._threshold,
                self._run_btn,
                self._cancel_btn,
                self._status,
            ],
            scrollable=True,
        )
        self._run_btn.changed.connect(self.run)
        self._cancel_btn.changed.connect(self.cancel)
        self._weights_file.changed.connect(lambda *_: self.pick_weights_file())
        QTimer.singleShot(0, self._list_weights)
        self._cancel_flag = threading.Event()
        self.worker = None
        self._pbar = None
        for ev in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            ev.connect(self.reset_choices)

    # ------------------------------------------------------------------ weights
    def _list_weights(self) -> None:
        start_worker(M.weight_choices, on_returned=self._on_listed)

    def _on_listed(self, choices: list) -> None:
        try:
            keep = self._weights.value
        except RuntimeError:  # the widget was closed before the list arrived
            return
        self._items = [(c.label, c.source) for c in choices]
        self._weights.reset_choices()
        if keep:
            self.set_weights(keep)
            return
        image, domain = self._image.value, None
        if image is not None:
            from napari_iog._napari.geo_writer import layer_metadata
            from napari_iog.models.starters import image_domain  # torch: already imported

            domain = image_domain(image.data, image.rgb, layer_metadata(image))
        self._weights.value = M.best_available(domain, choices).source

    def set_weights(self, source: str) -> None:
        """Use ``source`` (weights name, checkpoint path or ``classical``), listing it if new."""
        if source not in [v for _, v in self._items]:
            self._items = [*self._items, (f"IOG: {source}", source)]
            self._weights.reset_choices()
        self._weights.value = source

    def pick_weights_file(self, path: str | None = None) -> None:
        """Harvest with a local weights file (``path`` or one chosen in a file dialog)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self.native, "IOG weights", "", "Weights (*.pth *.pt *.ckpt)"
            )
        if path:
            self.set_weights(path)

    def cancel(self, *_: object) -> None:
        self._cancel_flag.set()

    def run(self, *_: object) -> WorkerBase | None:
        """Start harvesting (returns the worker; results land on the main thread)."""
        image, shapes = self._image.value, self._shapes.value
        weights = str(self._weights.value or "").strip()
        if image is None or shapes is None:
            show_error("Pick an image layer and a Shapes layer with boxes.")
            return None
        if not weights:
            show_error(
                "Pick the weights (wait for the list), a local file, or the classical predictor."
            )
            return None
        leading = current_leading(self.viewer, image)
        records = shapes_to_records(shapes, image, leading)
        if not records:
            show_error(f"'{shapes.name}' has no shapes on the current slice of '{image.name}'.")
            return None
        self._cancel_flag.clear()
        self._pbar = progress(total=len(records), desc="IOG harvest")
        self._run_btn.enabled, self._cancel_btn.enabled = False, True
        self._status.value = f"harvesting {len(records)} boxes..."
        self.worker = start_worker(
            harvest_job,
            weights,
            plane(image, leading),
            records,
            int(self._batch.value),
            bool(self._two_stage.value),
            self._cancel_flag.is_set,
            float(self._threshold.value) or None,
            on_yielded=lambda item: self._yielded(item, image, leading),
            on_error=self._failed,
            on_finished=self._finished,
        )
        return self.worker

    def _output_layer(self, image: Image) -> Labels:
        if HARVEST_LABELS_NAME in self.viewer.layers:
            layer = self.viewer.layers[HARVEST_LABELS_NAME]
            if isinstance(layer, Labels):
                check_labels(layer, image)
                return layer
        return make_labels_layer(self.viewer, image, HARVEST_LABELS_NAME)

    def _yielded(self, item, image: Image, leading) -> None:
        if isinstance(item, HarvestOutcome):
            self._done(item, image, leading)
        elif self._pbar is not None:
            self._pbar.update(item)

    def _done(self, outcome: HarvestOutcome, image: Image, leading) -> None:
        masks, issues = outcome.masks, outcome.issues
        try:
            labels = self._output_layer(image)
            shape = labels.data.shape[-2:]
            n = commit_masks(labels, leading, masks, shape)
        except ValueError as err:
            show_error(str(err))
            return
        msg = f"IOG harvest: {n} masks written to '{HARVEST_LABELS_NAME}'"
        if issues:
            reasons: dict[str, int] = {}
            for i in issues:
                reasons[i.reason] = reasons.get(i.reason, 0) + 1
            msg += "; not done: " + ", ".join(f"{v} x {k}" for k, v in sorted(reasons.items()))
        if self._cancel_flag.is_set():
            msg += " (cancelled: the remaining boxes were not run)"
        self._status.value = msg
        show_info(msg)

    def _failed(self, err) -> None:
        self._status.value = f"failed: {err}"
        show_error(f"IOG harvest failed: {err}")

    def _finished(self) -> None:
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        self._run_btn.enabled, self._cancel_btn.enabled = True, False
