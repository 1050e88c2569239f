"""The full annotation loop with a tiny IOG net: prompts -> preview -> commit -> refine ->
undo/redo -> propagate across a 5-slice stack -> edit an existing id, asserting label contents."""

from __future__ import annotations

import numpy as np

from napari_iog._napari.layers import LABELS_NAME, PREVIEW_NAME
from napari_iog._napari.provenance import records
from tests.napari.conftest import click, wait_result


def _segment(qtbot, ctl, z, box, inside):
    (r0, c0), (r1, c1) = box
    click(ctl, z, r0, c0)
    click(ctl, z, r1, c1)
    click(ctl, z, *inside)
    return wait_result(qtbot, ctl)


def test_prompt_preview_commit_refine_undo(annotator, qtbot):
    viewer, w = annotator
    ctl = w.ctl
    viewer.dims.set_current_step(0, 2)
    assert ctl.points.mode == "add" and viewer.layers.selection.active is ctl.points
    np.testing.assert_allclose(ctl.points.scale, viewer.layers["em"].scale)
    res = _segment(qtbot, ctl, 2, ((20, 20), (50, 45)), (35, 32))
    assert res.prompt.box.as_tuple() == (20, 20, 50, 45) and res.prompt.inside.row == 35
    # preview shows the window at the right place; nothing written before commit
    prev = viewer.layers[PREVIEW_NAME]
    assert prev.data.sum() == res.area > 0
    np.testing.assert_allclose(
        prev.translate, [4.0, 10 + 1.5 * res.origin[0], -5 + 1.5 * res.origin[1]]
    )
    assert LABELS_NAME not in viewer.layers
    # role colours: corners orange, inside yellow, next click = positive correction
    assert list(ctl.points.features["role"]) == ["outside", "outside", "inside"]
    assert ctl.points.feature_defaults["role"][0] == "positive"
    from napari.utils.colormaps.standardize_color import transform_color

    np.testing.assert_allclose(
        ctl.points.face_color[:, :3], transform_color(["orange", "orange", "yellow"])[:, :3]
    )

    assert ctl.commit() == 1
    labels = viewer.layers[LABELS_NAME]
    assert w.labels_combo.currentText() == LABELS_NAME
    expected = np.zeros(labels.data.shape, labels.data.dtype)
    expected[2][res.window] = res.mask
    np.testing.assert_array_equal(labels.data, expected)
    assert len(ctl.points.data) == 0 and prev.data.sum() == 0  # ready for the next object

    # object 2 overlaps object 1: keep mode preserves id 1; a negative click refines it
    runs = ctl.session.predictor.encoder_runs
    res2 = _segment(qtbot, ctl, 2, ((40, 40), (70, 70)), (55, 55))
    assert ctl.session.predictor.encoder_runs == runs + 1
    w.toggle_polarity()
    assert "negative" in w.toggle_btn.text()
    click(ctl, 2, 60, 60)
    res3 = wait_result(qtbot, ctl)
    assert res3 is not res2 and res3.prompt.clicks[0].positive is False
    assert ctl.session.predictor.encoder_runs == runs + 1  # refinement: no backbone re-run
    ctl.undo_click()
    assert ctl.session.result is res2 and len(ctl.points.data) == 1  # inside point only shown
    ctl.redo_click()
    assert ctl.session.result is res3
    before = labels.data.copy()
    assert ctl.commit() == 2
    after = labels.data.copy()
    assert (after[2] == 1).sum() == (before[2] == 1).sum()  # id 1 untouched (keep mode)
    new = np.zeros_like(after[2], bool)
    new[res3.window] = res3.mask
    np.testing.assert_array_equal(after[2] == 2, new & (before[2] == 0))
    # napari undo/redo: bit-identical
    ctl.undo_commit()
    np.testing.assert_array_equal(labels.data, before)
    ctl.redo_commit()
    np.testing.assert_array_equal(labels.data, after)
    recs = records(labels)
    assert [r["value"] for r in recs] == [1, 2] and recs[1]["prompt"]["clicks"][0][2] is False


