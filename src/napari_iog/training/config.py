"""``FinetuneConfig``: every knob of a fine-tuning run, as one frozen dataclass (JSON round-trip).

Defaults are the few-shot recipe (AdamW, cosine decay, refinement clicks simulated); the paper's
recipe is ``FinetuneConfig.paper()`` (SGD momentum 0.9, wd 5e-4, constant lr, plain BCE).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

OPTIMIZERS = ("adamw", "sgd")
LOSSES = ("bce", "balanced")
SCHEDULES = ("cosine", "constant")
KEEPS = ("auto", "best", "last")
MIN_VAL_FOR_BEST = 10  # fewer validation objects: picking the "best" epoch picks noise


class TrainingError(ValueError):
    """A fine-tuning run that cannot start or continue; the message says what to do."""


class DivergedError(TrainingError):
    """The network's weights or predictions are NaN or infinite (``training.diverge``)."""


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning settings.

    - ``epochs`` x ``samples_per_epoch`` augmented object samples (``None`` = one pass over the
      training objects); validation after every epoch; ``patience`` epochs without a better
      validation IoU stop the run (0 = never).
    - ``keep``: which weights the checkpoint holds: ``"best"`` validation epoch, ``"last"``
      epoch (rewritten after every epoch), or ``"auto"``: best with >= ``MIN_VAL_FOR_BEST``
      validation objects, else last (with 1-3 validation objects the "best" epoch is a lottery,
      while the cosine schedule has annealed the last one; docs/experiments.md, aerial).
    - ``max_minutes``: time budget (the kept checkpoint stays); ``None`` = no limit.
      ``budget_clock="wall"`` counts wall-clock time; ``"cpu"`` counts this process's CPU time
      divided by its torch threads (the time the run would take on an idle machine; use it on a
      shared CPU). ``max_wall_minutes`` is a hard wall-clock cap in either case.
    - ``refine_prob``: fraction of batches trained with 1..``max_refine_clicks`` simulated
      corrective clicks (refinement networks only), as in the official ``train_refine.py``.
    - ``box_jitter``: fraction of the box side each edge moves at random (user imprecision).
    - ``device``: "auto" (CUDA if available), "cpu", "cuda", "cuda:1"...; ``amp``: mixed
      precision, bfloat16 on CUDA (float16 + gradient scaling on GPUs older than Ampere) and on
      CPUs with native bfloat16 (AVX512-BF16/AMX), float32 elsewhere (``training.precision``).
    - Augmentation (``augment``): horizontal flip, ``scale``, ``rotate`` (degrees, +-) as in the
      paper; ``vflip`` adds vertical flips and ``intensity`` a +-fraction brightness/contrast
      jitter (both off by default: orientation-free data such as EM benefits, photos may not);
      ``elastic`` > 0 adds an elastic deformation of that RMS displacement in window px.
    - ``ema_decay``: > 0 keeps an exponential moving average of the weights (and BatchNorm
      statistics), ``torch.optim.swa_utils.AveragedModel``; validation and checkpoints use the
      average (0 = off, the raw weights as in the paper).
    - ``workers``: processes that cut the augmented samples ahead of the training step
      (``training.batches``; the batches are the same for any number). 0 = in the training
      process, the default: on a CPU, workers take the cores the step needs. ``None`` = auto:
      0 on a CPU, ``min(8, cores - 1)`` on CUDA, where cutting samples is the bottleneck.
    - ``calibrate_threshold``: after training, set the checkpoint's mask threshold to the one
      with the best mean IoU on the validation objects (``training.calibration``; needs >=
      ``MIN_VAL_FOR_BEST`` of them). Off = the 0.5 of the paper.
    - ``keep_start``: validate the start weights before training; if no kept epoch beats them,
      the checkpoint holds the start weights (``training.start_guard``): a run never ends with
      a model worse than its start on the held-out objects.
    - ``iou_weight``: adds ``iou_weight x`` soft-IoU loss (1 - soft Jaccard) of the fine output
      to the paper's BCE (0 = the paper's loss).
    """

    epochs: int = 30
    samples_per_epoch: int | None = 256
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    momentum: float = 0.9
    schedule: str = "cosine"
    loss: str = "bce"
    freeze_backbone: bool = False
    refine_prob: float = 0.5
    max_refine_clicks: int = 3
    box_jitter: float = 0.05
    min_area: int = 50
    val_fraction: float = 0.15
    val_max_objects: int = 64
    patience: int = 0
    keep: str = "auto"
    max_minutes: float | None = None
    budget_clock: str = "wall"
    max_wall_minutes: float | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    num_threads: int | None = None
    augment: bool = True
    scale: tuple[float, float] = (0.75, 1.25)
    rotate: float = 20.0
    vflip: bool = False
    intensity: float = 0.0
    elastic: float = 0.0
    iou_weight: float = 0.0
    ema_decay: float = 0.0
    workers: int | None = 0
    calibrate_threshold: bool = False
    keep_start: bool = True

    def __post_init__(self):
        checks = [
            (
                self.optimizer in OPTIMIZERS,
                f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}",
            ),
            (self.keep in KEEPS, f"keep must be one of {KEEPS}, got {self.keep!r}"),
            (self.loss in LOSSES, f"loss must be one of {LOSSES}, got {self.loss!r}"),
            (
                self.schedule in SCHEDULES,
                f"schedule must be one of {SCHEDULES}, got {self.schedule!r}",
            ),
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (
                0.0 <= self.refine_prob <= 1.0,
                f"refine_prob must be in [0, 1], got {self.refine_prob}",
            ),
            (
                0.0 <= self.val_fraction < 1.0,
                f"val_fraction must be in [0, 1), got {self.val_fraction}",
            ),
            (
                self.budget_clock in ("wall", "cpu"),
                f"budget_clock must be 'wall' or 'cpu', got {self.budget_clock!r}",
            ),
            (0.0 <= self.ema_decay < 1.0, f"ema_decay must be in [0, 1), got {self.ema_decay}"),
            (self.iou_weight >= 0, f"iou_weight must be >= 0, got {self.iou_weight}"),
            (
                0.0 <= self.intensity < 1.0,
                f"intensity must be in [0, 1), got {self.intensity}",
            ),
            (self.elastic >= 0, f"elastic must be >= 0 px, got {self.elastic}"),
            (
                0.0 <= self.box_jitter < 0.5,
                f"box_jitter must be in [0, 0.5) (a fraction of the side), got {self.box_jitter}",
            ),
            (
                self.workers is None or self.workers >= 0,
                f"workers must be >= 0 (or None = auto), got {self.workers}",
            ),
            (
                self.samples_per_epoch is None or self.samples_per_epoch >= 1,
                "samples_per_epoch must be >= 1",
            ),
        ]
        for ok, msg in checks:
            if not ok:
                raise TrainingError(msg + ".")

    @classmethod
    def paper(cls, **kw) -> FinetuneConfig:
        """The official recipe's optimiser and loss (lr rescaled for a mean-reduced loss)."""
        base = dict(
            optimizer="sgd",
            lr=2.6e-3,
            weight_decay=5e-4,
            momentum=0.9,
            schedule="constant",
            loss="bce",
            box_jitter=0.0,
        )
        base.update(kw)
        return cls(**base)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FinetuneConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise TrainingError(
                f"Unknown fine-tuning settings {sorted(unknown)}; known: {sorted(names)}."
            )
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def replace(self, **kw) -> FinetuneConfig:
        return replace(self, **kw)


