"""Fault suite, CLI (issue 22): every bad input gets one clear line and its exit code (no
traceback), fails before any work, and leaves every input file byte-identical."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest

from napari_iog.cli import main
from tests._shared import constant_net

torch = pytest.importorskip("torch")
tifffile = pytest.importorskip("tifffile")
imsave = pytest.importorskip("skimage.io").imsave


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A workspace: img/ + lab/ (2 blob images, 3 objects each), a tiny checkpoint, a NaN one,
    a float64 image near 1e300, a COCO box file and a harvest image folder."""
    from napari_iog.data.synthetic import blobs
    from napari_iog.models import build_model, get_profile
    from napari_iog.models.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("faults")
    for d in ("img", "lab", "one_img", "one_lab", "him"):
        (root / d).mkdir()
    for i in range(2):
        im, lab = blobs((96, 96), 3, seed=i)
        imsave(root / "img" / f"{i}.png", im, check_contrast=False)
        imsave(root / "lab" / f"{i}.png", lab.astype(np.uint8), check_contrast=False)
    imsave(root / "one_img" / "0.png", blobs((96, 96), 3, seed=0)[0], check_contrast=False)
    imsave(root / "one_lab" / "0.png", blobs((96, 96), 3, seed=0)[1].astype(np.uint8))
    tifffile.imwrite(root / "him" / "a.tif", blobs((96, 96), 3, seed=0)[0])
    tifffile.imwrite(root / "image.tif", blobs((96, 96), 3, seed=0)[0])
    big = np.random.default_rng(0).random((96, 96)) * 1e300
    tifffile.imwrite(root / "huge.tif", big)
    pre = get_profile("iog-tiny")[1]
    save_checkpoint(root / "tiny.pt", build_model("iog-tiny-refine", seed=0), pre)
    save_checkpoint(root / "const.pt", constant_net("iog-tiny-refine", 0.9), pre)
    nan = build_model("iog-tiny-refine", seed=0)
    with torch.no_grad():
        for p in nan.parameters():
            p.fill_(float("nan"))
    save_checkpoint(root / "nan.pt", nan, pre)
    coco = {"info": {"keep": 1}, "images": [{"id": 1, "file_name": "a.tif"}],
            "annotations": [{"id": 1, "image_id": 1, "bbox": [10, 10, 30, 30]}]}  # fmt: skip
    (root / "boxes.json").write_text(json.dumps(coco))
    (root / "m_summary.json").write_text(json.dumps(coco))
    return root


def _hashes(root) -> dict:
    return {
        p: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "cache" not in p.parts
    }


def run_cli(ws, args, capsys) -> tuple[int, str, str]:
    """Run the CLI with ``{ws}`` in the arguments replaced; checks the inputs stay unchanged."""
    before = _hashes(ws)
    rc = main([a.replace("{ws}", str(ws)) for a in args])
    out, err = capsys.readouterr()
    after = _hashes(ws)
    assert {p: h for p, h in after.items() if p in before} == before, "an input file changed"
    assert "Traceback" not in err + out
    return rc, out, err


PREDICT = ["predict", "--image", "{ws}/image.tif", "--box", "10", "10", "40", "40",
           "--weights", "{ws}/tiny.pt", "--device", "cpu"]  # fmt: skip


@pytest.mark.parametrize(
    "extra, match",
    [(["--out", "{ws}/image.tif"], "input file"), (["--out", "{ws}/link.tif"], "input file"),
     (["--out", "{ws}/hard.tif"], "input file"), (["--out", "{ws}/img"], "is a folder"),
     (["--out", "{ws}/no/m.tif"], "does not exist"), (["--out", "{ws}/m.jpg"], ".tif, .tiff or .png"),
     (["--out", "{ws}/tiny.pt/m.tif"], "not a folder"), (["--out", "{ws}/m.tif", "--image", "{ws}/img"], "is a folder"),
     (["--out", "{ws}/m.tif", "--weights", "{ws}/nan.pt"], "weights are broken")],
)  # fmt: skip
def test_predict_refuses(ws, extra, match, capsys):
    if not (ws / "link.tif").exists():
        (ws / "link.tif").symlink_to(ws / "image.tif")
        os.link(ws / "image.tif", ws / "hard.tif")
    rc, _, err = run_cli(ws, PREDICT + extra, capsys)
    assert rc == 2 and err.startswith("napari-iog: error: ") and match in err
    assert not (ws / "m.tif").exists()


def test_predict_on_a_float64_image_near_1e300_gives_a_mask(ws, tmp_path, capsys):
    args = ["predict", "--image", "{ws}/huge.tif", "--box", "10", "10", "40", "40",
            "--weights", "{ws}/const.pt", "--device", "cpu", "--out", str(tmp_path / "m.tif")]  # fmt: skip
    rc, out, _ = run_cli(ws, args, capsys)
    assert rc == 0 and (tifffile.imread(tmp_path / "m.tif") == 255).sum() > 0


