"""Issue 20 item 14: the model sees an image from its pixels, never from hidden display state:
numpy and multiscale layers of the same pixels give the same mask, the contrast slider changes
nothing, and every commit records the rule in its provenance."""

from __future__ import annotations

import numpy as np

from napari_iog._napari.provenance import records
from napari_iog.structures import BBox, Click, Prompt


def _image():
    rng = np.random.default_rng(3)
    img = (rng.integers(0, 400, (160, 160)) + 3000).astype(np.uint16)
    img[40:110, 50:120] -= 1500
    img[41::2, 61::2][:3, :3] = 60000  # outliers only level 0 holds: napari's auto limits differ
    return img


PROMPT = Prompt(BBox(30, 40, 120, 130), Click(75, 85, True))


def _mask(viewer, w, layer_name):
    ctl = w.ctl
    w.image_combo.setCurrentText(layer_name)
    assert ctl.image.name == layer_name
    ctl.leading = ()
    ctl._point_session()
    return ctl.session.run(PROMPT)


def test_numpy_multiscale_and_display_contrast_give_the_same_mask(make_napari_viewer, qtbot):
    from napari_iog._napari.widget import AnnotatorWidget
    from napari_iog.inference.classical import RandomWalkerPredictor

    viewer = make_napari_viewer()
    img = _image()
    viewer.add_image(img, name="plain")
    viewer.add_image([img, img[::2, ::2]], name="pyramid", multiscale=True)
    w = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(w)
    w.set_predictor(RandomWalkerPredictor(), "random walker")
    qtbot.waitUntil(lambda: w.model.ready, timeout=60000)
    plain = _mask(viewer, w, "plain")
    assert 3000 < plain.area < 9000
    pyramid = _mask(viewer, w, "pyramid")
    np.testing.assert_array_equal(plain.full_mask(), pyramid.full_mask())
    # the display contrast is not an input of the model
    viewer.layers["plain"].contrast_limits = (2500, 2800)
    w.ctl.clear()
    again = _mask(viewer, w, "plain")
    np.testing.assert_array_equal(plain.full_mask(), again.full_mask())
    assert w.ctl.commit() == 1
    rec = records(w.ctl.target_labels(create=False))[-1]
    assert rec["normalisation"] == {
        "rule": "plane 0.5-99.5 percentiles",
        "dtype": "uint16",
        "display_contrast_used": False,
    }
