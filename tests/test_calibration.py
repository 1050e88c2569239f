"""Mask-threshold calibration (``training.calibration``): the choice rule, the IoU-per-threshold
curve on a network with a known constant output, and the fine-tuning loop's use of it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_iog.data.datasets import ObjectDataset  # noqa: E402
from napari_iog.data.synthetic import blobs  # noqa: E402
from napari_iog.models import build_model, get_profile  # noqa: E402
from napari_iog.models.checkpoint import load_model, read_header, save_checkpoint  # noqa: E402
from napari_iog.training import FinetuneConfig, run_finetune  # noqa: E402
from napari_iog.training.calibration import (  # noqa: E402
    THRESHOLDS,
    calibrate_checkpoint,
    choose_threshold,
    describe,
    threshold_curve,
)
from tests._shared import constant_net as shared_constant_net  # noqa: E402

TINY = "iog-tiny-refine"
PRE = replace(get_profile(TINY)[1], clip_to_box=True)
CFG = FinetuneConfig(
    epochs=1, samples_per_epoch=4, batch_size=2, num_threads=1, val_max_objects=64, device="cpu"
)


@pytest.fixture(scope="module")
def objects():
    """12 blobs (no border contact) in 4 planes."""
    ims, labs = zip(*[blobs((96, 96), 3, seed=s) for s in range(4)])
    return ObjectDataset(list(ims), list(labs), PRE, min_area=20)


def constant_net(p: float):
    """The tiny network answering probability ``p`` everywhere."""
    return shared_constant_net(TINY, p)


def box_fill_iou(ds: ObjectDataset) -> float:
    """Mean IoU of the tight box as the mask (what a constant probability above the threshold
    gives once clipped to the box)."""
    out = []
    for o in ds.objects:
        r0, c0, r1, c1 = o.box
        out.append(o.area / ((r1 - r0 + 1) * (c1 - c0 + 1)))
    return float(np.mean(out))


def test_choose_threshold_needs_a_real_gain():
    ts = [0.3, 0.4, 0.5, 0.6]
    assert choose_threshold([0.90, 0.93, 0.92, 0.91], ts, 0.5) == 0.4
    assert choose_threshold([0.90, 0.921, 0.92, 0.91], ts, 0.5, min_gain=0.002) == 0.5
    assert choose_threshold([0.90, 0.91, 0.92, 0.95], ts, 0.5) == 0.6
    assert choose_threshold([np.nan, 0.9, 0.9, 0.9], ts, 0.5) == 0.5
    with pytest.raises(ValueError, match="not one of"):
        choose_threshold([0.9] * 4, ts, 0.45)


def test_curve_of_a_constant_network_is_a_step_at_its_probability(objects):
    fill = box_fill_iou(objects)
    curve = threshold_curve(constant_net(0.42), PRE, objects, CFG, "cpu", THRESHOLDS)
    below = np.array(THRESHOLDS) <= 0.42
    assert np.allclose(curve[below], fill, atol=1e-9)  # the whole box, clipped
    assert np.all(curve[~below] == 0.0)  # nothing: no pixel reaches the threshold
    assert choose_threshold(curve, THRESHOLDS, 0.5) == 0.2  # the first of the equal best


def test_calibrate_checkpoint_rewrites_the_threshold_and_records_the_curve(tmp_path, objects):
    path = save_checkpoint(tmp_path / "c.pt", constant_net(0.42), PRE, {"data": "blobs"})
    rec = calibrate_checkpoint(path, objects, CFG, "cpu")
    assert rec["previous"] == 0.5 and rec["chosen"] == 0.2 and rec["n_objects"] == len(objects)
    loaded = load_model(path)
    assert loaded.preprocess.threshold == 0.2 and loaded.preprocess.clip_to_box
    assert loaded.meta["threshold_calibration"] == rec and loaded.meta["data"] == "blobs"
    assert "set to 0.20" in describe(rec)
    # above every grid threshold with probability 0.9: all tie with 0.5, which stays
    path2 = save_checkpoint(tmp_path / "d.pt", constant_net(0.9), PRE, {})
    rec2 = calibrate_checkpoint(path2, objects, CFG, "cpu")
    assert rec2["chosen"] == 0.5 and read_header(path2)["preprocess"]["threshold"] == 0.5
    assert "stays 0.50" in describe(rec2)


def test_too_few_validation_objects_leave_the_threshold_and_say_why(tmp_path, objects):
    path = save_checkpoint(tmp_path / "c.pt", constant_net(0.42), PRE, {})
    rec = calibrate_checkpoint(path, objects.subset(range(3)), CFG, "cpu")
    assert "skipped" in rec and rec["chosen"] == 0.5 and "val_iou" not in rec
    assert read_header(path)["preprocess"]["threshold"] == 0.5
    assert read_header(path)["meta"]["threshold_calibration"] == rec
    assert "stays 0.50" in describe(rec) and "3 validation objects" in describe(rec)


@pytest.mark.parametrize("calibrate", [True, False])
def test_finetune_calibrates_before_its_last_event(tmp_path, objects, calibrate):
    train, val = objects.split(0.9, seed=0)  # 11 validation objects
    out = tmp_path / "ft.pt"
    events = []
    summary = run_finetune(
        build_model(TINY), PRE, train, val, replace(CFG, calibrate_threshold=calibrate),
        out=out, callback=events.append,
    )  # fmt: skip
    kinds = [e.kind for e in events]
    meta = load_model(out).meta
    if not calibrate:
        assert "calibrated" not in kinds and "threshold_calibration" not in meta
        assert summary.threshold_calibration is None
        return
    assert kinds[-2:] == ["calibrated", "done"]
    rec = summary.threshold_calibration
    assert rec["n_objects"] == 11 and len(rec["val_iou"]) == len(THRESHOLDS)
    assert meta["threshold_calibration"] == rec
    assert load_model(out).preprocess.threshold == rec["chosen"]
    assert events[-2].message == describe(rec)
    from benchmarks.harness import checkpoint_extra

    # the benchmarks' results JSON records it too
    assert checkpoint_extra(load_model(out), out)["threshold_calibration"] == rec


def test_a_cancelled_run_is_not_calibrated(tmp_path, objects):
    train, val = objects.split(0.9, seed=0)
    out = tmp_path / "c.pt"
    n = {"steps": 0}

    def cancel():
        n["steps"] += 1
        return n["steps"] > 3  # after the first epoch (2 steps) was checkpointed

    events = []
    run_finetune(
        build_model(TINY), PRE, train, val,
        replace(CFG, epochs=3, calibrate_threshold=True), out=out, cancel=cancel,
        callback=events.append,
    )  # fmt: skip
    assert out.exists() and events[-1].kind == "cancelled"
    assert "calibrated" not in [e.kind for e in events]


def test_an_off_grid_threshold_is_measured_too(tmp_path, objects):
    pre = replace(PRE, threshold=0.333)
    path = save_checkpoint(tmp_path / "c.pt", constant_net(0.9), pre, {})
    rec = calibrate_checkpoint(path, objects, CFG, "cpu")
    assert 0.333 in rec["thresholds"] and rec["chosen"] == 0.333  # all tie: the old one stays
    assert "stays 0.33" in describe(rec)


@pytest.mark.realdata
def test_sstem_calibrate_benchmark_writes_a_fitted_copy(tmp_path, monkeypatch, capsys):
    """benchmarks/lab/sstem_calibrate.py on the real training slices: the 10 validation objects
    of sstem_fewshot.py's split are measured, the copy gets the curve, the input stays as it was."""
    import importlib

    from tests._shared import require_shared

    root = require_shared("data", "sstem-drosophila-vnc")
    monkeypatch.setenv("NAPARI_IOG_SHARED", str(root.parents[1]))  # where the script looks
    bench = importlib.import_module("benchmarks.lab.sstem_calibrate")
    meta = {"train_slices": [0, 1, 2, 3, 4]}
    src = save_checkpoint(tmp_path / "m.pt", constant_net(0.42), PRE, meta)
    before = src.read_bytes()
    out = tmp_path / "m-cal.pt"
    assert bench.main([str(src), "--out", str(out), "--curve", "0"]) == 0
    table = capsys.readouterr().out.splitlines()
    row = next(r for r in table if r.startswith("| 0 |")).split("|")
    assert len(row) == len(THRESHOLDS) + 5 and row[-2].strip().startswith("0.20")  # constant 0.42
    rec = read_header(out)["meta"]["threshold_calibration"]
    assert src.read_bytes() == before and rec["n_objects"] == 10  # 10 % of 104 mitochondria
    assert rec["chosen"] == 0.2 and read_header(out)["preprocess"]["threshold"] == 0.2
    with pytest.raises(SystemExit):
        bench.main([str(src), "--out", str(src)])


