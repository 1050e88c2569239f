"""Fault suite, messages (issue 22): the finetune progress bar counts what the run will really
do (seconds of a --minutes budget, not epochs x steps), the epoch log labels its metrics,
counts read "1 object" (never "1 objects"), and an offline download says "no network" plainly,
with no truncated "... (Cause" fragment."""

from __future__ import annotations

import math

import numpy as np
import pytest

from napari_iog.training.events import Epoch
from napari_iog.words import count

pytest.importorskip("torch")


@pytest.mark.parametrize(
    "v3, v4, want, absent",
    [(0.7, 0.8, ["train loss 0.5000", "val IoU@3 0.7000", "val IoU after 1 click 0.8000",
                 "best score 0.7500 (= mean of the two)"], []),
     (0.7, math.nan, ["val IoU@3 0.7000", "best val IoU@3 0.7500"], ["after 1 click", "mean"]),
     (math.nan, math.nan, ["train loss 0.5000", "no validation objects"], ["best", "-0.5"])],
)  # fmt: skip
def test_the_epoch_log_labels_every_metric(v3, v4, want, absent):
    from napari_iog.cli.finetune import epoch_line

    ev = Epoch(3, 30, 300, loss=0.5, val_iou=v3, val_iou_refined=v4, best_val=0.75)
    line = epoch_line(ev)
    assert line.startswith("epoch 3: ") and all(w in line for w in want), line
    assert not any(a in line for a in absent), line


@pytest.mark.parametrize("n, noun, text", [(0, "object", "0 objects"), (1, "object", "1 object"),
                                           (2, "plane", "2 planes"), (1, "box", "1 box"),
                                           (3, "box", "3 boxes"), (1, "label plane", "1 label plane")])  # fmt: skip
def test_count(n, noun, text):
    assert count(n, noun) == text


def test_one_object_is_singular_in_the_dataset_summary():
    from napari_iog.data.datasets import ObjectDataset
    from napari_iog.models import get_profile

    lab = np.zeros((64, 64), np.int32)
    lab[10:30, 10:30] = 1
    ds = ObjectDataset(
        [np.zeros((64, 64), np.uint8)], [lab], get_profile("iog-tiny")[1], min_area=5
    )
    assert ds.describe().startswith("1 object in 1 plane (")


def _finetune_args(tmp_path, *extra):
    from skimage.io import imsave

    from napari_iog.data.synthetic import blobs

    for d in ("img", "lab"):
        (tmp_path / d).mkdir(exist_ok=True)
    for i in range(2):
        im, lab = blobs((96, 96), 3, seed=10 + i)
        imsave(tmp_path / "img" / f"{i}.png", im, check_contrast=False)
        imsave(tmp_path / "lab" / f"{i}.png", lab.astype(np.uint8), check_contrast=False)
    return ["finetune", "--images", str(tmp_path / "img"), "--labels", str(tmp_path / "lab"),
            "--weights", "none", "--profile", "iog-tiny-refine", "--samples-per-epoch", "4",
            "--batch-size", "2", "--min-area", "20", "--device", "cpu", "--threads", "1",
            "--out", str(tmp_path / "m.pt"), *extra]  # fmt: skip


def test_the_progress_bar_of_a_time_budget_counts_seconds(tmp_path, capsys):
    from napari_iog.cli import main

    rc = main(_finetune_args(tmp_path, "--epochs", "5000", "--minutes", "0.02"))
    out, err = capsys.readouterr()
    assert rc == 0 and "timeout" in out
    assert "0.02 min budget" in err and "1/1 s [" in err and "10000" not in err
    assert "epoch 1: train loss" in out + err and "val IoU@3" in out + err


def test_the_progress_bar_of_epochs_counts_steps(tmp_path, capsys):
    from napari_iog.cli import main

    assert main(_finetune_args(tmp_path, "--epochs", "2")) == 0
    out, err = capsys.readouterr()
    assert "/4" in err.replace(" ", "") and "best validation score" in out
    assert "mean of val IoU@3 and after 1 click" in out


def test_offline_download_says_no_network(tmp_path):
    from napari_iog.models.download import DownloadError, download

    with pytest.raises(DownloadError) as err:
        download("http://127.0.0.1:9/IOG.pth", tmp_path, "IOG.pth", progress=False)
    msg = str(err.value)
    assert msg == "no network: could not reach 127.0.0.1" and "(Caus" not in msg


@pytest.mark.parametrize(
    "exc, want",
    [(OSError("x" * 50 + " (Caused by NewConnectionError(...))"), "OSError: " + "x" * 50),
     (RuntimeError("word " * 60), "RuntimeError: " + ("word " * 32).strip() + " ..."),
     (TimeoutError("read timed out"), "no network: could not reach h.org")],
)  # fmt: skip
def test_download_failure_reasons_are_whole_sentences(exc, want):
    from napari_iog.models.download import failure_reason

    assert failure_reason(exc, "https://h.org/f.pth") == want


def test_offline_fetch_message(monkeypatch, tmp_path):
    from napari_iog.models import weights as W

    entry = next(iter(W.REGISTRY.values()))
    monkeypatch.setitem(
        W.REGISTRY,
        entry.name,
        W.WeightsEntry(**{**entry.__dict__, "url": "http://127.0.0.1:9/w.pth"}),
    )
    with pytest.raises(W.WeightsUnavailableError) as err:
        W.fetch(entry.name, progress=False)
    msg = str(err.value)
    assert f"Could not download {entry.name}: no network: could not reach 127.0.0.1. " in msg
    assert f"napari-iog weights import PATH --name {entry.name}" in msg and "(Caus" not in msg
