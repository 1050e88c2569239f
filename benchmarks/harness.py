"""The benchmark harness shared by ``benchmarks/*_fewshot.py``, ``starter_*.py`` and
``propagation.py`` (lab code, not part of the installed package): evaluate IOG and the baselines
with the simulated-click protocol (:func:`napari_iog.evaluation.runner.evaluate_methods`), the
boundary-tolerant passes, and the results JSON (keys: ``miou_at_3, noc85, noc90, n_objects,
baselines, train_seconds, device, command``...) with the per-object report next to it.

Scripts import it as ``harness`` (``python benchmarks/NAME.py`` puts ``benchmarks/`` first on
the path); tests as ``benchmarks.harness``. The training half: ``benchmarks/fewshot.py`` (options,
``run_fewshot``) and ``training_runs`` (``train_or_load``).
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import replace
from pathlib import Path

if __package__:  # tests: benchmarks.harness
    from .training_runs import train_logger, train_or_load  # noqa: F401  (re-exported)
else:  # scripts: benchmarks/ first on the path
    from training_runs import train_logger, train_or_load  # noqa: F401
from napari_iog.evaluation.protocol import EvalConfig
from napari_iog.evaluation.runner import (  # noqa: F401  (re-exported for the scripts)
    BASELINES,
    baseline_predictors,
    evaluate_methods,
    parse_baselines,
)
from napari_iog.models.weights import install_checkpoint as _install
from napari_iog.words import count


def _progress(name: str, ev, state: dict, log) -> None:
    now = time.perf_counter()
    if ev.done == ev.total or now - state["t"] > 15:
        state["t"] = now
        log(f"  eval {name}: {ev.done}/{count(ev.total, 'object')}")


def evaluate_all(predictors: dict, images, labels, cfg: EvalConfig, log=print) -> list:
    """:func:`napari_iog.evaluation.runner.evaluate_methods` with a log line every 15 s and a
    summary line per method; returns the ``EvalResult`` list."""
    state = {"t": 0.0, "t0": 0.0}

    def on(ev) -> None:
        now = time.perf_counter()
        if ev.kind == "start":
            state["t0"] = now
        elif ev.kind == "object":
            _progress(ev.method, ev.event, state, log)
        else:
            s = ev.result.summary()
            log(
                f"{ev.method}: mIoU@3 {s['miou_at_3']:.4f}  "
                f"mIoU@6 {s['miou_after_3_corrections']:.4f}  NoC@85 {s['noc85']:.2f}  "
                f"NoC@90 {s['noc90']:.2f}  ({now - state['t0']:.0f} s)"
            )

    return evaluate_methods(predictors, images, labels, cfg, progress=on)


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
    from napari_iog.fileio import atomic_write_text

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
    from napari_iog.models.checkpoint import save_checkpoint

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
    from napari_iog.inference import IOGPredictor

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
    from napari_iog.evaluation.report import write_report

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
    :func:`napari_iog.models.weights.install_checkpoint`); returns the cached path."""
    dest = _install(ckpt)
    print(f"installed {dest} (weights name: {Path(ckpt).stem})")
    return dest


def boundary_tolerant(predictors: dict, images, labels, cfg, bands, log=print) -> dict:
    """``{"<band>": {name: {miou_at_3, miou_after_3_corrections, noc85, noc90}}}``: the protocol
    re-run with ``void_band = band`` px ignored around every object's boundary (PASCAL-style), to
    show how much of the remaining error is boundary disagreement. Secondary to the strict numbers."""
    out = {}
    for band in bands:
        keys = ("miou_at_3", "miou_after_3_corrections", "noc85", "noc90")
        log(f"boundary band {band} px ignored:")
        res = evaluate_all(predictors, images, labels, replace(cfg, void_band=int(band)), log)
        summaries = {r.name: r.summary() for r in res}
        out[str(band)] = {name: {k: s[k] for k in keys} for name, s in summaries.items()}
    return out


def parse_bands(text: str) -> list[int]:
    """``"1,2"`` -> ``[1, 2]`` (the ``--void-bands`` option; ``""`` or ``"none"`` -> ``[]``)."""
    if text.strip().lower() in ("", "none"):
        return []
    try:
        bands = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        bands = [-1]
    if any(b < 1 for b in bands):
        raise SystemExit(
            f"--void-bands {text!r}: expected comma-separated widths >= 1 px, or none."
        )
    return bands