def test_modes_semantic_and_chosen_id(annotator, qtbot):
    viewer, w = annotator
    ctl = w.ctl
    labels = viewer.add_labels(
        np.zeros((5, 96, 96), np.uint16), name="mine", scale=(2, 1.5, 1.5), translate=(0, 10, -5)
    )
    labels.data[1, 30:40, 30:40] = 7
    w.labels_combo.refresh()
    w.labels_combo.setCurrentText("mine")
    assert ctl.labels_name == "mine"
    w.semantic.setChecked(True)
    w.class_value.setValue(3)
    _segment(qtbot, ctl, 1, ((25, 25), (45, 45)), (35, 35))
    assert ctl.commit() == 3
    assert (labels.data[1, 30:40, 30:40] == 7).all() and (labels.data == 3).sum() > 0
    w.semantic.setChecked(False)
    w.mode.setCurrentText("overwrite")
    w.label_id.setValue(9)
    _segment(qtbot, ctl, 1, ((25, 25), (45, 45)), (35, 35))
    assert ctl.commit() == 9
    assert (labels.data[1, 30:40, 30:40] == 9).all() and not (labels.data == 3).any()


def test_propagate_and_edit(annotator, qtbot):
    viewer, w = annotator
    ctl = w.ctl
    res = _segment(qtbot, ctl, 2, ((30, 30), (60, 60)), (45, 45))
    assert ctl.commit() == 1
    labels = viewer.layers[LABELS_NAME]
    labels.data[0, :5, :5] = 42  # a manual edit outside the range must survive
    labels.data[3, 0:3, 0:3] = 5  # another object inside the range must survive (keep mode)
    before = labels.data.copy()
    w.z_min.setValue(1)
    w.z_max.setValue(3)
    w.iou.setValue(0.3)
    w.margin.setValue(0)
    w.propagate()
    qtbot.waitUntil(lambda: not w.prop.running, timeout=30000)
    assert "slices 1..3" in w.prop.last_summary and w.status.text() == w.prop.last_summary
    assert viewer.layers[PREVIEW_NAME].data.sum() == 0  # preview cleared after the commit
    for z in (1, 3):
        assert (labels.data[z] == 1).sum() > 0.5 * res.area
    np.testing.assert_array_equal(labels.data[0], before[0])
    np.testing.assert_array_equal(labels.data[4], before[4])
    assert (labels.data[3, 0:3, 0:3] == 5).all()
    assert w.progress.value() == w.progress.maximum()
    kinds = [r["kind"] for r in records(labels)]
    assert kinds.count("propagated") == 2
    ctl.undo_commit()  # the whole propagation is one undo step
    np.testing.assert_array_equal(labels.data, before)
    ctl.redo_commit()

    # edit id 1 on slice 2: the mask seeds box + inside; commit replaces id 1 only
    viewer.dims.set_current_step(0, 2)
    labels.data[2, 31:35, 31:35] = 6  # another object inside id 1's box
    assert ctl.edit_label(1)
    wait_result(qtbot, ctl)
    assert ctl.edit_id == 1 and list(ctl.points.features["role"]) == ["inside"]
    other = labels.data[[0, 1, 3, 4]].copy()
    assert ctl.commit() == 1
    assert (labels.data[2, 31:35, 31:35] == 6).all()  # other id kept
    np.testing.assert_array_equal(labels.data[[0, 1, 3, 4]], other)
    assert records(labels)[-1]["kind"] == "edit"


