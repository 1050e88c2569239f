"""The controls of the IOG Fine-tuning widget: layers, profile (with a hint when it is slow on a
CPU), start weights and output path (each with a file picker), budget and training options.

A mixin of :class:`~napari_iog._napari.finetune_widget.FinetuneWidget` (which holds the actions
and the worker callbacks); :meth:`FinetuneForm._build_form` returns the filled form layout.
"""

from __future__ import annotations

import sys

from napari.layers import Image, Labels
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
)

from .finetune_job import default_output
from .qt_helpers import button

SLOW_ON_CPU = ("resnet101",)  # backbones that take minutes per epoch without a GPU


def cpu_hint(profile: str) -> str:
    """A warning for ``profile`` when it is slow on a CPU and no CUDA GPU is known to be here
    (torch is not imported just to ask; without it the hint is shown)."""
    if not any(b in profile for b in SLOW_ON_CPU):
        return ""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return ""
    return (
        "ResNet-101 is slow on a CPU (minutes per epoch, hours to converge): without a GPU use "
        "cpu-light or a ResNet-18 profile."
    )


class FinetuneForm:
    """Input controls and the training configuration read from them (mixin of a QWidget)."""

    def _build_form(self) -> QFormLayout:
        from napari_iog.models.registry import profile_names
        from napari_iog.training.config import AugmentConfig, FinetuneConfig, field_meta

        self.image_combo, self.labels_combo = QComboBox(), QComboBox()
        self.profile_combo = QComboBox()
        self.profile_combo.addItems(profile_names())
        self.profile_hint = QLabel("")
        self.profile_hint.setWordWrap(True)
        self.profile_hint.setStyleSheet("color: #e0a040")
        self.profile_combo.currentTextChanged.connect(
            lambda name: self.profile_hint.setText(cpu_hint(name))
        )
        self.weights_edit = QLineEdit("auto")
        self.weights_edit.setPlaceholderText("(empty = train the profile from scratch)")
        self.weights_edit.setToolTip("auto: the shipped starter matching the image (iog-em: grey "
                                     "EM, iog-aerial: colour); a name or file; empty: from scratch. "
                                     "The start is kept if training does not beat it.")  # fmt: skip
        d = FinetuneConfig()  # the one source of the defaults and their help texts
        tip = {n: field_meta(n)["help"] for n in (
            "max_minutes", "epochs", "samples_per_epoch", "batch_size", "min_area", "lr",
            "freeze_backbone", "calibrate_threshold")}  # fmt: skip
        minutes = field_meta("max_minutes")["gui_default"]  # an interactive session's budget
        self.minutes = QDoubleSpinBox(minimum=0.0, maximum=24 * 60.0, value=minutes, suffix=" min")
        self.minutes.setToolTip(tip["max_minutes"] + " (0 = no limit: max epochs)")
        self.epochs = QSpinBox(minimum=1, maximum=100_000, value=d.epochs)
        self.samples = QSpinBox(minimum=2, maximum=100_000, value=d.samples_per_epoch)
        self.batch = QSpinBox(minimum=2, maximum=256, value=d.batch_size)
        self.min_area = QSpinBox(minimum=0, maximum=10**7, value=d.min_area)
        self.lr = QDoubleSpinBox(decimals=5, minimum=1e-5, maximum=1.0, value=d.lr, singleStep=1e-4)
        self.freeze = QCheckBox("freeze backbone")
        self.freeze.setChecked(d.freeze_backbone)
        self.topdown = QCheckBox("no 'up' in these images (EM, microscopy, aerial)")
        self.topdown.setChecked(d.augment == AugmentConfig.top_down())
        self.topdown.setToolTip(AugmentConfig.top_down.__doc__.split(":", 1)[1].strip()
                                + " Unticked: the paper's (+-20 deg, horizontal flips).")  # fmt: skip
        self.calibrate = QCheckBox("fit the mask threshold after training")
        self.calibrate.setChecked(d.calibrate_threshold)
        for w, name in (
            (self.epochs, "epochs"),
            (self.samples, "samples_per_epoch"),
            (self.batch, "batch_size"),
            (self.min_area, "min_area"),
            (self.lr, "lr"),
            (self.freeze, "freeze_backbone"),
            (self.calibrate, "calibrate_threshold"),
        ):
            w.setToolTip(tip[name])  # fmt: skip
        self.out_edit = QLineEdit(str(default_output()))
        form = QFormLayout()
        for label, w in [
            ("image", self.image_combo),
            ("labels", self.labels_combo),
            ("profile", self.profile_combo),
            ("", self.profile_hint),
            ("start from weights", self._with_picker(self.weights_edit, self.pick_weights)),
            ("time budget", self.minutes),
            ("max epochs", self.epochs),
            ("samples / epoch", self.samples),
            ("batch size", self.batch),
            ("min area (px)", self.min_area),
            ("learning rate", self.lr),
            ("", self.freeze),
            ("", self.topdown),
            ("", self.calibrate),
            ("save to", self._with_picker(self.out_edit, self.pick_output)),
        ]:
            form.addRow(label, w)
        return form

    @staticmethod
    def _with_picker(edit: QLineEdit, slot) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(button("...", slot, "Choose a file"))
        return row

    def pick_weights(self, path: str | None = None) -> None:
        """Start from a weights file (``path``, or one chosen in a file dialog)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Start from weights", "", "Weights (*.pt *.pth *.ckpt)"
            )
        if path:
            self.weights_edit.setText(path)

    def pick_output(self, path: str | None = None) -> None:
        """Save the checkpoint to ``path`` (or one chosen in a save dialog)."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Save the checkpoint to", self.out_edit.text(), "Checkpoint (*.pt)"
            )
        if path:
            self.out_edit.setText(path)

    def _refresh(self, event=None) -> None:
        for combo, kind in ((self.image_combo, Image), (self.labels_combo, Labels)):
            current = combo.currentText()
            combo.clear()
            combo.addItems([ly.name for ly in self.viewer.layers if isinstance(ly, kind)])
            if current:
                combo.setCurrentText(current)

    def _config(self):
        """The FinetuneConfig of the controls (every other field keeps its default)."""
        from napari_iog.training.config import AugmentConfig, FinetuneConfig

        return FinetuneConfig(
            epochs=self.epochs.value(),
            samples_per_epoch=self.samples.value(),
            batch_size=self.batch.value(),
            lr=self.lr.value(),
            min_area=self.min_area.value(),
            freeze_backbone=self.freeze.isChecked(),
            max_minutes=self.minutes.value() or None,
            calibrate_threshold=self.calibrate.isChecked(),
            augment=AugmentConfig.top_down() if self.topdown.isChecked() else AugmentConfig(),
        )
