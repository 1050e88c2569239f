"""The annotator and `napari-iog demo` with the shipped starters: the model that matches the image
is preselected and loaded, `demo --weights` takes a path or a cached name (it used to abort the
process), a model for the other domain warns once, and the picker follows new checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from tests.napari.conftest import click, wait_result

torch = pytest.importorskip("torch")


def _tiny_checkpoint(path):
    from napari_iog.models import build_model, get_profile
    from napari_iog.models.checkpoint import save_checkpoint

    torch.manual_seed(0)
    mc, pre = get_profile("iog-tiny-refine")
    return save_checkpoint(path, build_model(mc), pre, {"data": "tiny test"})


def test_demo_segments_the_sample_with_the_em_starter(make_napari_viewer, qtbot):
    from napari_iog._napari.demo import open_demo
    from napari_iog.inference import IOGPredictor

    viewer, w = open_demo("em-synthetic", viewer=make_napari_viewer())
    try:
        qtbot.waitUntil(lambda: w.model.ready, timeout=60000)  # the list is read in a worker
        assert w.weights.currentData() == "iog-em"
        qtbot.waitUntil(lambda: isinstance(w.ctl.session.predictor, IOGPredictor), timeout=30000)
        assert w.ctl.session.predictor.domain == "em"
        assert "CLASSICAL" not in w.model_info.text() and "iog-em" in w.weights.currentText()
        for rc in ((60, 60), (120, 120), (90, 90)):  # box corners, then the inside click
            click(w.ctl, 0, *rc)
        res = wait_result(qtbot, w.ctl)
        assert 0 < res.area < 61 * 61
    finally:
        w.model.cancel_load()


@pytest.mark.parametrize("how", ["path", "cached name"])
def test_demo_weights_option_takes_a_path_or_a_cached_name(
    make_napari_viewer, qtbot, tmp_path, monkeypatch, how
):
    from napari_iog._napari.demo import open_demo
    from napari_iog.models.weights import import_weights

    monkeypatch.setenv("NAPARI_IOG_CACHE", str(tmp_path / "cache"))
    path = _tiny_checkpoint(tmp_path / "tiny.pt")
    source = str(path) if how == "path" else "tiny"
    if how == "cached name":
        import_weights(path, "tiny")
    viewer, w = open_demo("em-synthetic", weights=source, viewer=make_napari_viewer())
    try:
        qtbot.waitUntil(lambda: w.model.ready, timeout=60000)
        assert w.weights.currentData() == source
        qtbot.waitUntil(lambda: w.ctl.session.predictor is not None, timeout=30000)
        assert w.ctl.session.predictor.model.config.backbone == "tiny"  # not the starter
        assert w.model.loaded_label == w.weights.currentText()
    finally:
        w.model.cancel_load()


def test_annotator_preselects_the_starter_of_each_image(make_napari_viewer, qtbot):
    from napari_iog._napari.widget import AnnotatorWidget

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((64, 64, 3), np.uint8), name="tile", rgb=True)
    w = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(w, name="IOG Annotator")
    qtbot.waitUntil(lambda: w.model.ready, timeout=60000)
    assert w.weights.currentData() == "iog-aerial"
    viewer.add_image(np.zeros((3, 64, 64), np.uint16), name="stack")
    w.image_combo.refresh()
    w.image_combo.setCurrentText("stack")
    assert w.weights.currentData() == "iog-em"


def test_other_domain_model_warns_once_and_names_the_match(make_napari_viewer, qtbot, monkeypatch):
    from napari_iog._napari import widget as W
    from napari_iog._napari.widget import AnnotatorWidget
    from napari_iog.inference import IOGPredictor

    warned = []
    monkeypatch.setattr(W, "show_warning", warned.append)
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((64, 64), np.uint8), name="em")
    w = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(w, name="IOG Annotator")
    qtbot.waitUntil(lambda: w.model.ready, timeout=60000)
    w.model.user_chose = True
    w.set_predictor(IOGPredictor.from_weights("iog-em", device="cpu"), "iog-em")
    viewer.add_image(np.zeros((64, 64, 3), np.uint8), name="tile", rgb=True)
    for _ in range(2):
        w.image_combo.refresh()
        w.image_combo.setCurrentText("tile")
        w.image_combo.setCurrentText("em")
    assert len(warned) == 1 and "iog-aerial" in warned[0] and "EM" in warned[0]


def test_picker_lists_a_checkpoint_written_after_it_was_built(
    make_napari_viewer, tmp_path, monkeypatch
):
    from napari_iog._napari.widget import AnnotatorWidget

    monkeypatch.setenv("NAPARI_IOG_CACHE", str(tmp_path))
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((64, 64), np.uint8), name="em")
    w = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(w, name="IOG Annotator")
    assert w.weights.findData("later") < 0
    _tiny_checkpoint(tmp_path / "checkpoints" / "later.pt")
    w.weights.showPopup()  # opening the picker re-reads the cache
    w.weights.hidePopup()
    assert w.weights.findData("later") >= 0 and w.weights.currentData() == "iog-em"
