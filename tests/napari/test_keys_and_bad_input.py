"""Shortcuts (bound on viewer and prompt layers, shown in buttons, no napari clash) and bad input:
each case notifies what to do and writes nothing to any Labels layer."""

from __future__ import annotations

import numpy as np
import pytest
from napari.utils.key_bindings import coerce_keybinding

from napari_iog._napari import keybindings as K
from napari_iog._napari.layers import LABELS_NAME
from tests.napari.conftest import click, wait_result


def test_shortcuts_bound_everywhere_and_free_in_napari(annotator):
    from napari.utils.shortcuts import default_shortcuts
    from qtpy.QtWidgets import QPushButton

    viewer, w = annotator
    napari_keys = {
        str(k).replace("Ctrl", "Control").replace("+", "-")
        for ks in default_shortcuts.values()
        for k in ks
    }
    for action, (key, _) in K.SHORTCUTS.items():
        if action not in ("undo_commit", "redo_commit"):  # these mirror napari's own Labels keys
            assert coerce_keybinding(key) not in napari_keys, f"{key} clashes with a napari default"
        for target in (viewer, w.ctl.points, w.ctl.box):
            assert coerce_keybinding(key) in target.keymap, (action, target)
    texts = " ".join(b.text() for b in w.findChildren(QPushButton))
    for action in ("segment", "commit", "clear", "undo_click", "propagate", "edit"):
        assert f"[{K.key_text(action)}]" in texts
    assert "Shift+C" in w.help.text() and "Ctrl+Z" in w.help.text()


def test_keys_drive_the_loop(annotator, qtbot):
    viewer, w = annotator
    ctl = w.ctl
    for rc in ((20, 20), (50, 50), (35, 35)):
        click(ctl, 0, *rc)
    wait_result(qtbot, ctl)
    pts = ctl.points

    def press(key):
        pts.keymap[coerce_keybinding(key)](pts)

    press("N")
    assert not ctl.polarity_positive and "negative" in w.toggle_btn.text()
    press("Shift-C")
    labels = viewer.layers[LABELS_NAME]
    committed = labels.data.copy()
    assert committed.max() == 1
    press("Control-Z")
    assert labels.data.max() == 0
    press("Control-Shift-Z")
    np.testing.assert_array_equal(labels.data, committed)
    for rc in ((20, 20), (50, 50)):
        click(ctl, 0, *rc)
    press("Shift-S")  # box only: segment without inside click
    res = wait_result(qtbot, ctl)
    assert res.prompt.inside is None
    press("Shift-X")
    assert ctl.session.result is None and len(pts.data) == 0
    np.testing.assert_array_equal(labels.data, committed)


@pytest.fixture
def warnings_seen(monkeypatch):
    seen = []
    import napari_iog._napari.commit as commit
    import napari_iog._napari.controller as controller
    import napari_iog._napari.labels_ops as labels_ops
    import napari_iog._napari.layers as layers

    for mod in (controller, layers, commit, labels_ops):
        for name in ("show_warning", "show_error", "show_info"):
            if hasattr(mod, name):
                monkeypatch.setattr(mod, name, seen.append)
    return seen


def _widget(viewer, predictor):
    from napari_iog._napari.widget import AnnotatorWidget

    w = AnnotatorWidget(viewer, autoload=False)
    if predictor is not None:
        w.set_predictor(predictor, "tiny")
    return w


@pytest.mark.parametrize(
    "image, kw",
    [
        (np.zeros((1, 1), np.uint8), {}),
        (np.zeros((64, 64), np.float32), {}),
        (np.full((64, 64), np.nan, np.float32), {}),
        (np.zeros((64, 64, 4), np.uint8), {"rgb": True}),
    ],
    ids=["1px", "all-zero", "nan", "rgba"],
)
def test_degenerate_images_notify_and_write_nothing(
    make_napari_viewer, tiny_predictor, qtbot, warnings_seen, image, kw
):
    viewer = make_napari_viewer()
    viewer.add_image(image, name="img", **kw)
    labels = viewer.add_labels(np.zeros(image.shape[:2], np.int32), name="L")
    w = _widget(viewer, tiny_predictor)
    w.labels_combo.refresh()
    w.labels_combo.setCurrentText("L")
    ctl = w.ctl
    for rc in ((5, 5), (40, 40), (20, 20)):
        click(ctl, 0, *rc)
    qtbot.waitUntil(lambda: not ctl.busy, timeout=20000)
    if ctl.session.result is None or image.shape[0] == 1:
        assert warnings_seen, "a bad image must give a notification"
        assert ctl.commit() is None
    assert labels.data.max() == 0 or ctl.session.result is not None
    if image.shape[0] == 1:
        assert any("outside" in m or "at least" in m for m in map(str, warnings_seen))


