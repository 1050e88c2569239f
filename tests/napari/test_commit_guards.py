"""Commits never pass silently when they write nothing or little, and editing an object starts
from its stored prompt and clicks (issue: edits used to restart from the mask and replace a
better mask with a worse one without a word)."""

from __future__ import annotations

import numpy as np

from napari_iog._napari.layers import LABELS_NAME
from napari_iog._napari.provenance import records
from tests.napari.conftest import click, wait_result


def _segment(qtbot, ctl, z, box, inside, corrections=()):
    (r0, c0), (r1, c1) = box
    for rc in ((r0, c0), (r1, c1), inside, *corrections):
        click(ctl, z, *rc)
    return wait_result(qtbot, ctl)


def test_commit_over_labelled_pixels_warns_and_writes_nothing(annotator, qtbot, monkeypatch):
    from napari_iog._napari import labels_ops

    warned = []
    monkeypatch.setattr(labels_ops, "show_warning", warned.append)
    viewer, w = annotator
    ctl = w.ctl
    viewer.dims.set_current_step(0, 1)
    _segment(qtbot, ctl, 1, ((20, 20), (40, 40)), (30, 30))
    assert ctl.commit() == 1
    labels = viewer.layers[LABELS_NAME]
    before, n_records = labels.data.copy(), len(records(labels))
    _segment(qtbot, ctl, 1, ((20, 20), (40, 40)), (30, 30))  # the same object again, keep mode
    assert ctl.commit() is None
    assert warned and "Nothing was committed" in warned[-1] and "overwrite" in warned[-1]
    np.testing.assert_array_equal(labels.data, before)
    assert len(records(labels)) == n_records  # no provenance for a commit that wrote nothing
    ctl.clear()  # the refused object stays for a mode change; the user clears it (Esc)
    _segment(qtbot, ctl, 1, ((24, 24), (44, 44)), (34, 34))  # mostly under id 1
    assert ctl.commit() == 2  # the next id, not 1 again and not 3
    assert "Only" in warned[-1] and "were free" in warned[-1]


def test_edit_restores_the_stored_prompt_and_asks_before_a_worse_mask(
    annotator, qtbot, monkeypatch
):
    from napari_iog._napari import labels_ops

    warned = []
    monkeypatch.setattr(labels_ops, "show_warning", warned.append)
    viewer, w = annotator
    ctl = w.ctl
    viewer.dims.set_current_step(0, 2)
    res = _segment(qtbot, ctl, 2, ((20, 20), (44, 44)), (32, 32), corrections=[(40, 40)])
    assert len(res.prompt.clicks) == 1
    assert ctl.commit() == 1
    labels = viewer.layers[LABELS_NAME]
    committed = labels.data[2].copy()

    assert ctl.edit_label(1)
    edit = wait_result(qtbot, ctl)
    assert list(ctl.points.features["role"]) == ["inside", "positive"]  # the clicks are back
    assert edit.prompt == res.prompt

    # the user deletes the box and clicks, and prompts elsewhere: the new mask barely overlaps
    ctl.box.data = []
    ctl.points.data = ctl.points.data[:0]
    ctl.update()  # as the layers' change events do: the next click is a box corner again
    _segment(qtbot, ctl, 2, ((60, 60), (80, 80)), (70, 70))
    assert ctl.edit_id == 1  # still editing id 1
    assert ctl.commit() is None and "IoU" in warned[-1]
    np.testing.assert_array_equal(labels.data[2], committed)  # nothing replaced yet
    assert ctl.commit() == 1  # the second Commit confirms
    assert (labels.data[2, 65:75, 65:75] == 1).all() and not (
        labels.data[2, 25:35, 25:35] == 1
    ).any()
