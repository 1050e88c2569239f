"""Fault suite, predict and harvest (issue 22): an empty or off-image prediction is an error,
never a silent empty mask; broken COCO documents and absurd boxes get one clear line (no
traceback); unloadable weights stop a harvest at once; resume never keeps a corrupt label TIFF."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_iog.cli import main
from tests._shared import constant_net

torch = pytest.importorskip("torch")
tifffile = pytest.importorskip("tifffile")


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """image.tif (96x96 blobs), him/a.tif, hi.pt (p = 0.9 everywhere), lo.pt (p = 0.1), tiny.pt."""
    from napari_iog.data.synthetic import blobs
    from napari_iog.models import build_model, get_profile
    from napari_iog.models.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("faults2")
    (root / "him").mkdir()
    im = blobs((96, 96), 3, seed=0)[0]
    tifffile.imwrite(root / "image.tif", im)
    tifffile.imwrite(root / "him" / "a.tif", im)
    tifffile.imwrite(root / "him" / "b.tif", im)
    pre = get_profile("iog-tiny")[1]
    save_checkpoint(root / "hi.pt", constant_net("iog-tiny-refine", 0.9), pre)
    save_checkpoint(root / "lo.pt", constant_net("iog-tiny-refine", 0.1), pre)
    save_checkpoint(root / "tiny.pt", build_model("iog-tiny-refine", seed=0), pre)
    return root


def _predict(ws, tmp_path, box, weights, capsys):
    out = tmp_path / "m.tif"
    args = ["predict", "--image", str(ws / "image.tif"), "--box", *map(str, box),
            "--weights", str(ws / weights), "--device", "cpu", "--out", str(out)]  # fmt: skip
    rc = main(args)
    text = capsys.readouterr()
    assert "Traceback" not in text.err + text.out
    return rc, text.err, out


@pytest.mark.parametrize(
    "box, weights, rc_want, match",
    [((10, 10, 40, 40), "lo.pt", 2, "found nothing in this box"),  # empty mask
     ((90, 10, 300, 40), "lo.pt", 2, "found nothing in this box"),  # mostly off + empty
     ((95, 10, 300, 40), "hi.pt", 2, "1x31 px sliver"),  # clipped to a 1-px sliver
     ((10, 95, 40, 400), "hi.pt", 2, "31x1 px sliver"),
     ((-200, -200, 0, 1), "hi.pt", 2, "1x2 px sliver"),
     ((-200, -200, 1, 1), "hi.pt", 0, "only 0.0% of the box"),
     ((10, 10, 12, 12), "lo.pt", 2, "Note: the box is 3x3 px"),  # tiny + empty: says why
     ((10, 10, 11, 11), "lo.pt", 2, "Note: the box is 2x2 px"),
     ((90, 10, 300, 40), "hi.pt", 0, "only 2.8% of the box"),  # a mask, with a warning
     ((10, 10, 12, 12), "hi.pt", 0, "the box is 3x3 px")],
)  # fmt: skip
def test_predict_never_writes_a_silent_empty_mask(
    ws, tmp_path, box, weights, rc_want, match, capsys
):
    rc, err, out = _predict(ws, tmp_path, box, weights, capsys)
    assert rc == rc_want and match in err, err
    assert out.exists() == (rc == 0)
    if rc == 0:
        assert (tifffile.imread(out) > 0).any() and "warning" in err


def test_a_mask_that_misses_its_box_is_reported(capsys):
    from napari_iog.cli.predict import check_found
    from napari_iog.structures import BBox, MaskResult, Prompt

    box = BBox(10, 10, 11, 11)
    mask = np.zeros((20, 20), bool)
    mask[0:3, 0:3] = True
    res = MaskResult(mask.astype(np.float32), mask, (0, 0), (40, 40), Prompt(box))
    check_found(res, box, [])
    assert "lies entirely outside the box" in capsys.readouterr().err


def _coco(tmp_path, doc) -> str:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _harvest(ws, tmp_path, boxes, capsys, *extra, weights="hi.pt"):
    args = ["harvest", "--boxes", boxes, "--images", str(ws / "him"), "--weights",
            str(ws / weights), "--scheduler", "inline", "--device", "cpu", "--no-progress",
            "--out", str(tmp_path / "o.json"), *extra]  # fmt: skip
    rc = main(args)
    text = capsys.readouterr()
    assert "Traceback" not in text.err + text.out
    return rc, text.out, text.err


IMG = {"id": 1, "file_name": "a.tif"}
ANN = {"id": 1, "image_id": 1, "bbox": [10, 10, 30, 30]}


@pytest.mark.parametrize(
    "doc, match",
    [({"images": [{"id": None, "file_name": "a.tif"}], "annotations": []}, "integer id"),
     ({"images": [{"id": "abc", "file_name": "a.tif"}], "annotations": []}, "integer id"),
     ({"images": [{"id": [1], "file_name": "a.tif"}], "annotations": []}, "integer id"),
     ({"images": [{"id": 1, "file_name": None}], "annotations": []}, "file name"),
     ({"images": [IMG], "annotations": 5}, "'annotations' must be a list"),
     ({"images": [IMG], "annotations": {"1": ANN}}, "'annotations' must be a list"),
     ({"images": [IMG], "annotations": "boxes"}, "'annotations' must be a list")],
)  # fmt: skip
def test_harvest_refuses_broken_coco_documents(ws, tmp_path, doc, match, capsys):
    rc, _, err = _harvest(ws, tmp_path, _coco(tmp_path, doc), capsys)
    assert rc == 2 and err.startswith("napari-iog: error: ") and match in err, err
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize(
    "bad",
    [{"id": 2, "image_id": 1, "bbox": [1e308] * 4}, {"id": 2, "image_id": 1, "bbox": [1e12, 0, 5, 5]},
     {"id": 2, "image_id": 1, "bbox": [-1e308, -1e308, 1e308, 1e308]}, 7, "x",
     {"id": None, "image_id": 1, "bbox": [1, 1, 5, 5]}, {"id": 2, "image_id": "abc", "bbox": [1, 1, 5, 5]}],
)  # fmt: skip
def test_harvest_skips_one_absurd_box_and_runs_the_rest(ws, tmp_path, bad, capsys):
    rc, out, _ = _harvest(
        ws, tmp_path, _coco(tmp_path, {"images": [IMG], "annotations": [ANN, bad]}), capsys
    )
    coco = json.loads((tmp_path / "o.json").read_text())
    summary = json.loads((tmp_path / "o_summary.json").read_text())
    assert rc == 0 and [a["id"] for a in coco["annotations"]] == [1]
    assert "skipped" in json.dumps(summary) and "bad" in json.dumps(summary)


def test_csv_with_a_1e308_box_is_skipped(ws, tmp_path, capsys):
    csv = tmp_path / "b.csv"
    csv.write_text("image,x0,y0,x1,y1\na.tif,10,10,40,40\na.tif,1e308,1e308,1e308,1e308\n"
                   "a.tif,-1e308,0,1e308,5\n")  # fmt: skip
    rc, _, _ = _harvest(ws, tmp_path, str(csv), capsys)
    assert rc == 0 and len(json.loads((tmp_path / "o.json").read_text())["annotations"]) == 1


@pytest.mark.parametrize("content", [b"not a checkpoint", b"", b"PK\x03\x04broken zip"])
def test_harvest_stops_at_once_when_the_weights_do_not_load(ws, tmp_path, content, capsys):
    (tmp_path / "bad.pt").write_bytes(content)
    doc = {"images": [IMG, {"id": 2, "file_name": "b.tif"}], "annotations": [ANN]}
    args = ["harvest", "--boxes", _coco(tmp_path, doc), "--images", str(ws / "him"),
            "--weights", str(tmp_path / "bad.pt"), "--scheduler", "inline", "--device", "cpu",
            "--no-progress", "--out", str(tmp_path / "o.json")]  # fmt: skip
    from napari_iog.harvest import predict as hp

    loads = hp.model_loads()
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 2 and "could not be loaded, so the run stopped" in err and "Traceback" not in err
    assert err.count("\n") == 1 and hp.model_loads() == loads
    assert not (tmp_path / "o.json").exists() and not (tmp_path / "o_parts").exists()


@pytest.mark.parametrize("damage", ["garbage", "truncate", "empty", "wrong_shape"])
def test_harvest_resume_rewrites_a_corrupt_label_tiff(ws, tmp_path, damage, capsys):
    boxes = _coco(tmp_path, {"images": [IMG], "annotations": [ANN]})
    assert _harvest(ws, tmp_path, boxes, capsys, "--labels")[0] == 0
    lab = tmp_path / "o_labels" / "a.tif"
    good = tifffile.imread(lab)
    data = lab.read_bytes()
    lab.write_bytes({"garbage": b"\x00" * 300, "truncate": data[: len(data) // 3], "empty": b"",
                     "wrong_shape": b""}[damage])  # fmt: skip
    if damage == "wrong_shape":
        tifffile.imwrite(lab, np.zeros((5, 5), np.uint32))
    rc, out, _ = _harvest(ws, tmp_path, boxes, capsys, "--labels")
    assert rc == 0 and (tifffile.imread(lab) == good).all() and good.any()
