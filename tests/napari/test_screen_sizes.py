"""Prompt markers, the box outline and the preview contour keep their size on screen whatever
the image size and zoom (they used to be sized in image pixels: 133-px discs on an 8000x8000
tile), and two corner clicks made with the mouse draw the box between them."""

from __future__ import annotations

import numpy as np
import pytest

from napari_iog._napari import overlays as O
from napari_iog._napari.layers import DERIVED, PREVIEW_NAME, read_box
from tests.napari.conftest import mouse_click, wait_result


@pytest.fixture
def big(make_napari_viewer, tiny_predictor, qtbot):
    """A 2000x2000 grey image (scale 0.5) in a shown viewer with the annotator docked."""
    from napari_iog._napari.widget import AnnotatorWidget

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1200, 900)
    img = np.random.default_rng(0).integers(0, 255, (2000, 2000), dtype=np.uint8)
    viewer.add_image(img, name="big", scale=(0.5, 0.5))
    w = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(w, name="IOG Annotator")
    w.set_predictor(tiny_predictor, "tiny test net")
    viewer.reset_view()
    qtbot.wait(50)
    return viewer, w


def _on_screen(viewer, ctl):
    """(marker px, box edge px, contour px) on screen at the current zoom."""
    per_data_px = viewer.camera.zoom * 0.5
    prev = viewer.layers[PREVIEW_NAME]
    return (
        float(ctl.points.current_size) * per_data_px,
        float(ctl.box.current_edge_width) * per_data_px,
        prev.contour * per_data_px,
    )


def _marker_area(viewer, ctl):
    """Screen pixels covered by the markers alone (other layers hidden)."""
    shown = {ly.name: ly.visible for ly in viewer.layers}
    for ly in viewer.layers:
        ly.visible = ly is ctl.points
    shot = viewer.screenshot(canvas_only=True, flash=False)
    for ly in viewer.layers:
        ly.visible = shown[ly.name]
    return int(np.count_nonzero(shot[..., :3].max(axis=-1) > 60))


def test_mouse_corner_clicks_draw_the_box_and_sizes_stay_on_screen(big, qtbot):
    viewer, w = big
    ctl = w.ctl
    assert ctl.points.canvas_size_limits == (O.MARKER_PX, O.MARKER_PX)
    # two real mouse clicks on the canvas: the corners (world = pixel * 0.5)
    mouse_click(qtbot, viewer, 200.0, 250.0)
    mouse_click(qtbot, viewer, 300.0, 400.0)
    qtbot.waitUntil(lambda: len(ctl.points.data) == 2 and not ctl.busy, timeout=5000)
    shapes = ctl.box
    derived = [i for i, f in enumerate(shapes.features[DERIVED]) if f]
    assert len(derived) == 1 and shapes.shape_type[derived[0]] == "rectangle"
    verts = np.asarray(shapes.data[derived[0]])
    np.testing.assert_allclose(verts.min(0), [400, 500], atol=3)  # image pixels
    np.testing.assert_allclose(verts.max(0), [600, 800], atol=3)
    assert read_box(shapes, ctl.image, ()) is None  # the clicks stay the prompt
    # inside click: preview; the outline stays; the sizes are those of the screen
    mouse_click(qtbot, viewer, 250.0, 325.0)
    wait_result(qtbot, ctl)
    assert ctl.session.result.prompt.box.as_tuple() == pytest.approx((400, 500, 600, 800), abs=3)
    sizes_fit = _on_screen(viewer, ctl)
    np.testing.assert_allclose(sizes_fit[:2], (O.MARKER_PX, O.BOX_PX), rtol=0.05)
    area_fit = _marker_area(viewer, ctl)
    contour_fit = viewer.layers[PREVIEW_NAME].contour
    viewer.camera.center = (250.0, 325.0)
    viewer.camera.zoom *= 6  # zoom in on the object: image pixels grow 6x on screen
    qtbot.wait(20)
    sizes_in = _on_screen(viewer, ctl)
    np.testing.assert_allclose(sizes_in[:2], (O.MARKER_PX, O.BOX_PX), rtol=0.05)
    assert viewer.layers[PREVIEW_NAME].contour <= contour_fit
    assert sizes_in[2] <= max(O.CONTOUR_PX, viewer.camera.zoom * 0.5) + 1e-6
    area_in = _marker_area(viewer, ctl)
    # three markers: the same screen area at both zooms (they used to grow 36x in area)
    assert area_fit > 0 and 0.6 < area_in / area_fit < 1.6, (area_fit, area_in)
    # removing a corner removes the outline
    ctl.clear()
    assert len(ctl.box.data) == 0
