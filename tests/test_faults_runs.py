"""Fault suite, long runs (issue 22): ``finetune --clock`` and the busy-machine note, the few-shot
scripts' ``--results`` (print only by default) and early ``--install``, and an inline ``harvest``
stopped by Ctrl-C (one line, exit 130, resumable - never a library traceback)."""

from __future__ import annotations

import json
import os
import signal
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from napari_iog.cli import main

torch = pytest.importorskip("torch")
tifffile = pytest.importorskip("tifffile")


# --- finetune --clock -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wall, cpu, clock, expect",
    [(100.0, 30.0, "wall", "30% of its"), (100.0, 30.0, "cpu", "only the wall time grew"),
     (100.0, 59.0, "wall", "--clock cpu"), (100.0, 61.0, "wall", None), (100.0, 100.0, "wall", None),
     (10.0, 1.0, "wall", None)],
)  # fmt: skip
def test_busy_note_says_when_the_run_got_little_cpu(wall, cpu, clock, expect):
    from napari_iog.cli.finetune import busy_note

    note = busy_note(SimpleNamespace(seconds=wall, cpu_seconds=cpu), clock, "cpu")
    assert note is None if expect is None else (expect in note and "busy" in note)


def _data(root):
    from napari_iog.data.synthetic import blobs

    for d in ("img", "lab"):
        (root / d).mkdir()
    for i in range(2):
        im, lab = blobs((96, 96), 3, seed=i)
        tifffile.imwrite(root / "img" / f"{i}.tif", im)
        tifffile.imwrite(root / "lab" / f"{i}.tif", lab.astype(np.uint16))
    return ["--images", str(root / "img"), "--labels", str(root / "lab")]


@pytest.mark.parametrize("clock, cpu, noted", [("cpu", 30.0, True), ("wall", 30.0, True),
                                               (None, 95.0, False)])  # fmt: skip
def test_finetune_clock_reaches_the_config_and_a_busy_run_is_noted(
    tmp_path, monkeypatch, capsys, clock, cpu, noted
):
    import napari_iog.training.job as job

    seen = {}

    def fake_job(spec, cancel=None, dist=None):
        seen["clock"] = spec.config.budget_clock
        return SimpleNamespace(seconds=120.0, cpu_seconds=cpu, steps_done=3, best_val=0.5,
                               stopped="time budget used", checkpoint=spec.out, kept="last epoch")  # fmt: skip
        yield  # a generator, as finetune_job

    monkeypatch.setattr(job, "finetune_job", fake_job)
    argv = ["finetune", *_data(tmp_path), "--weights", "none", "--profile", "iog-tiny",
            "--out", str(tmp_path / "o.pt"), "--minutes", "2", "--device", "cpu", "--no-progress",
            *(["--clock", clock] if clock else [])]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert seen["clock"] == (clock or "wall")
    assert ("the machine was busy" in err) == noted


def test_bad_clock_is_a_usage_error(tmp_path, capsys):
    rc = main(["finetune", "--images", "i", "--labels", "l", "--out", "o.pt", "--clock", "gpu"])
    assert rc == 2 and "--clock" in capsys.readouterr().err


def test_progress_bar_counts_cpu_time_on_the_cpu_clock():
    from napari_iog.cli.finetune import ProgressBar

    bar = ProgressBar(1.0, "cpu")
    bar.step(SimpleNamespace(seconds=1000.0, loss=0.1, step=1, total_steps=9))
    assert bar.bar.total == 60 and bar.bar.n < 5  # not the 1000 wall seconds
    bar.close()


# --- few-shot scripts: --results and --install ------------------------------------------------


@pytest.mark.parametrize("script", ["sstem_fewshot", "isbi_fewshot", "aerial_fewshot"])
def test_fewshot_scripts_write_no_tracked_results_by_default(script):
    from pathlib import Path

    bench = Path(__file__).parents[1] / "benchmarks"
    text = (bench / f"{script}.py").read_text() + (bench / "fewshot.py").read_text()  # run_fewshot
    assert "args.results or" not in text and "if args.results else None" in text


def _tiny_ckpt(path):
    from napari_iog.models import build_model, get_profile
    from napari_iog.models.checkpoint import save_checkpoint

    save_checkpoint(path, build_model("iog-tiny-refine", seed=0), get_profile("iog-tiny")[1])
    return path


