"""One few-shot benchmark for every dataset: :func:`run_fewshot` (a :class:`DatasetSpec`).

Train IOG on a dataset's training planes (``training.job.finetune_job``, from scratch or
``--init``), or take ``--eval-only``'s checkpoint, then run the simulated-click protocol on its
test planes against the baselines (``harness.evaluate_checkpoint``) and print or write the
results (``harness.save_results``). ``sstem_fewshot.py``, ``isbi_fewshot.py`` and
``aerial_fewshot.py`` are a DatasetSpec each. The training options are generated from
``FinetuneConfig`` (``napari_iog.cli.options``) with the benchmark protocol's defaults
(:func:`protocol_config`): a CPU-time budget on 1 thread, epochs until it is used up, the
protocol's fixed 0.5 threshold (no calibration).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from napari_iog.cli.options import add_config_options, config_from_args

REPO = Path(__file__).resolve().parents[1]


def _harness():
    if __package__:  # tests: benchmarks.fewshot
        from . import harness
    else:  # scripts: benchmarks/ first on the path
        import harness
    return harness


def shared_dir() -> Path:
    env = os.environ.get("NAPARI_IOG_SHARED")
    return Path(env) if env else (REPO / ".." / "shared").resolve()


def data_root(folder: str) -> Path | None:
    """``<shared>/data/<folder>``, or None after saying on stderr how to point at it."""
    root = shared_dir() / "data" / folder
    if root.is_dir():
        return root
    print(f"{folder} not found at {root}; set NAPARI_IOG_SHARED.", file=sys.stderr)
    return None


def sstem_root() -> Path | None:
    return data_root("sstem-drosophila-vnc")


def slice_range(spec: str) -> list[int]:
    """``"10-19"`` -> ``[10, ..., 19]``; ``"9"`` -> ``[9]``."""
    a, _, b = spec.partition("-")
    return list(range(int(a), int(b or a) + 1))


def protocol_config(minutes: float, samples_per_epoch: int, val_fraction: float = 0.1):
    """The benchmark protocol's FinetuneConfig (the recipe's defaults otherwise)."""
    from napari_iog.training import FinetuneConfig

    return FinetuneConfig(epochs=10_000, samples_per_epoch=samples_per_epoch, max_minutes=minutes,
                          budget_clock="cpu", num_threads=1, val_fraction=val_fraction,
                          calibrate_threshold=False)  # fmt: skip


def add_training_args(ap, minutes: float, samples_per_epoch: int, val_fraction: float = 0.1):
    """The options of every few-shot script: FinetuneConfig's (generated, protocol defaults)
    and the evaluation's."""
    from napari_iog.training import FinetuneConfig

    add_config_options(
        ap, FinetuneConfig, protocol_config(minutes, samples_per_epoch, val_fraction)
    )
    a = ap.add_argument
    a("--profile", default="light", help="light | paper | a napari-iog profile name")
    a("--set", action="append", default=[], metavar="FIELD=VALUE",
      help="override a ModelConfig/PreprocessConfig field of the profile (repeatable)")  # fmt: skip
    a("--max-clicks", type=int, default=20, help="corrective clicks in evaluation")
    a("--stop-iou", type=float, default=0.97, help="an object reaching this IoU keeps it")
    a("--out", default=None, help="checkpoint path (default checkpoints/<name>.pt)")
    a("--results", default=None, metavar="JSON", help="write the results here (default: print)")
    a("--eval-only", default=None, help="skip training, evaluate this checkpoint")
    a("--init", default=None, metavar="CKPT",
      help="start from this checkpoint instead of random init (--profile/--set ignored)")  # fmt: skip
    a("--void-bands", default="1,2", metavar="PX,PX",
      help="also report with a band of PX px ignored around each boundary ('none' to skip)")  # fmt: skip
    a("--eval-box-jitter", type=float, default=0.0, metavar="FRAC",
      help="evaluate with imprecise boxes: each edge moved by up to FRAC of the side")  # fmt: skip
    a("--install", action="store_true", help="copy the checkpoint into the weights cache")
    a("--tta", action="store_true", help="headline numbers with flip test-time augmentation")


