"""Smaller items of the annotator under real use: channel-first colour and the 3D display warn
once each, and the offline sample says in plain words what happened and what to do."""

from __future__ import annotations

import numpy as np


def _annotator(make_napari_viewer, monkeypatch):
    from napari_iog._napari import controller
    from napari_iog._napari.widget import AnnotatorWidget

    warned = []
    monkeypatch.setattr(controller, "show_warning", warned.append)
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((3, 64, 64), np.uint8), name="chw")
    viewer.add_image(np.zeros((64, 64), np.uint8), name="plain")
    w = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(w, name="IOG Annotator")
    return viewer, w, warned


def test_channel_first_colour_warns_once(make_napari_viewer, monkeypatch):
    viewer, w, warned = _annotator(make_napari_viewer, monkeypatch)
    for name in ("chw", "plain", "chw", "plain", "chw"):
        w.image_combo.setCurrentText(name)
    hits = [m for m in warned if "colour channels first" in m]
    assert len(hits) == 1 and "rgb=True" in hits[0] and "(3, 64, 64)" in hits[0]


def test_3d_display_warns_once(make_napari_viewer, monkeypatch):
    viewer, w, warned = _annotator(make_napari_viewer, monkeypatch)
    for nd in (3, 2, 3, 2):
        viewer.dims.ndisplay = nd
    hits = [m for m in warned if m.startswith("3D display")]
    assert len(hits) == 1 and "2D" in hits[0]


def test_offline_sample_warning_is_one_plain_sentence(monkeypatch):
    from napari.utils import notifications

    from napari_iog._napari import samples

    said = []
    monkeypatch.setattr(notifications, "show_warning", said.append)

    def offline(*a, **k):
        raise ConnectionError(
            "HTTPSConnectionPool(host='raw.githubusercontent.com', port=443): Max retries "
            'exceeded with url: /x.tif (Caused by NameResolutionError("<urllib3.connection.'
            'HTTPSConnection object at 0x7f>: Failed to resolve"))'
        )

    monkeypatch.setattr(samples, "_fetch", offline)
    layers = samples.aerial_tile()
    assert layers[0][1]["name"] == "synthetic aerial tile"
    (msg,) = said
    assert "urllib3" not in msg and "HTTPS" not in msg and "0x7f" not in msg
    assert "offline" in msg and "connect to the internet" in msg
    assert msg.count(". ") == 0 and len(msg) < 220
