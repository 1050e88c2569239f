"""Few-shot IOG on ssTEM mitochondria: train from scratch on slices 00-04, evaluate slices 10-19.

Re-creates the checkpoint (``checkpoints/sstem-mito-r18light.pt``, provenance inside) and writes
``benchmarks/results/sstem_fewshot.json`` + ``per_object.csv`` / ``iou_vs_clicks.png`` next to it.

    nice python benchmarks/sstem_fewshot.py --minutes 30            # the light CPU profile
    nice python benchmarks/sstem_fewshot.py --profile paper --minutes 15 --max-clicks 0
    python benchmarks/sstem_fewshot.py --eval-only checkpoints/sstem-mito-r18light.pt
    python benchmarks/sstem_fewshot.py ... --install   # copy into the weights cache for the annotator

Data: ``../shared/data/sstem-drosophila-vnc`` (or ``$NAPARI_IOG_SHARED``), never shipped.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from napari_iog.evaluation.experiment import add_training_args

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    env = os.environ.get("NAPARI_IOG_SHARED")
    return Path(env) if env else (REPO / ".." / "shared").resolve()


def build(profile: str):
    """``light`` = the ``cpu-light`` preset (ResNet-18 layout at half width, light decoder, 192 px
    crops, relax 20, clip to box); ``paper`` = ``iog-resnet101-refine``; else any profile name."""
    from napari_iog.models import build_model
    from napari_iog.training.presets import resolve_profile

    name = {"light": "cpu-light", "paper": "iog-resnet101-refine"}.get(profile, profile)
    mc, pc = resolve_profile(name)
    return build_model(mc), pc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_args(ap, minutes=30.0, samples_per_epoch=480)
    ap.add_argument("--train-slices", default="0-4")
    ap.add_argument("--test-slices", default="10-19")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument(
        "--install", action="store_true", help="copy the checkpoint into the weights cache"
    )
    args = ap.parse_args(argv)

    import torch

    from napari_iog.data.datasets import ObjectDataset
    from napari_iog.data.files import load_sstem
    from napari_iog.evaluation.experiment import (
        baseline_predictors,
        device_description,
        evaluate_all,
        record_test_metrics,
        results_json,
        train_logger,
        training_config,
        write_json,
    )
    from napari_iog.evaluation.protocol import EvalConfig
    from napari_iog.evaluation.report import write_report
    from napari_iog.inference import IOGPredictor
    from napari_iog.models.checkpoint import load_model
    from napari_iog.training import run_finetune
    from napari_iog.training.steps import resolve_device

    torch.set_num_threads(args.threads)
    rng_of = lambda s: list(range(int(s.split("-")[0]), int(s.split("-")[-1]) + 1))  # noqa: E731
    train_slices, test_slices = rng_of(args.train_slices), rng_of(args.test_slices)
    root = shared_dir() / "data" / "sstem-drosophila-vnc"
    if not root.is_dir():
        print(f"ssTEM data not found at {root}; set NAPARI_IOG_SHARED.", file=sys.stderr)
        return 2
    name = f"sstem-mito-{'r18light' if args.profile == 'light' else args.profile}"
    out = Path(args.out or REPO / "checkpoints" / f"{name}.pt")
    results_path = Path(args.results or REPO / "benchmarks" / "results" / "sstem_fewshot.json")
    command = "python " + " ".join(
        shlex.quote(a) for a in [f"benchmarks/{Path(__file__).name}", *(argv or sys.argv[1:])]
    )
    device = resolve_device(args.device)
    summary = None

    if args.eval_only is None:
        model, pre = build(args.profile)
        ims, labs = load_sstem(root, train_slices)
        ds = ObjectDataset(ims, labs, pre, min_area=50)
        print(f"train: slices {train_slices}: {ds.describe()}", flush=True)
        train, val = ds.split(0.1, seed=args.seed)
        cfg = training_config(args)
        meta = {
            "data": "ssTEM Drosophila VNC stack 1 (Gerhard et al. 2013), mitochondria",
            "train_slices": train_slices,
            "test_slices": test_slices,
            "profile": args.profile,
            "command": command,
        }
        summary = run_finetune(
            model,
            pre,
            train,
            val,
            cfg,
            out=out,
            meta=meta,
            callback=train_logger(log=lambda m: print(m, flush=True)),
        )
        ckpt = summary.checkpoint
    else:
        ckpt = Path(args.eval_only)

    loaded = load_model(ckpt, device=str(device))
    ims, labs = load_sstem(root, test_slices)
    ecfg = EvalConfig(max_clicks=args.max_clicks, min_area=50, stop_iou=args.stop_iou)
    predictors = {
        f"IOG {args.profile}": IOGPredictor(loaded.model, loaded.preprocess, device=device)
    }
    if not args.no_baselines:
        predictors.update(baseline_predictors(replace(loaded.preprocess, clip_to_box=False)))
    results = evaluate_all(predictors, ims, labs, ecfg)
    if loaded.preprocess.clip_to_box:  # the same net without the post-process (3 corrections)
        noclip = {
            f"IOG {args.profile} (no clip to box)": IOGPredictor(
                loaded.model, replace(loaded.preprocess, clip_to_box=False), device=device
            )
        }
        results += evaluate_all(
            noclip, ims, labs, replace(ecfg, max_clicks=min(3, args.max_clicks))
        )
    main_res, others = results[0], results[1:]
    baselines = [r for r in others if not r.name.startswith("IOG")]
    extra = {
        "dataset": "sstem-drosophila-vnc mitochondria",
        "train_slices": train_slices,
        "test_slices": test_slices,
        "profile": args.profile,
        "checkpoint": str(ckpt.name),
        "model_config": loaded.model.config.to_dict(),
        "preprocess": loaded.preprocess.to_dict(),
        "checkpoint_meta": {
            k: loaded.meta.get(k) for k in ("epochs", "steps", "train_seconds", "metrics")
        },
        "variants": {r.name: r.summary() for r in others if r.name.startswith("IOG")},
        "max_corrective_clicks": args.max_clicks,
        "stop_iou": args.stop_iou,
    }
    data = results_json(main_res, baselines, summary, device_description(device), command, extra)
    if summary is None:
        data["train_seconds"] = loaded.meta.get("train_seconds")
    write_json(results_path, data)
    if summary is not None:  # a checkpoint trained here: store the test results in it
        record_test_metrics(ckpt, loaded, data)
    write_report(results, results_path.with_suffix(""), extra={"command": command})
    print(f"wrote {results_path}")
    if args.install:
        from napari_iog.models.weights import cache_dir

        dest = cache_dir() / "checkpoints" / out.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ckpt, dest)
        print(f"installed {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
