"""The training half of the few-shot benchmark scripts (``benchmarks/*_fewshot.py``): their common
command-line options, ``--set`` overrides, the time-budgeted FinetuneConfig, a progress logger, and
``train_or_load`` (train from scratch, from ``--init``, or take ``--eval-only``'s checkpoint).
"""

from __future__ import annotations

import time
from pathlib import Path


def add_training_args(ap, minutes: float, samples_per_epoch: int) -> None:
    """The command-line options every few-shot benchmark script has."""
    from ..training.config import add_augment_args

    ap.add_argument("--profile", default="light", help="light | paper | a napari-iog profile name")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a ModelConfig/PreprocessConfig field of the profile, e.g. "
                    "crop_size=224 or width=64 (repeatable)")  # fmt: skip
    ap.add_argument("--minutes", type=float, default=minutes, help="training budget (see --clock)")
    ap.add_argument("--clock", default="cpu", choices=("cpu", "wall"),
                    help="cpu: process CPU time / threads (fair on a shared machine); wall: wall clock")  # fmt: skip
    ap.add_argument("--max-wall-minutes", type=float, default=None, help="hard wall-clock cap")
    ap.add_argument("--epochs", type=int, default=None,
                    help="train exactly this many epochs, the learning-rate schedule spread over "
                    "their steps (default: until --minutes is used up, the schedule over the "
                    "time); --minutes still caps")  # fmt: skip
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--samples-per-epoch", type=int, default=samples_per_epoch)
    ap.add_argument("--max-clicks", type=int, default=20, help="corrective clicks in evaluation")
    ap.add_argument("--stop-iou", type=float, default=0.97,
                    help="an object reaching this IoU keeps it for the remaining clicks")  # fmt: skip
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1 is fastest on a busy shared CPU: no spin-waiting)")  # fmt: skip
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    add_augment_args(ap)
    ap.add_argument("--out", default=None, help="checkpoint path (default checkpoints/<name>.pt)")
    ap.add_argument("--results", default=None, metavar="JSON",
                    help="write the results here (default: print them only; the tracked "
                    "benchmarks/results/*.json are rewritten only when named)")  # fmt: skip
    ap.add_argument("--eval-only", default=None, help="skip training, evaluate this checkpoint")
    ap.add_argument("--init", default=None, metavar="CKPT",
                    help="start training from this checkpoint's network and preprocessing (e.g. "
                    "the ssTEM model) instead of random init; --profile/--set are then ignored")  # fmt: skip
    ap.add_argument("--void-bands", default="1,2", metavar="PX,PX",
                    help="also report mIoU/NoC with a band of PX px ignored around each object's "
                    "boundary (IOG and the fast baselines; 'none' to skip)")  # fmt: skip
    ap.add_argument("--eval-box-jitter", type=float, default=0.0, metavar="FRAC",
                    help="evaluate with imprecise boxes: each edge moved by up to FRAC of the side "
                    "(max 10 px), the same boxes for every method (0 = tight boxes)")  # fmt: skip
    ap.add_argument("--install", action="store_true",
                    help="copy the checkpoint into the weights cache (as napari-iog weights "
                    "import does), where the annotator and --weights NAME find it: right after "
                    "training, before the evaluation (refreshed with the test metrics at the "
                    "end)")  # fmt: skip
    ap.add_argument("--tta", action="store_true",
                    help="headline numbers with flip test-time augmentation (the other way is "
                    "reported as a variant)")  # fmt: skip


def override_configs(model_cfg, preprocess, overrides=()):
    """``(ModelConfig, PreprocessConfig)`` with ``["field=value", ...]`` (the ``--set`` option)
    applied; each field belongs to either config, values are parsed as the field's type."""
    from dataclasses import fields, replace

    cfgs = [model_cfg, preprocess]
    for item in overrides:
        key, _, text = item.partition("=")
        i = next((i for i, c in enumerate(cfgs) if key in {f.name for f in fields(c)}), None)
        if i is None or not text:
            raise SystemExit(
                f"--set {item!r}: expected FIELD=VALUE with a field of ModelConfig or "
                "PreprocessConfig (e.g. crop_size=224, width=64)."
            )
        old = getattr(cfgs[i], key)
        if isinstance(old, bool):
            value = text.lower() in ("1", "true", "yes", "on")
        elif isinstance(old, (int, float, str)):
            value = type(old)(text)
        else:
            raise SystemExit(f"--set {item!r}: {key} is not a number, text or true/false field.")
        cfgs[i] = replace(cfgs[i], **{key: value})
    return cfgs[0], cfgs[1]


