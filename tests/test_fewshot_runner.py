"""``benchmarks/fewshot.run_fewshot``: one DatasetSpec trains through the fine-tuning job (the
benchmark protocol's settings: no threshold fit, epochs until the budget), evaluates on its test
planes, prints the headline numbers, and ``--eval-only`` evaluates without training."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")


def _spec():
    from benchmarks.fewshot import DatasetSpec

    from napari_iog.data.synthetic import blobs
    from napari_iog.training.job import Planes

    planes = [blobs((96, 96), 3, seed=s) for s in range(3)]

    def train(args, root):
        ims, labs = zip(*planes[:2])
        return Planes(ims, labs, {"data": "synthetic blobs", "root": root.name}), None

    return DatasetSpec(
        "blobs", "blobs-data", "tiny", train, lambda args, root: ([planes[2][0]], [planes[2][1]]),
        describe=lambda args: {"dataset": "blobs"}, minutes=0.02, samples_per_epoch=4,
        val_fraction=0.3, baselines=lambda args: (),
    )  # fmt: skip


def test_run_fewshot_trains_evaluates_and_prints(tmp_path, monkeypatch, capsys):
    from benchmarks.fewshot import run_fewshot

    from napari_iog.models.checkpoint import load_model

    (tmp_path / "data" / "blobs-data").mkdir(parents=True)
    monkeypatch.setenv("NAPARI_IOG_SHARED", str(tmp_path))
    out = tmp_path / "blobs.pt"
    argv = ["--profile", "iog-tiny-refine", "--batch-size", "2", "--max-clicks", "1",
            "--void-bands", "none", "--device", "cpu", "--min-area", "20", "--out", str(out)]  # fmt: skip
    assert run_fewshot(_spec(), argv) == 0
    printed = capsys.readouterr().out
    headline = json.loads(printed[printed.index("{") : printed.rindex("}") + 1])
    assert headline["n_objects"] == 3 and 0.0 <= headline["miou_at_3"] <= 1.0
    meta = load_model(out).meta
    assert meta["data"] == "synthetic blobs" and meta["finetune_config"]["epochs"] == 10_000
    assert meta["finetune_config"]["calibrate_threshold"] is False  # the protocol's fixed 0.5
    assert meta["finetune_config"]["budget_clock"] == "cpu" and meta["steps"] >= 1
    assert meta["test_metrics"]["n_objects"] == 3  # recorded after the evaluation
    before = out.read_bytes()
    assert run_fewshot(_spec(), [*argv, "--eval-only", str(out)]) == 0
    assert out.read_bytes() == before  # an evaluation-only run leaves the checkpoint alone
    assert "train: " not in capsys.readouterr().out


def test_missing_data_is_exit_code_2(tmp_path, monkeypatch, capsys):
    from benchmarks.fewshot import run_fewshot

    monkeypatch.setenv("NAPARI_IOG_SHARED", str(tmp_path))
    assert run_fewshot(_spec(), ["--device", "cpu"]) == 2
    assert "NAPARI_IOG_SHARED" in capsys.readouterr().err
