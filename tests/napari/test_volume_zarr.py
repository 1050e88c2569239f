"""OME-Zarr volumes in napari: the reader gives a lazy multiscale image; the annotator's labels
are a zarr store on disk written chunk by chunk; undo restores it bit-identically; closing and
reopening napari shows the labels; a read-only store asks where to save."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_iog._napari.layers import LABELS_NAME
from napari_iog.volumes import LabelStore
from tests._volume_data import write_ome_zarr
from tests.napari.conftest import click, wait_result


@pytest.fixture
def omz(tmp_path):
    return write_ome_zarr(tmp_path / "em.ome.zarr")


def _annotator(viewer, predictor, qtbot):
    from napari_iog._napari.widget import AnnotatorWidget

    widget = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(widget, name="IOG Annotator")
    widget.set_predictor(predictor, "tiny test net")
    qtbot.waitUntil(lambda: widget.model.ready, timeout=60000)
    return widget


def _segment(qtbot, ctl, z, box, inside):
    ctl.viewer.dims.set_point(0, z)
    (r0, c0), (r1, c1) = box
    for rc in ((r0, c0), (r1, c1), inside):
        click(ctl, z, *rc)
    return wait_result(qtbot, ctl)


def test_reader_gives_lazy_multiscale_image(make_napari_viewer, omz):
    import dask.array as da

    viewer = make_napari_viewer()
    layers = viewer.open(str(omz), plugin="napari-iog")
    assert len(layers) == 1
    image = layers[0]
    assert image.multiscale and len(image.data) == 3
    assert all(isinstance(level, da.Array) for level in image.data)
    assert image.data[0].shape == (8, 512, 512)


def test_commit_undo_close_reopen(make_napari_viewer, tiny_predictor, qtbot, omz):
    viewer = make_napari_viewer()
    viewer.open(str(omz), plugin="napari-iog")
    w = _annotator(viewer, tiny_predictor, qtbot)
    ctl = w.ctl
    # the predictor reads level 0 of the lazy image, whatever level is on screen
    res = _segment(qtbot, ctl, 2, ((100, 100), (140, 150)), (120, 125))
    assert ctl.session._image.shape == (512, 512)
    assert ctl.session.predictor._image._lazy  # a dask plane: only crops are read
    assert ctl.commit() == 1
    labels = viewer.layers[LABELS_NAME]
    store = labels.data
    assert isinstance(store, LabelStore) and store.path == omz / "labels" / "iog"
    (wr, wc) = res.window
    want = store.chunks_touched((slice(2, 3), wr, wc))
    assert set(store.stored_chunks()) == want  # only the chunks the object touches
    plane = store[2]
    assert int((plane == 1).sum()) == res.area and int(plane.astype(bool).sum()) == res.area
    before = np.array(store[2])
    res2 = _segment(qtbot, ctl, 2, ((300, 300), (330, 340)), (315, 320))
    assert ctl.commit() == 2
    labels.undo()  # one undo step: back to the first object, bit-identical on disk
    np.testing.assert_array_equal(store[2], before)
    assert set(store.stored_chunks()) == want
    labels.redo()
    assert int((store[2] == 2).sum()) == res2.area
    qtbot.waitUntil(lambda: store.provenance.is_file(), timeout=5000)
    doc = json.loads(store.provenance.read_text())
    assert [o["value"] for o in doc["objects"]] == [1, 2]
    saved = np.array(store[2])
    viewer.close()

    again = make_napari_viewer()
    layers = again.open(str(omz), plugin="napari-iog")
    assert [ly.name for ly in layers][1] == LABELS_NAME
    reopened = again.layers[LABELS_NAME]
    np.testing.assert_array_equal(np.asarray(reopened.data[2]), saved)
    from napari_iog._napari.commit import next_id
    from napari_iog._napari.provenance import records

    assert next_id(reopened) == 3 and len(records(reopened)) == 2


def test_read_only_store_asks_where_to_save(
    make_napari_viewer, tiny_predictor, qtbot, omz, tmp_path, monkeypatch
):
    from napari_iog._napari import volume_labels
    from tests.test_volume_store import read_only

    read_only(monkeypatch, omz)
    asked = []
    elsewhere = tmp_path / "elsewhere.zarr"

    def ask(suggested, message):
        asked.append(message)
        return elsewhere

    monkeypatch.setattr(volume_labels, "ask_labels_path", ask)
    from napari_iog._napari import volume_reader

    monkeypatch.setattr(volume_reader, "writable", lambda p: False)
    said = []
    monkeypatch.setattr(volume_reader, "show_warning", said.append)
    viewer = make_napari_viewer()
    viewer.open(str(omz), plugin="napari-iog")
    assert said and "read-only" in said[0] and "where to save" in said[0]
    w = _annotator(viewer, tiny_predictor, qtbot)
    _segment(qtbot, w.ctl, 1, ((50, 50), (80, 90)), (65, 70))
    assert w.ctl.commit() == 1
    assert asked and "read-only" in asked[0]
    assert not (omz / "labels").exists()
    assert viewer.layers[LABELS_NAME].data.path == elsewhere
    assert (elsewhere / "zarr.json").is_file()


def test_propagation_writes_the_store_and_its_provenance(
    make_napari_viewer, tiny_predictor, qtbot, omz
):
    from napari_iog.propagation import PropagationConfig

    viewer = make_napari_viewer()
    viewer.open(str(omz), plugin="napari-iog")
    w = _annotator(viewer, tiny_predictor, qtbot)
    _segment(qtbot, w.ctl, 3, ((200, 200), (240, 250)), (220, 225))
    w.prop.config = PropagationConfig(z_min=2, z_max=4, iou_threshold=0.0, min_confidence=0.0)
    assert w.prop.start()
    qtbot.waitUntil(lambda: not w.prop.running, timeout=30000)
    store = viewer.layers[LABELS_NAME].data
    assert all(int((store[z] == 1).sum()) > 0 for z in (2, 3, 4))
    assert not store[1].any() and not store[5].any()
    assert {c[0] for c in store.stored_chunks()} == {2, 3, 4}
    qtbot.waitUntil(
        lambda: (
            store.provenance.is_file()
            and sum(
                o["kind"] == "propagated"
                for o in json.loads(store.provenance.read_text())["objects"]
            )
            == 2
        ),
        timeout=5000,
    )
