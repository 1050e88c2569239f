"""Small Qt helpers shared by the annotator's panels."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    import napari

W = TypeVar("W")


class LiveCombo(QComboBox):
    """A combo box that refreshes its items from ``source()`` every time it opens."""

    def __init__(self, source: Callable[[], list[str]], parent: QWidget | None = None):
        super().__init__(parent)
        self._source = source

    def refresh(self) -> None:
        current = self.currentText()
        items = self._source()
        if items != [self.itemText(i) for i in range(self.count())]:
            self.blockSignals(True)
            self.clear()
            self.addItems(items)
            self.blockSignals(False)
        if current in items:
            self.setCurrentText(current)

    def showPopup(self) -> None:  # noqa: N802 - Qt override
        self.refresh()
        super().showPopup()


def spin(
    lo: float, hi: float, value: float, special: str = "", step: float | None = None
) -> QSpinBox | QDoubleSpinBox:
    """A QSpinBox (QDoubleSpinBox when ``step`` is a float) with range, value, special text."""
    box = QDoubleSpinBox() if isinstance(step, float) else QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    if step is not None:
        box.setSingleStep(step)
    if special:
        box.setSpecialValueText(special)
    return box


def button(text: str, slot: Callable[[], object], tip: str = "") -> QPushButton:
    b = QPushButton(text)
    b.clicked.connect(lambda *_: slot())
    b.setToolTip(tip)
    return b


def find_dock_widget(viewer: napari.Viewer, cls: type[W]) -> W | None:
    """The docked widget of class ``cls`` in ``viewer`` (or the one a dock wraps), or None."""
    for w in viewer.window.dock_widgets.values():
        inner = getattr(w, "widget", None)
        inner = inner() if callable(inner) else inner
        for candidate in (w, inner):
            if isinstance(candidate, cls):
                return candidate
    return None


def scroll_layout(outer: QWidget) -> QVBoxLayout:
    """Put a frameless, vertically scrolling area into the QWidget ``outer`` and return the
    layout of its content: a dock built on it never forces the window taller than the screen."""
    content = QWidget()
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(content)
    lay = QVBoxLayout(outer)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(area)
    outer.scroll_area = area
    return QVBoxLayout(content)