def test_errors_tell_what_to_do(make_napari_viewer, tiny_predictor, qtbot, warnings_seen):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((3, 40, 40), np.uint8), name="stack")
    w = _widget(viewer, None)
    ctl = w.ctl
    for rc in ((5, 5), (30, 30), (15, 15)):
        click(ctl, 1, *rc)
    qtbot.waitUntil(lambda: not ctl.busy, timeout=20000)
    assert any("No model is loaded" in str(m) for m in warnings_seen)  # no weights
    assert LABELS_NAME not in viewer.layers  # nothing written
    w.set_predictor(tiny_predictor, "tiny")
    ctl.segment()
    wait_result(qtbot, ctl)
    click(ctl, 1, 200, 200)  # correction click outside the image / crop
    qtbot.waitUntil(lambda: not ctl.busy, timeout=20000)
    assert any("outside" in str(m).lower() or "crop" in str(m).lower() for m in warnings_seen[1:])
    viewer.dims.set_current_step(0, 2)
    click(ctl, 2, 10, 10)  # a click on another slice than the object
    qtbot.waitUntil(lambda: not ctl.busy, timeout=20000)
    assert any("another slice" in str(m) for m in warnings_seen)
    wrong = viewer.add_labels(np.zeros((40, 41), np.int32), name="wrong")
    w.labels_combo.refresh()
    w.labels_combo.setCurrentText("wrong")
    assert ctl.commit() is None and wrong.data.max() == 0
    assert any("shape" in str(m) for m in warnings_seen)
    multichannel = viewer.add_image(np.zeros((40, 40, 3), np.uint8), name="yxc", rgb=False)
    w.image_combo.refresh()
    w.image_combo.setCurrentText(multichannel.name)
    assert any("RGB" in str(m) for m in warnings_seen)


def test_worker_error_is_a_notification(make_napari_viewer, qtbot, warnings_seen):
    class Broken:
        supports_refinement = False

        def set_image(self, *a, **k):
            pass

        def predict(self, prompt):
            raise RuntimeError("CUDA out of memory (simulated)")

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((40, 40), np.uint8), name="img")
    w = _widget(viewer, Broken())
    for rc in ((5, 5), (30, 30), (15, 15)):
        click(w.ctl, 0, *rc)
    qtbot.waitUntil(lambda: not w.ctl.busy, timeout=20000)
    assert any("Prediction failed" in str(m) and "CPU" in str(m) for m in warnings_seen)
    assert w.ctl.session.result is None and LABELS_NAME not in viewer.layers


def test_huge_image_only_crop_processed(make_napari_viewer, tiny_predictor, qtbot):
    """A 20k x 20k plane (lazy, never materialised): the preview is a small window."""
    da = pytest.importorskip("dask.array")
    viewer = make_napari_viewer()
    big = da.zeros((20000, 20000), dtype=np.uint8, chunks=2048)
    viewer.add_image(big, name="big", contrast_limits=(0, 255), multiscale=False)
    w = _widget(viewer, tiny_predictor)
    for rc in ((10000, 10000), (10040, 10050), (10020, 10025)):
        click(w.ctl, 0, *rc)
    res = wait_result(qtbot, w.ctl)
    assert res.image_shape == (20000, 20000) and res.mask.size < 200 * 200
    assert viewer.layers["IOG preview"].data.size <= res.mask.size  # zoomed out: pooled


def test_docs_shortcut_table_matches_the_bindings():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "annotating.md").read_text()
    for key, text in K.help_rows():
        assert f"| {key} | {text} |" in doc
    for png in ("annotator_em.png", "annotator_aerial.png", "propagation_em.png"):
        assert f"images/{png}" in doc
        assert (
            Path(__file__).resolve().parents[2] / "docs" / "images" / png
        ).stat().st_size > 10000