@pytest.mark.parametrize("install", [True, False])
def test_install_happens_right_after_training(tmp_path, monkeypatch, install):
    from benchmarks.harness import train_or_load

    import napari_iog.training.job as job
    from napari_iog.models.weights import user_checkpoints

    ckpt = _tiny_ckpt(tmp_path / "sstem-x.pt")

    def fake_job(spec, cancel=None, dist=None):
        return SimpleNamespace(checkpoint=ckpt)
        yield  # a generator, as finetune_job

    monkeypatch.setattr(job, "finetune_job", fake_job)
    out, _ = train_or_load(SimpleNamespace(out=ckpt), install=install)
    assert out == ckpt and ("sstem-x" in user_checkpoints()) == install


def test_save_results_without_a_path_prints_only(tmp_path, monkeypatch, capsys):
    import benchmarks.harness as ex

    monkeypatch.setattr(ex, "results_json", lambda *a: {"miou_at_3": 0.9, "n_objects": 3})
    monkeypatch.setattr(ex, "device_description", lambda d: "cpu")
    monkeypatch.setattr(ex, "record_test_metrics", lambda *a: None)
    main_r = SimpleNamespace(name="IOG light", summary=lambda: {})
    loaded = SimpleNamespace(meta={"train_seconds": 5.0})
    before = set(tmp_path.rglob("*"))
    data = ex.save_results(None, [main_r], None, "cpu", "cmd", {}, tmp_path / "c.pt", loaded)
    out = capsys.readouterr().out
    assert data["miou_at_3"] == 0.9 and '"miou_at_3": 0.9' in out and "--results PATH" in out
    assert set(tmp_path.rglob("*")) == before  # nothing written


# --- harvest inline, Ctrl-C -------------------------------------------------------------------


class _Stopping:
    """FakePredictor that acts on its ``at``-th image: raise KeyboardInterrupt ("raise"),
    send SIGINT and go on ("signal"), or send SIGINT and fail as pycocotools can ("typeerror")."""

    def __init__(self, how: str, at: int = 2):
        from tests._fake_predictor import FakePredictor

        self.fake, self.how, self.at, self.n = FakePredictor(), how, at, 0

    def __getattr__(self, name):
        return getattr(self.fake, name)

    def set_image(self, image, **kw):
        self.n += 1
        if self.n == self.at:
            if self.how == "raise":
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGINT)
            if self.how == "typeerror":
                raise TypeError("input type is not supported.")
        return self.fake.set_image(image, **kw)


@pytest.mark.parametrize("how, merged", [("raise", False), ("signal", True), ("typeerror", False)])
def test_inline_harvest_ctrl_c_prints_one_line_and_resumes(
    tmp_path, monkeypatch, capsys, how, merged
):
    from napari_iog.harvest import task as task_module
    from tests.test_harvest_synth import make_images, write_coco

    images = make_images(tmp_path / "img", n_images=3)
    boxes = write_coco(tmp_path / "boxes.json", images)
    before = boxes.read_bytes()
    pred = _Stopping(how)
    monkeypatch.setattr(task_module, "cached_predictor", lambda *a, **k: (pred, threading.Lock()))
    argv = ["harvest", "--boxes", str(boxes), "--images", str(tmp_path / "img"), "--weights",
            "fake", "--scheduler", "inline", "--no-progress", "--out", str(tmp_path / "m.json")]  # fmt: skip
    handler = signal.getsignal(signal.SIGINT)
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is handler  # restored
    assert "Traceback" not in err and "TypeError" not in err
    line = [x for x in err.splitlines() if x.startswith("interrupted:")]
    assert len(line) == 1 and "run the same command again" in line[0] and "m_parts/" in line[0]
    assert ("2 of 3 images" if merged else "1 of 3 images") in line[0]
    assert len(list((tmp_path / "m_parts").iterdir())) >= 1
    assert (tmp_path / "m.json").exists() == merged
    pred.at = 0  # no more interruptions: the re-run finishes what is left
    assert main(argv) == 0
    coco = json.loads((tmp_path / "m.json").read_text())
    assert len(coco["annotations"]) == 9 and boxes.read_bytes() == before
