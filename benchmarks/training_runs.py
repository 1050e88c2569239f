"""The training half of the few-shot experiments (``benchmarks/fewshot.py``, ``starter_finetune.py``), without a command
line: :func:`train_or_load` runs a :class:`~napari_iog.training.job.FinetuneSpec` through the
one fine-tuning job (or takes an existing checkpoint), :func:`train_logger` prints its events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

say = partial(print, flush=True)


def train_logger(every_s: float = 60.0, log: Callable[[str], None] = say) -> Callable:
    """A training-event callback printing epochs, a step line every ``every_s`` and the end."""
    last = [0.0]

    def cb(ev) -> None:
        if ev.kind == "epoch":
            log(f"epoch {ev.epoch} step {ev.step} loss {ev.loss:.4f} val_iou {ev.val_iou:.4f} "
                f"val_iou+1 {ev.val_iou_refined:.4f} best {ev.best_val:.4f} t {ev.seconds:.0f}s")  # fmt: skip
        elif ev.kind == "step" and time.perf_counter() - last[0] > every_s:
            last[0] = time.perf_counter()
            log(f"  step {ev.step} loss {ev.loss:.4f} lr {ev.lr:.2e} t {ev.seconds:.0f}s")
        elif ev.kind in ("calibrated", "prepared"):
            log(getattr(ev, "message", None) or f"train: {ev.description} (from {ev.start})")
        elif ev.kind not in ("step", "checkpoint", "epoch"):
            log(f"stopped: {ev.kind} after {ev.summary.seconds:.0f}s -> {ev.message}")

    return cb


def train_or_load(spec, eval_only: str | Path | None = None, install: bool = False,
                  log: Callable[[str], None] = say):  # fmt: skip
    """``(checkpoint path, TrainSummary | None)``: the checkpoint ``eval_only`` as it is, or the
    one ``spec`` trains (``training.job.finetune_job``). With ``install`` the checkpoint goes
    into the weights cache at once (before a long evaluation, so stopping it keeps the model)."""
    from napari_iog.training import job
    from napari_iog.training.events import drive

    summary = None
    if eval_only is not None:
        ckpt = Path(eval_only)
    else:
        summary = drive(job.finetune_job(spec), train_logger(log=log))
        ckpt = summary.checkpoint
    if install and ckpt is not None:
        from napari_iog.models.weights import install_checkpoint

        install_checkpoint(ckpt)
    return ckpt, summary
