"""The docks scroll: in a 1030-px-high window the annotator's help table (down to its Ctrl+Z
rows) can be scrolled into view, and the three napari-iog widgets docked together do not grow
the window beyond the screen (they used to: minimum 554x969 each, window 1836 px high)."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QPoint
from qtpy.QtWidgets import QApplication


def test_docks_scroll_and_fit_the_screen(make_napari_viewer, qtbot):
    from napari_iog._napari.finetune_widget import FinetuneWidget
    from napari_iog._napari.harvest_widget import HarvestWidget
    from napari_iog._napari.widget import AnnotatorWidget

    viewer = make_napari_viewer(show=True)
    viewer.add_image(np.zeros((5, 64, 64), np.uint8), name="em")
    win = viewer.window._qt_window
    screen = QApplication.primaryScreen().availableGeometry()
    height = min(1030, screen.height())
    win.resize(1400, height)
    w = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(w, name="IOG Annotator", area="right")
    qtbot.wait(100)
    assert w.minimumSizeHint().height() < 400
    assert w.help.height() > 0 and w.scroll_area.widget().isAncestorOf(w.help)
    bar = w.scroll_area.verticalScrollBar()
    bar.setValue(bar.maximum())
    qtbot.wait(50)
    bottom = w.help.mapTo(w.scroll_area.viewport(), QPoint(0, w.help.height())).y()
    assert bottom <= w.scroll_area.viewport().height() + 6  # the last help row is in view (margins)
    assert "Ctrl+Shift+Z" in w.help.text()

    ft = FinetuneWidget(viewer)
    hv = HarvestWidget(viewer)
    viewer.window.add_dock_widget(ft, name="IOG Fine-tuning", area="right")
    viewer.window.add_dock_widget(hv, name="IOG Harvest", area="right")
    qtbot.wait(200)
    assert win.frameGeometry().height() <= screen.height() + 40, (win.height(), screen)
    assert win.height() <= max(height, screen.height())
