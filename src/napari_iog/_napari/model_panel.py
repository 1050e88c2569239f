"""The Model section of the annotator: weights picker (registry names, our fine-tuned
checkpoints, a local file, or the classical fallback), device dropdown, mirror averaging (flip
test-time augmentation), the mask threshold, Load. Loading runs in a thread worker; a clear
message says how to get weights that are absent.

The list of weights is read in a worker too (it imports torch to read checkpoint headers, over a
second): the panel opens at once with "Looking for weights...", and what needs the list (the
preselection for the image, a Load asked meanwhile) runs when it arrives (``ready``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from napari.utils.notifications import show_warning
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
)

from napari_iog._napari import model_choice as M
from napari_iog._napari.qt_helpers import button, spin
from napari_iog._napari.workers import start_worker

if TYPE_CHECKING:
    from napari.layers import Image

    from napari_iog.inference.base import ImagePredictorBase


class _WeightsCombo(QComboBox):
    """The weights picker: re-reads what is on disk each time it opens (a checkpoint written
    by the CLI or the fine-tuning widget appears without reopening the annotator)."""

    def __init__(self, on_open):
        super().__init__()
        self._on_open = on_open

    def showPopup(self) -> None:  # noqa: N802 - Qt override
        self._on_open()
        super().showPopup()


class ModelPanel(QGroupBox):
    """``on_status(text)``; ``on_loaded(predictor, name)`` runs on the main thread;
    ``on_threshold(value)`` when the user changes the mask threshold."""

    def __init__(
        self,
        on_status: Callable[[str], object],
        on_loaded: Callable[[ImagePredictorBase, str], object],
        on_threshold: Callable[[float], object] | None = None,
    ):
        super().__init__("Model")
        self._set_status = on_status
        self._on_loaded = on_loaded
        self._load_token = 0
        self._loader = None
        self.user_chose = False  # the user picked weights: image changes no longer re-pick
        self.loaded_label: str | None = None  # the weights of the predictor in use
        self.ready = False  # the weights list has been read (see the module doc)
        self.on_ready = None  # callback() once the list is there (the widget matches the image)
        self._pending_load: tuple | None = None
        form = QFormLayout(self)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.weights = _WeightsCombo(self.refresh_choices)
        looking = M.WeightsChoice("Looking for weights...", "", False, "Reading the weights...")
        self._choices: list[M.WeightsChoice] = [looking]
        self.weights.addItem(looking.label, looking.source)
        self._lister = None  # started once the event loop runs again: the widget opens first
        QTimer.singleShot(0, self._start_listing)
        self.weights.currentIndexChanged.connect(self._on_weights_changed)
        self.weights.activated.connect(self._on_user_pick)
        self.device = QComboBox()
        self.device.addItems(list(M.DEVICES))
        row = QHBoxLayout()
        row.addWidget(self.device)
        row.addWidget(
            button("Local file...", self._pick_file, "Load a .pth / napari-iog checkpoint")
        )
        row.addWidget(button("Load", self.load_model))
        self.tta = QCheckBox("Mirror averaging (4x slower)")
        self.tta.setToolTip(
            "Average the prediction over the 4 mirror images of the crop (flip test-time "
            "augmentation): slightly more accurate masks, 4x the compute. Reloads the model."
        )
        self.tta.toggled.connect(self._on_tta_toggled)
        form.addRow("Weights", self.weights)
        form.addRow("Device", row)
        form.addRow(self.tta)
        self.threshold = spin(0.05, 0.95, 0.5, step=0.05)
        self.threshold.setDecimals(2)
        self.threshold.setToolTip(
            "Probability at which the mask is cut: lower = larger masks. The preview changes at "
            "once, without a new prediction. Checkpoints fine-tuned here bring the threshold "
            "that fitted their validation objects best."
        )
        self.threshold.setEnabled(False)  # until a model is loaded
        if on_threshold is not None:
            self.threshold.valueChanged.connect(on_threshold)
        form.addRow("Mask threshold", self.threshold)
        form.addRow(self.info)
        self._on_weights_changed()

    def _start_listing(self) -> None:
        if not self.ready and self._lister is None and self._alive():
            self._lister = start_worker(
                M.weight_choices, on_returned=self._on_listed, on_error=self._on_list_failed
            )

    def _alive(self) -> bool:
        try:  # the widget may be closed before the list arrives
            self.weights.count()
        except RuntimeError:
            return False
        return True

    def _on_listed(self, choices: list) -> None:
        if not self.ready and self._alive():  # (or the user opened the picker: then it is read)
            self._fill(choices)
            self._became_ready()

    def _on_list_failed(self, err) -> None:
        show_warning(f"Could not list the weights on this machine: {err}")
        self._on_listed([M.classical_choice()])

    def _became_ready(self) -> None:
        self.ready = True
        if self.on_ready is not None:
            self.on_ready()
        if self._pending_load is not None:
            threshold, self._pending_load = self._pending_load[0], None
            self.load_model(threshold)

    def refresh_choices(self, domain: str | None = None) -> None:
        """Rebuild the picker from what is on disk now (new checkpoints appear), keeping the
        current selection, or preselecting the best weights for ``domain`` if there is none.
        Before the first list has arrived this reads it here (the user opened the picker)."""
        was_ready = self.ready
        self._fill(M.weight_choices(), domain)
        if not was_ready:
            self._became_ready()

    def _fill(self, choices: list, domain: str | None = None) -> None:
        current = self.weights.currentData()
        self._choices = list(choices)
        self.weights.blockSignals(True)
        self.weights.clear()
        for c in self._choices:
            self.weights.addItem(c.label, c.source)
        self.weights.blockSignals(False)
        if current:
            self.choose(current)
        else:
            self.choose(M.best_available(domain, self._choices).source)

    def choose(self, source: str) -> None:
        """Select ``source`` (a name, a path or ``classical``), adding it when not listed."""
        idx = self.weights.findData(source)
        if idx < 0:
            self._choices.append(M.WeightsChoice(f"IOG: {source}", source, True, ""))
            self.weights.addItem(f"IOG: {source}", source)
            idx = self.weights.count() - 1
        self.weights.setCurrentIndex(idx)
        self._on_weights_changed()

    def match_image(self, layer: Image, in_use: str | None) -> str | None:
        """Preselect (and, once a model is in use, load) the starter of the domain of image
        ``layer`` while the user has not picked weights; else the warning to show when the
        model in use (domain ``in_use``) is for the other domain, naming the matching model."""
        if not self.ready:
            return None  # the widget asks again once the list is there (on_ready)
        from napari_iog._napari.geo_writer import layer_metadata
        from napari_iog.models.starters import image_domain, starter_for  # torch: now imported

        domain = image_domain(layer.data, layer.rgb, layer_metadata(layer))
        if not self.user_chose:
            best = M.best_available(domain, self._choices).source
            if best != self.weights.currentData():
                self.choose(best)
                if self.loaded_label is not None:  # a model is in use: switch it too
                    self.load_model()
            return None
        if in_use in (None, domain):
            return None
        return (
            f"The model in use was trained on {in_use.upper()} images, but {layer.name!r} looks "
            f"like {domain.upper()}: pick '{starter_for(domain)}' in the Model section."
        )

    def _on_user_pick(self, *_) -> None:
        self.user_chose = True

    def _on_weights_changed(self, *_):
        i = self.weights.currentIndex()
        c = self._choices[i] if 0 <= i < len(self._choices) else None
        self.info.setText("" if c is None else c.hint)

    def _on_tta_toggled(self, *_) -> None:
        if self.weights.currentData() not in (None, "", M.CLASSICAL):
            # the same weights come back with mirror averaging: keep the threshold the user set
            keep = self.threshold.value() if self.threshold.isEnabled() else None
            self.load_model(threshold=keep)

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "IOG weights", "", "Weights (*.pth *.pt *.ckpt)"
        )
        if path:
            self.user_chose = True
            self.choose(path)
            self.load_model()

    def load_model(self, threshold: float | None = None) -> None:
        """Build the chosen predictor in a worker; the widget stays usable meanwhile.
        ``threshold``: mask threshold for it instead of the weights' own."""
        if not self.ready:  # load once the list is read (the choice may still change)
            self._pending_load = (threshold,)
            self._set_status("Looking for weights on this machine...")
            return
        source, device = self.weights.currentData(), self.device.currentText()
        self._load_token += 1
        token = self._load_token
        self._set_status(f"Loading {self.weights.currentText()}...")

        def done(out, token=token):
            if token == self._load_token:
                if threshold is not None:
                    out[0].mask_threshold = threshold
                self.loaded_label = self.weights.itemText(self.weights.findData(source))
                self._on_loaded(*out)

        def failed(err):
            show_warning(f"Could not load the weights: {err}")
            if self.loaded_label is None:
                self._set_status("No model loaded: pick other weights or the classical predictor.")
            else:  # the previous predictor keeps working: say which, and show it in the picker
                self._set_status(f"Still using {self.loaded_label} (the new weights failed).")
                self.weights.setCurrentIndex(max(self.weights.findText(self.loaded_label), 0))

        self._loader = start_worker(
            M.load_predictor,
            source,
            device,
            self.tta.isChecked(),
            on_returned=done,
            on_error=failed,
        )

    def show_threshold(self, value: float | None) -> None:
        """Show a newly loaded predictor's threshold (``None``: it has none) without applying it."""
        self.threshold.blockSignals(True)
        self.threshold.setEnabled(value is not None)
        if value is not None:
            self.threshold.setValue(float(value))
        self.threshold.blockSignals(False)

    def cancel_load(self) -> None:
        """Ignore a load still in flight (a predictor was set directly)."""
        self._load_token += 1
