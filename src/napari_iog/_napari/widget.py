"""The IOG Annotator dock widget (Qt). It only builds controls and forwards them to
:class:`~napari_iog._napari.controller.AnnotatorController` and
:class:`~napari_iog._napari.propagation_control.PropagationControl`; no model logic here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from napari.layers import Image, Labels
from napari.utils.notifications import show_info, show_warning
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from napari_iog._napari import keybindings as K
from napari_iog._napari.controller import NEW_LABELS, AnnotatorController
from napari_iog._napari.layers import PLUGIN_LAYERS
from napari_iog._napari.model_panel import ModelPanel
from napari_iog._napari.propagation_control import PropagationControl
from napari_iog._napari.provenance import export_json
from napari_iog._napari.qt_helpers import LiveCombo, button, scroll_layout, spin
from napari_iog._napari.replay_panel import ReplayPanel
from napari_iog.inference.interface import Predictor
from napari_iog.inference.postprocess import COMMIT_MODES
from napari_iog.propagation import PropagationConfig, PropagationError

if TYPE_CHECKING:
    import napari

    from napari_iog.inference.interface import PromptPredictor


class AnnotatorWidget(QWidget):
    """Plugins -> napari-iog -> IOG Annotator. ``autoload`` loads the best weights at hand."""

    def __init__(self, napari_viewer: napari.viewer.Viewer, autoload: bool = True):
        super().__init__()
        self.viewer = napari_viewer
        self.ctl = AnnotatorController(napari_viewer, on_status=self._set_status)
        self.ctl.on_labels_created = self._select_labels
        self.prop = PropagationControl(self.ctl, self._on_progress, self._on_prop_done)
        lay = scroll_layout(self)  # scrolls: the help table stays reachable in short windows
        self.model = ModelPanel(self._set_status, self.set_predictor, self.ctl.set_threshold)
        self.model.on_ready = self._on_weights_listed
        self.weights, self.device, self.model_info = (
            self.model.weights,
            self.model.device,
            self.model.info,
        )
        lay.addWidget(self.model)
        lay.addWidget(self._target_box())
        lay.addWidget(self._object_box())
        lay.addWidget(self._stack_box())
        self.replay = ReplayPanel(self.ctl)  # re-run committed objects with new weights
        lay.addWidget(self.replay)
        self.help = QLabel(K.help_html())
        self.help.setWordWrap(True)
        help_box = QGroupBox("Help")
        QVBoxLayout(help_box).addWidget(self.help)
        lay.addWidget(help_box)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        lay.addStretch(1)
        for ev in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            ev.connect(self._refresh_layers)
        self._warned: set = set()
        self._refresh_layers()
        if autoload and self.model.loaded_label is None:
            self.model.load_model()

    # --------------------------------------------------------------- build
    def _target_box(self) -> QGroupBox:
        box = QGroupBox("Image and labels")
        form = QFormLayout(box)
        self.image_combo = LiveCombo(self._image_names)
        self.image_combo.currentTextChanged.connect(self._on_image_changed)
        self.labels_combo = LiveCombo(self._labels_names)
        self.labels_combo.currentTextChanged.connect(
            lambda t: setattr(self.ctl, "labels_name", t or NEW_LABELS)
        )
        self.mode = QComboBox()
        self.mode.addItems(list(COMMIT_MODES))
        self.mode.setToolTip(
            "keep: never overwrite other objects (default); overwrite; background: only empty pixels"
        )
        self.mode.currentTextChanged.connect(lambda t: setattr(self.ctl, "mode", t))
        self.label_id = spin(0, 2**31 - 1, 0, "next free (max+1)")
        self.label_id.valueChanged.connect(lambda v: setattr(self.ctl, "label_id", v))
        self.semantic = QCheckBox("semantic ('stuff'): write class")
        self.class_value = spin(1, 65535, 1)
        self.semantic.toggled.connect(lambda v: setattr(self.ctl, "semantic", v))
        self.class_value.valueChanged.connect(lambda v: setattr(self.ctl, "class_value", v))
        sem = QHBoxLayout()
        sem.addWidget(self.semantic)
        sem.addWidget(self.class_value)
        for name, w in (
            ("Image", self.image_combo),
            ("Labels", self.labels_combo),
            ("Commit mode", self.mode),
            ("New id", self.label_id),
        ):
            form.addRow(name, w)
        form.addRow(sem)
        return box

    def _object_box(self) -> QGroupBox:
        box = QGroupBox("Object")
        grid = QVBoxLayout(box)
        self.toggle_btn = button(self._toggle_text(), self.toggle_polarity)
        self.edit_id = spin(0, 2**31 - 1, 0, "id under last click")
        rows = [
            [
                button(K.button_text("Segment", "segment"), self.ctl.segment),
                button(K.button_text("Commit", "commit"), self.ctl.commit),
            ],
            [self.toggle_btn, button(K.button_text("Clear", "clear"), self.ctl.clear)],
            [
                button(K.button_text("Undo click", "undo_click"), self.ctl.undo_click),
                button(K.button_text("Redo click", "redo_click"), self.ctl.redo_click),
            ],
            [self.edit_id, button(K.button_text("Edit id", "edit"), self.edit_label)],
            [button("Export provenance JSON...", self.export_provenance)],
        ]
        for items in rows:
            row = QHBoxLayout()
            for w in items:
                row.addWidget(w)
            grid.addLayout(row)
        return box

    def _stack_box(self) -> QGroupBox:
        box = QGroupBox("Stack propagation")
        form = QFormLayout(box)
        self.z_min = spin(-1, 10**6, -1, "first")
        self.z_max = spin(-1, 10**6, -1, "last")
        self.iou = spin(0.0, 1.0, 0.5, step=0.05)
        self.margin = spin(0, 500, 3)
        lim = QHBoxLayout()
        lim.addWidget(self.z_min)
        lim.addWidget(self.z_max)
        form.addRow("Slice limits", lim)
        form.addRow("Stop if IoU <", self.iou)
        form.addRow("Box margin (px)", self.margin)
        row = QHBoxLayout()
        row.addWidget(button(K.button_text("Propagate", "propagate"), self.propagate))
        row.addWidget(button("Cancel", self.prop.cancel))
        form.addRow(row)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m slices")
        form.addRow(self.progress)
        return box

    # ------------------------------------------------------------- layers
    def _image_names(self) -> list[str]:
        return [ly.name for ly in self.viewer.layers if isinstance(ly, Image)]

    def _labels_names(self) -> list[str]:
        names = [
            ly.name
            for ly in self.viewer.layers
            if isinstance(ly, Labels) and ly.name not in PLUGIN_LAYERS
        ]
        return [*names, NEW_LABELS]

    def _refresh_layers(self, event=None) -> None:
        self.image_combo.refresh()
        self.labels_combo.refresh()
        if self.ctl.labels_name in self._labels_names():
            self.labels_combo.setCurrentText(self.ctl.labels_name)
        if self.ctl.image is None or self.ctl.image.name not in self._image_names():
            active = self.viewer.layers.selection.active
            if isinstance(active, Image):
                self.image_combo.setCurrentText(active.name)
            self._on_image_changed(self.image_combo.currentText())

    def _select_labels(self, name: str) -> None:
        self.labels_combo.refresh()
        self.labels_combo.setCurrentText(name)

    def _on_image_changed(self, name: str) -> None:
        layer = self.viewer.layers[name] if name in self.viewer.layers else None
        self.ctl.set_image(layer if isinstance(layer, Image) else None)
        if isinstance(layer, Image):
            self._match_model(layer)
        if self.ctl.points is not None:
            K.bind_all(self.viewer, [self.ctl.points, self.ctl.box], self._handlers())

    def _on_weights_listed(self) -> None:
        if isinstance(self.ctl.image, Image):
            self._match_model(self.ctl.image)

    def _match_model(self, layer) -> None:
        """The starter of the image's domain, or a warning that the model in use is not for it."""
        msg = self.model.match_image(layer, getattr(self.ctl.session.predictor, "domain", None))
        if msg and (layer.name, msg) not in self._warned:
            self._warned.add((layer.name, msg))
            show_warning(msg)

    def _handlers(self) -> dict:
        c = self.ctl
        return {
            "segment": c.segment,
            "commit": c.commit,
            "clear": c.clear,
            "toggle": self.toggle_polarity,
            "undo_click": c.undo_click,
            "redo_click": c.redo_click,
            "edit": self.edit_label,
            "propagate": self.propagate,
            "undo_commit": c.undo_commit,
            "redo_commit": c.redo_commit,
        }

    # ------------------------------------------------------------- actions
    def _toggle_text(self) -> str:
        sign = "+ positive" if self.ctl.polarity_positive else "- negative"
        return f"Clicks: {sign} [{K.key_text('toggle')}]"

    def toggle_polarity(self) -> None:
        self.ctl.toggle_polarity()
        self.toggle_btn.setText(self._toggle_text())

    def edit_label(self) -> None:
        self.ctl.edit_label(self.edit_id.value() or None)

    def propagate(self) -> None:
        zmin, zmax = self.z_min.value(), self.z_max.value()
        try:
            self.prop.config = PropagationConfig(
                margin=self.margin.value(),
                iou_threshold=self.iou.value(),
                z_min=None if zmin < 0 else zmin,
                z_max=None if zmax < 0 else zmax,
            )
        except PropagationError as err:
            show_warning(str(err))
            return
        self.progress.setValue(0)
        self.prop.start()

    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self._set_status(text)

    def _on_prop_done(self, text: str) -> None:
        self.progress.setValue(self.progress.maximum())
        self._set_status(text)
        show_info(text)

    def export_provenance(self, path: str | None = None) -> None:
        labels = self.ctl.target_labels(create=False)
        if labels is None:
            show_warning("No Labels layer yet: commit an object first.")
            return
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Save provenance", f"{labels.name}.iog.json", "JSON (*.json)"
            )
            if not path:
                return
        show_info(
            f"Provenance of {len(labels.metadata.get('napari_iog', {}).get('objects', []))} commit(s) saved to {export_json(labels, path)}"
        )

    def load_model(self) -> None:
        self.model.load_model()

    def use_weights(self, predictor: PromptPredictor, source: str, name: str) -> None:
        """Use ``predictor``, made from weights ``source`` (a name or a path, e.g. a freshly
        fine-tuned checkpoint), and select ``source`` in the picker: the picker never names
        other weights than the ones in use. ``name``: the predictor's label in provenance."""
        self.model.user_chose = True
        self.model.refresh_choices()
        self.model.choose(str(source))
        self.model.loaded_label = self.weights.currentText()
        self.set_predictor(predictor, name)

    def set_predictor(self, predictor: PromptPredictor, name: str | None = None) -> None:
        """Use ``predictor`` (tests, scripts); a weights load still in flight is ignored."""
        self.model.cancel_load()
        self.ctl.set_predictor(predictor, name)
        self.model.show_threshold(getattr(predictor, "mask_threshold", None))
        classical = isinstance(predictor, Predictor) and predictor.classical
        tag = "CLASSICAL predictor (not IOG) - " if classical else ""
        self.model_info.setText(f"{tag}{self.ctl.predictor_name.replace(' (not IOG)', '')}")

    def _set_status(self, msg: str) -> None:
        self.status.setText(msg)
