"""``napari-iog finetune``: train an IOG checkpoint on your own (image, instance labels) pairs.

    napari-iog finetune --images raw/ --labels masks/ --minutes 30 --out my.pt
    torchrun --nproc-per-node 4 -m napari_iog.cli finetune ...   # data-parallel, same options

A thin adapter: the options are generated from ``FinetuneConfig`` (its defaults and help texts,
``cli.options``), the arguments become a ``FinetuneSpec``, and ``training.job.finetune_job``
does the work (data, start model, training, threshold, one checkpoint). Under torchrun, rank 0
alone prints. Ctrl-C keeps the last good checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import AUTO_WEIGHTS
from ..words import count
from .finetune_report import ProgressBar, busy_note, epoch_line  # noqa: F401  (public here)

if TYPE_CHECKING:
    from ..training.job import FinetuneSpec

SKIP = ()  # every FinetuneConfig field is an option


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..training.config import FinetuneConfig
    from . import pairs_options
    from .options import add_config_options

    p = subparsers.add_parser(
        "finetune",
        help="fine-tune IOG on annotated images (few-shot)",
        description="Fine-tune an IOG network on (image, instance labels) pairs; writes a checkpoint.",
    )
    pairs_options(p)
    p.add_argument("--profile", default=None,
                   help="model profile or preset to train from scratch (default cpu-light); giving "
                   "it without --weights trains that profile from random weights instead of the "
                   "starter")  # fmt: skip
    p.add_argument("--weights", default=AUTO_WEIGHTS,
                   help="start weights: 'auto' (default) = the shipped starter matching the images "
                   "(iog-em for grey EM/microscopy, iog-aerial for colour); a weights name or file; "
                   "'none' = random init of --profile. The start is kept when training does not "
                   "beat it on held-out objects")  # fmt: skip
    p.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    p.add_argument("--resume", default=None, help="a <out>.state.pt file of an earlier run")
    p.add_argument("--no-progress", action="store_true")
    add_config_options(p, FinetuneConfig, skip=SKIP)
    p.set_defaults(func=run, lr=None, schedule=None)  # None: the optimizer's own (below)


def spec_from_args(args: argparse.Namespace) -> FinetuneSpec:
    """The :class:`~napari_iog.training.job.FinetuneSpec` of the parsed arguments."""
    from ..training.config import PAPER_LR, FinetuneConfig
    from ..training.job import FilePairs, FinetuneSpec
    from . import label_values
    from .options import config_from_args

    sgd = args.optimizer == "sgd"
    cfg = config_from_args(
        FinetuneConfig, args, skip=SKIP,
        lr=args.lr or (PAPER_LR if sgd else FinetuneConfig.lr),
        schedule=args.schedule or ("constant" if sgd else FinetuneConfig.schedule),
    )  # fmt: skip
    weights = args.weights
    if args.profile is not None and str(weights).lower() == AUTO_WEIGHTS:
        weights = None  # an explicit --profile asks for that network, not the starter's
    data = FilePairs(tuple(args.images), tuple(args.labels), args.label_mode, label_values(args))
    return FinetuneSpec(data, Path(args.out), cfg, weights, args.profile or "cpu-light",
                        resume=args.resume)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from ..training import job
    from ..training.distributed import from_env
    from ..training.events import drive
    from .guards import check_finetune_args

    check_finetune_args(args)  # numbers and the --out path, before any work
    spec, main = spec_from_args(args), from_env().is_main
    say = print if main else (lambda *a, **k: None)
    bar = ProgressBar(spec.config.max_minutes, spec.config.budget_clock) \
        if main and not args.no_progress else None  # fmt: skip
    write = bar.write if bar is not None else say
    seen = {"n_val": 0}

    def on_event(ev):
        if ev.kind == "prepared":
            seen["n_val"] = ev.n_val
            say(f"napari-iog finetune: starting from {ev.start}\nnapari-iog finetune: "
                f"{ev.description}")  # fmt: skip
        elif ev.kind == "step" and bar is not None:
            bar.step(ev)
        elif ev.kind == "epoch":
            write(epoch_line(ev))
        elif ev.kind == "calibrated":
            write(ev.message)

    try:
        summary = drive(job.finetune_job(spec), on_event)
    except KeyboardInterrupt:
        kept = spec.out.exists()
        say(
            f"cancelled; the last good checkpoint is {spec.out}"
            if kept
            else "cancelled; nothing saved"
        )
        return 130
    finally:
        if bar is not None:
            bar.close()
    if main:
        _report(summary, args, seen["n_val"])
    return 0


def _report(summary, args, n_val: int) -> None:
    score = (f"best validation score {summary.best_val:.4f} (mean of val IoU@3 and after 1 click)"
             if n_val else "no validation objects (fewer than 4 objects)")  # fmt: skip
    print(f"{summary.stopped}: {count(summary.steps_done, 'step')} in {summary.seconds:.0f} s; "
          f"{score}; checkpoint {summary.checkpoint} ({summary.kept})")  # fmt: skip
    note = busy_note(summary, args.clock, args.device)
    if note:
        print(note, file=sys.stderr)
