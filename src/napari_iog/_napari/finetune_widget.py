"""IOG fine-tuning dock widget: train on the open Image + Labels layers in a thread worker.

The objects of the chosen Labels layer (2D or a stack; unannotated slices are skipped) are the
training set. Training runs in a thread worker: live loss / validation IoU, progress, Cancel
(keeps the last good checkpoint). The kept checkpoint (``FinetuneConfig.keep``) is then loaded
into the IOG Annotator (if open). Tests: set values, call :meth:`FinetuneWidget.start`, wait for ``state`` != "running".
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from napari_iog.training.events import Finished
from napari_iog.training.presets import resolve_start

from .finetune_form import FinetuneForm, cpu_hint
from .finetune_job import Loaded, fit_threshold_job, layer_array, train_job
from .qt_helpers import scroll_layout
from .workers import start_worker

if TYPE_CHECKING:
    import napari

ENDINGS = {  # how a run ended, as the status says it
    "timeout": "time budget reached",
    "early_stop": "stopped early (no better validation)",
    "done": "done",
    "cancelled": "cancelled",
}


def ending_text(kind: str) -> str:
    """The user's words for a training end ``kind`` (``TrainEvent.kind``; text after it kept)."""
    head, sep, tail = kind.partition(" ")
    return ENDINGS.get(head, head) + sep + tail


