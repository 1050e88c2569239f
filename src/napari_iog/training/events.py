"""What a fine-tuning run reports, as typed events (one class per kind), and its summary.

Every event has ``kind`` (a class constant, except :class:`Finished`, whose kind is how the run
ended), so consumers can dispatch with ``isinstance`` or on ``kind``. Order of a run:
:class:`Prepared` (the job only), then :class:`Step` per optimiser step, :class:`Checkpoint` when
the kept model was written, :class:`Epoch` after each epoch's validation, :class:`Calibrated`
after the threshold fit, and one :class:`Finished` last.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

NAN = float("nan")


@dataclass(frozen=True)
class Prepared:
    """The data and the start model are ready: ``description`` (objects, planes, skipped),
    ``start`` (what the network starts from), ``n_train`` / ``n_val`` objects."""

    kind: ClassVar[str] = "prepared"
    description: str
    start: str
    n_train: int
    n_val: int


@dataclass(frozen=True)
class Step:
    """One optimiser step: ``loss`` (mean over processes under torchrun), ``lr``, wall ``seconds``."""

    kind: ClassVar[str] = "step"
    epoch: int
    step: int
    total_steps: int
    loss: float
    lr: float
    best_val: float
    seconds: float


@dataclass(frozen=True)
class Epoch:
    """An epoch ended: mean training ``loss``, crop IoU after 3 clicks (``val_iou``) and after 1
    simulated corrective click (``val_iou_refined``; NaN without validation / refinement)."""

    kind: ClassVar[str] = "epoch"
    epoch: int
    step: int
    total_steps: int
    loss: float = NAN
    val_iou: float = NAN
    val_iou_refined: float = NAN
    best_val: float = NAN
    seconds: float = 0.0


@dataclass(frozen=True)
class Checkpoint:
    """The kept model was written to ``path`` after ``epoch`` (a crash keeps this one)."""

    kind: ClassVar[str] = "checkpoint"
    epoch: int
    step: int
    path: Path
    val_iou: float = NAN
    best_val: float = NAN
    seconds: float = 0.0

    @property
    def message(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class Calibrated:
    """The mask threshold was fitted: ``record`` (``training.calibration.fit_threshold``) and
    ``message`` (one line saying how)."""

    kind: ClassVar[str] = "calibrated"
    record: dict
    message: str


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
    kept: str = ""  # "best validation epoch", "last epoch" or start_guard.KEPT_START
    threshold_calibration: dict | None = None  # FinetuneConfig.calibrate_threshold's record


@dataclass(frozen=True)
class Finished:
    """The run ended (``stopped``: "done" | "cancelled" | "timeout" | "early_stop"; also its
    ``kind``). ``checkpoint``: the file written (None when nothing was); ``improved``: an epoch
    beat the start weights (False = the start weights were kept); ``metrics`` of the kept model;
    ``model`` / ``preprocess``: the kept network in memory (eval mode, CPU), so nobody has to
    read the checkpoint back; ``summary``: the :class:`TrainSummary`."""

    stopped: str
    checkpoint: Path | None
    kept: str
    improved: bool
    metrics: dict
    summary: TrainSummary
    model: Any = None
    preprocess: Any = None

    @property
    def kind(self) -> str:
        return self.stopped

    @property
    def message(self) -> str:
        return "" if self.checkpoint is None else str(self.checkpoint)


TrainEvent = Prepared | Step | Epoch | Checkpoint | Calibrated | Finished


_Event = TypeVar("_Event")
_Result = TypeVar("_Result")


def drive(
    events: Generator[_Event, Any, _Result], callback: Callable[[_Event], object] | None = None
) -> _Result:
    """Exhaust the generator ``events``, calling ``callback(event)`` for each; returns its value."""
    while True:
        try:
            ev = next(events)
        except StopIteration as stop:
            return stop.value
        if callback is not None:
            callback(ev)
