"""Fine-tuning: losses, config validation, a 3-step run (finite loss, checkpoint, provenance),
cancel keeps the last good checkpoint, resume, 0 objects, GPU OOM message, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_iog.data.datasets import ObjectDataset  # noqa: E402
from napari_iog.data.synthetic import blobs  # noqa: E402
from napari_iog.models import build_model, get_profile  # noqa: E402
from napari_iog.models.checkpoint import load_model  # noqa: E402
from napari_iog.training import (  # noqa: E402
    AugmentConfig,
    FinetuneConfig,
    TrainingError,
    finetune,
    run_finetune,
)
from napari_iog.training.losses import bce, iog_loss  # noqa: E402
from napari_iog.training.steps import oom_guard  # noqa: E402

TINY = "iog-tiny-refine"
PRE = get_profile(TINY)[1]
FAST = dict(
    epochs=1,
    samples_per_epoch=6,
    batch_size=2,
    num_threads=1,
    val_max_objects=4,
    device="cpu",
    lr=1e-3,
    augment=AugmentConfig(),  # the Python API's defaults these tests were written for
)


@pytest.fixture(scope="module")
def data():
    ims, labs = zip(*[blobs((96, 96), 3, seed=s) for s in range(2)])
    ds = ObjectDataset(list(ims), list(labs), PRE, min_area=20)
    return ds.split(0.3, seed=0)


def test_bce_ignores_void_and_balanced_weights_classes():
    logits = torch.zeros(1, 1, 4, 4)
    target = torch.zeros(1, 1, 4, 4)
    target[..., :1, :] = 1
    assert bce(logits, target).item() == pytest.approx(np.log(2), rel=1e-5)
    void = torch.ones(1, 1, 4, 4, dtype=torch.bool)
    assert bce(logits, target, void).item() == 0.0
    logits[..., :1, :] = 5.0  # the positives are right, the negatives uncertain
    plain, balanced = bce(logits, target).item(), bce(logits, target, balanced=True).item()
    # each class is weighted by the other's fraction: positives (4/16) x 1.5, negatives x 0.5
    expected = (12 * 0.5 * np.log(2) + 4 * 1.5 * np.log1p(np.exp(-5.0))) / 16
    assert balanced == pytest.approx(expected, rel=1e-4) and balanced < plain


def test_iog_loss_sums_coarse_and_fine():
    from napari_iog.models import IOGOutput

    t = torch.ones(2, 1, 8, 8)
    z = torch.zeros(2, 1, 8, 8)
    out = IOGOutput((z, z, z, z), z)
    assert iog_loss(out, t).item() == pytest.approx(5 * np.log(2), rel=1e-5)


def test_config_validation_and_round_trip():
    with pytest.raises(TrainingError, match="optimizer"):
        FinetuneConfig(optimizer="lbfgs")
    with pytest.raises(TrainingError, match="lr"):
        FinetuneConfig(lr=0)
    with pytest.raises(TrainingError, match="box_jitter"):
        FinetuneConfig(box_jitter=-0.1)
    cfg = FinetuneConfig.paper(epochs=3)
    assert cfg.optimizer == "sgd" and FinetuneConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(TrainingError, match="Unknown"):
        FinetuneConfig.from_dict({"epochz": 1})


def test_three_step_finetune_writes_a_loadable_checkpoint(tmp_path, data):
    train, val = data
    torch.manual_seed(0)
    model = build_model(TINY)
    out = tmp_path / "ft.pt"
    cfg = FinetuneConfig(**FAST)
    events = []
    summary = run_finetune(
        model,
        PRE,
        train,
        val,
        cfg,
        out=out,
        meta={"data": "synthetic blobs"},
        callback=events.append,
    )
    steps = [e for e in events if e.kind == "step"]
    assert len(steps) == 3 and all(np.isfinite(e.loss) for e in steps)
    assert summary.stopped == "done" and summary.steps_done == 3 and summary.checkpoint == out
    loaded = load_model(out)
    assert loaded.meta["data"] == "synthetic blobs" and loaded.meta["epochs"] == 1
    assert loaded.meta["finetune_config"]["batch_size"] == 2 and "val_iou" in loaded.meta["metrics"]
    assert loaded.preprocess == PRE
    sd = loaded.model.state_dict()
    assert all(torch.equal(sd[k].cpu(), v.cpu()) for k, v in model.state_dict().items())
    assert (tmp_path / "ft.pt.state.pt").exists()


def test_cancel_keeps_the_last_good_checkpoint(tmp_path, data):
    train, val = data
    model = build_model(TINY)
    out = tmp_path / "c.pt"
    cfg = FinetuneConfig(**dict(FAST, epochs=5))
    n = {"steps": 0}

    def cancel():
        return n["steps"] >= 4  # cancel during epoch 2

    events = []
    for ev in finetune(model, PRE, train, val, cfg, out=out, cancel=cancel):
        events.append(ev)
        n["steps"] += ev.kind == "step"
    assert events[-1].kind == "cancelled"
    assert n["steps"] == 4
    loaded = load_model(out)  # written after epoch 1, intact
    assert loaded.meta["epochs"] == 1
    assert not list(tmp_path.glob(".*.tmp"))  # no temp files left behind


@pytest.mark.parametrize("keep", ["auto", "last", "best"])
def test_keep_picks_the_best_or_the_last_epoch(tmp_path, data, keep):
    """2 validation objects: "auto" keeps the last epoch (a best-of-few pick is noise); "best"
    writes only on improvement. Either way the checkpoint matches the event stream."""
    train, val = data
    assert 0 < len(val) < 10
    out = tmp_path / f"{keep}.pt"
    cfg = FinetuneConfig(**dict(FAST, epochs=3, samples_per_epoch=4, keep=keep))
    events = list(finetune(build_model(TINY), PRE, train, val, cfg, out=out))
    epochs = [e for e in events if e.kind == "epoch"]
    written = [e.epoch for e in events if e.kind == "checkpoint"]
    meta = load_model(out).meta
    if keep == "best":
        bests = [e.best_val for e in epochs]
        improved = [e.epoch for i, e in enumerate(epochs) if i == 0 or bests[i] > bests[i - 1]]
        assert written == improved and meta["kept"] == "best validation epoch"
        assert meta["metrics"]["val_iou"] == pytest.approx(
            next(e.val_iou for e in epochs if e.epoch == improved[-1])
        )
    else:
        assert written == [1, 2, 3] and meta["kept"] == "last epoch"
    assert meta["epochs"] == written[-1]


def test_same_seed_same_run(data):
    """Seeded end to end: the weights (build_model(seed=...)), the samples and the clicks."""
    train, val = data
    before = torch.random.get_rng_state()
    a, b = build_model(TINY, seed=3), build_model(TINY, seed=3)
    assert torch.equal(torch.random.get_rng_state(), before)  # global torch RNG untouched
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    c = build_model(TINY, seed=4).state_dict()
    assert not all(torch.equal(sa[k], c[k]) for k in sa)
    cfg = FinetuneConfig(**dict(FAST, seed=5))

    def losses(model):
        return [e.loss for e in finetune(model, PRE, train, val, cfg) if e.kind == "step"]

    la, lb = losses(a), losses(b)
    assert len(la) == 3 and la == lb


def test_resume_continues_the_step_count(tmp_path, data):
    train, val = data
    out = tmp_path / "r.pt"
    run_finetune(build_model(TINY), PRE, train, val, FinetuneConfig(**FAST), out=out)
    cfg2 = FinetuneConfig(**dict(FAST, epochs=2))
    s = run_finetune(
        build_model(TINY), PRE, train, val, cfg2, out=out, resume=str(out) + ".state.pt"
    )
    assert s.steps_done == 6


def test_zero_objects_is_a_clear_error(data):
    im, lab = blobs((64, 64), 2, seed=0)
    ds = ObjectDataset([im], [lab], PRE, min_area=10_000)
    assert len(ds) == 0 and ds.n_skipped_small == 2
    with pytest.raises(TrainingError, match="0 objects"):
        run_finetune(build_model(TINY), PRE, ds, None, FinetuneConfig(**FAST))


def test_gpu_oom_becomes_advice():
    with pytest.raises(TrainingError, match="batch size"):
        with oom_guard(16, 512):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")


def test_cli_finetune_end_to_end(tmp_path):
    from skimage.io import imsave

    from napari_iog.cli import main

    for i in range(2):
        im, lab = blobs((96, 96), 3, seed=10 + i)
        (tmp_path / "img").mkdir(exist_ok=True)
        (tmp_path / "lab").mkdir(exist_ok=True)
        imsave(tmp_path / "img" / f"{i}.png", im, check_contrast=False)
        imsave(tmp_path / "lab" / f"{i}.png", lab.astype(np.uint8), check_contrast=False)
    out = tmp_path / "cli.pt"
    rc = main(
        [
            "finetune",
            "--images",
            str(tmp_path / "img"),
            "--labels",
            str(tmp_path / "lab"),
            "--profile",
            "iog-tiny-refine",
            "--epochs",
            "1",
            "--samples-per-epoch",
            "4",
            "--batch-size",
            "2",
            "--min-area",
            "20",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--workers",
            "2",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    meta = load_model(out).meta
    assert rc == 0 and meta["n_objects"] == 6 and meta["finetune_config"]["workers"] == 2
    # on by default in the CLI; with 1 validation object the threshold stays, and says why
    assert meta["finetune_config"]["calibrate_threshold"] is True
    assert (
        "skipped" in meta["threshold_calibration"] and load_model(out).preprocess.threshold == 0.5
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (
        main(
            [
                "finetune",
                "--images",
                str(empty),
                "--labels",
                str(tmp_path / "lab"),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    rc = main(
        [
            "finetune",
            "--images",
            str(tmp_path / "img"),
            "--labels",
            str(tmp_path / "lab"),
            "--min-area",
            "100000",
            "--out",
            str(tmp_path / "none.pt"),
            "--no-progress",
        ]
    )
    assert rc == 2 and not (tmp_path / "none.pt").exists()


def test_without_validation_set_the_checkpoint_is_still_written(tmp_path, data):
    train, _ = data
    out = tmp_path / "noval.pt"
    s = run_finetune(build_model(TINY), PRE, train, None, FinetuneConfig(**FAST), out=out)
    assert s.checkpoint == out and load_model(out).meta["n_val_objects"] == 0


def test_soft_iou_loss_and_its_weight():
    from napari_iog.models import IOGOutput
    from napari_iog.training.losses import soft_iou

    t = torch.zeros(2, 1, 8, 8)
    t[:, :, :4] = 1
    right = (t * 2 - 1) * 20.0  # confident and correct
    assert soft_iou(right, t).item() == pytest.approx(0.0, abs=1e-6)
    assert soft_iou(-right, t).item() == pytest.approx(64 / 65, rel=1e-4)  # no overlap
    void = torch.zeros_like(t, dtype=torch.bool)
    void[:, :, 4:] = True  # only the positive half counts: p = 0.5 everywhere there
    assert soft_iou(torch.zeros_like(t), t, void).item() == pytest.approx(1 - 17 / 33, rel=1e-4)
    z = torch.zeros(2, 1, 8, 8)
    out = IOGOutput((z, z, z, z), z)
    base = iog_loss(out, t).item()
    assert iog_loss(out, t, iou_weight=2.0).item() == pytest.approx(
        base + 2.0 * soft_iou(z, t).item(), rel=1e-5
    )
    with pytest.raises(TrainingError, match="iou_weight"):
        FinetuneConfig(iou_weight=-1)
    with pytest.raises(TrainingError, match="intensity"):
        FinetuneConfig(augment=AugmentConfig(intensity=1.5))


def test_ema_checkpoint_holds_the_averaged_weights_and_resumes(tmp_path, data):
    train, val = data
    torch.manual_seed(0)
    model = build_model(TINY)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    out = tmp_path / "ema.pt"
    aug = AugmentConfig(vflip=True, intensity=0.1)
    cfg = FinetuneConfig(**dict(FAST, ema_decay=0.5, augment=aug, iou_weight=1.0))
    summary = run_finetune(model, PRE, train, val, cfg, out=out)
    assert summary.steps_done == 3 and summary.checkpoint == out
    saved = load_model(out).model.state_dict()
    raw = model.state_dict()
    w = (
        "Fine_net.last_conv.weight"
        if "Fine_net.last_conv.weight" in raw
        else next(k for k, v in raw.items() if v.dtype.is_floating_point and v.ndim == 4)
    )
    # 3 EMA updates with decay 0.5 from the start weights: neither the start nor the raw weights
    assert not torch.equal(saved[w], raw[w]) and not torch.equal(saved[w], start[w])
    state = torch.load(str(out) + ".state.pt", weights_only=True)
    assert "ema" in state
    s2 = run_finetune(
        build_model(TINY), PRE, train, val, cfg.replace(epochs=2), out=out,
        resume=str(out) + ".state.pt",
    )  # fmt: skip
    assert s2.steps_done == 6
    with pytest.raises(TrainingError, match="ema_decay"):
        FinetuneConfig(ema_decay=1.0)


def test_ema_decay_warms_up_so_the_random_start_fades():
    from napari_iog.training.steps import make_ema

    assert make_ema(torch.nn.Linear(2, 2), 0.0) is None
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    ema = make_ema(m, 0.99)
    w0 = m[0].weight.detach().clone()
    ema.update_parameters(m)  # the first update copies
    with torch.no_grad():
        m[0].weight.add_(1.0)
    ema.update_parameters(m)  # second update: decay min(0.99, 2 / 11)
    moved = (ema.module[0].weight - w0).mean().item()
    assert moved == pytest.approx(1 - 2 / 11, rel=1e-5)


def test_budget_clocks():
    from napari_iog.training.budget import Budget

    assert Budget().used() == 0.0  # no budget, no cap
    assert Budget(wall_cap_minutes=1e-9).used() > 1.0  # the cap alone stops a run
    cpu = Budget(minutes=1.0, clock="cpu", threads=2)
    x = 0
    while cpu.cpu_elapsed() <= 0.01:  # burn a little CPU
        x += 1
    assert 0.0 < cpu.used() < 1.0 and cpu.elapsed() > 0.0
