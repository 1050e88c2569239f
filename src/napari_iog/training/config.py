"""``FinetuneConfig``: every knob of a fine-tuning run, one frozen dataclass (JSON round-trip).

The one source of the fine-tuning defaults: the CLI's options (``napari-iog finetune``, the
benchmark scripts) and the napari widget's initial values are generated from these fields; each
field's ``metadata`` holds its help text (``"help"``) and, where they differ from the field name,
its command-line flag (``"flag"``) and choices. The defaults are the measured few-shot recipe
(AdamW lr 2e-3, cosine decay, simulated refinement clicks, the top-down augmentation, the
threshold fitted after training; ``docs/finetuning.md``); the paper's optimiser and loss are
``FinetuneConfig.paper()`` (SGD momentum 0.9, wd 5e-4, constant lr, plain BCE).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ..data.augment import AugmentConfig

OPTIMIZERS = ("adamw", "sgd")
LOSSES = ("bce", "balanced")
SCHEDULES = ("cosine", "constant")
KEEPS = ("auto", "best", "last")
CLOCKS = ("wall", "cpu")
MIN_VAL_FOR_BEST = 10  # fewer validation objects: picking the "best" epoch picks noise
PAPER_LR = 2.6e-3  # the paper's SGD lr 1e-8 x 512^2 for a mean-reduced loss


class TrainingError(ValueError):
    """A fine-tuning run that cannot start or continue; the message says what to do."""


class DivergedError(TrainingError):
    """The network's weights or predictions are NaN or infinite (``training.diverge``)."""


