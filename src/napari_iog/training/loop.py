"""The fine-tuning engine: a generator of typed events (``training.events``) over the epochs.

``finetune(model, preprocess, train, val, cfg, out)`` trains ``model`` (an IOGNet) on an
:class:`~napari_iog.data.datasets.ObjectDataset` in four steps, one method of :class:`_Run`
each: set up (device, optimiser, EMA, precision, batches, budget, start score), train an epoch
(``Step`` events; cancel and budget checked before every step), end the epoch (validate, keep
and write the kept model atomically: a cancelled, time-limited or crashed run keeps the last
good checkpoint; ``<out>.state.pt`` for ``resume``), and finish (start guard, threshold fitted
on the network in memory, the final checkpoint written once, a ``Finished`` event).
Under torchrun (``dist``: ``training.distributed``) every process runs it; rank 0 alone
validates, writes and reports. ``training.job.run_finetune`` drives it with a callback.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .batches import (
    SampleJobs,
    auto_workers,
    batch_keys,
    planes_nbytes,
    training_batches,
    worker_start_method,
)
from .config import MIN_VAL_FOR_BEST, FinetuneConfig, TrainingError
from .distributed import (
    CONTINUE,
    FAILED,
    STOP_CANCELLED,
    STOP_EARLY,
    STOP_NAMES,
    STOP_TIMEOUT,
    Dist,
    write_debug_hash,
)
from .events import Calibrated, Epoch, Finished, Step, TrainEvent, TrainSummary
from .keeper import Keeper, calibrator
from .start_guard import epoch_score

if TYPE_CHECKING:
    from ..config import PreprocessConfig
    from ..data.datasets import ObjectDataset
    from ..models.iog import IOGNet


class _Run:
    """The state of one run (see module doc); built by :meth:`setup`."""

    def setup(self, model, preprocess, train, val, cfg, out, meta, resume, dist: Dist):
        """Device and process group, network and optimiser, batches, budget, the keeper."""
        import torch

        from .budget import Budget

        if len(train) == 0:
            raise TrainingError(
                "There are 0 objects to train on (after skipping objects smaller than "
                f"{train.min_area} px). Annotate some objects or lower min_area."
            )
        self.cfg, self.train, self.val, self.dist, self.model = cfg, train, val, dist, model
        if cfg.num_threads:
            torch.set_num_threads(int(cfg.num_threads))
        torch.manual_seed(cfg.seed)
        self.device = dist.device(cfg.device)
        dist.init(self.device)
        self._network()
        batch = max(cfg.batch_size, 2)  # BatchNorm on PSP's 1x1 bin needs >= 2 samples
        per_epoch = cfg.samples_per_epoch or len(train)
        self.steps_per_epoch = max(1, per_epoch // (batch * dist.world))
        self.total = cfg.epochs * self.steps_per_epoch
        self.epoch0, self.step, best = 0, 0, -math.inf
        self.state_path = None if out is None else Path(str(out) + ".state.pt")
        if resume is not None:
            from .resume import load_state

            self.epoch0, self.step, best = load_state(resume, model, self.opt, self.ema,
                                                      self.device, cfg.epochs)  # fmt: skip
        self.rng = np.random.default_rng([cfg.seed, self.epoch0])  # refinement-click draws
        workers = self._batches(batch)
        self.clock = Budget(cfg.max_minutes, cfg.budget_clock, cfg.max_wall_minutes,
                            torch.get_num_threads())  # fmt: skip
        self._keeper(preprocess, out, meta, resume, workers, best)
        self.history, self.stopped, self.bad_epochs, self.epoch = [], "done", 0, self.epoch0
        return self

    def _network(self) -> None:
        """Model on the device, optimiser, EMA, precision, the (DDP-wrapped) loss module."""
        import torch

        from .precision import autocast_dtype, set_layout
        from .steps import loss_module, make_ema, make_optimizer

        model, cfg = self.model, self.cfg
        model.to(self.device)
        if cfg.freeze_backbone:
            for p in model.backbone.parameters():
                p.requires_grad_(False)
        self.opt = make_optimizer(model, cfg)
        self.ema = make_ema(model, cfg.ema_decay)
        self.best_model = model if self.ema is None else self.ema.module  # validated and saved
        self.amp_dtype = autocast_dtype(self.device, cfg.amp)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        set_layout(True, model, self.ema)
        self.net = self.dist.wrap(loss_module(model, cfg, self.train.preprocess.sigma), self.device)

    def _batches(self, batch: int) -> int:
        """This process's training batches (``self.batches``); returns the sample workers."""
        cfg, dist, train = self.cfg, self.dist, self.train
        start_method = worker_start_method()
        copy_bytes = planes_nbytes(train) if start_method == "spawn" else 0
        workers = auto_workers(cfg.workers, self.device, copy_bytes, dist.local_world)
        keys = batch_keys(cfg.seed, len(train), batch, self.steps_per_epoch, self.epoch0,
                          cfg.epochs, dist.rank, dist.world)  # fmt: skip
        self.batches = training_batches(SampleJobs(train, cfg.augment, cfg.box_jitter, cfg.seed),
                                        keys, workers, pin_memory=self.device.type == "cuda",
                                        start_method=start_method)  # fmt: skip
        return workers

    def _keeper(self, preprocess, out, meta, resume, workers: int, best: float) -> None:
        """The provenance, the start score (rank 0) and the :class:`Keeper`."""
        from .precision import precision_name
        from .start_guard import measure_start

        cfg, val, dist = self.cfg, self.val, self.dist
        n_val = 0 if val is None else len(val)
        keep_best = cfg.keep == "best" or (cfg.keep == "auto" and n_val >= MIN_VAL_FOR_BEST)
        base_meta = dict(meta or {}, finetune_config=cfg.to_dict(), n_train_objects=len(self.train),
                         n_val_objects=n_val, device=str(self.device), processes=dist.world,
                         precision=precision_name(self.amp_dtype), sample_workers=workers,
                         kept="best validation epoch" if keep_best else "last epoch")  # fmt: skip
        start = None  # the start weights' validation score: the bar every kept epoch must clear
        if cfg.keep_start and resume is None and out is not None and dist.is_main:
            start = measure_start(self.best_model, val, cfg, self.device)
            best = start.score if start is not None and keep_best else best
        self.keeper = Keeper(out if dist.is_main else None, preprocess, base_meta, keep_best,
                             start, best)  # fmt: skip

    # ------------------------------------------------------------------------------ one epoch
    def _control(self, cancel) -> tuple[int, float]:
        """Rank 0's stop code and budget fraction used, on every process."""
        code, used = CONTINUE, self.clock.used()
        if self.dist.is_main:
            if cancel is not None and cancel():
                code = STOP_CANCELLED
            elif used >= 1.0:
                code = STOP_TIMEOUT
        code, used = self.dist.broadcast([code, used], self.device)
        return int(code), used

    def train_epoch(self, epoch: int, cancel) -> Iterator[Step]:
        """The steps of ``epoch``; sets ``self.losses`` and, on a stop, ``self.stopped``."""
        from .steps import lr_at, set_train_mode, train_step

        set_train_mode(self.model, self.cfg)
        self.losses = []
        for _ in range(self.steps_per_epoch):
            code, used = self._control(cancel)
            if code != CONTINUE:
                self.stopped = STOP_NAMES[code]
                break
            lr = lr_at(self.cfg, max(self.step / self.total, used))
            for g in self.opt.param_groups:
                g["lr"] = lr
            refine_clicks = 0
            if self.model.is_refinement and self.rng.random() < self.cfg.refine_prob:
                refine_clicks = int(self.rng.integers(1, self.cfg.max_refine_clicks + 1))
            loss = train_step(self.net, self.opt, next(self.batches), self.device, refine_clicks,
                              self.scaler, self.amp_dtype)  # fmt: skip
            loss = self.dist.mean(loss, self.device)
            if self.ema is not None:
                self.ema.update_parameters(self.model)
            if not math.isfinite(loss):
                raise TrainingError(
                    f"The loss became {loss} at step {self.step}: lower the learning rate (now "
                    f"{lr:g})."
                )
            self.losses.append(loss)
            self.step += 1
            yield Step(epoch, self.step, self.total, loss, lr, self.keeper.best,
                       self.clock.elapsed())  # fmt: skip

    def end_epoch(self, epoch: int) -> Iterator[TrainEvent]:
        """Validate, keep/write, save the resume state (rank 0), and agree on stopping."""
        self.dist.sync_buffers(self.device, self.model, self.ema)
        code = CONTINUE
        if self.dist.is_main:
            try:
                code = yield from self._validate_and_keep(epoch)
            except Exception:
                self.dist.decide(FAILED, self.device)  # the others stop too
                raise
        else:
            self.history.append(dict(epoch=epoch + 1, step=self.step))
        if self.dist.decide(code, self.device) == STOP_EARLY:
            self.stopped = "early_stop"

    def _validate_and_keep(self, epoch: int):
        from .diverge import validate_epoch
        from .resume import save_state

        lr = self.opt.param_groups[0]["lr"]
        v3, v4 = validate_epoch(self.best_model, self.val, self.train, self.cfg, self.device,
                                epoch + 1, lr)  # fmt: skip
        score, mean_loss = epoch_score(v3, v4), float(np.mean(self.losses))
        if math.isnan(score):
            score = -mean_loss  # no validation set: lower training loss is better
        rec = dict(epoch=epoch + 1, step=self.step, loss=mean_loss, val_iou=v3,
                   val_iou_refined=v4, seconds=round(self.clock.elapsed(), 1),
                   cpu_seconds=round(self.clock.cpu_elapsed(), 1))  # fmt: skip
        self.history.append(rec)
        before = self.keeper.best
        written = self.keeper.consider(self.best_model, score, rec, self.clock)
        self.bad_epochs = 0 if self.keeper.best > before else self.bad_epochs + 1
        if written is not None:
            yield written
        if self.state_path is not None:
            save_state(self.state_path, self.model, self.opt, self.ema, epoch + 1, self.step,
                       self.keeper.best)  # fmt: skip
        yield Epoch(epoch + 1, self.step, self.total, mean_loss, v3, v4, self.keeper.best,
                    self.clock.elapsed())  # fmt: skip
        patience = self.cfg.patience
        return (
            STOP_EARLY
            if self.stopped == "done" and patience and self.bad_epochs >= patience
            else CONTINUE
        )

    # ------------------------------------------------------------------------------ the end
    def finish(self) -> Iterator[TrainEvent]:
        """Start guard, calibration, the final write (rank 0); the ``Finished`` event."""
        from .precision import set_layout

        self.batches = None  # ends the sample workers, if any
        set_layout(False, self.model, self.ema)
        self.model.eval()
        self.best_model.eval()
        self.dist.sync_buffers(self.device, self.model, self.ema)
        write_debug_hash(self.dist, self.best_model)  # the trained weights, on every process
        ending, record = None, None
        if self.dist.is_main:
            cancelled = self.stopped == "cancelled"
            calibrate = None if cancelled or not self.cfg.calibrate_threshold else \
                calibrator(self.val, self.cfg, self.device)  # fmt: skip
            if cancelled:
                self.keeper.start = None  # a cancel keeps what was written, as it was
            ending = self.keeper.finish(self.best_model, self.history, self.step, calibrate)
            record = ending.record
            if record is not None:
                from .calibration import describe

                yield Calibrated(record, describe(record))
        self.dist.barrier()  # the others wait for the checkpoint
        epochs = len(self.history) + self.epoch0
        summary = TrainSummary(
            None if ending is None else ending.checkpoint, epochs, self.step, self.keeper.best,
            self.clock.elapsed(), self.stopped, [h for h in self.history if "loss" in h],
            self.clock.cpu_elapsed(), self.keeper.base_meta["kept"] if ending is None
            else ending.kept, record,
        )  # fmt: skip
        yield Finished(
            self.stopped, summary.checkpoint, summary.kept,
            bool(ending is not None and ending.improved), {} if ending is None else ending.metrics,
            summary, self.best_model if ending is not None and ending.in_memory else None,
            None if ending is None else ending.preprocess,
        )  # fmt: skip
        return summary