def add_augment_args(ap, calibrate_threshold: bool = False) -> None:
    """Augmentation, loss, precision, kept-checkpoint and threshold options shared by
    ``napari-iog finetune`` (threshold calibration on by default) and the benchmark scripts
    (off: the fixed 0.5 of the evaluation protocol)."""
    ap.add_argument("--rotate", type=float, default=20.0, help="max rotation, degrees (paper: 20)")
    from argparse import BooleanOptionalAction

    ap.add_argument("--vflip", action=BooleanOptionalAction, default=False,
                    help="also flip vertically (EM, aerial)")  # fmt: skip
    ap.add_argument("--intensity", type=float, default=0.0,
                    help="+-fraction brightness/contrast jitter (0 = off, as the paper)")  # fmt: skip
    ap.add_argument("--elastic", type=float, default=0.0, metavar="PX",
                    help="elastic deformation, RMS displacement in px (0 = off, as the paper)")  # fmt: skip
    ap.add_argument("--box-jitter", type=float, default=0.05, metavar="FRAC",
                    help="training boxes: each edge moves by up to this fraction of the side "
                    "(max 10 px), as users draw them (0 = exact boxes)")  # fmt: skip
    ap.add_argument("--iou-weight", type=float, default=0.0,
                    help="add this x soft-IoU loss of the fine output (0 = paper loss)")  # fmt: skip
    ap.add_argument("--refine-prob", type=float, default=0.5, metavar="P",
                    help="fraction of batches trained with simulated corrective clicks "
                    "(refinement networks; 0.5 = the official recipe)")  # fmt: skip
    ap.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                    help="validate/save an exponential moving average of the weights, e.g. "
                    "0.995 (0 = off)")  # fmt: skip
    ap.add_argument("--amp", action=BooleanOptionalAction, default=True,
                    help="mixed precision: bfloat16 on CUDA (float16 before Ampere) and on CPUs "
                    "with AVX512-BF16/AMX (--no-amp = float32)")  # fmt: skip
    ap.add_argument("--workers", type=int, default=None, metavar="N",
                    help="processes that cut training samples ahead of the step (default: 0 on "
                    "a CPU, min(8, cores - 1) on CUDA)")  # fmt: skip
    ap.add_argument("--calibrate-threshold", action=BooleanOptionalAction,
                    default=calibrate_threshold,
                    help="after training, set the mask threshold to the one with the best "
                    f"validation IoU (needs >= {MIN_VAL_FOR_BEST} validation objects; "
                    "--no-calibrate-threshold keeps 0.5)")  # fmt: skip
    ap.add_argument("--keep", choices=KEEPS, default="auto",
                    help=f"checkpoint the best validation epoch or the last one (auto: best with "
                    f">= {MIN_VAL_FOR_BEST} validation objects, else last)")  # fmt: skip


def augment_kwargs(args) -> dict:
    """FinetuneConfig keywords of :func:`add_augment_args`' options."""
    return dict(rotate=args.rotate, vflip=args.vflip, intensity=args.intensity, keep=args.keep,
                iou_weight=args.iou_weight, ema_decay=args.ema, amp=args.amp,
                refine_prob=args.refine_prob, elastic=args.elastic,
                box_jitter=args.box_jitter, workers=args.workers,
                calibrate_threshold=args.calibrate_threshold)  # fmt: skip
