"""Which weights a fine-tuning run keeps, and the checkpoint that holds them (rank 0 only).

:class:`Keeper` follows the epochs: an epoch that beats the best score (or every epoch with
``keep="last"``) becomes the kept model, copied to the CPU and written to ``out`` at once
(atomically, so a crash keeps it). At the end, :meth:`Keeper.finish` puts the kept weights back
into the network (or the start weights, when no epoch beat them: ``training.start_guard``),
fits the mask threshold on the validation objects with the network in memory
(``training.calibration``) and writes the final checkpoint once, only if that changed anything.
Nothing is read back from disk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .events import Checkpoint
from .start_guard import KEPT_START, StartScore, epoch_score, start_wins

if TYPE_CHECKING:
    import torch

    from ..config import PreprocessConfig
    from ..data.datasets import ObjectDataset
    from ..models.iog import IOGNet
    from .budget import Budget
    from .config import FinetuneConfig

    Calibrate = Callable[[IOGNet, PreprocessConfig], dict]


def cpu_state(model: torch.nn.Module) -> dict:
    """A CPU copy of ``model``'s state_dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


@dataclass
class Ending:
    """What :meth:`Keeper.finish` settled: the ``checkpoint`` path (or None), ``kept`` text,
    ``improved`` (an epoch beat the start), ``metrics``, the ``preprocess`` written (threshold
    fitted), the calibration ``record`` (or None) and whether the network in memory holds the
    kept weights (``in_memory``)."""

    checkpoint: Path | None
    kept: str
    improved: bool
    metrics: dict
    preprocess: object
    record: dict | None = None
    in_memory: bool = True
    meta: dict = field(default_factory=dict)


class Keeper:
    """``out``: checkpoint path (None = no files); ``base_meta``: provenance of every write;
    ``keep_best``: keep the best validation epoch (else the last); ``start``: the start
    weights' score (None = no start guard); ``best``: the score to beat."""

    def __init__(self, out: str | Path | None, preprocess: PreprocessConfig, base_meta: dict,
                 keep_best: bool, start: StartScore | None, best: float) -> None:  # fmt: skip
        self.out, self.preprocess, self.base_meta = out, preprocess, base_meta
        self.keep_best, self.start, self.best = keep_best, start, best
        self.kept_score: float | None = None
        self.state: dict | None = None  # the kept weights (CPU copy)
        self.meta: dict | None = None  # their provenance
        self.path: Path | None = None

    def consider(self, model: IOGNet, score: float, rec: dict, clock: Budget) -> Checkpoint | None:
        """Epoch record ``rec`` (epoch, step, loss, val_iou, val_iou_refined) scored ``score``:
        keep and write ``model`` if it is the new best (or ``keep="last"``); returns the
        :class:`Checkpoint` event of the write, or None."""
        improved = score > self.best
        if improved:
            self.best = score
        if self.out is None or not (improved or not self.keep_best):
            return None
        self.kept_score, self.state = score, cpu_state(model)
        self.meta = dict(
            self.base_meta, epochs=rec["epoch"], steps=rec["step"],
            train_seconds=round(clock.elapsed(), 1), train_cpu_seconds=round(clock.cpu_elapsed(), 1),
            metrics={"val_iou": rec["val_iou"], "val_iou_refined": rec["val_iou_refined"],
                     "train_loss": rec["loss"]},
        )  # fmt: skip
        self.path = _save(self.out, model, self.preprocess, self.meta)
        return Checkpoint(rec["epoch"], rec["step"], self.path, rec["val_iou"], self.best,
                          clock.elapsed())  # fmt: skip

    def finish(
        self, model: IOGNet, history: list[dict], step: int, calibrate: Calibrate | None
    ) -> Ending:
        """Settle the kept weights into ``model`` (start or kept epoch), fit the threshold with
        ``calibrate(model, preprocess) -> record`` (None: no fit) and write once if needed."""
        from .start_guard import restore_start

        changed = False
        meta, pre, improved = self.meta, self.preprocess, True
        if start_wins(self.start, self.kept_score):
            restore_start(model, self.start)
            trained = max((epoch_score(r["val_iou"], r["val_iou_refined"]) for r in history),
                          default=None)  # fmt: skip
            meta = dict(self.base_meta, kept=KEPT_START, epochs=0, steps=step, metrics={
                "val_iou": self.start.val_iou, "val_iou_refined": self.start.val_iou_refined,
                "trained_val_score": trained})  # fmt: skip
            changed, improved = True, False
        elif self.state is not None:
            model.load_state_dict(self.state)
        elif self.out is not None and Path(self.out).exists():  # resumed: the earlier kept epoch
            return self._resumed(model, calibrate)
        else:
            return Ending(None, self.base_meta["kept"], False, {}, pre, in_memory=False)
        record = calibrate(model, pre) if calibrate is not None else None
        if record is not None:
            pre = replace(pre, threshold=record["chosen"])
            meta = dict(meta, threshold_calibration=record)
            changed = True
        path = _save(self.out, model, pre, meta) if changed else self.path
        return Ending(path, meta["kept"], improved, meta.get("metrics", {}), pre, record,
                      meta=meta)  # fmt: skip

    def _resumed(self, model, calibrate) -> Ending:
        """A resumed run whose epochs beat nothing: the earlier run's checkpoint stays (its
        weights are loaded here only to fit the threshold)."""
        from ..models.checkpoint import load_model

        loaded = load_model(self.out, device="cpu")
        record = None
        if calibrate is not None:
            model.load_state_dict(loaded.model.state_dict())
            record = calibrate(model, self.preprocess)
            pre = replace(self.preprocess, threshold=record["chosen"])
            _save(self.out, model, pre, dict(loaded.meta, threshold_calibration=record))
        meta = loaded.meta
        return Ending(Path(self.out), meta.get("kept", ""), True, meta.get("metrics", {}),
                      self.preprocess, record, in_memory=calibrate is not None, meta=meta)  # fmt: skip


def _save(out, model, preprocess, meta) -> Path:
    from ..models.checkpoint import save_checkpoint

    return Path(save_checkpoint(out, model, preprocess, meta))


def calibrator(
    val: ObjectDataset | None, cfg: FinetuneConfig, device: torch.device | str
) -> Calibrate:
    """``calibrate(model, preprocess) -> record``: the threshold fit on the validation objects
    ``val`` of the network in memory (``training.calibration.fit_threshold``)."""

    def calibrate(model: IOGNet, preprocess: PreprocessConfig) -> dict:
        from ..models.checkpoint import LoadedModel
        from .calibration import fit_threshold

        return fit_threshold(LoadedModel(model, preprocess), val, cfg, device)

    return calibrate