class FinetuneWidget(FinetuneForm, QWidget):
    """Dock widget; ``state`` is "idle" | "running" | "done" | "cancelled" | "error"."""

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.state = "idle"
        self.checkpoint: Path | None = None
        self.history: list = []
        self.calibration = ""  # the last run's threshold calibration, one line
        self._cancel = threading.Event()
        self._worker = None
        self._budget_s: float | None = None  # the running job's time budget (progress by time)
        self._t0 = 0.0
        self._preparing = QTimer(self)
        self._preparing.setInterval(500)
        self._preparing.timeout.connect(self._tick_preparing)
        form = self._build_form()
        self.profile_hint.setText(cpu_hint(self.profile_combo.currentText()))
        self.start_btn, self.cancel_btn = QPushButton("Train"), QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.fit_btn = QPushButton("Fit threshold only")
        self.fit_btn.setToolTip("No training: cut the IOG Annotator's current model where the "
                                "objects of these layers are matched best (needs >= 10)")  # fmt: skip
        self.progress = QProgressBar()
        self.status = QLabel("Pick an image and the Labels layer with your objects, then Train.")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_btn)
        buttons.addWidget(self.fit_btn)
        buttons.addWidget(self.cancel_btn)
        lay = scroll_layout(self)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addStretch(1)
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.cancel)
        self.fit_btn.clicked.connect(self.fit_threshold)
        self.viewer.layers.events.inserted.connect(self._refresh)
        self.viewer.layers.events.removed.connect(self._refresh)
        self._refresh()

    # ----------------------------------------------------------------------------- actions
    def start(self) -> None:
        if self.state == "running":
            return
        picked = self._picked()
        if picked is None:
            return
        image, labels, img, lab = picked
        try:
            cfg = self._config()
        except ValueError as err:
            self._fail(str(err))
            return
        out = Path(self.out_edit.text()).expanduser()
        self._cancel.clear()
        self.history.clear()
        self.calibration = ""
        self.state = "running"
        self.start_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self._budget_s = cfg.max_minutes * 60.0 if cfg.max_minutes else None
        self.progress.setRange(0, 0)  # busy until the first step: the objects are being cut
        self.progress.setFormat("%p%")
        self._t0 = time.monotonic()
        self._preparing.start()
        self._tick_preparing()
        names = {"image": image.name, "labels": labels.name}
        self._worker = start_worker(
            train_job,
            img,
            lab,
            self.profile_combo.currentText(),
            cfg,
            out,
            self._cancel,
            resolve_start(self.weights_edit.text(), img, image.rgb, image.metadata),
            names,
            on_yielded=self._on_event,
            on_error=self._on_error,
            on_finished=self._on_finished,
        )

    def _picked(self):
        """``(image layer, labels layer, image array, labels array)`` of the combos, or None
        after a message saying what to pick."""
        try:
            image = self.viewer.layers[self.image_combo.currentText()]
            labels = self.viewer.layers[self.labels_combo.currentText()]
        except (KeyError, ValueError):
            self._fail("Open an Image layer and a Labels layer with annotated objects first.")
            return None
        img, lab = layer_array(image), layer_array(labels)
        if lab.shape != img.shape[: lab.ndim]:
            self._fail(
                f"Image {img.shape} and labels {lab.shape} differ in shape: pick the matching pair."
            )
            return None
        if not lab.any():
            self._fail(f"'{labels.name}' is empty: commit some objects with the annotator first.")
            return None
        return image, labels, img, lab

    def fit_threshold(self) -> None:
        """No training: fit the IOG Annotator's mask threshold to the objects of the chosen
        layers (``training.calibration``, in a worker); the annotator then uses it."""
        if self.state == "running":
            return
        annot = self._annotator()
        pred = None if annot is None else annot.ctl.session.predictor
        if pred is None or getattr(pred, "model", None) is None:
            self._fail(
                "Open the IOG Annotator with IOG weights loaded: the threshold is its model's."
            )
            return
        picked = self._picked()
        if picked is None:
            return
        self.state = "running"
        self.start_btn.setEnabled(False)
        self.fit_btn.setEnabled(False)
        self.status.setText("Fitting the mask threshold to your objects...")
        self._worker = start_worker(
            fit_threshold_job, picked[2], picked[3], pred, self.min_area.value(),
            on_returned=self._on_fitted, on_error=self._on_error, on_finished=self._on_finished,
        )  # fmt: skip

    def _on_fitted(self, record: dict) -> None:
        from napari_iog.training.calibration import describe

        annot = self._annotator()
        if annot is not None:
            annot.ctl.set_threshold(record["chosen"])
            annot.model.show_threshold(record["chosen"])
        self.calibration = describe(record)
        self.state = "done"
        self.status.setText(f"{self.calibration} (the IOG Annotator uses it now).")

    def cancel(self) -> None:
        """Stop after the current step; the last good checkpoint stays on disk."""
        if self.state == "running":
            self._cancel.set()
            self.status.setText("Cancelling after this step...")

    # ----------------------------------------------------------------------------- callbacks
    def _on_event(self, ev) -> None:
        """A typed training event (``training.events``) or the job's :class:`Loaded`."""
        if isinstance(ev, Loaded):
            self._on_loaded(ev)
        elif ev.kind == "prepared":
            self._preparing.stop()
            self.status.setText(f"Training on {ev.description}")
        elif ev.kind == "step":
            self._show_step(ev)
        elif ev.kind == "epoch":
            self.history.append(ev)
        elif ev.kind == "calibrated":
            self.calibration = ev.message
            self.status.setText(ev.message)
        elif isinstance(ev, Finished) and ev.checkpoint is None:
            self.state = "cancelled"
            self.status.setText(
                f"{ending_text(ev.kind)}: no checkpoint was written (stopped before epoch 1 ended)."
            )

    def _on_loaded(self, ev: Loaded) -> None:
        how, path = ending_text(ev.how), ev.path
        self.checkpoint = Path(path)
        annot = self._annotator()
        where = (
            "loaded into the IOG Annotator"
            if annot is not None
            else "open the IOG Annotator to use it"
        )
        if annot is not None:
            annot.use_weights(ev.predictor, str(path), f"IOG fine-tuned {Path(path).name}")
        self.state = "cancelled" if how == "cancelled" else "done"
        show_info(f"Fine-tuning {how}: checkpoint {path} ({where}).")
        extra = f" {self.calibration}." if self.calibration else ""
        self.status.setText(f"{how}: {path} - {where}.{extra}")

    def _tick_preparing(self) -> None:
        self.status.setText(
            f"Preparing the objects... {time.monotonic() - self._t0:.0f} s (cutting a crop "
            "around every object; large layers take a while)"
        )

    def _show_step(self, ev) -> None:
        """Progress by time when a time budget is set (the run ends when it is used up, long
        before max epochs), else by steps of max epochs."""
        self._preparing.stop()
        if self._budget_s:
            frac = max(ev.step / max(ev.total_steps, 1), ev.seconds / self._budget_s)
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(min(frac, 1.0) * 1000))
            left = max(self._budget_s - ev.seconds, 0.0)
            where = f"{ev.seconds:.0f} s of {self._budget_s:.0f} s, {left:.0f} s left"
        else:
            self.progress.setRange(0, max(ev.total_steps, 1))
            self.progress.setValue(ev.step)
            where = f"step {ev.step}/{ev.total_steps}, {ev.seconds:.0f} s"
        self.status.setText(f"{where}  loss {ev.loss:.3f}  best val IoU {max(ev.best_val, 0):.3f}")

    def _on_error(self, err) -> None:
        self._fail(str(err))

    def _on_finished(self) -> None:
        self._worker = None
        self._preparing.stop()
        if self.progress.maximum() == 0:  # ended while still busy
            self.progress.setRange(0, 1)
        if self.state == "done":
            self.progress.setValue(self.progress.maximum())
        self.start_btn.setEnabled(True)
        self.fit_btn.setEnabled(True)
        self.cancel_btn.setEnabled(False)
        if self.state == "running":  # generator ended without a final message
            self.state = "cancelled" if self._cancel.is_set() else "done"

    def _fail(self, msg: str) -> None:
        self.state = "error"
        self.status.setText(msg)
        show_error(msg)

    def _annotator(self):
        from .qt_helpers import find_dock_widget
        from .widget import AnnotatorWidget

        return find_dock_widget(self.viewer, AnnotatorWidget)