def test_edit_removes_stale_pixels_only(make_napari_viewer, qtbot):
    """Edit with a predictor that follows the image: the id's stray pixels outside the new mask
    are cleared, other ids are untouched, and Ctrl+Z restores bit-identically."""
    from napari_iog._napari.widget import AnnotatorWidget
    from tests._fake_predictor import FakePredictor

    viewer = make_napari_viewer()
    img = np.zeros((64, 64), np.uint8)
    img[10:30, 10:30] = 200
    viewer.add_image(img, name="squares")
    labels = viewer.add_labels(np.zeros((64, 64), np.int32), name="L")
    labels.data[10:30, 10:30] = 4
    labels.data[32:36, 32:36] = 4  # stray piece of id 4 (dark image there)
    labels.data[12:14, 12:14] = 8  # another object inside
    w = AnnotatorWidget(viewer, autoload=False)
    w.set_predictor(FakePredictor(), "fake")
    w.labels_combo.refresh()
    w.labels_combo.setCurrentText("L")
    before = labels.data.copy()
    w.edit_id.setValue(4)
    w.edit_label()
    wait_result(qtbot, w.ctl)
    assert w.ctl.session.result.prompt.box.as_tuple() == (5, 5, 40, 40)  # seeded, margin 5
    assert w.ctl.commit() == 4
    assert (labels.data[32:36, 32:36] == 0).all()
    assert (labels.data[12:14, 12:14] == 8).all()
    assert (labels.data == 4).sum() == 400 - 4
    w.ctl.undo_commit()
    np.testing.assert_array_equal(labels.data, before)


def test_rectangle_prompt_and_edit_under_click(annotator, qtbot):
    """A box drawn as a rectangle (Shapes layer, world coords with scale/translate) + one inside
    click; then Shift+E on a click over the committed object starts editing that id."""
    from napari_iog._napari.layers import pixel_to_world

    viewer, w = annotator
    ctl = w.ctl
    image = viewer.layers["em"]
    corners = [(10, 12), (10, 40), (30, 40), (30, 12)]
    verts = [ctl.box.world_to_data(pixel_to_world(image, (1,), r, c)) for r, c in corners]
    ctl.box.add_rectangles(np.array(verts))
    qtbot.waitUntil(lambda: not ctl.busy, timeout=5000)
    assert ctl.points.feature_defaults["role"][0] == "inside"  # the box is set: next = inside
    click(ctl, 1, 20, 25)
    res = wait_result(qtbot, ctl)
    assert res.prompt.box.as_tuple() == (10, 12, 30, 40)
    assert ctl.commit() == 1
    click(ctl, 1, 20, 25)  # a click on the committed object...
    qtbot.waitUntil(lambda: not ctl.busy, timeout=5000)
    assert ctl.edit_label() and ctl.edit_id == 1  # ...picks its id
    wait_result(qtbot, ctl)
    assert ctl.commit() == 1 and records(viewer.layers[LABELS_NAME])[-1]["kind"] == "edit"


def test_mask_threshold_recuts_the_preview_and_the_commit(annotator, qtbot):
    """The Model section's mask threshold: shows the loaded predictor's own value, re-cuts the
    preview at once without a new prediction, and the commit writes the re-cut mask."""
    from napari_iog.inference import RandomWalkerPredictor

    viewer, w = annotator
    ctl = w.ctl
    assert w.model.threshold.isEnabled() and w.model.threshold.value() == 0.5  # the tiny net's
    rw = RandomWalkerPredictor(ctl.session.predictor.preprocess)
    w.set_predictor(rw, "classical")
    assert w.model.threshold.value() == 0.2  # the walker's own default, shown, not applied
    viewer.dims.set_current_step(0, 2)
    res = _segment(qtbot, ctl, 2, ((20, 20), (50, 45)), (35, 32))
    assert res.threshold == 0.2
    prev = viewer.layers[PREVIEW_NAME]
    w.model.threshold.setValue(0.6)  # as the user does: the spin box's signal
    cut = ctl.session.result
    assert rw.threshold == 0.6 and cut.threshold == 0.6 and cut is not res
    assert not ctl.busy and 0 < cut.area < res.area and prev.data.sum() == cut.area
    assert "0.60" in w.status.text()
    ctl.undo_click()  # history was re-cut too: undo, redo show the same threshold
    ctl.redo_click()
    assert ctl.session.result.threshold == 0.6
    ctl.commit()
    labels = viewer.layers[LABELS_NAME]
    assert (labels.data[2] == 1).sum() == cut.area
    assert records(labels)[-1]["threshold"] == 0.6  # provenance says where it was cut
