"""IOG fine-tuning dock widget: train on the open Image + Labels layers in a thread worker.

The objects of the chosen Labels layer (2D or a stack; unannotated slices are skipped) are the
training set. Training runs in a thread worker: live loss / validation IoU, progress, Cancel
(keeps the last good checkpoint). The kept checkpoint (``FinetuneConfig.keep``) is then loaded
into the IOG Annotator (if open). Tests: set values, call :meth:`FinetuneWidget.start`, wait for ``state`` != "running".
"""

from __future__ import annotations

import threading
from pathlib import Path

from napari.layers import Image, Labels
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_iog.training.presets import resolve_start

from .finetune_job import default_output, fit_threshold_job, layer_array, train_job
from .workers import start_worker


class FinetuneWidget(QWidget):
    """Dock widget; ``state`` is "idle" | "running" | "done" | "cancelled" | "error"."""

    def __init__(self, napari_viewer):
        super().__init__()
        from napari_iog.training.presets import profile_names

        self.viewer = napari_viewer
        self.state = "idle"
        self.checkpoint: Path | None = None
        self.history: list = []
        self.calibration = ""  # the last run's threshold calibration, one line
        self._cancel = threading.Event()
        self._worker = None
        self.image_combo, self.labels_combo = QComboBox(), QComboBox()
        self.profile_combo = QComboBox()
        self.profile_combo.addItems(profile_names())
        self.weights_edit = QLineEdit("auto")
        self.weights_edit.setPlaceholderText("(empty = train the profile from scratch)")
        self.weights_edit.setToolTip("auto: the shipped starter matching the image (iog-em: grey "
                                     "EM, iog-aerial: colour); a name or file; empty: from scratch. "
                                     "The start is kept if training does not beat it.")  # fmt: skip
        self.minutes = QDoubleSpinBox(minimum=0.0, maximum=24 * 60.0, value=2.0, suffix=" min")
        self.epochs = QSpinBox(minimum=1, maximum=100_000, value=200)
        self.samples = QSpinBox(minimum=2, maximum=100_000, value=128)
        self.batch = QSpinBox(minimum=2, maximum=256, value=8)
        self.min_area = QSpinBox(minimum=0, maximum=10**7, value=50)
        self.lr = QDoubleSpinBox(decimals=5, minimum=1e-5, maximum=1.0, value=2e-3, singleStep=1e-4)
        self.freeze = QCheckBox("freeze backbone")
        self.topdown = QCheckBox("no 'up' in these images (EM, microscopy, aerial)")
        self.topdown.setChecked(True)
        self.topdown.setToolTip("Any rotation, vertical flips, +-10 % contrast (paper: +-20 deg)")
        self.calibrate = QCheckBox("fit the mask threshold after training")
        self.calibrate.setChecked(True)
        self.calibrate.setToolTip("After training, cut the network's probabilities where the "
                                  "held-out objects you annotated are matched best (needs >= 10 "
                                  "of them; otherwise 0.5 stays)")  # fmt: skip
        self.out_edit = QLineEdit(str(default_output()))
        self.start_btn, self.cancel_btn = QPushButton("Train"), QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.fit_btn = QPushButton("Fit threshold only")
        self.fit_btn.setToolTip("No training: cut the IOG Annotator's current model where the "
                                "objects of these layers are matched best (needs >= 10)")  # fmt: skip
        self.progress = QProgressBar()
        self.status = QLabel("Pick an image and the Labels layer with your objects, then Train.")
        self.status.setWordWrap(True)
        form = QFormLayout()
        for label, w in [
            ("image", self.image_combo),
            ("labels", self.labels_combo),
            ("profile", self.profile_combo),
            ("start from weights", self.weights_edit),
            ("time budget", self.minutes),
            ("max epochs", self.epochs),
            ("samples / epoch", self.samples),
            ("batch size", self.batch),
            ("min area (px)", self.min_area),
            ("learning rate", self.lr),
            ("", self.freeze),
            ("", self.topdown),
            ("", self.calibrate),
            ("save to", self.out_edit),
        ]:
            form.addRow(label, w)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_btn)
        buttons.addWidget(self.fit_btn)
        buttons.addWidget(self.cancel_btn)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.cancel)
        self.fit_btn.clicked.connect(self.fit_threshold)
        self.viewer.layers.events.inserted.connect(self._refresh)
        self.viewer.layers.events.removed.connect(self._refresh)
        self._refresh()

    # ----------------------------------------------------------------------------- layers
    def _refresh(self, event=None) -> None:
        for combo, kind in ((self.image_combo, Image), (self.labels_combo, Labels)):
            current = combo.currentText()
            combo.clear()
            combo.addItems([ly.name for ly in self.viewer.layers if isinstance(ly, kind)])
            if current:
                combo.setCurrentText(current)

    def _config(self):
        from napari_iog.training import FinetuneConfig

        return FinetuneConfig(
            epochs=self.epochs.value(),
            samples_per_epoch=self.samples.value(),
            batch_size=self.batch.value(),
            lr=self.lr.value(),
            min_area=self.min_area.value(),
            freeze_backbone=self.freeze.isChecked(),
            max_minutes=self.minutes.value() or None,
            val_fraction=0.15,
            calibrate_threshold=self.calibrate.isChecked(),
            workers=None,  # auto: none on a CPU; on CUDA spawned processes cut the samples
            **(dict(rotate=180.0, vflip=True, intensity=0.1) if self.topdown.isChecked() else {}),
        )

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
        self.progress.setValue(0)
        self.status.setText("Preparing the objects...")
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
        if isinstance(ev, tuple):
            kind, payload = ev
            if kind == "info":
                self.status.setText(f"Training on {payload}")
            elif kind == "loaded":
                predictor, path, how = payload
                self.checkpoint = Path(path)
                annot = self._annotator()
                where = (
                    "loaded into the IOG Annotator"
                    if annot is not None
                    else "open the IOG Annotator to use it"
                )
                if annot is not None:
                    annot.use_checkpoint(predictor, Path(path))
                self.state = "cancelled" if how == "cancelled" else "done"
                show_info(f"Fine-tuning {how}: checkpoint {path} ({where}).")
                extra = f" {self.calibration}." if self.calibration else ""
                self.status.setText(f"{how}: {path} - {where}.{extra}")
            elif kind == "nothing":
                self.state = "cancelled"
                self.status.setText(payload)
            return
        if ev.kind == "step":
            self.progress.setMaximum(ev.total_steps)
            self.progress.setValue(ev.step)
            self.status.setText(
                f"step {ev.step}/{ev.total_steps}  loss {ev.loss:.3f}  best val IoU "
                f"{max(ev.best_val, 0):.3f}  ({ev.seconds:.0f} s)"
            )
        elif ev.kind == "epoch":
            self.history.append(ev)
        elif ev.kind == "calibrated":
            self.calibration = ev.message
            self.status.setText(ev.message)

    def _on_error(self, err) -> None:
        self._fail(str(err))

    def _on_finished(self) -> None:
        self._worker = None
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