def finetune(model: IOGNet, preprocess: PreprocessConfig, train: ObjectDataset,
             val: ObjectDataset | None = None, cfg: FinetuneConfig | None = None,
             out: str | Path | None = None, meta: dict | None = None,
             cancel: Callable[[], bool] | None = None, resume: str | Path | None = None,
             dist: Dist | None = None) -> Generator[TrainEvent, None, TrainSummary]:  # fmt: skip
    """Generator; see module doc. ``out``: checkpoint path (None = no files). ``meta``: extra
    provenance stored in the checkpoint (data, slices...). ``cancel()`` is polled every step
    (on rank 0). ``dist``: this process's place under torchrun (default: one process).
    Returns (``StopIteration.value``) a :class:`TrainSummary`; the last event is ``Finished``."""
    run = _Run().setup(model, preprocess, train, val, cfg or FinetuneConfig(), out, meta, resume,
                       dist or Dist())  # fmt: skip
    try:
        for epoch in range(run.epoch0, run.cfg.epochs):
            run.epoch = epoch
            yield from run.train_epoch(epoch, cancel)
            # nothing trained this epoch, or cancelled: stop at once, the last good checkpoint stays
            if not run.losses or run.stopped == "cancelled":
                break
            yield from run.end_epoch(epoch)
            if run.stopped != "done":
                break
    finally:
        run.batches = None
    return (yield from run.finish())
