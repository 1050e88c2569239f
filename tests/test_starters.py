"""The shipped starter models: files, model cards, the image -> model choice, the real-data check
score each card records, and the fine-tuning guarantee (never end worse than the start)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from napari_iog.models import starters as S  # noqa: E402
from napari_iog.training.starter_recipe import recipe  # noqa: E402
from tests._shared import require_shared  # noqa: E402


@pytest.mark.parametrize("name", sorted(S.STARTERS))
def test_shipped_file_is_float16_with_a_card_that_matches_the_recipe(name):
    import torch

    path = S.starter_path(name)
    obj = torch.load(path, map_location="cpu", weights_only=True)
    sd = obj["state_dict"]
    weights = [v for k, v in sd.items() if v.is_floating_point() and "running_" not in k]
    assert weights and all(v.dtype == torch.float16 for v in weights)  # BN statistics: float32
    assert all(torch.isfinite(v).all() for v in sd.values() if v.is_floating_point())
    card = obj["meta"]["card"]
    entry = S.STARTERS[name]
    assert card["name"] == name and card["domain"] == entry.domain == obj["meta"]["domain"]
    sources = [{k: s[k] for k in ("name", "data", "share")} for s in card["training"]["sources"]]
    assert sources == recipe(entry.domain)
    assert "starter_train.py " + entry.domain in card["training"]["command"]
    assert len(card["trained_checkpoint_sha256"]) == 64 and card["input"] and card["licence"]
    text = str(card)
    assert "/work/" not in text and "/home/" not in text and "/root/" not in text


def test_starters_fit_the_wheel_budget():
    total = sum(S.starter_path(n).stat().st_size for n in S.STARTERS)
    assert total <= 25e6, f"shipped starters take {total / 1e6:.1f} MB (budget 25 MB)"


@pytest.mark.parametrize("name", sorted(S.STARTERS))
def test_shipped_weights_load_strictly_and_reproduce_their_check_score(name):
    """The card's quick check (a few real objects, 3 clicks) gives the recorded mIoU."""
    from napari_iog.evaluation.starter_check import quick_check  # the recipe's own check
    from napari_iog.models.checkpoint import load_model

    loaded = load_model(name)  # strict: every key and shape, and the content hash
    assert next(loaded.model.parameters()).dtype.is_floating_point
    data = require_shared("data")

    card = S.starter_card(name)
    got = quick_check(S.STARTERS[name].domain, name, data)
    assert got["n_objects"] == card["check"]["n_objects"]
    assert got["miou_at_3"] == pytest.approx(card["check"]["miou_at_3"], abs=2e-3)


def test_image_domain_from_data_and_metadata():
    grey = np.zeros((5, 64, 64), np.uint16)
    rgb = np.zeros((64, 64, 3), np.uint8)
    assert S.image_domain(grey) == "em"
    assert S.image_domain(rgb) == "aerial"
    assert S.image_domain(rgb, rgb=False) == "em"  # napari says: 3 slices, not colour
    assert S.image_domain([rgb, rgb[::2, ::2]]) == "aerial"  # multiscale: level 0
    assert S.image_domain(grey[0], metadata={"crs": "EPSG:32616"}) == "aerial"  # pan orthophoto
    assert S.image_domain(rgb, metadata={"domain": "em"}) == "em"
    assert S.starter_for("em") == "iog-em" and S.starter_for("aerial") == "iog-aerial"
    assert S.resolve_weights("auto", rgb) == "iog-aerial"
    assert S.resolve_weights("auto", grey[0]) == "iog-em"
    assert S.resolve_weights("my.pt", rgb) == "my.pt"


def test_missing_starter_says_how_to_repair(monkeypatch, tmp_path):
    monkeypatch.setattr(S, "STARTER_DIR", tmp_path)
    with pytest.raises(S.StarterMissingError, match="reinstall"):
        S.starter_path("iog-em")
    assert S.available_starters() == []
    from napari_iog.training.presets import resolve_start

    assert resolve_start("auto", np.zeros((8, 8))) is None  # falls back to random init


def test_weights_list_shows_starters_with_domain_and_score(capsys):
    from napari_iog.cli import main
    from napari_iog.models.registry import list_weights

    rows = {r.name: r for r in list_weights()}
    for name in S.STARTERS:
        assert rows[name].kind == "starter" and rows[name].cached
        assert "mIoU@3" in rows[name].description or not S.starter_card(name).get("scores")
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "iog-em" in out and "iog-aerial" in out


