"""Harvest runs in this process (scheduler "inline"): bad input counted in the summary, resume,
two-stage, label images, the CLI and its exit codes. The dask cluster runs are in
test_harvest_dask.py; both go through the same per-image task."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import tifffile

from napari_iog.cli import main
from napari_iog.harvest import (
    INLINE,
    HarvestConfig,
    HarvestConfigError,
    load_boxes,
    rle,
    run_harvest,
)
from napari_iog.harvest import task as task_module
from tests._fake_predictor import FakePredictor
from tests.test_harvest_synth import coco_dict, make_images, make_tiny_checkpoint, write_coco


@pytest.fixture
def fake_model(monkeypatch):
    """The numpy FakePredictor (segments the bright blob under the box) instead of a network."""
    fake = FakePredictor()
    monkeypatch.setattr(task_module, "cached_predictor", lambda *a, **k: (fake, threading.Lock()))
    return fake


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def _bad_input_dataset(tmp_path):
    images = make_images(tmp_path / "img", n_images=2)
    coco = coco_dict(images)  # ids 1..6: 3 boxes per image
    coco["images"] += [{"id": 3, "file_name": "missing.tif"}, {"id": 4, "file_name": "broken.tif"}]
    (tmp_path / "img" / "broken.tif").write_bytes(b"II*\x00garbage")
    coco["annotations"] += [
        {"id": 7, "image_id": 1, "bbox": [500, 500, 10, 10]},  # outside the 96x128 image
        {"id": 8, "image_id": 1, "bbox": [10, 10, 0, 0]},  # zero area
        {"id": 2, "image_id": 2, "bbox": [1, 1, 9, 9]},  # duplicate id
        {"id": 9, "image_id": 3, "bbox": [1, 1, 9, 9]},  # image missing
        {"id": 10, "image_id": 4, "bbox": [1, 1, 9, 9]},  # image unreadable
        {"id": 11, "image_id": 4, "bbox": [5, 5, 9, 9]},
        {"id": 12, "image_id": 2, "bbox": [-20, -20, 30, 30]},  # partly outside: clipped, done
        {"id": 13, "image_id": 2, "bbox": [127.5, 10, 5, 5]},  # 1 px inside: too small
    ]
    return images, write_coco_dict(tmp_path / "boxes.json", coco)


def write_coco_dict(path, coco):
    path.write_text(json.dumps(coco))
    return path


def test_fake_model_masks_match_the_objects(tmp_path, fake_model):
    images = make_images(tmp_path / "img", n_images=2)
    plan = load_boxes(write_coco(tmp_path / "boxes.json", images))
    cfg = HarvestConfig("fake", batch_size=2, write_labels=True)
    summary = run_harvest(
        plan, cfg, tmp_path / "img", tmp_path / "out" / "m.json", scheduler=INLINE
    )
    assert summary.ok and summary.boxes_done == 6 and summary.boxes_total == 6
    coco = json.loads((tmp_path / "out" / "m.json").read_text())
    truth = [disk for im in images for disk in im["truth"]]
    for ann, disk in zip(coco["annotations"], truth):
        assert (rle.decode(ann["segmentation"]) == disk).all()
        assert ann["area"] == disk.sum() and 0.99 < ann["score"] <= 1.0
    labels = tifffile.imread(tmp_path / "out" / "m_labels" / "img1.tif")
    assert labels.dtype == np.uint32
    for ann, disk in zip(coco["annotations"][3:], truth[3:]):
        assert (labels[disk] == ann["id"]).all()
    assert sorted(np.unique(labels)) == [0, 4, 5, 6]


def test_bad_input_is_counted_per_box_and_image(tmp_path, fake_model):
    images, boxes = _bad_input_dataset(tmp_path)
    plan = load_boxes(boxes)
    out = tmp_path / "out" / "m.json"
    cfg = HarvestConfig("fake", batch_size=4)
    s = run_harvest(plan, cfg, tmp_path / "img", out, scheduler=INLINE)
    assert s.reasons("skipped") == {
        "box outside image": 1,
        "box too small": 1,
        "duplicate annotation id": 1,
        "zero-area box": 1,
    }
    assert s.reasons("failed") == {"image missing": 1, "image unreadable": 2}
    assert s.boxes_total == 14 and s.boxes_done == 7  # 6 good + the clipped one
    assert s.boxes_done + s.boxes_skipped + s.boxes_failed + s.boxes_not_run == s.boxes_total
    assert (s.images_done, s.images_failed) == (2, 2) and not s.ok
    coco = json.loads(out.read_text())
    assert [a["id"] for a in coco["annotations"]] == [1, 2, 3, 4, 5, 6, 12]
    assert [im["id"] for im in coco["images"]] == [1, 2]
    saved = json.loads((tmp_path / "out" / "m_summary.json").read_text())
    assert saved["failed"] == {"image missing": 1, "image unreadable": 2}
    assert any("missing.tif" in i["detail"] for i in saved["issues"])

    # Re-run after fixing one image: finished images are reused, the fixed one is done now.
    tifffile.imwrite(
        tmp_path / "img" / "missing.tif", tifffile.imread(tmp_path / "img" / "img0.tif")
    )
    s2 = run_harvest(plan, cfg, tmp_path / "img", out, scheduler=INLINE)
    assert (s2.images_resumed, s2.boxes_resumed) == (2, 7)
    assert s2.reasons("failed") == {"image unreadable": 2} and s2.boxes_done == 8
    assert s2.reasons("skipped") == s.reasons("skipped")  # reported again, from the parts
    assert fake_model.calls["set_image"] == 3  # 2 images, then only the fixed one


def test_cancel_stops_and_reports_the_boxes_not_run(tmp_path, fake_model):
    images = make_images(tmp_path / "img", n_images=3)
    plan = load_boxes(write_coco(tmp_path / "boxes.json", images))
    seen = []
    s = run_harvest(
        plan,
        HarvestConfig("fake"),
        tmp_path / "img",
        tmp_path / "o.json",
        scheduler=INLINE,
        progress=seen.append,
        cancel=lambda: len(seen) >= 2,
    )
    assert s.cancelled and not s.ok and s.boxes_done == 3 and s.boxes_not_run == 6
    assert [e.images_done for e in seen] == [0, 1, 1]
    assert seen[-1].summary is s


def test_two_stage_moves_the_inside_click_into_the_first_mask(tmp_path, tiny_ckpt):
    images = make_images(tmp_path / "img", n_images=1)
    plan = load_boxes(write_coco(tmp_path / "boxes.json", images))
    cfg = HarvestConfig(str(tiny_ckpt), batch_size=2, device="cpu", two_stage=True)
    s = run_harvest(plan, cfg, tmp_path / "img", tmp_path / "o.json", scheduler=INLINE)
    assert s.ok and s.boxes_done == 3
    anns = json.loads((tmp_path / "o.json").read_text())["annotations"]
    for ann, (r0, c0, r1, c1) in zip(anns, images[0]["boxes"]):
        assert rle.decode(ann["segmentation"]).shape == (96, 128)
        if "inside" in ann:  # a non-empty first-pass mask gives the second-stage click
            r, c = ann["inside"]
            assert r0 <= r <= r1 and c0 <= c <= c1


def test_unloadable_weights_stop_the_run_at_once_with_the_reason(tmp_path):
    """Issue 22: weights that fail to load are not retried per image, and no (empty) output is
    written: the run stops after the first image with the loader's reason."""
    images = make_images(tmp_path / "img", n_images=2)
    plan = load_boxes(write_coco(tmp_path / "boxes.json", images))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    events = []
    with pytest.raises(HarvestConfigError, match="could not be loaded.*corrupt"):
        run_harvest(
            plan,
            HarvestConfig(str(tmp_path / "bad.pt"), device="cpu"),
            tmp_path / "img",
            tmp_path / "o.json",
            scheduler=INLINE,
            progress=events.append,
        )
    assert len(events) == 2 and not (tmp_path / "o.json").exists()
    with pytest.raises(HarvestConfigError, match="not found"):
        run_harvest(
            plan,
            HarvestConfig(str(tmp_path / "none.pt")),
            tmp_path / "img",
            tmp_path / "o.json",
            scheduler=INLINE,
        )


