"""Issue 20 item 9 / large images: zoomed out on a large image, the preview is drawn at about one
screen pixel per preview pixel (napari's contour of a full-resolution 300-px object cost ~2 s of
GUI time on an 8000x8000 tile), at the same place, without touching the image layer."""

from __future__ import annotations

import numpy as np


def test_zoomed_out_preview_is_pooled_in_place(make_napari_viewer, qtbot):
    from napari_iog._napari.layers import PREVIEW_NAME
    from napari_iog._napari.widget import AnnotatorWidget
    from napari_iog.inference.classical import BoxFillPredictor
    from napari_iog.structures import BBox, Click, Prompt

    viewer = make_napari_viewer(show=True)
    viewer.add_image(np.zeros((4000, 4000), np.uint8), name="big", scale=(0.5, 0.5))
    w = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(w)
    w.set_predictor(BoxFillPredictor(), "box fill")
    viewer.reset_view()
    qtbot.wait(50)
    ctl = w.ctl
    ctl.leading = ()
    ctl._point_session()
    ctl.runner.request(Prompt(BBox(1000, 1200, 1299, 1459), Click(1150, 1330, True)), ctl._token)
    qtbot.waitUntil(lambda: not ctl.busy, timeout=20000)
    qtbot.wait(20)
    image, prev = viewer.layers["big"], viewer.layers[PREVIEW_NAME]
    np.testing.assert_allclose(image.scale, (0.5, 0.5))  # the image layer is untouched
    step = prev.scale[-1] / 0.5
    assert step >= 2 and step == int(step)
    assert prev.contour <= 4  # a few preview pixels, not tens of image pixels
    # the pooled preview covers the box: same world extent within one preview pixel
    rows, cols = np.nonzero(prev.data)
    world = [
        prev.data_to_world((r, c)) for r, c in ((rows.min(), cols.min()), (rows.max(), cols.max()))
    ]
    lo = np.array(image.data_to_world((1000, 1200)))
    hi = np.array(image.data_to_world((1299, 1459)))
    np.testing.assert_allclose(world[0], lo, atol=prev.scale[-1])
    np.testing.assert_allclose(world[1], hi, atol=prev.scale[-1])
    # zooming in re-fits the contour for the preview's own pixels
    viewer.camera.zoom *= 8
    qtbot.wait(20)
    assert prev.contour == 1