def test_cli_calibrate_writes_a_fitted_copy(tmp_path, capsys):
    from skimage.io import imsave

    from napari_iog.cli import main

    for d in ("img", "lab"):
        (tmp_path / d).mkdir()
    for i in range(4):
        im, lab = blobs((96, 96), 3, seed=i)
        imsave(tmp_path / "img" / f"{i}.png", im, check_contrast=False)
        imsave(tmp_path / "lab" / f"{i}.png", lab.astype(np.uint8), check_contrast=False)
    src = save_checkpoint(tmp_path / "w.pt", constant_net(0.42), PRE, {"data": "blobs"})
    before = src.read_bytes()
    files = ["--images", str(tmp_path / "img"), "--labels", str(tmp_path / "lab")]
    out = tmp_path / "fitted.pt"
    args = ["calibrate", "--weights", str(src), *files, "--device", "cpu", "--min-area", "20"]
    assert main([*args, "--out", str(out)]) == 0
    assert "set to 0.20" in capsys.readouterr().out
    loaded = load_model(out)
    rec = loaded.meta["threshold_calibration"]
    assert loaded.preprocess.threshold == 0.2 and rec["n_objects"] == 12
    assert loaded.meta["calibrated_from"] == str(src) and loaded.meta["data"] == "blobs"
    assert src.read_bytes() == before  # the input weights are not touched
    assert main([*args, "--out", str(src)]) == 2
    assert "must differ" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "x.pt"), "--min-area", "100000"]) == 2
    assert "at least 10" in capsys.readouterr().err and not (tmp_path / "x.pt").exists()
    # a plain state dict (as the official .pth files are) becomes a napari-iog checkpoint
    plain = tmp_path / "plain.pth"
    torch.save(constant_net(0.42).state_dict(), plain)
    out2 = tmp_path / "from-plain.pt"
    args2 = ["calibrate", "--weights", str(plain), *files, "--device", "cpu", "--min-area", "20"]
    assert main([*args2, "--out", str(out2), "--no-progress"]) == 0
    assert read_header(out2)["preprocess"]["threshold"] == 0.2


def test_fine_tuning_from_fitted_weights_starts_from_0_5(tmp_path):
    """A threshold fitted to the start weights is stale once they train: ``start_model`` (CLI,
    widget) and the benchmarks' ``--init`` start from 0.5, everything else of the
    preprocessing kept."""
    from napari_iog.training.presets import start_model, unfitted

    fitted = replace(PRE, threshold=0.3)
    path = save_checkpoint(tmp_path / "fitted.pt", constant_net(0.42), fitted, {})
    _, pre, text = start_model(str(path), TINY)
    assert pre == replace(fitted, threshold=0.5) and pre.clip_to_box and text == str(path)
    assert unfitted(fitted) == pre and unfitted(PRE) == PRE
