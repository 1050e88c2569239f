"""The annotator's Labels layer starts as uint8 (napari shows uint8/uint16 labels without
re-casting the whole layer: an 8000x8000 uint32 layer froze the GUI for seconds per commit and
undo) and widens when ids outgrow it, keeping the undo history; ids > 255 commit correctly."""

from __future__ import annotations

import numpy as np

from napari_iog._napari.commit import fit_dtype
from napari_iog._napari.layers import LABELS_NAME
from tests.napari.conftest import click, wait_result


def _segment(qtbot, ctl, box, inside):
    (r0, c0), (r1, c1) = box
    for rc in ((r0, c0), (r1, c1), inside):
        click(ctl, 0, *rc)
    return wait_result(qtbot, ctl)


def test_labels_start_small_and_widen_for_big_ids(annotator, qtbot):
    viewer, w = annotator
    ctl = w.ctl
    res1 = _segment(qtbot, ctl, ((10, 10), (30, 30)), (20, 20))
    assert ctl.commit() == 1
    labels = viewer.layers[LABELS_NAME]
    assert labels.data.dtype == np.uint8
    before = labels.data.copy()
    w.label_id.setValue(300)  # an id a uint8 layer cannot hold
    res2 = _segment(qtbot, ctl, ((50, 50), (80, 80)), (65, 65))
    assert ctl.commit() == 300
    assert labels.data.dtype == np.uint16
    expected = before.astype(np.uint16)
    expected[0][res2.window][res2.mask] = 300
    np.testing.assert_array_equal(labels.data, expected)
    assert int((labels.data[0][res1.window] == 1).sum()) == res1.area
    # each commit is still one undo step, across the widening
    labels.undo()
    np.testing.assert_array_equal(labels.data, before)
    labels.undo()
    assert not labels.data.any()
    labels.redo()
    labels.redo()
    np.testing.assert_array_equal(labels.data, expected)
    w.label_id.setValue(70000)
    _segment(qtbot, ctl, ((40, 10), (48, 20)), (44, 15))
    assert ctl.commit() == 70000 and labels.data.dtype == np.uint32
    assert int(labels.data.max()) == 70000


def test_user_layers_keep_their_dtype(make_napari_viewer):
    viewer = make_napari_viewer()
    signed = viewer.add_labels(np.zeros((8, 8), np.int32), name="signed")
    assert fit_dtype(signed, 70000) is None and signed.data.dtype == np.int32
    small = viewer.add_labels(np.zeros((8, 8), np.uint8), name="small")
    assert fit_dtype(small, 255) is None and small.data.dtype == np.uint8
    assert "uint16" in fit_dtype(small, 256)
