"""Harvest into a zarr labels volume: the same masks as the COCO output (one plane per image,
overlaps: the smaller id keeps a pixel), only chunks with labels stored, resumable."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_iog.harvest import (
    INLINE,
    HarvestConfig,
    HarvestConfigError,
    load_boxes,
    rle,
    run_harvest,
)
from napari_iog.harvest.zarr_labels import paint_plane
from napari_iog.volumes import LabelStore
from tests.test_harvest_run import fake_model  # noqa: F401  (the numpy FakePredictor fixture)
from tests.test_harvest_synth import make_images, write_coco


@pytest.fixture
def fake(fake_model):  # noqa: F811 - the harvest tests' FakePredictor (no network)
    return fake_model


def _store(path):
    import zarr

    return LabelStore(zarr.open_array(str(path), mode="r"), path, None)


def test_zarr_labels_equal_the_coco_masks_and_resume(tmp_path, fake):
    images = make_images(tmp_path / "img", n_images=3)
    plan = load_boxes(write_coco(tmp_path / "boxes.json", images))
    out, zl = tmp_path / "out" / "m.json", tmp_path / "out" / "labels.zarr"
    s = run_harvest(plan, HarvestConfig("fake"), tmp_path / "img", out, scheduler=INLINE,
                    zarr_labels=zl)  # fmt: skip
    assert s.ok and s.boxes_done == 9
    coco = json.loads(out.read_text())
    store = _store(zl)
    h, w = images[0]["truth"][0].shape
    assert store.shape == (3, h, w) and store.dtype == np.uint32
    for z, im in enumerate(coco["images"]):
        anns = [a for a in coco["annotations"] if a["image_id"] == im["id"]]
        want = np.zeros((h, w), np.uint32)
        for a in sorted(anns, key=lambda a: a["id"]):
            m = rle.decode(a["segmentation"]).astype(bool)
            want[m & (want == 0)] = a["id"]
        np.testing.assert_array_equal(store[z], want)
        assert want.any()
    # only chunks that hold labels are stored
    stored = store.stored_chunks()
    holding = {
        (z, r, c)
        for z in range(3)
        for r in range(-(-h // store.chunks[1]))
        for c in range(-(-w // store.chunks[2]))
        if store[z][r * store.chunks[1] : (r + 1) * store.chunks[1],
                    c * store.chunks[2] : (c + 1) * store.chunks[2]].any()
    }  # fmt: skip
    assert set(stored) == holding
    ledger = json.loads((tmp_path / "out" / "labels.iog.json").read_text())
    assert sorted(p["z"] for p in ledger["planes"].values()) == [0, 1, 2]
    assert ledger["max_id"] == 9

    # resume: a lost plane (ledger entry gone, chunks gone) is rewritten from its part only
    import zarr

    arr = zarr.open_array(str(zl), mode="r+")
    arr[1] = 0
    del ledger["planes"]["2"]
    (tmp_path / "out" / "labels.iog.json").write_text(json.dumps(ledger))
    before = fake.calls["set_image"]
    s2 = run_harvest(plan, HarvestConfig("fake"), tmp_path / "img", out, scheduler=INLINE,
                     zarr_labels=zl)  # fmt: skip
    assert s2.images_resumed == 3 and fake.calls["set_image"] == before
    anns = [a for a in coco["annotations"] if a["image_id"] == 2]
    assert int((_store(zl)[1] > 0).sum()) == int(paint_plane(anns, (h, w)).astype(bool).sum()) > 0


def test_overlaps_keep_the_smaller_id():
    a = np.zeros((6, 6), bool)
    a[0:4, 0:4] = True
    b = np.zeros((6, 6), bool)
    b[2:6, 2:6] = True
    anns = [{"id": 7, "segmentation": rle.encode(b)}, {"id": 3, "segmentation": rle.encode(a)}]
    plane = paint_plane(anns, (6, 6))
    assert plane[3, 3] == 3 and plane[5, 5] == 7 and plane[0, 0] == 3


def test_zarr_labels_bad_paths(tmp_path, fake):
    images = make_images(tmp_path / "img", n_images=1)
    plan = load_boxes(write_coco(tmp_path / "boxes.json", images))
    with pytest.raises(HarvestConfigError, match=".zarr folder"):
        run_harvest(plan, HarvestConfig("fake"), tmp_path / "img", tmp_path / "m.json",
                    scheduler=INLINE, zarr_labels=tmp_path / "labels.tif")  # fmt: skip
    import zarr

    zarr.create_array(str(tmp_path / "other.zarr"), shape=(5, 4, 4), dtype=np.uint32)
    with pytest.raises(HarvestConfigError, match="holds shape"):
        run_harvest(plan, HarvestConfig("fake"), tmp_path / "img", tmp_path / "m.json",
                    scheduler=INLINE, zarr_labels=tmp_path / "other.zarr")  # fmt: skip


def test_cli_zarr_labels(tmp_path, fake, capsys):
    from napari_iog.cli import main

    images = make_images(tmp_path / "img", n_images=2)
    boxes = write_coco(tmp_path / "boxes.json", images)
    args = ["harvest", "--boxes", str(boxes), "--images", str(tmp_path / "img"), "--weights",
            "fake", "--out", str(tmp_path / "m.json"), "--scheduler", "inline", "--no-progress",
            "--zarr-labels", str(tmp_path / "l.zarr")]  # fmt: skip
    assert main(args) == 0
    store = _store(tmp_path / "l.zarr")
    assert store.shape[0] == 2 and store.max_id == 0 and int(store[1].max()) == 6
    assert main([*args[:-1], str(tmp_path / "l.tif")]) == 2
    assert ".zarr folder" in capsys.readouterr().err