def test_finetuning_keeps_the_start_when_training_makes_it_worse(tmp_path):
    """A deliberately bad training set (each object's box minus the object) with a high
    learning rate: the run must end with the starter's own weights, and say so."""
    import torch
    from scipy import ndimage

    from napari_iog.data.datasets import ObjectDataset
    from napari_iog.data.layouts import load_sstem
    from napari_iog.models.checkpoint import content_digest, load_model
    from napari_iog.training import FinetuneConfig, run_finetune
    from napari_iog.training.start_guard import KEPT_START

    root = require_shared("data", "sstem-drosophila-vnc")
    ims, labs = load_sstem(root, [5])
    good = labs[0]
    bad = np.zeros_like(good)
    for k, sl in enumerate(ndimage.find_objects(good), start=1):
        if sl is not None:
            bad[sl] = np.where(good[sl] == k, 0, k)  # the background of the box, not the object
    start = load_model("iog-em")
    pre = start.preprocess
    val = ObjectDataset(ims, [good], pre, min_area=50)
    train = ObjectDataset(ims, [bad], pre, min_area=50, label_mode="instances")
    assert len(val) >= 10
    before = content_digest(start.model.state_dict())
    cfg = FinetuneConfig(epochs=2, samples_per_epoch=16, batch_size=8, lr=2e-2, device="cpu",
                         num_threads=1, val_max_objects=len(val))  # fmt: skip
    out = tmp_path / "ft.pt"
    summary = run_finetune(start.model, pre, train, val, cfg, out=out)
    assert summary.kept == KEPT_START
    kept = load_model(out)
    assert kept.meta["kept"] == KEPT_START and kept.meta["metrics"]["trained_val_score"] is not None
    assert kept.meta["metrics"]["trained_val_score"] < 0.5 * (
        kept.meta["metrics"]["val_iou"] + kept.meta["metrics"]["val_iou_refined"]
    )
    assert content_digest(kept.model.state_dict()) == before
    assert not torch.isnan(next(kept.model.parameters())).any()


def test_corrupt_or_foreign_files_in_the_cache_do_not_break_the_listing(monkeypatch, tmp_path):
    from napari_iog.models.registry import list_weights

    monkeypatch.setenv("NAPARI_IOG_CACHE", str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "garbage.pt").write_bytes(b"\x00not a checkpoint" * 50)
    (tmp_path / "checkpoints" / "foreign.pt").write_bytes(b"PK\x03\x04" + bytes(200))
    rows = {r.name: r for r in list_weights()}
    assert (
        rows["garbage"].description
        == rows["foreign"].description
        == ("unreadable napari-iog checkpoint")
    )
    assert rows["iog-em"].cached and rows["iog-aerial"].cached  # the starters are still there


@pytest.mark.parametrize(
    "extra, init", [([], "iog-em"), (["--profile", "iog-tiny-refine"], "random")]
)
def test_cli_finetune_starts_from_the_matching_starter_unless_a_profile_is_given(
    tmp_path, monkeypatch, capsys, extra, init
):
    import tifffile

    from napari_iog.cli import main
    from napari_iog.data.synthetic import blobs
    from napari_iog.models.checkpoint import read_header

    monkeypatch.setenv("NAPARI_IOG_CACHE", str(tmp_path / "cache"))
    im, lab = blobs((96, 96), 4, seed=1)[:2]
    tifffile.imwrite(tmp_path / "im.tif", im.astype(np.uint8))
    tifffile.imwrite(tmp_path / "lab.tif", lab.astype(np.uint16))
    out = tmp_path / "ft.pt"
    args = ["finetune", "--images", str(tmp_path / "im.tif"), "--labels", str(tmp_path / "lab.tif"),
            "--epochs", "1", "--samples-per-epoch", "4", "--batch-size", "2", "--device", "cpu",
            "--no-progress", "--label-mode", "instances", "--out", str(out), *extra]  # fmt: skip
    assert main(args) == 0
    meta = read_header(out)["meta"]
    assert str(meta["init"]).startswith(init)
    assert (meta.get("domain") == "em") == (init == "iog-em")
    assert f"starting from {init}" in capsys.readouterr().out