def test_cli_exit_codes_labels_and_determinism(tmp_path, tiny_ckpt, capsys):
    images = make_images(tmp_path / "img", n_images=2)
    boxes = write_coco(tmp_path / "boxes.json", images)
    args = [
        "harvest",
        "--boxes",
        str(boxes),
        "--images",
        str(tmp_path / "img"),
        "--weights",
        str(tiny_ckpt),
        "--device",
        "cpu",
        "--scheduler",
        "inline",
        "--no-progress",
    ]
    assert main([*args, "--out", str(tmp_path / "a.json"), "--labels", "--batch-size", "4"]) == 0
    assert "6/6 masks" in capsys.readouterr().out
    assert (tmp_path / "a_labels" / "img0.tif").exists()
    # another batch size gives the same bytes (crops are independent)
    assert main([*args, "--out", str(tmp_path / "b.json"), "--batch-size", "1"]) == 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    (tmp_path / "img" / "img1.tif").unlink()
    assert main([*args, "--out", str(tmp_path / "c.json")]) == 1
    assert "image missing" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("img,x,y\n")
    assert main([*args[:2], str(bad), *args[3:], "--out", str(tmp_path / "d.json")]) == 2
    assert "header" in capsys.readouterr().err


@pytest.mark.realdata
def test_real_sstem_slice_boxes_round_trip(tmp_path, tiny_ckpt):
    from tests._shared import require_shared

    root = require_shared("data", "sstem-drosophila-vnc")
    from napari_iog.data.layouts import load_sstem

    _, (lab,) = load_sstem(root, [10])
    rows = ["image,x0,y0,x1,y1,label"]
    boxes = []
    for inst in range(1, int(lab.max()) + 1):
        rr, cc = np.nonzero(lab == inst)
        boxes.append(
            [
                int(cc.min()),
                int(rr.min()),
                int(cc.max()) + 1 - int(cc.min()),
                int(rr.max()) + 1 - int(rr.min()),
            ]
        )
        rows.append(f"10.tif,{cc.min()},{rr.min()},{cc.max() + 1},{rr.max() + 1},mitochondrion")
    (tmp_path / "boxes.csv").write_text("\n".join(rows) + "\n")
    plan = load_boxes(tmp_path / "boxes.csv")
    cfg = HarvestConfig(str(tiny_ckpt), batch_size=8, device="cpu")
    s = run_harvest(plan, cfg, root / "raw", tmp_path / "m.json", scheduler=INLINE)
    assert s.ok and s.boxes_done == len(boxes) == 19  # SOURCE.md: 19 mitochondria on slice 10
    coco = json.loads((tmp_path / "m.json").read_text())
    assert coco["images"][0]["height"] == coco["images"][0]["width"] == 1024
    assert [a["bbox"] for a in coco["annotations"]] == [[float(v) for v in b] for b in boxes]
    assert all(a["segmentation"]["size"] == [1024, 1024] for a in coco["annotations"])


