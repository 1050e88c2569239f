"""What the fine-tuning loop reports: one :class:`TrainEvent` per step / epoch / checkpoint, and
the :class:`TrainSummary` it returns at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class TrainEvent:
    """``kind``: "step" | "epoch" | "checkpoint" | "calibrated" (the mask threshold was fitted;
    ``message`` says how) | then one of "done" | "cancelled" | "timeout" | "early_stop"."""

    kind: str
    epoch: int
    step: int
    total_steps: int
    loss: float = float("nan")
    val_iou: float = float("nan")
    val_iou_refined: float = float("nan")
    best_val: float = float("nan")
    seconds: float = 0.0
    lr: float = 0.0
    message: str = ""


@dataclass
class TrainSummary:
    checkpoint: Path | None
    epochs_done: int
    steps_done: int
    best_val: float
    seconds: float
    stopped: str
    history: list[dict] = field(default_factory=list)
    cpu_seconds: float = 0.0  # process CPU time / torch threads
    kept: str = ""  # "best validation epoch" or "last epoch" (FinetuneConfig.keep)
    threshold_calibration: dict | None = None  # FinetuneConfig.calibrate_threshold's record
