"""The fine-tuning loop: a generator of :class:`TrainEvent` (progress, validation, checkpoints).

``finetune(model, preprocess, train, val, cfg, out)`` trains ``model`` (an IOGNet) on an
:class:`~napari_iog.data.datasets.ObjectDataset`. After each epoch it validates (crop IoU after the
3 IOG clicks and, for refinement nets, after 1 simulated corrective click) and writes the kept
model (best so far, or the latest epoch: ``cfg.keep``) to ``out`` atomically
(``save_checkpoint``): a cancelled, time-limited or crashed run always leaves the last good
checkpoint. ``out + ".state.pt"`` holds the latest optimiser state for ``resume``.
``run_finetune`` drives the generator with a callback (CLI, widget, tests).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..data.augment import AugmentConfig
from .batches import (
    SampleJobs,
    auto_workers,
    batch_keys,
    planes_nbytes,
    training_batches,
    worker_start_method,
)
from .budget import Budget
from .config import MIN_VAL_FOR_BEST, FinetuneConfig, TrainingError
from .diverge import validate_epoch
from .events import TrainEvent, TrainSummary
from .precision import autocast_dtype, precision_name, set_layout
from .resume import load_state, save_state
from .start_guard import KEPT_START, epoch_score, measure_start, restore_start, start_wins
from .steps import (
    lr_at,
    make_ema,
    make_optimizer,
    resolve_device,
    set_train_mode,
    train_step,
)


def finetune(
    model,
    preprocess,
    train,
    val=None,
    cfg: FinetuneConfig | None = None,
    out=None,
    meta: dict | None = None,
    cancel: Callable[[], bool] | None = None,
    resume=None,
) -> Iterator[TrainEvent]:
    """Generator; see module doc. ``out``: checkpoint path (None = no files). ``meta``: extra
    provenance stored in the checkpoint (data, slices...). ``cancel()`` is polled every step.
    Returns (``StopIteration.value``) a :class:`TrainSummary`."""
    import torch

    from ..models.checkpoint import save_checkpoint

    cfg = cfg or FinetuneConfig()

    if len(train) == 0:
        raise TrainingError(
            "There are 0 objects to train on (after skipping objects smaller than "
            f"{train.min_area} px). Annotate some objects or lower min_area."
        )
    if cfg.num_threads:
        torch.set_num_threads(int(cfg.num_threads))
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    model.to(device)
    if cfg.freeze_backbone:
        for p in model.backbone.parameters():
            p.requires_grad_(False)
    opt = make_optimizer(model, cfg)
    ema = make_ema(model, cfg.ema_decay)
    best_model = model if ema is None else ema.module  # what is validated and saved
    amp_dtype = autocast_dtype(device, cfg.amp)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    set_layout(True, model, ema)
    aug = AugmentConfig.of(cfg)
    batch = max(cfg.batch_size, 2)  # BatchNorm on PSP's 1x1 bin needs >= 2 samples
    per_epoch = cfg.samples_per_epoch or len(train)
    steps_per_epoch = max(1, per_epoch // batch)
    total = cfg.epochs * steps_per_epoch
    epoch0, step, best, history = 0, 0, -math.inf, []
    state_path = None if out is None else Path(str(out) + ".state.pt")
    if resume is not None:
        epoch0, step, best = load_state(resume, model, opt, ema, device, cfg.epochs)
    rng = np.random.default_rng([cfg.seed, epoch0])  # refinement-click draws
    start_method = worker_start_method()
    copy_bytes = planes_nbytes(train) if start_method == "spawn" else 0
    workers = auto_workers(cfg.workers, device, copy_bytes)
    batches = training_batches(
        SampleJobs(train, aug, cfg.box_jitter, cfg.seed),
        batch_keys(cfg.seed, len(train), batch, steps_per_epoch, epoch0, cfg.epochs),
        workers,
        pin_memory=device.type == "cuda",
        start_method=start_method,
    )
    clock = Budget(cfg.max_minutes, cfg.budget_clock, cfg.max_wall_minutes, torch.get_num_threads())
    elapsed, cpu_elapsed, used = clock.elapsed, clock.cpu_elapsed, clock.used
    ckpt, stopped, bad_epochs, epoch = None, "done", 0, epoch0
    n_val = 0 if val is None else len(val)
    keep_best = cfg.keep == "best" or (cfg.keep == "auto" and n_val >= MIN_VAL_FOR_BEST)
    base_meta = dict(meta or {})
    base_meta.update(
        finetune_config=cfg.to_dict(),
        n_train_objects=len(train),
        n_val_objects=n_val,
        device=str(device),
        precision=precision_name(amp_dtype),
        sample_workers=workers,
        kept="best validation epoch" if keep_best else "last epoch",
    )

    start = None  # the start weights' validation score: the bar every kept epoch must clear
    if cfg.keep_start and resume is None and out is not None:
        start = measure_start(best_model, val, cfg, device)
        best = start.score if start is not None and keep_best else best
    kept_score = None
    for epoch in range(epoch0, cfg.epochs):
        set_train_mode(model, cfg)
        losses = []
        for _ in range(steps_per_epoch):
            if cancel is not None and cancel():
                stopped = "cancelled"
                break
            if used() >= 1.0:
                stopped = "timeout"
                break
            progress = max(step / total, used())
            lr = lr_at(cfg, progress)
            for g in opt.param_groups:
                g["lr"] = lr
            tensors = next(batches)
            refine_clicks = 0
            if model.is_refinement and rng.random() < cfg.refine_prob:
                refine_clicks = int(rng.integers(1, cfg.max_refine_clicks + 1))
            loss = train_step(
                model,
                opt,
                tensors,
                cfg,
                device,
                train.preprocess.sigma,
                refine_clicks,
                scaler,
                amp_dtype,
            )
            if ema is not None:
                ema.update_parameters(model)
            if not math.isfinite(loss):
                raise TrainingError(
                    f"The loss became {loss} at step {step}: lower the learning rate (now {lr:g})."
                )
            losses.append(loss)
            step += 1
            yield TrainEvent(
                "step", epoch, step, total, loss=loss, seconds=elapsed(), lr=lr, best_val=best
            )
        # nothing trained this epoch, or cancelled: stop at once, the last good checkpoint stays
        if not losses or stopped == "cancelled":
            break
        v3, v4 = validate_epoch(best_model, val, train, cfg, device, epoch + 1, lr)
        score = epoch_score(v3, v4)
        if math.isnan(score):
            score = -float(np.mean(losses))  # no validation set: lower training loss is better
        rec = dict(
            epoch=epoch + 1,
            step=step,
            loss=float(np.mean(losses)),
            val_iou=v3,
            val_iou_refined=v4,
            seconds=round(elapsed(), 1),
            cpu_seconds=round(cpu_elapsed(), 1),
        )
        history.append(rec)
        improved = score > best
        best, bad_epochs = (score, 0) if improved else (best, bad_epochs + 1)
        if out is not None and (improved or not keep_best):
            kept_score = score
            m = dict(
                base_meta,
                epochs=epoch + 1,
                steps=step,
                train_seconds=round(elapsed(), 1),
                train_cpu_seconds=round(cpu_elapsed(), 1),
                metrics={"val_iou": v3, "val_iou_refined": v4, "train_loss": rec["loss"]},
            )
            ckpt = save_checkpoint(out, best_model, preprocess, m)
            yield TrainEvent(
                "checkpoint",
                epoch + 1,
                step,
                total,
                val_iou=v3,
                best_val=best,
                seconds=elapsed(),
                message=str(ckpt),
            )
        if state_path is not None:
            save_state(state_path, model, opt, ema, epoch + 1, step, best)
        yield TrainEvent(
            "epoch",
            epoch + 1,
            step,
            total,
            loss=rec["loss"],
            val_iou=v3,
            val_iou_refined=v4,
            best_val=best,
            seconds=elapsed(),
        )
        if stopped != "done":
            break
        if cfg.patience and bad_epochs >= cfg.patience:
            stopped = "early_stop"
            break
    batches = None  # ends the sample workers, if any
    if stopped != "cancelled" and start_wins(start, kept_score):
        restore_start(best_model, start)
        base_meta["kept"] = KEPT_START
        trained = max((epoch_score(r["val_iou"], r["val_iou_refined"]) for r in history),
                      default=None)  # fmt: skip
        m = dict(base_meta, epochs=0, steps=step, metrics={"val_iou": start.val_iou,
                 "val_iou_refined": start.val_iou_refined, "trained_val_score": trained})  # fmt: skip
        ckpt = save_checkpoint(out, best_model, preprocess, m)
    elif ckpt is None and resume is not None and out is not None and Path(out).exists():
        ckpt = Path(out)  # the earlier run's kept epoch stays the best
    set_layout(False, model, ema)
    model.eval()
    best_model.eval()
    calibration = None
    if cfg.calibrate_threshold and ckpt is not None and stopped != "cancelled":
        from .calibration import calibrate_checkpoint, describe

        calibration = calibrate_checkpoint(ckpt, val, cfg, device)
        yield TrainEvent(
            "calibrated", len(history) + epoch0, step, total, best_val=best,
            seconds=elapsed(), message=describe(calibration),
        )  # fmt: skip
    summary = TrainSummary(
        ckpt,
        len(history) + epoch0,
        step,
        best,
        elapsed(),
        stopped,
        history,
        cpu_elapsed(),
        base_meta["kept"],
        calibration,
    )
    yield TrainEvent(
        stopped,
        len(history) + epoch0,
        step,
        total,
        best_val=best,
        seconds=elapsed(),
        message="" if ckpt is None else str(ckpt),
    )
    return summary


def run_finetune(
    model,
    preprocess,
    train,
    val=None,
    cfg: FinetuneConfig | None = None,
    out=None,
    meta=None,
    cancel=None,
    resume=None,
    callback: Callable[[TrainEvent], None] | None = None,
) -> TrainSummary:
    """Run :func:`finetune` to completion, calling ``callback(event)`` for every event."""
    gen = finetune(model, preprocess, train, val, cfg, out, meta, cancel, resume)
    while True:
        try:
            ev = next(gen)
        except StopIteration as stop:
            return stop.value
        if callback is not None:
            callback(ev)