def test_threshold_override_changes_masks_and_the_run_fingerprint(tmp_path):
    """``HarvestConfig.threshold`` / ``--threshold``: a network that outputs probability 0.42
    everywhere gives no mask at its own 0.5 and the box region at 0.3; the override enters the
    fingerprint (a resumed run with another threshold does not reuse masks), its absence does not."""
    from dataclasses import replace

    from napari_iog.harvest.config import run_fingerprint
    from napari_iog.models import get_profile
    from napari_iog.models.checkpoint import save_checkpoint
    from tests._shared import constant_net

    ckpt = save_checkpoint(
        tmp_path / "c.pt", constant_net("iog-tiny", 0.42), get_profile("iog-tiny")[1]
    )
    images = make_images(tmp_path / "img", n_images=1)
    plan = load_boxes(write_coco(tmp_path / "boxes.json", images))
    base = HarvestConfig(str(ckpt), batch_size=3, device="cpu")
    own = run_harvest(plan, base, tmp_path / "img", tmp_path / "a.json", scheduler=INLINE)
    low = run_harvest(
        plan, replace(base, threshold=0.3), tmp_path / "img", tmp_path / "b.json", scheduler=INLINE
    )
    areas = [a["area"] for a in json.loads((tmp_path / "b.json").read_text())["annotations"]]
    assert own.empty_masks == 3 and low.empty_masks == 0 and len(areas) == 3 and min(areas) > 0
    assert run_fingerprint(base, "w") == run_fingerprint(replace(base, batch_size=1), "w")
    assert run_fingerprint(base, "w") != run_fingerprint(replace(base, threshold=0.3), "w")
    with pytest.raises(HarvestConfigError, match="between 0 and 1"):
        HarvestConfig("w", threshold=1.0)
