"""Replay with new weights (issue 20): every committed object of a Labels layer is re-run from
its stored prompt (provenance) or, without one, from its mask, as a preview; Accept selected /
Accept all write ONE undo step each, and undo restores the labels bit-identically."""

from __future__ import annotations

import numpy as np

from napari_iog._napari.layers import LABELS_NAME, REPLAY_NAME
from napari_iog._napari.provenance import records
from tests.napari.conftest import click, wait_result


def _commit(qtbot, ctl, z, box, inside):
    (r0, c0), (r1, c1) = box
    for rc in ((r0, c0), (r1, c1), inside):
        click(ctl, z, *rc)
    res = wait_result(qtbot, ctl)
    return ctl.commit(), res


def _replay(qtbot, w):
    assert w.replay.start()
    qtbot.waitUntil(lambda: not w.replay.running, timeout=30000)
    return w.replay.results


def test_replay_preview_accept_one_accept_all_and_undo(annotator, qtbot):
    from napari_iog.inference.classical import BoxFillPredictor

    viewer, w = annotator
    ctl = w.ctl
    viewer.dims.set_current_step(0, 2)
    value, res = _commit(qtbot, ctl, 2, ((20, 20), (40, 44)), (30, 30))
    assert value == 1
    labels = viewer.layers[LABELS_NAME]
    labels.data[3, 60:80, 50:66] = 7  # painted by hand: no provenance, seeded from its mask
    labels.refresh()
    # "new weights": the box itself (the tiny net's masks were box + relax)
    w.set_predictor(BoxFillPredictor(), "box fill")
    before = labels.data.copy()

    reps = _replay(qtbot, w)
    assert [(r.item.value, r.item.leading, r.item.source) for r in reps] == [
        (1, (2,), "provenance"),
        (7, (3,), "mask"),
    ]
    assert reps[0].item.prompt == res.prompt  # the stored prompt, not a new one
    assert reps[0].result.prompt.box.as_tuple() == (20, 20, 40, 44)
    assert 0 < reps[0].iou_before < 1  # the box differs from the committed (relaxed) mask
    preview = viewer.layers[REPLAY_NAME]
    assert set(np.unique(preview.data)) == {0, 1, 7}
    np.testing.assert_array_equal(labels.data, before)  # a preview writes nothing
    assert REPLAY_NAME not in w._labels_names()  # never offered as a target layer

    # accept one object: only id 1 changes, exactly to the box
    w.replay.list.item(0).setSelected(True)
    assert w.replay.accept_selected() == 1
    expected = before.copy()
    expected[expected == 1] = 0
    expected[2, 20:41, 20:45] = 1
    np.testing.assert_array_equal(labels.data, expected)
    rec = records(labels)[-1]
    assert rec["kind"] == "replay" and rec["predictor"] == "box fill"
    assert rec["normalisation"]["rule"] == "as is (0..255)"
    assert len(w.replay.results) == 1  # id 7 still waits
    labels.undo()
    np.testing.assert_array_equal(labels.data, before)

    # accept all: one undo step for both objects
    reps = _replay(qtbot, w)
    assert len(reps) == 2
    assert w.replay.accept_all() == 2
    assert (labels.data[3] == 7).sum() != (before[3] == 7).sum()  # id 7 re-segmented
    assert (labels.data[2] == 1).sum() == 21 * 25
    labels.undo()
    np.testing.assert_array_equal(labels.data, before)
    labels.redo()
    assert (labels.data[2] == 1).sum() == 21 * 25
    assert REPLAY_NAME not in viewer.layers  # nothing left to preview


def test_replay_needs_objects(annotator, qtbot):
    viewer, w = annotator
    assert not w.replay.start()  # no Labels layer yet: a warning, no worker
    assert not w.replay.running


def test_replay_of_an_empty_layer_says_so_and_a_zarr_layer_is_refused(
    annotator, qtbot, monkeypatch
):
    """The objects are found in the worker (a large stack never freezes the GUI); an empty layer
    ends with a warning and no preview; a Labels layer stored on disk is refused up front (its
    preview would be a full-size in-memory copy of the volume)."""
    import napari_iog._napari.replay_panel as panel

    warned = []
    monkeypatch.setattr(panel, "show_warning", warned.append)
    viewer, w = annotator
    ctl = w.ctl
    viewer.dims.set_current_step(0, 2)
    _commit(qtbot, ctl, 2, ((20, 20), (40, 44)), (30, 30))
    labels = viewer.layers[LABELS_NAME]
    labels.data[:] = 0
    assert _replay(qtbot, w) == []
    assert warned and "holds no object" in warned[-1]
    assert REPLAY_NAME not in viewer.layers

    shape = labels.data.shape

    class OnDisk:  # array-like, not numpy: what a zarr-backed LabelStore looks like to napari
        def __init__(self, a):
            self.a, self.shape, self.dtype, self.ndim = a, a.shape, a.dtype, a.ndim

        def __getitem__(self, key):
            return self.a[key]

    monkeypatch.setattr(type(labels), "data", property(lambda self: OnDisk(np.zeros(shape, np.uint8))),
                        raising=False)  # fmt: skip
    assert not w.replay.start()
    assert "stored on disk" in warned[-1]
    assert not w.replay.running