def override_configs(model_cfg, preprocess, overrides=()):
    """``--set`` (``training.job.override_configs``); a bad one is a usage error."""
    from napari_iog.training import TrainingError
    from napari_iog.training.job import override_configs as apply

    try:
        return apply(model_cfg, preprocess, overrides)
    except TrainingError as exc:
        raise SystemExit(f"--set: {exc}") from None


def training_config(args):
    """The FinetuneConfig of parsed :func:`add_training_args` options."""
    from napari_iog.training import FinetuneConfig

    return config_from_args(FinetuneConfig, args)


def finetune_spec(args, data, out, meta: dict, split=None):
    """The :class:`~napari_iog.training.job.FinetuneSpec` of a benchmark run on ``data``."""
    from napari_iog.models.registry import resolve_profile
    from napari_iog.training.job import FinetuneSpec

    override_configs(*resolve_profile(args.profile), args.set)  # refuse a bad --set early
    meta = dict(meta, **({"init": Path(args.init).name} if args.init else {}))
    return FinetuneSpec(data, Path(out), training_config(args), args.init, args.profile,
                        tuple(args.set), meta=meta, split=split)  # fmt: skip


@dataclass(frozen=True)
class DatasetSpec:
    """A few-shot benchmark: ``name`` (checkpoint stem), the data ``folder`` under the shared
    data, the protocol's ``minutes`` / ``samples_per_epoch`` / ``val_fraction``, and hooks:
    ``options(parser)``; ``train(args, root) -> (Planes, split or None)``; ``test(args, root)
    -> (images, labels)``; ``describe(args) -> dict`` (results keys); ``baselines(args)``;
    ``after(args, root, predictors, ecfg) -> (results keys, report-only results)``."""

    name: str
    folder: str
    title: str
    train: Callable
    test: Callable
    describe: Callable
    minutes: float = 30.0
    samples_per_epoch: int = 480
    val_fraction: float = 0.1
    options: Callable = lambda ap: None
    baselines: Callable = field(default=lambda args: None)
    after: Callable | None = None


def run_fewshot(ds: DatasetSpec, argv=None, script: str = "") -> int:
    """Train (or ``--eval-only``) and evaluate ``ds``; see the module doc. Returns the exit code."""
    ap = argparse.ArgumentParser(description=ds.title)
    add_training_args(ap, ds.minutes, ds.samples_per_epoch, ds.val_fraction)
    ds.options(ap)
    args = ap.parse_args(argv)
    baselines = ds.baselines(args)  # said before training, not after it
    import torch

    from napari_iog.devices import resolve_device
    from napari_iog.models.checkpoint import load_model

    ex = _harness()
    train_or_load = ex.train_or_load
    torch.set_num_threads(args.threads)
    root = data_root(ds.folder)
    if root is None:
        return 2
    name = f"{ds.name}-{'r18light' if args.profile == 'light' else args.profile}"
    command, device = ex.command_line(script or f"{ds.name}.py", argv), resolve_device(args.device)
    spec = None
    if args.eval_only is None:
        data, split = ds.train(args, root)
        meta = dict(data.source, profile=args.profile, overrides=args.set, command=command)
        spec = finetune_spec(args, data, args.out or REPO / "checkpoints" / f"{name}.pt", meta,
                             split)  # fmt: skip
    ckpt, summary = train_or_load(spec, args.eval_only, args.install)
    loaded = load_model(ckpt, device=str(device))
    images, labels = ds.test(args, root)
    label = f"IOG {args.profile}"
    kw = {} if baselines is None else {"baselines": baselines}
    results, predictors, ecfg, evaluated = ex.evaluate_checkpoint(
        args, ckpt, loaded, device, images, labels, label, args.min_area, **kw
    )
    extra, report_only = {"profile": args.profile, **ds.describe(args), **evaluated}, ()
    if ds.after is not None:
        more, report_only = ds.after(args, root, predictors, ecfg)
        extra.update(more)
    results_path = Path(args.results) if args.results else None  # default: print only
    ex.save_results(results_path, results, summary, device, command, extra, ckpt, loaded,
                    report_only, install=args.install)  # fmt: skip
    return 0