def _opt(default, help: str, **more):
    """A dataclass field with its command-line help (``more``: flag, choices, metavar...)."""
    return field(default=default, metadata={"help": help, **more})


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning settings; every field's help is in its ``metadata["help"]``.

    ``epochs`` x ``samples_per_epoch`` augmented object samples, validation after every epoch.
    ``keep`` chooses which weights the checkpoint holds (``"auto"``: the best validation epoch
    with >= ``MIN_VAL_FOR_BEST`` validation objects, else the last: with 1-3 of them the "best"
    epoch is a lottery). ``max_minutes`` is a time budget counted on ``budget_clock`` (``"cpu"``:
    this process's CPU time / its torch threads, what the run would take on an idle machine).
    ``augment`` is the nested :class:`~napari_iog.data.augment.AugmentConfig`. ``keep_start``:
    the start weights are validated first and kept unless an epoch beats them
    (``training.start_guard``). Under ``torchrun`` the batch is per process
    (``training.distributed``).
    """

    epochs: int = _opt(30, "maximum epochs; with --minutes the budget usually ends the run first")
    samples_per_epoch: int | None = _opt(
        256, "augmented object samples per epoch, then validation (None: one pass)"
    )
    batch_size: int = _opt(8, "samples per step (per process under torchrun)")
    lr: float = _opt(2e-3, "learning rate (AdamW; --optimizer sgd: 2.6e-3 unless given)")
    weight_decay: float = _opt(1e-4, "weight decay")
    optimizer: str = _opt("adamw", "adamw (default) or sgd = the paper's, constant lr",
                          choices=OPTIMIZERS)  # fmt: skip
    momentum: float = _opt(0.9, "SGD momentum")
    schedule: str = _opt("cosine", "lr schedule: cosine decay to 2 % or constant",
                         choices=SCHEDULES)  # fmt: skip
    loss: str = _opt("bce", "bce (paper) or balanced = class-balanced BCE (DEXTR)", choices=LOSSES)
    freeze_backbone: bool = _opt(False, "train the decoder only (BatchNorm statistics frozen)")
    refine_prob: float = _opt(0.5, "fraction of batches trained with simulated corrective clicks "
                              "(refinement networks; 0.5 = the official recipe)", metavar="P")  # fmt: skip
    max_refine_clicks: int = _opt(3, "at most this many simulated corrective clicks per batch")
    box_jitter: float = _opt(0.05, "training boxes: each edge moves by up to this fraction of the "
                             "side (max 10 px), as users draw them (0 = exact boxes)",
                             metavar="FRAC")  # fmt: skip
    min_area: int = _opt(50, "skip smaller objects (pixels)")
    val_fraction: float = _opt(0.1, "share of the objects held out for validation")
    val_max_objects: int = _opt(64, "validate on at most this many objects")
    patience: int = _opt(0, "early stop after N epochs without progress (0 = never)")
    keep: str = _opt("auto", f"checkpoint the best validation epoch or the last one (auto: best "
                     f"with >= {MIN_VAL_FOR_BEST} validation objects, else last)",
                     choices=KEEPS)  # fmt: skip
    max_minutes: float | None = _opt(None, "time budget, counted on --clock (the kept checkpoint "
                                     "stays)", flag="--minutes", gui_default=2.0)  # fmt: skip
    budget_clock: str = _opt("wall", "what --minutes counts: wall = wall-clock time; cpu = this "
                             "process's CPU time / its threads, the same amount of training "
                             "however busy the machine is", flag="--clock",
                             choices=CLOCKS)  # fmt: skip
    max_wall_minutes: float | None = _opt(None, "hard wall-clock cap on top of --minutes")
    seed: int = _opt(0, "seeds the start weights of a random init, object order, augmentation, "
                     "simulated clicks")  # fmt: skip
    device: str = _opt("auto", "auto (CUDA if available), cpu, cuda, cuda:1 (torchrun: the "
                       "process's own GPU)")  # fmt: skip
    amp: bool = _opt(True, "mixed precision: bfloat16 on CUDA (float16 before Ampere) and on "
                     "CPUs with AVX512-BF16/AMX (--no-amp = float32)")  # fmt: skip
    num_threads: int | None = _opt(None, "torch threads (default: torch's)", flag="--threads")
    augment: AugmentConfig = field(default_factory=AugmentConfig.top_down,
                                   metadata={"help": "augmentation (nested)"})  # fmt: skip
    iou_weight: float = _opt(0.0, "add this x soft-IoU loss of the fine output (0 = paper loss)")
    ema_decay: float = _opt(0.0, "validate/save an exponential moving average of the weights, "
                            "e.g. 0.995 (0 = off)", flag="--ema", metavar="DECAY")  # fmt: skip
    workers: int | None = _opt(None, "processes that cut training samples ahead of the step "
                               "(default: 0 on a CPU, min(8, cores - 1) on CUDA)",
                               metavar="N")  # fmt: skip
    calibrate_threshold: bool = _opt(True, "after training, set the mask threshold to the one "
                                     "with the best validation IoU (needs >= "
                                     f"{MIN_VAL_FOR_BEST} validation objects; "
                                     "--no-calibrate-threshold keeps 0.5)")  # fmt: skip
    keep_start: bool = _opt(True, "keep the start weights unless an epoch beats their "
                            "validation score")  # fmt: skip

    def __post_init__(self):
        if isinstance(self.augment, dict):  # from JSON / to_dict()
            aug = {k: tuple(v) if isinstance(v, list) else v for k, v in self.augment.items()}
            object.__setattr__(self, "augment", AugmentConfig(**aug))
        if isinstance(self.augment, bool):  # False = no augmentation at all
            object.__setattr__(
                self, "augment", AugmentConfig.top_down() if self.augment else AugmentConfig.off()
            )
        for ok, msg in self._checks():
            if not ok:
                raise TrainingError(msg + ".")

    def _checks(self):
        def one_of(name, allowed):
            value = getattr(self, name)
            return value in allowed, f"{name} must be one of {allowed}, got {value!r}"

        a = self.augment
        return [
            one_of("optimizer", OPTIMIZERS),
            one_of("keep", KEEPS),
            one_of("loss", LOSSES),
            one_of("schedule", SCHEDULES),
            one_of("budget_clock", CLOCKS),
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (0.0 <= self.refine_prob <= 1.0, f"refine_prob must be in [0, 1], got {self.refine_prob}"),
            (0.0 <= self.val_fraction < 1.0, f"val_fraction must be in [0, 1), got {self.val_fraction}"),
            (0.0 <= self.ema_decay < 1.0, f"ema_decay must be in [0, 1), got {self.ema_decay}"),
            (self.iou_weight >= 0, f"iou_weight must be >= 0, got {self.iou_weight}"),
            (0.0 <= a.intensity < 1.0, f"intensity must be in [0, 1), got {a.intensity}"),
            (a.elastic >= 0, f"elastic must be >= 0 px, got {a.elastic}"),
            (0.0 <= self.box_jitter < 0.5,
             f"box_jitter must be in [0, 0.5) (a fraction of the side), got {self.box_jitter}"),
            (self.workers is None or self.workers >= 0,
             f"workers must be >= 0 (or None = auto), got {self.workers}"),
            (self.samples_per_epoch is None or self.samples_per_epoch >= 1,
             "samples_per_epoch must be >= 1"),
        ]  # fmt: skip

    @classmethod
    def paper(cls, **kw: Any) -> FinetuneConfig:
        """The official recipe's optimiser and loss (lr rescaled for a mean-reduced loss)."""
        base = dict(optimizer="sgd", lr=PAPER_LR, weight_decay=5e-4, momentum=0.9,
                    schedule="constant", loss="bce", box_jitter=0.0)  # fmt: skip
        base.update(kw)
        return cls(**base)

    def to_dict(self) -> dict:
        """JSON-ready dict (``augment`` nested); :meth:`from_dict` reads it back."""
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

    def replace(self, **kw: Any) -> FinetuneConfig:
        return replace(self, **kw)


def field_meta(name: str, cls: type = FinetuneConfig) -> dict:
    """The metadata (``help``, ``flag``, ``gui_default``...) of field ``name`` of ``cls``."""
    return dict(next(f.metadata for f in fields(cls) if f.name == name))
