"""Few-shot experiment driver shared by ``benchmarks/*_fewshot.py``: train on some planes, evaluate
IOG and the baselines on other planes with the simulated-click protocol, write the results JSON
(keys: ``miou_at_3, noc85, noc90, n_objects, baselines, train_seconds, device, command``...).
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from .protocol import EvalConfig, run_evaluation


def baseline_predictors(preprocess, names=("box fill", "random walker", "grabcut")) -> dict:
    """``{name: predictor}`` for the classical baselines that are available here."""
    from ..inference import BoxFillPredictor, RandomWalkerPredictor
    from .grabcut import GrabCutPredictor, grabcut_available

    out = {}
    for n in names:
        if n == "box fill":
            out[n] = BoxFillPredictor(preprocess)
        elif n == "random walker":
            out[n] = RandomWalkerPredictor(preprocess)
        elif n == "grabcut" and grabcut_available():
            out[n] = GrabCutPredictor(preprocess)
    return out


def _progress(name: str, log):
    state = {"t": 0.0}

    def cb(ev):
        now = time.perf_counter()
        if ev.done == ev.total or now - state["t"] > 15:
            state["t"] = now
            log(f"  eval {name}: {ev.done}/{ev.total} objects")

    return cb


def evaluate_all(predictors: dict, images, labels, cfg: EvalConfig, log=print) -> list:
    """Run the protocol for every ``{name: predictor}``; returns the ``EvalResult`` list."""
    results = []
    for name, pred in predictors.items():
        t0 = time.perf_counter()
        res = run_evaluation(pred, images, labels, cfg, name=name, progress=_progress(name, log))
        s = res.summary()
        log(
            f"{name}: mIoU@3 {s['miou_at_3']:.4f}  mIoU@6 {s['miou_after_3_corrections']:.4f}  "
            f"NoC@85 {s['noc85']:.2f}  NoC@90 {s['noc90']:.2f}  ({time.perf_counter() - t0:.0f} s)"
        )
        results.append(res)
    return results


def device_description(device) -> str:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def results_json(
    main, baselines, train_summary, device: str, command: str, extra: dict | None = None
) -> dict:
    """The benchmark results dict (see module doc); ``main`` and ``baselines`` are EvalResults."""
    s = main.summary()
    out = {
        "miou_at_3": s["miou_at_3"],
        "miou_after_3_corrections": s["miou_after_3_corrections"],
        "best_miou_within_3_corrections": s["best_miou_within_3_corrections"],
        "noc85": s["noc85"],
        "noc90": s["noc90"],
        "noc85_corrective": s["noc85_corrective"],
        "noc90_corrective": s["noc90_corrective"],
        "n_objects": s["n_objects"],
        "n_skipped_small": s["n_skipped_small"],
        "miou_by_clicks": s["miou_by_clicks"],
        "baselines": {b.name: b.summary()["miou_at_3"] for b in baselines},
        "baselines_detail": {b.name: b.summary() for b in baselines},
        "train_seconds": None if train_summary is None else round(train_summary.seconds, 1),
        "train_cpu_seconds": None if train_summary is None else round(train_summary.cpu_seconds, 1),
        "train_steps": None if train_summary is None else train_summary.steps_done,
        "train_epochs": None if train_summary is None else train_summary.epochs_done,
        "train_stopped": None if train_summary is None else train_summary.stopped,
        "device": device,
        "command": command,
        "eval_seconds": round(s["seconds"], 1),
    }
    out.update(extra or {})
    return out


def write_json(path, data: dict) -> Path:
    from ..fileio import atomic_write_text

    return atomic_write_text(Path(path), json.dumps(data, indent=2) + "\n")


# ------------------------------------------------------------------ shared by the benchmark scripts
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
    ap.add_argument("--results", default=None, help="results JSON (default benchmarks/results/)")
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


def record_test_metrics(ckpt, loaded, data: dict) -> None:
    """Re-save checkpoint ``ckpt`` with the test results in its provenance (``meta.test_metrics``)."""
    from ..models.checkpoint import save_checkpoint

    keys = ("dataset", "test_slices", "n_objects", "miou_at_3", "miou_after_3_corrections", "noc85",
            "noc90", "noc90_corrective", "baselines", "eval_box_jitter", "command")  # fmt: skip
    meta = dict(loaded.meta, test_metrics={k: data[k] for k in keys if k in data})
    save_checkpoint(ckpt, loaded.model.cpu(), loaded.preprocess, meta)


def command_line(script: str, argv) -> str:
    """The command that reproduces this run, for the results JSON."""
    import shlex
    import sys

    args = sys.argv[1:] if argv is None else list(argv)
    return "python " + " ".join(shlex.quote(a) for a in [f"benchmarks/{Path(script).name}", *args])


def train_or_load(
    args, build, dataset, val_fraction: float, out, meta: dict, min_area: int = 50, split=None
):
    """Train ``build()`` -> ``(model, preprocess)`` (or the ``args.init`` checkpoint's) on
    ``dataset`` (an ObjectDataset; a ``val_fraction`` of its objects validates, or
    ``split(dataset, val_fraction, seed) -> (train, val)`` chooses), unless ``args.eval_only``
    names a checkpoint.
    Returns ``(checkpoint path, TrainSummary | None)``."""
    from ..training import run_finetune

    if args.eval_only is not None:
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
    return summary.checkpoint, summary


def _init_provenance(meta: dict) -> dict:
    """The few provenance keys of a start checkpoint worth keeping in the new one."""
    keys = ("data", "train_slices", "train_region", "profile", "steps", "train_seconds")
    return {k: meta[k] for k in keys if k in meta}


def iog_predictors(loaded, device, label: str, tta: bool) -> tuple[dict, dict]:
    """``({label: headline predictor}, {variant name: predictor})`` for a loaded checkpoint: the
    variants are the other TTA setting and, for clip-to-box checkpoints, the unclipped masks."""
    from dataclasses import replace

    from ..inference import IOGPredictor

    def make(pre, t):
        return IOGPredictor(loaded.model, pre, device=device, tta=t)

    main = {label + (" + flip TTA" if tta else ""): make(loaded.preprocess, tta)}
    variants = {label + ("" if tta else " + flip TTA"): make(loaded.preprocess, not tta)}
    if loaded.preprocess.clip_to_box:
        variants[f"{label} (no clip to box)"] = make(
            replace(loaded.preprocess, clip_to_box=False), tta
        )
    return main, variants


def checkpoint_extra(loaded, ckpt) -> dict:
    """Results-JSON keys describing the evaluated checkpoint."""
    return {
        "checkpoint": Path(ckpt).name,
        "model_config": loaded.model.config.to_dict(),
        "preprocess": loaded.preprocess.to_dict(),
        "checkpoint_meta": {
            k: loaded.meta.get(k)
            for k in ("epochs", "steps", "train_seconds", "metrics", "precision")
        },
        **(
            {"threshold_calibration": loaded.meta["threshold_calibration"]}
            if "threshold_calibration" in loaded.meta
            else {}
        ),
    }


def save_results(
    path, results, summary, device, command, extra, ckpt, loaded, report_only=()
) -> dict:
    """Write the results JSON (``results[0]`` = IOG headline; names starting with "IOG" are
    variants, the rest baselines), the report folder next to it (plus the ``report_only``
    results), and (freshly trained checkpoints) the test metrics into the checkpoint."""
    from .report import write_report

    main, others = results[0], results[1:]
    baselines = [r for r in others if not r.name.startswith("IOG")]
    extra = dict(extra, variants={r.name: r.summary() for r in others if r.name.startswith("IOG")})
    data = results_json(main, baselines, summary, device_description(device), command, extra)
    if summary is None:
        data["train_seconds"] = loaded.meta.get("train_seconds")
    write_json(path, data)
    if summary is not None:
        record_test_metrics(ckpt, loaded, data)
    write_report([*results, *report_only], Path(path).with_suffix(""), extra={"command": command})
    print(f"wrote {path}")
    return data
