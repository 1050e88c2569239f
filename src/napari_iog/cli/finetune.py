"""``napari-iog finetune``: train an IOG checkpoint on your own (image, instance labels) pairs.

    napari-iog finetune --images raw/ --labels masks/ --minutes 30 --out my.pt

Images and labels: files, folders or glob patterns (sorted names pair up; stacks split into
planes). Labels: instance ids, or binary masks (split into connected components), or a semantic
class with ``--label-value``. The checkpoint is written atomically whenever validation improves
(or after every epoch with ``--keep last``, the default when fewer than 10 objects validate), so
a cancelled (Ctrl-C) or time-limited run keeps the last good model. At the end, the mask
threshold is set to the one that fits the validation objects best (``training.calibration``;
``--no-calibrate-threshold`` keeps 0.5).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from ..config import AUTO_WEIGHTS
from ..words import count


def register(subparsers) -> None:
    from ..training.config import add_augment_args
    from . import pairs_options

    p = subparsers.add_parser(
        "finetune",
        help="fine-tune IOG on annotated images (few-shot)",
        description="Fine-tune an IOG network on (image, instance labels) pairs; writes a checkpoint.",
    )
    pairs_options(p)
    p.add_argument(
        "--profile",
        default=None,
        help="model profile or preset to train from scratch (default cpu-light); giving it "
        "without --weights trains that profile from random weights instead of the starter",
    )
    p.add_argument(
        "--weights", default=AUTO_WEIGHTS,
        help="start weights: 'auto' (default) = the shipped starter matching the images (iog-em "
        "for grey EM/microscopy, iog-aerial for colour); a weights name or file; 'none' = random "
        "init of --profile. The start is kept when training does not beat it on held-out objects",
    )  # fmt: skip
    p.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--samples-per-epoch", type=int, default=256)
    p.add_argument(
        "--minutes", type=float, default=None,
        help="time budget, counted on --clock (the kept checkpoint stays)",
    )  # fmt: skip
    p.add_argument(
        "--clock", default="wall", choices=("wall", "cpu"),
        help="what --minutes counts: wall (default) = wall-clock time; cpu = this process's CPU "
        "time / its threads, the same amount of training however busy the machine is",
    )  # fmt: skip
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=None, help="default 2e-3 (AdamW) / 2.6e-3 (SGD)")
    p.add_argument("--optimizer", default="adamw", choices=("adamw", "sgd"))
    p.add_argument("--loss", default="bce", choices=("bce", "balanced"))
    p.add_argument("--freeze-backbone", action="store_true")
    add_augment_args(p, calibrate_threshold=True)
    # top-down images (EM, microscopy, aerial) have no "up": any rotation, vertical flips, +-10 %
    # contrast, as the widget's default and the measured recipes; photos: --rotate 20 --no-vflip
    # --intensity 0 (the paper's)
    p.set_defaults(rotate=180.0, vflip=True, intensity=0.1)
    p.add_argument("--min-area", type=int, default=50, help="skip smaller objects (pixels)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--patience", type=int, default=0, help="early stop after N epochs w/o progress")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", default=None, help="a <out>.state.pt file of an earlier run")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def _model(args, images):
    """``(network, preprocess, start text, domain of the start weights or None)``."""
    from ..models.starters import domain_of_weights
    from ..training.presets import resolve_start, start_model

    weights = args.weights
    if args.profile is not None and str(weights).lower() == AUTO_WEIGHTS:
        weights = None  # an explicit --profile asks for that network, not the starter's
    weights = resolve_start(weights, images[0] if images else None)
    model, pre, init = start_model(weights, args.profile or "cpu-light", args.seed)
    return model, pre, init, (domain_of_weights(weights) if weights else None)


def run(args) -> int:
    from ..data.datasets import ObjectDataset
    from ..training import FinetuneConfig, TrainingError, run_finetune
    from ..training.config import augment_kwargs
    from . import load_pairs_of
    from .guards import check_finetune_args

    check_finetune_args(args)  # numbers and the --out path, before any work
    images, labels = load_pairs_of(args)
    model, pre, init, domain = _model(args, images)
    print(f"napari-iog finetune: starting from {init}")
    ds = ObjectDataset(images, labels, pre, min_area=args.min_area, label_mode="instances")
    print(f"napari-iog finetune: {ds.describe()}")
    if len(ds) == 0:
        raise TrainingError(
            f"0 objects to train on (all labels empty or smaller than --min-area {args.min_area} px). "
            "Check the label files or lower --min-area."
        )
    train, val = ds.split(args.val_fraction, seed=args.seed) if len(ds) >= 4 else (ds, None)
    lr = args.lr or (2.6e-3 if args.optimizer == "sgd" else 2e-3)
    cfg = FinetuneConfig(
        epochs=args.epochs,
        samples_per_epoch=args.samples_per_epoch,
        batch_size=args.batch_size,
        lr=lr,
        optimizer=args.optimizer,
        schedule="constant" if args.optimizer == "sgd" else "cosine",
        loss=args.loss,
        freeze_backbone=args.freeze_backbone,
        min_area=args.min_area,
        val_fraction=args.val_fraction,
        patience=args.patience,
        max_minutes=args.minutes,
        budget_clock=args.clock,
        seed=args.seed,
        device=args.device,
        num_threads=args.threads,
        **augment_kwargs(args),
    )
    meta = {
        "data": {"images": [str(p) for p in args.images], "labels": [str(p) for p in args.labels]},
        "init": init,
        "domain": domain,
        "profile": args.profile or "cpu-light",
        "n_objects": len(ds),
        "n_skipped_small": ds.n_skipped_small,
    }
    bar = None if args.no_progress else ProgressBar(cfg.max_minutes, args.clock)

    def on_event(ev):
        if bar is not None and ev.kind == "step":
            bar.step(ev)
        elif ev.kind == "epoch":
            (bar.write if bar is not None else print)(epoch_line(ev))
        elif ev.kind == "calibrated":
            (bar.write if bar is not None else print)(ev.message)

    try:
        summary = run_finetune(
            model,
            pre,
            train,
            val,
            cfg,
            out=Path(args.out),
            meta=meta,
            resume=args.resume,
            callback=on_event,
        )
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        kept = Path(args.out)
        print(
            f"cancelled; the last good checkpoint is {kept}"
            if kept.exists()
            else "cancelled; nothing saved"
        )
        return 130
    finally:
        if bar is not None:
            bar.close()
    score = (
        f"best validation score {summary.best_val:.4f} (mean of val IoU@3 and after 1 click)"
        if val is not None
        else "no validation objects (fewer than 4 objects)"
    )
    print(
        f"{summary.stopped}: {count(summary.steps_done, 'step')} in {summary.seconds:.0f} s; "
        f"{score}; checkpoint {summary.checkpoint} ({summary.kept})"
    )
    note = busy_note(summary, args.clock, args.device)
    if note:
        print(note, file=sys.stderr)
    return 0


BUSY_SHARE = 0.6  # below this share of its threads' time, a run was slowed by other work


def busy_note(summary, clock: str, device: str = "cpu", min_seconds: float = 20.0) -> str | None:
    """A warning when a CPU run of at least ``min_seconds`` got less than ``BUSY_SHARE`` of its
    threads' time (``summary.cpu_seconds`` is already per thread) - a busy machine, so a
    wall-clock ``--minutes`` bought fewer steps; None otherwise (GPU runs: the CPU waits)."""
    import torch

    from ..training.steps import resolve_device

    if summary.seconds < min_seconds or resolve_device(device).type != "cpu":
        return None
    share = summary.cpu_seconds / summary.seconds
    if share >= BUSY_SHARE:
        return None
    threads = torch.get_num_threads()
    advice = (
        "; use --clock cpu for a fixed amount of training"
        if clock == "wall"
        else " (--clock cpu: the training amount is the same; only the wall time grew)"
    )
    return (
        f"note: the machine was busy: this run got {share:.0%} of its "
        f"{'thread' if threads == 1 else f'{threads} threads'}' time "
        f"({summary.cpu_seconds * threads:.0f} CPU s in "
        f"{summary.seconds:.0f} s){advice}."
    )


def epoch_line(ev) -> str:
    """The log line of an "epoch" event, every metric labelled: training loss, crop IoU after
    the 3 IOG clicks, after 1 simulated corrective click, and the best score (the mean of the
    two, what epochs are ranked by); no validation metrics when there are no validation objects."""
    head = f"epoch {ev.epoch}: train loss {ev.loss:.4f}"
    if math.isnan(ev.val_iou):
        return f"{head}  (no validation objects: the last epoch is kept)"
    if math.isnan(ev.val_iou_refined):
        return f"{head}  val IoU@3 {ev.val_iou:.4f}  best val IoU@3 {ev.best_val:.4f}"
    return (
        f"{head}  val IoU@3 {ev.val_iou:.4f}  val IoU after 1 click {ev.val_iou_refined:.4f}  "
        f"best score {ev.best_val:.4f} (= mean of the two)"
    )


class ProgressBar:
    """tqdm bar of what the run will really do: with ``minutes``, seconds of the time budget
    (the run stops there, whatever ``--epochs`` says); else the run's steps (taken from the
    events, so a resumed run starts where it left off)."""

    def __init__(self, minutes: float | None, clock: str = "wall"):
        self.minutes, self.clock, self.bar, self._c0 = minutes, clock, None, None

    def _seconds(self, ev) -> float:
        """Budget seconds spent: the event's wall seconds, or (``clock="cpu"``) this process's
        CPU seconds per torch thread since the first step event."""
        if self.clock != "cpu":
            return ev.seconds
        import time

        import torch

        now = time.process_time()
        if self._c0 is None:
            self._c0 = now  # counted from the first step on
        return (now - self._c0) / max(1, torch.get_num_threads())

    def step(self, ev) -> None:
        """Advance to the "step" event ``ev``."""
        from tqdm import tqdm

        if self.bar is None:
            if self.minutes:
                unit = "CPU-min" if self.clock == "cpu" else "min"
                self.bar = tqdm(total=max(1, round(self.minutes * 60)), unit="s",
                                desc=f"fine-tuning ({self.minutes:g} {unit} budget)",
                                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n}/{total} s "
                                "[{elapsed}<{remaining}{postfix}]")  # fmt: skip
            else:
                self.bar = tqdm(total=ev.total_steps, initial=ev.step - 1, unit="step",
                                desc="fine-tuning")  # fmt: skip
        target = min(round(self._seconds(ev)), self.bar.total) if self.minutes else ev.step
        self.bar.update(max(0, target - self.bar.n))
        post = (
            {"loss": f"{ev.loss:.3f}", "step": ev.step}
            if self.minutes
            else {"loss": f"{ev.loss:.3f}"}
        )
        self.bar.set_postfix(post, refresh=False)

    def write(self, text: str) -> None:
        """Print ``text`` above the bar."""
        from tqdm import tqdm

        tqdm.write(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
