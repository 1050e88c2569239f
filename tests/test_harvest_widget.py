"""The napari harvest widget: boxes of a Shapes layer -> one Labels layer, in a thread worker,
one undo step. Uses the numpy FakePredictor (exact masks) through the shared model cache, and
once the tiny network for the real path."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import tifffile

from tests._fake_predictor import FakePredictor
from tests.test_harvest_synth import make_images, make_tiny_checkpoint

pytest.importorskip("napari")
hw = pytest.importorskip("napari_iog._napari.harvest_widget")


def _rect(r0, c0, r1, c1, lead=()):
    return np.array([[*lead, r0, c0], [*lead, r0, c1], [*lead, r1, c1], [*lead, r1, c0]], float)


def _run_and_wait(qtbot, widget, timeout=30000):
    widget._status.value = ""
    assert widget.run() is not None
    qtbot.waitUntil(lambda: widget._status.value.startswith(("IOG", "failed")), timeout=timeout)
    assert "masks written" in widget._status.value
    qtbot.waitUntil(lambda: widget._run_btn.enabled, timeout=timeout)


@pytest.fixture
def fake(monkeypatch):
    f = FakePredictor()
    f.cache_kwargs = []  # what the widget asked the model cache for

    def cached(*a, **k):
        f.cache_kwargs.append(k)
        return f, threading.Lock()

    monkeypatch.setattr(hw, "cached_predictor", cached)
    return f


def test_boxes_of_the_current_slice_in_world_coordinates(make_napari_viewer):
    viewer = make_napari_viewer()
    img = viewer.add_image(np.zeros((3, 40, 50), np.uint8), scale=(1, 2, 2), translate=(0, 10, 20))
    # world = data * scale + translate: pixel rows 5..9, cols 6..11 on slice 1
    shapes = viewer.add_shapes(
        [_rect(20, 32, 28, 42, (1,)), _rect(0, 20, 8, 30, (2,))], shape_type="rectangle"
    )
    recs = hw.shapes_to_records(shapes, img, (1,))
    assert [r.ann_id for r in recs] == [1]
    assert recs[0].box.as_tuple() == (5, 6, 9, 11)
    assert [r.ann_id for r in hw.shapes_to_records(shapes, img, (2,))] == [2]


def test_harvest_writes_one_labels_layer_in_one_undo_step(
    make_napari_viewer, qtbot, tmp_path, fake
):
    images = make_images(tmp_path, n_images=1)
    viewer = make_napari_viewer()
    img = viewer.add_image(tifffile.imread(tmp_path / "img0.tif"))
    boxes = images[0]["boxes"]
    shapes = viewer.add_shapes(
        [_rect(*b) for b in boxes] + [_rect(500, 500, 510, 510)], shape_type="rectangle"
    )
    widget = hw.HarvestWidget(viewer)
    widget._image.value, widget._shapes.value = img, shapes
    widget.set_weights("fake")
    widget._batch.value = 2
    _run_and_wait(qtbot, widget)
    labels = viewer.layers[hw.HARVEST_LABELS_NAME]
    for k, disk in enumerate(images[0]["truth"]):
        assert (labels.data[disk] == k + 1).all()  # ids in shape order from max + 1
    assert labels.data.astype(bool).sum() == sum(d.sum() for d in images[0]["truth"])
    assert "1 x box outside image" in widget._status.value
    done = labels.data.copy()
    labels.undo()  # the whole run is one undo step
    assert not labels.data.any()
    labels.redo()
    assert (labels.data == done).all()
    # a second run reuses the layer and keeps what is there (keep-existing commit mode); a mask
    # threshold set in the widget goes to the model (0 = the weights' own)
    assert fake.cache_kwargs[-1] == {"threshold": None}
    widget._threshold.value = 0.35
    _run_and_wait(qtbot, widget)
    assert fake.cache_kwargs[-1] == {"threshold": 0.35}
    assert [ly.name for ly in viewer.layers].count(hw.HARVEST_LABELS_NAME) == 1
    assert (labels.data == done).all()


def test_harvest_with_the_tiny_network(make_napari_viewer, qtbot, tmp_path):
    images = make_images(tmp_path, n_images=1)
    ckpt = make_tiny_checkpoint(tmp_path / "tiny.pt")
    viewer = make_napari_viewer()
    img = viewer.add_image(tifffile.imread(tmp_path / "img0.tif"))
    shapes = viewer.add_shapes([_rect(*b) for b in images[0]["boxes"]], shape_type="rectangle")
    widget = hw.HarvestWidget(viewer)
    widget._image.value, widget._shapes.value = img, shapes
    widget.set_weights(str(ckpt))
    _run_and_wait(qtbot, widget, timeout=60000)
    labels = viewer.layers[hw.HARVEST_LABELS_NAME]
    assert labels.data.shape == (96, 128) and labels.data.max() <= 3
    assert "IOG harvest: " in widget._status.value and "not done" not in widget._status.value


def test_weights_picker_lists_starters_files_and_the_classical_predictor(
    make_napari_viewer, qtbot, tmp_path
):
    """The harvest widget picks weights like the annotator: the list (read in a worker) has the
    shipped starters and the classical random walker, the starter of the image's domain is
    preselected, a local file can be chosen, and the classical predictor harvests with no
    weights at all."""
    from napari_iog._napari.samples import make_aerial_tile

    viewer = make_napari_viewer()
    tile, boxes = make_aerial_tile(return_boxes=True)
    img = viewer.add_image(tile, rgb=True, name="tile")
    shapes = viewer.add_shapes([_rect(*b) for b in boxes[:3]], shape_type="rectangle")
    widget = hw.HarvestWidget(viewer)
    widget._image.value, widget._shapes.value = img, shapes
    qtbot.waitUntil(lambda: "classical" in widget._weights.choices, timeout=60000)
    assert {"iog-em", "iog-aerial"} <= set(widget._weights.choices)
    assert widget._weights.value == "iog-aerial"  # colour tile: the aerial starter
    widget.pick_weights_file(str(tmp_path / "mine.pt"))
    assert widget._weights.value == str(tmp_path / "mine.pt")
    widget.set_weights("classical")
    _run_and_wait(qtbot, widget, timeout=60000)
    labels = viewer.layers[hw.HARVEST_LABELS_NAME]
    assert set(np.unique(labels.data)) - {0} == {1, 2, 3}