def training_config(args, min_area: int = 50):
    """The FinetuneConfig of a benchmark run: time-budgeted, validation every epoch."""
    from ..training import FinetuneConfig
    from ..training.config import augment_kwargs

    return FinetuneConfig(
        epochs=args.epochs or 10_000, samples_per_epoch=args.samples_per_epoch,
        batch_size=args.batch_size, lr=args.lr, max_minutes=args.minutes, budget_clock=args.clock,
        max_wall_minutes=args.max_wall_minutes, seed=args.seed, device=args.device,
        num_threads=args.threads, min_area=min_area, val_max_objects=64, **augment_kwargs(args),
    )  # fmt: skip


def train_logger(every_s: float = 60.0, log=print):
    """A ``TrainEvent`` callback printing epochs, a step line every ``every_s`` and the end."""
    last = [0.0]

    def cb(ev):
        if ev.kind == "epoch":
            log(f"epoch {ev.epoch} step {ev.step} loss {ev.loss:.4f} val_iou {ev.val_iou:.4f} "
                f"val_iou+1 {ev.val_iou_refined:.4f} best {ev.best_val:.4f} t {ev.seconds:.0f}s")  # fmt: skip
        elif ev.kind == "step" and time.perf_counter() - last[0] > every_s:
            last[0] = time.perf_counter()
            log(f"  step {ev.step} loss {ev.loss:.4f} lr {ev.lr:.2e} t {ev.seconds:.0f}s")
        elif ev.kind == "calibrated":
            log(ev.message)
        elif ev.kind not in ("step", "checkpoint", "epoch"):
            log(f"stopped: {ev.kind} after {ev.seconds:.0f}s -> {ev.message}")

    return cb


def train_or_load(
    args, build, dataset, val_fraction: float, out, meta: dict, min_area: int = 50, split=None
):
    """Train ``build()`` -> ``(model, preprocess)`` (or the ``args.init`` checkpoint's) on
    ``dataset`` (an ObjectDataset; a ``val_fraction`` of its objects validates, or
    ``split(dataset, val_fraction, seed) -> (train, val)`` chooses), unless ``args.eval_only``
    names a checkpoint. With ``args.install`` the checkpoint goes into the weights cache at once
    (before the long evaluation, so stopping it keeps the model installed).
    Returns ``(checkpoint path, TrainSummary | None)``."""
    from ..training import run_finetune

    if args.eval_only is not None:
        _install(args, Path(args.eval_only))
        return Path(args.eval_only), None
    if getattr(args, "init", None):
        from ..models.checkpoint import load_model
        from ..training.presets import unfitted

        loaded = load_model(args.init, device="cpu")
        model, pre = loaded.model, unfitted(loaded.preprocess)  # a fitted threshold is stale
        meta = dict(meta, init=Path(args.init).name, init_meta=_init_provenance(loaded.meta))
        dataset.preprocess = pre  # samples are cut the way the start network expects
    else:
        model, pre = build()
    if split is None:
        train, val = dataset.split(val_fraction, seed=args.seed)
    else:
        train, val = split(dataset, val_fraction, args.seed)
    summary = run_finetune(
        model, pre, train, val, training_config(args, min_area), out=out, meta=meta,
        callback=train_logger(log=lambda m: print(m, flush=True)),
    )  # fmt: skip
    _install(args, summary.checkpoint)
    return summary.checkpoint, summary


def _install(args, ckpt) -> None:
    """``--install``: the checkpoint into the weights cache now (``install_checkpoint``)."""
    if getattr(args, "install", False) and ckpt is not None:
        from .experiment import install_checkpoint

        install_checkpoint(ckpt)


def _init_provenance(meta: dict) -> dict:
    """The few provenance keys of a start checkpoint worth keeping in the new one."""
    keys = ("data", "train_slices", "train_region", "profile", "steps", "train_seconds")
    return {k: meta[k] for k in keys if k in meta}
