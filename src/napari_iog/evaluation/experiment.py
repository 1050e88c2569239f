"""Few-shot experiment driver shared by ``benchmarks/*_fewshot.py``: train on some planes, evaluate
IOG and the baselines on other planes with the simulated-click protocol, write the results JSON
(keys: ``miou_at_3, noc85, noc90, n_objects, baselines, train_seconds, device, command``...).
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from ..words import count
from .experiment_training import (  # noqa: F401  (the scripts' one entry point)
    add_training_args,
    override_configs,
    train_logger,
    train_or_load,
    training_config,
)
from .protocol import EvalConfig, run_evaluation

BASELINES = ("box fill", "random walker", "grabcut")


def parse_baselines(text: str) -> list[str]:
    """``"box fill, random walker"`` -> ``["box fill", "random walker"]`` (a ``--baselines``
    option); ``"none"`` -> ``[]``. ValueError names the choices for anything else."""
    if text.strip().lower() == "none":
        return []
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(BASELINES))
    if unknown:
        raise ValueError(f"Unknown baselines {unknown}; use {','.join(BASELINES)!r} or 'none'.")
    return names


def baseline_predictors(preprocess, names=BASELINES) -> dict:
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
            log(f"  eval {name}: {ev.done}/{count(ev.total, 'object')}")

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


def merge_results(path, keys: tuple, entry: dict) -> Path:
    """Put ``entry`` at ``data[keys[0]][keys[1]]...`` of the results JSON ``path`` (created if
    absent; the other entries are kept) and write it atomically."""
    path = Path(path)
    data = json.loads(path.read_text()) if path.is_file() else {}
    node = data
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = entry
    return write_json(path, data)


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


def evaluate_checkpoint(
    args, ckpt, loaded, device, images, labels, label: str, min_area: int = 50, baselines=BASELINES
) -> tuple[list, dict, EvalConfig, dict]:
    """The protocol as the few-shot scripts run it on checkpoint ``ckpt`` (``loaded``: it, loaded
    on ``device``): IOG (``label``) and the ``baselines`` with ``args.max_clicks`` corrective
    clicks; the IOG variants (:func:`iog_predictors`) with up to 3; then the ``args.void_bands``
    boundary-tolerant passes (IOG and the baselines but GrabCut: ~5 min a pass and far below the
    others).
    ``images`` / ``labels``: lists of planes ([H, W] or [H, W, C]; int instance ids).

    Returns ``(results, predictors, ecfg, extra)``: ``results[0]`` is the IOG headline,
    ``predictors`` the fully evaluated ones by name, ``ecfg`` the EvalConfig used, ``extra`` the
    results-JSON keys that describe the checkpoint and the evaluation."""
    from dataclasses import replace

    from .boundary import boundary_tolerant, parse_bands

    bands = parse_bands(args.void_bands)
    ecfg = EvalConfig(
        max_clicks=args.max_clicks, min_area=min_area, stop_iou=args.stop_iou,
        box_jitter=args.eval_box_jitter, seed=args.seed,
    )  # fmt: skip
    predictors, variants = iog_predictors(loaded, device, label, args.tta)
    predictors.update(
        baseline_predictors(replace(loaded.preprocess, clip_to_box=False), tuple(baselines))
    )
    results = evaluate_all(predictors, images, labels, ecfg)
    results += evaluate_all(
        variants, images, labels, replace(ecfg, max_clicks=min(3, args.max_clicks))
    )
    extra = {
        "tta": bool(args.tta),
        **checkpoint_extra(loaded, ckpt),
        "max_corrective_clicks": args.max_clicks,
        "stop_iou": args.stop_iou,
        "eval_box_jitter": args.eval_box_jitter,
        "boundary_tolerant": boundary_tolerant(
            {k: v for k, v in predictors.items() if k != "grabcut"}, images, labels, ecfg, bands
        ),
    }
    return results, predictors, ecfg, extra


def save_results(
    path, results, summary, device, command, extra, ckpt, loaded, report_only=(), install=False
) -> dict:
    """Write the results JSON (``results[0]`` = IOG headline; names starting with "IOG" are
    variants, the rest baselines) and the report folder next to it (plus the ``report_only``
    results) - or, with ``path`` None, print the headline numbers only - and (freshly trained
    checkpoints) the test metrics into the checkpoint; then, with ``install`` and a fresh
    checkpoint, copy it into the weights cache again (:func:`install_checkpoint`; the
    ``--install`` of the scripts put it there right after training)."""
    from .report import write_report

    main, others = results[0], results[1:]
    baselines = [r for r in others if not r.name.startswith("IOG")]
    extra = dict(extra, variants={r.name: r.summary() for r in others if r.name.startswith("IOG")})
    data = results_json(main, baselines, summary, device_description(device), command, extra)
    if summary is None:
        data["train_seconds"] = loaded.meta.get("train_seconds")
    if path is not None:
        write_json(path, data)
    if summary is not None:
        record_test_metrics(ckpt, loaded, data)
    if path is None:
        print(json.dumps({k: data.get(k) for k in HEADLINE}, indent=1))
        print("results printed only; pass --results PATH to write them (and the per-object report)")
    else:
        write_report(
            [*results, *report_only], Path(path).with_suffix(""), extra={"command": command}
        )
        print(f"wrote {path}")
    if install and summary is not None:
        install_checkpoint(ckpt)  # again: now with the test metrics in its provenance
    return data


HEADLINE = ("n_objects", "miou_at_3", "miou_after_3_corrections", "noc85", "noc90", "baselines",
            "train_seconds", "train_stopped", "eval_seconds")  # fmt: skip


def install_checkpoint(ckpt) -> Path:
    """Copy checkpoint ``ckpt`` into the weights cache as ``<its stem>`` (atomic, format-checked:
    :func:`~napari_iog.models.weights.import_weights`); returns the cached path."""
    from ..models.weights import import_weights

    dest = import_weights(ckpt, Path(ckpt).stem)
    print(f"installed {dest} (weights name: {Path(ckpt).stem})")
    return dest
