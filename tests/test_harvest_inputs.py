"""Harvest inputs and bookkeeping without a network: box files, RLE, box checks, stores."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from pycocotools import mask as mask_utils

from napari_iog.harvest import (
    BoxFileError,
    HarvestConfig,
    HarvestConfigError,
    ImageReadError,
    load_boxes,
    open_image,
    rle,
)
from napari_iog.harvest.plan import BoxRecord
from napari_iog.harvest.predict import check_boxes, deepest_point
from napari_iog.harvest.sources import xywh_to_bbox
from napari_iog.harvest.store import ResultStore, image_key
from napari_iog.structures import BBox


def _coco(tmp_path, annotations, images=None):
    images = images or [{"id": 1, "file_name": "a.tif"}, {"id": 2, "file_name": "b.tif"}]
    p = tmp_path / "boxes.json"
    p.write_text(json.dumps({"images": images, "annotations": annotations}))
    return p


def test_coco_boxes_become_inclusive_row_col_boxes(tmp_path):
    plan = load_boxes(
        _coco(
            tmp_path,
            [
                {"id": 7, "image_id": 2, "bbox": [10, 20, 5, 3], "category_id": 4},
                {"id": 3, "image_id": 2, "bbox": [0.5, 0.5, 2.0, 2.0]},
            ],
        )
    )
    assert [t.image_id for t in plan.images] == [1, 2]  # images without boxes are kept
    recs = plan.images[1].boxes
    assert [r.ann_id for r in recs] == [3, 7]  # sorted by id
    assert recs[1].box == BBox(20, 10, 22, 14) and recs[1].category_id == 4
    assert recs[0].box == BBox(0, 0, 2, 2)  # partial pixels count
    assert recs[1].bbox_xywh == (10.0, 20.0, 5.0, 3.0)
    assert xywh_to_bbox(10, 20, 5, 3).as_tuple() == (20, 10, 22, 14)
    assert plan.categories == ({"id": 1, "name": "object"},) and plan.n_boxes == 2


def test_coco_bad_annotations_are_reported_not_dropped(tmp_path):
    plan = load_boxes(
        _coco(
            tmp_path,
            [
                {"id": 1, "image_id": 1, "bbox": [1, 1, 5, 5]},
                {"id": 1, "image_id": 1, "bbox": [2, 2, 5, 5]},  # duplicate id
                {"id": 2, "image_id": 1, "bbox": [1, 1, 0, 5]},  # zero area
                {"id": 3, "image_id": 9, "bbox": [1, 1, 5, 5]},  # unknown image
                {"id": 4, "image_id": 1},  # no bbox
                {"id": 5, "image_id": 1, "bbox": [1, "nan", 5, 5]},
            ],
        )
    )
    reasons = sorted(i.reason for i in plan.issues)
    assert reasons == [
        "bad annotation",
        "bad box",
        "duplicate annotation id",
        "unknown image id",
        "zero-area box",
    ]
    assert plan.n_boxes == 1 and plan.n_input_boxes == 6
    assert plan.images[0].boxes[0].box == BBox(1, 1, 5, 5)  # the first of the duplicates is kept
    dup = next(i for i in plan.issues if i.reason == "duplicate annotation id")
    assert dup.ann_id == 1 and "own id" in dup.detail and dup.kind == "skipped"


@pytest.mark.parametrize(
    "text, match",
    [
        ("not json", "JSON"),
        ('{"annotations": []}', "images"),
        ('{"images": [{"id": 1}]}', "file_name"),
        ('{"images": [{"id": 1, "file_name": "a"}, {"id": 1, "file_name": "b"}]}', "twice"),
    ],
)
def test_unreadable_coco_files_raise_with_advice(tmp_path, text, match):
    p = tmp_path / "b.json"
    p.write_text(text)
    with pytest.raises(BoxFileError, match=match):
        load_boxes(p)


def test_csv_rows_labels_and_mixed_columns(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text(
        "image,x0,y0,x1,y1,label\n"
        "b.png,10,20,15,23,cell\n"
        "a.png,30,10,20,0,nucleus\n"  # corners in any order
        "a.png,1,1,4\n"  # mixed columns
        "a.png,1,x,4,4,cell\n"  # not a number
        "a.png,5,5,5,9,cell\n"  # zero width
        "\n"
        "a.png,0,0,3,3,\n"  # empty label -> object
    )
    plan = load_boxes(p)
    assert [t.file_name for t in plan.images] == ["a.png", "b.png"]
    assert [c["name"] for c in plan.categories] == ["cell", "nucleus", "object"]
    a, b = plan.images
    assert [r.ann_id for r in a.boxes] == [2, 7] and [r.ann_id for r in b.boxes] == [1]
    assert a.boxes[0].box == BBox(0, 20, 9, 29) and a.boxes[0].category_id == 2
    assert b.boxes[0].box == BBox(20, 10, 22, 14)  # same as COCO [10, 20, 5, 3]
    assert {(i.reason, i.ann_id) for i in plan.issues} == {
        ("mixed CSV columns", 3),
        ("bad CSV row", 4),
        ("zero-area box", 5),
    }


@pytest.mark.parametrize(
    "text, match",
    [("", "empty"), ("file,x,y,w,h\n", "header"), ("image,x0,y0,x1,y1,label,extra\n", "header")],
)
def test_bad_csv_header_raises(tmp_path, text, match):
    p = tmp_path / "b.csv"
    p.write_text(text)
    with pytest.raises(BoxFileError, match=match):
        load_boxes(p)


def test_box_file_type_and_existence(tmp_path):
    with pytest.raises(BoxFileError, match="does not exist"):
        load_boxes(tmp_path / "none.json")
    (tmp_path / "b.txt").write_text("x")
    with pytest.raises(BoxFileError, match="COCO JSON"):
        load_boxes(tmp_path / "b.txt")


def test_rle_of_a_window_equals_pycocotools_on_the_full_image():
    rng = np.random.default_rng(1)
    for _ in range(200):
        H, W = rng.integers(1, 40, 2)
        h, w = rng.integers(1, H + 1), rng.integers(1, W + 1)
        r, c = rng.integers(0, H - h + 1), rng.integers(0, W - w + 1)
        m = rng.random((h, w)) < rng.choice([0.0, 0.3, 0.9, 1.0])
        full = np.zeros((H, W), bool)
        full[r : r + h, c : c + w] = m
        ref = mask_utils.encode(np.asfortranarray(full.astype(np.uint8)))
        got = rle.encode(m, (r, c), (H, W))
        assert got["counts"] == ref["counts"].decode() and got["size"] == [H, W]
        assert (rle.decode(got) == full).all() and rle.area(got) == full.sum()
    json.dumps(got)  # JSON-ready
    with pytest.raises(ValueError, match="does not fit"):
        rle.encode(np.ones((3, 3), bool), (5, 5), (6, 6))


def test_check_boxes_skips_outside_and_tiny_and_clips_partial():
    recs = [
        BoxRecord(1, BBox(-5, -5, 10, 10)),  # partly outside -> clipped
        BoxRecord(2, BBox(50, 0, 60, 10)),  # below the image
        BoxRecord(3, BBox(5, 39, 9, 45)),  # 1 px wide inside the image
        BoxRecord(4, BBox(2, 2, 8, 8)),
    ]
    ok, issues = check_boxes(recs, (40, 40), "x.tif")
    assert [r.ann_id for r in ok] == [1, 4] and ok[0].box == BBox(0, 0, 10, 10)
    assert [(i.reason, i.ann_id) for i in issues] == [
        ("box outside image", 2),
        ("box too small", 3),
    ]
    assert "x.tif" in issues[0].detail


def test_deepest_point_is_the_distance_maximum_inside_the_box():
    mask = np.zeros((20, 30), bool)
    mask[4:15, 6:27] = True  # 11 x 21 rectangle; its centre row is 9
    r, c = deepest_point(mask, (100, 200), BBox(100, 200, 119, 229))
    assert r == 109 and 211 <= c <= 221
    # only the part of the mask inside the box counts
    r, c = deepest_point(mask, (100, 200), BBox(100, 220, 119, 229))
    assert 220 <= c <= 226
    assert deepest_point(mask, (100, 200), BBox(0, 0, 5, 5)) is None


def test_open_image_memory_maps_tiff_and_rejects_bad_files(tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((30, 40), np.uint16))
    img = open_image(tmp_path / "a.tif")
    assert isinstance(img, np.memmap) and img.shape == (30, 40)
    tifffile.imwrite(
        tmp_path / "rgb.tif",
        np.zeros((3, 30, 40), np.uint8),
        photometric="rgb",
        planarconfig="separate",
    )
    assert open_image(tmp_path / "rgb.tif").shape == (30, 40, 3)
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((5, 30, 40), np.uint8))
    with pytest.raises(ImageReadError, match="one 2D plane"):
        open_image(tmp_path / "stack.tif")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ImageReadError, match="cannot be read"):
        open_image(tmp_path / "bad.png")
    with pytest.raises(ImageReadError, match="does not exist"):
        open_image(tmp_path / "none.tif")


def test_config_and_store_guard_their_inputs(tmp_path):
    with pytest.raises(HarvestConfigError, match="batch_size"):
        HarvestConfig("w.pt", batch_size=0)
    with pytest.raises(HarvestConfigError, match="weights"):
        HarvestConfig("")
    with pytest.raises(ValueError, match=".json"):
        ResultStore(tmp_path / "out.txt")


def test_parts_are_reused_only_for_the_same_work(tmp_path):
    p = _coco(tmp_path, [{"id": 1, "image_id": 1, "bbox": [1, 1, 5, 5]}])
    task = load_boxes(p).images[0]
    store = ResultStore(tmp_path / "out" / "m.json")
    key = image_key("run-a", task)
    assert key != image_key("run-b", task)
    result = {
        "image": {"id": 1, "file_name": "a.tif", "height": 8, "width": 9},
        "annotations": [],
        "issues": [],
        "complete": False,
    }
    store.write_part(task, key, result)
    assert store.load_part(task, key) is None  # a failed box inside: redo on resume
    assert store.load_part(task, key, complete=False)["image"]["width"] == 9
    store.write_part(task, key, {**result, "complete": True})
    assert store.load_part(task, key) is not None
    assert store.load_part(task, image_key("run-b", task)) is None
    store.part_path(task).write_text("{truncated")
    assert store.load_part(task, key) is None
    assert not list(store.parts_dir.glob(".*.tmp"))  # no temp files left behind
