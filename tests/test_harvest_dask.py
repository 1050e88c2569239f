"""Harvest on a real dask LocalCluster (2 worker processes, 1 thread each) with a tiny network:
COCO and CSV round trips, one model load per worker, resume after an interruption, and a worker
that dies mid-run. Every cluster result is compared byte for byte with an inline run."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cloudpickle
import pytest
import tifffile
from pycocotools.coco import COCO

from napari_iog.harvest import INLINE, HarvestConfig, load_boxes, rle, run_harvest
from napari_iog.harvest.predict import model_loads
from napari_iog.harvest.task import harvest_image
from tests.test_harvest_synth import make_images, make_tiny_checkpoint, write_coco, write_csv

distributed = pytest.importorskip("distributed")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Images, box files, a tiny checkpoint and the inline reference output."""
    root = tmp_path_factory.mktemp("harvest")
    images = make_images(root / "img", n_images=4, seed=3)
    d = {
        "root": root,
        "img": root / "img",
        "coco": write_coco(root / "boxes.json", images),
        "csv": write_csv(root / "boxes.csv", images, labels=("cell", "blob")),
        "config": HarvestConfig(
            str(make_tiny_checkpoint(root / "tiny.pt")), batch_size=4, device="cpu"
        ),
    }
    plan = load_boxes(d["coco"])
    s = run_harvest(plan, d["config"], d["img"], root / "ref" / "m.json", scheduler=INLINE)
    assert s.ok and s.boxes_done == 12
    d["ref"] = (root / "ref" / "m.json").read_bytes()
    return d


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_coco_round_trip_on_the_cluster(data, client, tmp_path):
    out = tmp_path / "m.json"
    cfg = HarvestConfig(data["config"].weights, batch_size=4, device="cpu", write_labels=True)
    s = run_harvest(load_boxes(data["coco"]), cfg, data["img"], out, client=client)
    assert s.ok and (s.images_done, s.boxes_done, s.boxes_skipped) == (4, 12, 0)
    assert out.read_bytes() == data["ref"]  # same bytes as one process: deterministic merge
    coco = COCO(str(out))  # pycocotools reads it back
    src = json.loads(data["coco"].read_text())
    assert sorted(coco.getAnnIds()) == [a["id"] for a in src["annotations"]]
    for a_in in src["annotations"]:
        ann = coco.anns[a_in["id"]]
        assert ann["bbox"] == a_in["bbox"] and ann["image_id"] == a_in["image_id"]
        m = coco.annToMask(ann)
        assert m.shape == (96, 128) and m.sum() == ann["area"] == rle.area(ann["segmentation"])
    for im in coco.dataset["images"]:
        labels = tifffile.imread(out.with_name("m_labels") / im["file_name"])
        for ann in coco.imgToAnns[im["id"]]:  # every labelled pixel lies in its own mask
            assert coco.annToMask(ann)[labels == ann["id"]].all()
    loads = client.run(model_loads)
    assert len(loads) == 2 and max(loads.values()) == 1  # each worker loaded the model once


def test_csv_round_trip_via_the_scheduler_address(data, client, tmp_path):
    out = tmp_path / "m.json"
    # through the scheduler address, as `napari-iog harvest --scheduler tcp://...` does
    address = client.scheduler.address
    s = run_harvest(load_boxes(data["csv"]), data["config"], data["img"], out, scheduler=address)
    assert s.ok and s.boxes_done == 12
    got = json.loads(out.read_text())
    ref = json.loads(data["ref"])
    assert got["categories"] == [{"id": 1, "name": "blob"}, {"id": 2, "name": "cell"}]
    assert [a["category_id"] for a in got["annotations"]] == [2, 1] * 6
    for a, b in zip(got["annotations"], ref["annotations"]):  # CSV row n == COCO id n
        assert a["id"] == b["id"] and a["segmentation"] == b["segmentation"]
        assert a["bbox"] == b["bbox"]


def test_resume_after_an_interruption_is_identical(data, client, tmp_path):
    out = tmp_path / "m.json"
    plan = load_boxes(data["coco"])
    seen = []
    s1 = run_harvest(
        plan,
        data["config"],
        data["img"],
        out,
        client=client,
        progress=seen.append,
        cancel=lambda: len(seen) >= 2,
    )
    assert s1.cancelled and not s1.ok and 1 <= s1.images_done < 4 and s1.boxes_not_run > 0
    parts = sorted(out.with_name("m_parts").glob("img-*.json"))
    assert len(parts) == s1.images_done
    stamps = {p.name: p.stat().st_mtime_ns for p in parts}
    s2 = run_harvest(plan, data["config"], data["img"], out, client=client)
    assert s2.ok and s2.images_resumed == s1.images_done and s2.boxes_done == 12
    assert out.read_bytes() == data["ref"]
    assert all(p.stat().st_mtime_ns == stamps[p.name] for p in parts)  # not recomputed


def _die_once(task, config, images_dir, weights_id):
    """Kill the worker process the first time image 2 is attempted (a crash mid-run)."""
    marker = Path(images_dir).parent / "died-once"
    if task.image_id == 2 and not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)
    return harvest_image(task, config, images_dir, weights_id)


def test_a_worker_dying_mid_run_loses_and_duplicates_nothing(data, client, tmp_path):
    out = tmp_path / "m.json"
    s = run_harvest(
        load_boxes(data["coco"]), data["config"], data["img"], out, client=client, task_fn=_die_once
    )
    assert (data["root"] / "died-once").exists()  # the crash really happened
    assert s.ok and s.boxes_done == 12 and s.images_failed == 0
    ids = [a["id"] for a in json.loads(out.read_text())["annotations"]]
    assert ids == sorted(set(ids)) and len(ids) == 12
    assert out.read_bytes() == data["ref"]


def test_repeated_worker_death_is_reported_as_a_failure(data):
    from napari_iog.harvest.dask_run import _dask_failure

    task = load_boxes(data["coco"]).images[0]
    err = distributed.KilledWorker("iog-harvest-1", "tcp://127.0.0.1:1", 3)
    res = _dask_failure(task, err)
    assert res["image"] is None and not res["complete"]
    issue = res["issues"][0]
    assert (
        issue["reason"] == "worker died" and issue["n_boxes"] == 3 and "re-run" in issue["detail"]
    )