HARVEST = ["harvest", "--boxes", "{ws}/boxes.json", "--images", "{ws}/him", "--weights",
           "{ws}/tiny.pt", "--scheduler", "inline", "--device", "cpu", "--no-progress"]  # fmt: skip


@pytest.mark.parametrize(
    "extra, match",
    [(["--out", "{ws}/boxes.json"], "input file"), (["--out", "{ws}/m.json"], "summary"),
     (["--out", "{ws}/masks.csv"], "use a .json"), (["--out", "{ws}/no/m.json"], "does not exist"),
     (["--out", "{ws}/him"], "is a folder"), (["--out", "{ws}/him.json", "--labels"], "--labels would write"),
     (["--out", "{ws}/boxlink.json"], "input file")],
)  # fmt: skip
def test_harvest_refuses_outputs_that_overwrite_inputs(ws, extra, match, capsys):
    if not (ws / "boxlink.json").exists():
        (ws / "boxlink.json").symlink_to(ws / "boxes.json")
    if "m.json" in extra[1]:  # its summary (m_summary.json) would replace this box file
        extra = [*extra, "--boxes", "{ws}/m_summary.json"]
    if "him.json" in extra[1]:  # labels go to him_labels/ - make that the images folder
        (ws / "him_labels").mkdir(exist_ok=True)
        tifffile.imwrite(ws / "him_labels" / "a.tif", np.zeros((96, 96), np.uint8))
        extra = [*extra, "--images", "{ws}/him_labels"]
    rc, _, err = run_cli(ws, HARVEST + extra, capsys)
    assert rc == 2 and match in err


def _harvest_folder(tmp_path, files: dict) -> list:
    (tmp_path / "h").mkdir()
    images = []
    for k, (name, arr) in enumerate(files.items(), start=1):
        if name.lower().endswith((".tif", ".tiff")):
            tifffile.imwrite(tmp_path / "h" / name, arr, photometric="minisblack")
        else:
            imsave(tmp_path / "h" / name, arr, check_contrast=False)
        images.append({"id": k, "file_name": name})
    anns = [{"id": k, "image_id": k, "bbox": [5, 5, 20, 20]} for k in range(1, len(files) + 1)]
    (tmp_path / "b.json").write_text(json.dumps({"images": images, "annotations": anns}))
    return ["--boxes", str(tmp_path / "b.json"), "--images", str(tmp_path / "h"),
            "--out", str(tmp_path / "o.json")]  # fmt: skip


@pytest.mark.parametrize("other", ["x.png", "x.tiff", "X.tif"])
def test_harvest_labels_of_two_images_never_share_a_file(ws, tmp_path, other, capsys):
    grey = np.full((40, 40), 90, np.uint8)
    args = _harvest_folder(tmp_path, {"x.tif": grey, other: grey})
    rc, _, err = run_cli(ws, HARVEST + args + ["--labels"], capsys)
    assert rc == 2 and "x.tif" in err and other in err and not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("n", [3, 4])
def test_harvest_reads_a_small_grey_stack_as_a_stack_not_rgb(ws, tmp_path, n, capsys):
    stack = np.random.default_rng(0).integers(0, 255, (n, 40, 40), dtype=np.uint8)
    args = _harvest_folder(tmp_path, {"s.tif": stack})
    rc, out, _ = run_cli(ws, HARVEST + args, capsys)
    summary = (tmp_path / "o_summary.json").read_text()
    assert rc == 1 and f"a stack of {n} slices" in summary and "failed" in out


def test_harvest_with_broken_weights_fails_loudly(ws, tmp_path, capsys):
    args = [*HARVEST, "--weights", "{ws}/nan.pt", "--out", str(tmp_path / "o.json")]
    rc, _, _ = run_cli(ws, args, capsys)
    summary = json.loads((tmp_path / "o_summary.json").read_text())
    assert rc == 1 and "weights are broken" in json.dumps(summary)


EVALUATE = ["evaluate", "--weights", "{ws}/tiny.pt", "--images", "{ws}/one_img", "--labels",
            "{ws}/one_lab", "--device", "cpu", "--baselines", "none", "--max-clicks", "0",
            "--no-progress"]  # fmt: skip


