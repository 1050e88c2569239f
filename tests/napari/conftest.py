"""Fixtures for the annotator GUI tests (headless: run under ``xvfb-run -a``).

The tiny IOG net (``iog-tiny-refine``, crop 64) is random-init; its final layer is set to a
constant positive logit so that every prediction is the whole (box + relax) crop window: label
contents are then exactly predictable. Encoder runs are counted to prove refinement clicks do not
re-run the backbone.
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def tiny_predictor():
    torch = pytest.importorskip("torch")
    from napari_iog.inference import IOGPredictor
    from napari_iog.models import build_model, get_profile

    torch.manual_seed(0)
    model = build_model("iog-tiny-refine")
    with torch.no_grad():
        final = model.Fine_net.final_predict[2]
        final.weight.zero_()
        final.bias.fill_(6.0)
    pred = IOGPredictor(model, get_profile("iog-tiny-refine")[1], device="cpu")
    pred.encoder_runs = 0
    encode = pred._encode

    def counting(x):
        pred.encoder_runs += 1
        return encode(x)

    pred._encode = counting
    return pred


def em_stack(n=5, size=96):
    from napari_iog._napari.samples import make_em_stack

    return make_em_stack(n=n, size=size, seed=1)


@pytest.fixture
def annotator(make_napari_viewer, tiny_predictor, qtbot):
    """(viewer, widget) with a 5x96x96 stack (scale (2, 1.5, 1.5), translate (0, 10, -5)) and the
    tiny predictor; the widget is docked, no weights are auto-loaded."""
    from napari_iog._napari.widget import AnnotatorWidget

    viewer = make_napari_viewer()
    viewer.add_image(em_stack(), name="em", scale=(2.0, 1.5, 1.5), translate=(0.0, 10.0, -5.0))
    widget = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(widget, name="IOG Annotator")
    widget.set_predictor(tiny_predictor, "tiny test net")
    qtbot.waitUntil(lambda: widget.model.ready, timeout=60000)  # the weights list (a worker)
    return viewer, widget


def click(ctl, z, row, col):
    """Add a point at image pixel (row, col) of slice z (in the points layer's data coords)."""
    from qtpy.QtWidgets import QApplication

    coords = [z, row, col] if ctl.image.ndim == 3 else [row, col]
    ctl.points.add(np.array([coords], dtype=float))
    QApplication.processEvents()  # the controller reads the layer once the event loop runs


def wait_result(qtbot, ctl, timeout=20000):
    qtbot.waitUntil(lambda: not ctl.busy, timeout=timeout)
    assert ctl.session.result is not None
    return ctl.session.result


def canvas_pos(viewer, world_row, world_col):
    """The canvas widget position (QPoint, logical pixels) showing world (row, col) in 2D."""
    from qtpy.QtCore import QPoint

    native = viewer.window._qt_viewer.canvas.native
    cam = viewer.camera
    x = (world_col - cam.center[-1]) * cam.zoom + native.width() / 2
    y = (world_row - cam.center[-2]) * cam.zoom + native.height() / 2
    return QPoint(int(round(x)), int(round(y)))


def mouse_click(qtbot, viewer, world_row, world_col):
    """A real left click (press + release) on the vispy canvas at world (row, col)."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    native = viewer.window._qt_viewer.canvas.native
    pos = canvas_pos(viewer, world_row, world_col)
    qtbot.mouseMove(native, pos)
    qtbot.mouseClick(native, Qt.MouseButton.LeftButton, pos=pos)
    QApplication.processEvents()