@pytest.mark.parametrize(
    "extra, match",
    [(["--report", "{ws}/boxes.json"], "is a file"), (["--report", "{ws}/tiny.pt/r"], "not a folder"),
     (["--stop-iou", "2"], "--stop-iou"), (["--stop-iou", "-1"], "--stop-iou"),
     (["--stop-iou", "0"], "--stop-iou"), (["--stop-iou", "nan"], "--stop-iou"),
     (["--min-area", "0"], "--min-area"), (["--min-area", "-5"], "--min-area"),
     (["--threads", "0"], "--threads"), (["--weights", "{ws}/nan.pt"], "weights are broken"),
     (["--report", "{ws}/one_img"], "overwrite the input")],
)  # fmt: skip
def test_evaluate_refuses(ws, tmp_path, extra, match, capsys):
    if extra[0] == "--report" and extra[1].endswith("one_img"):  # an input named like an output
        imsave(ws / "one_img" / "iou_vs_clicks.png", np.zeros((8, 8), np.uint8))
    if extra[0] != "--report":
        extra = [*extra, "--report", str(tmp_path / "rep")]
    try:
        rc, _, err = run_cli(ws, EVALUATE + extra, capsys)
    finally:
        (ws / "one_img" / "iou_vs_clicks.png").unlink(missing_ok=True)
    assert rc == 2 and match in err and not (tmp_path / "rep" / "report.json").exists()


def test_evaluate_threads_and_semantic_labels(ws, tmp_path, capsys):
    rc, out, _ = run_cli(ws, [*EVALUATE, "--threads", "1", "--report", str(tmp_path)], capsys)
    assert rc == 0 and (tmp_path / "report.json").exists() and "n=3" in out
    sem = tmp_path / "sem"
    sem.mkdir()
    lab = np.zeros((96, 96), np.uint8)
    for k in range(9):
        lab[10 * k : 10 * k + 5, 10 : 15 + 8 * (k % 3)] = (40, 80)[k % 2]
    imsave(sem / "0.png", lab, check_contrast=False)
    args = [*EVALUATE, "--labels", str(sem), "--report", str(tmp_path / "r2")]
    rc, _, err = run_cli(ws, args, capsys)
    assert rc == 2 and "--label-value" in err


CALIBRATE = ["calibrate", "--weights", "{ws}/tiny.pt", "--images", "{ws}/img", "--labels",
             "{ws}/lab", "--device", "cpu"]  # fmt: skip


@pytest.mark.parametrize(
    "out, match",
    [("{ws}/tiny.pt", "must differ"), ("{ws}/lab/0.png", "use a .pt"), ("{ws}/no/c.pt", "does not exist"),
     ("{ws}/img", "is a folder"), ("{ws}/tiny.pt/c.pt", "not a folder"), ("{ws}/tinylink.pt", "input file")],
)  # fmt: skip
def test_calibrate_refuses(ws, out, match, capsys):
    if not (ws / "tinylink.pt").exists():
        (ws / "tinylink.pt").symlink_to(ws / "tiny.pt")
    rc, _, err = run_cli(ws, CALIBRATE + ["--out", out], capsys)
    assert rc == 2 and match in err


FINETUNE = ["finetune", "--images", "{ws}/img", "--labels", "{ws}/lab", "--weights",
            "{ws}/tiny.pt", "--device", "cpu", "--threads", "1", "--no-progress", "--epochs", "1",
            "--samples-per-epoch", "4", "--min-area", "20"]  # fmt: skip
BAD_NUMBERS = (
    [("--minutes", v) for v in ("0", "-1", "nan", "inf", "-0.5")]
    + [("--lr", v) for v in ("nan", "inf", "10", "0", "-1", "1e39")]
    + [("--epochs", "0"), ("--samples-per-epoch", "0"), ("--batch-size", "0"), ("--threads", "0")]
)


@pytest.mark.parametrize("flag, value", BAD_NUMBERS)
def test_finetune_refuses_bad_numbers_before_any_work(ws, tmp_path, flag, value, capsys):
    out = tmp_path / "f.pt"
    rc, stdout, err = run_cli(ws, [*FINETUNE, flag, value, "--out", str(out)], capsys)
    assert rc == 2 and flag in err and "napari-iog finetune:" not in stdout and not out.exists()


@pytest.mark.parametrize(
    "out, match",
    [("{ws}/tiny.pt", "input file"), ("{ws}/img/0.png", "use a .pt"), ("{ws}/img", "is a folder"),
     ("{ws}/no/f.pt", "does not exist"), ("{ws}/state.pt", "input file")],
)  # fmt: skip
def test_finetune_refuses_an_out_that_is_an_input(ws, out, match, capsys):
    (ws / "state.pt").write_bytes(b"state")
    rc, _, err = run_cli(ws, [*FINETUNE, "--resume", "{ws}/state.pt", "--out", out], capsys)
    assert rc == 2 and match in err


def test_finetune_caps_a_huge_batch_size(ws, tmp_path, capsys):
    out = tmp_path / "f.pt"
    rc, _, err = run_cli(ws, [*FINETUNE, "--batch-size", "100000", "--out", str(out)], capsys)
    assert rc == 0 and out.exists() and "using batches of 4" in err


@pytest.mark.parametrize("extra", [[], ["--no-run"], ["--sample", "em-synthetic"]])
def test_demo_without_a_display_says_how(monkeypatch, extra, capsys):
    import sys

    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main(["demo", *extra]) == 2
    err = capsys.readouterr().err
    assert "display" in err and "xvfb-run -a napari-iog demo" in err
