"""Few-shot IOG on aerial buildings: train on the left half of the SpaceNet sample tile, evaluate
on its right half (disjoint; buildings crossing column 450 are dropped from both), plus a
cross-domain check on the 6 ISPRS buildings (Potsdam RGB, Vaihingen IRRG; never trained on).

    nice python benchmarks/aerial_fewshot.py --minutes 10
    python benchmarks/aerial_fewshot.py --eval-only checkpoints/aerial-buildings-r18light.pt

Writes ``benchmarks/results/aerial_fewshot.json`` (+ per-object CSV / PNG in
``benchmarks/results/aerial_fewshot/``). Data: ``../shared/data/aerial-*`` (or ``$NAPARI_IOG_SHARED``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sstem_fewshot import REPO, build, shared_dir  # noqa: E402

from napari_iog.evaluation.experiment import add_training_args  # noqa: E402

SPLIT_COL = 450


def spacenet_halves(root: Path):
    """``(left image, left labels), (right image, right labels)``; crossing buildings -> 0."""
    from scipy import ndimage

    from napari_iog.data.files import load_spacenet

    im, lab = load_spacenet(root)
    lab = lab.copy()
    for k, sl in enumerate(ndimage.find_objects(lab), start=1):
        if sl is not None and sl[1].start < SPLIT_COL <= sl[1].stop - 1:
            lab[lab == k] = 0
    return (im[:, :SPLIT_COL], lab[:, :SPLIT_COL]), (im[:, SPLIT_COL:], lab[:, SPLIT_COL:])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_args(ap, minutes=10.0, samples_per_epoch=240)
    ap.add_argument("--min-area", type=int, default=50)
    args = ap.parse_args(argv)

    import torch

    from napari_iog.data.datasets import ObjectDataset
    from napari_iog.data.files import load_isprs
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
    data = shared_dir() / "data"
    if not (data / "aerial-spacenet").is_dir():
        print(f"aerial data not found under {data}; set NAPARI_IOG_SHARED.", file=sys.stderr)
        return 2
    name = f"aerial-buildings-{'r18light' if args.profile == 'light' else args.profile}"
    out = Path(args.out or REPO / "checkpoints" / f"{name}.pt")
    results_path = Path(args.results or REPO / "benchmarks" / "results" / "aerial_fewshot.json")
    command = "python " + " ".join(
        shlex.quote(a) for a in [f"benchmarks/{Path(__file__).name}", *(argv or sys.argv[1:])]
    )
    device = resolve_device(args.device)
    (tr_im, tr_lab), (te_im, te_lab) = spacenet_halves(data / "aerial-spacenet")
    summary = None
    if args.eval_only is None:
        model, pre = build(args.profile)
        ds = ObjectDataset([tr_im], [tr_lab], pre, min_area=args.min_area, label_mode="instances")
        print(f"train: SpaceNet cols < {SPLIT_COL}: {ds.describe()}", flush=True)
        train, val = ds.split(0.15, seed=args.seed)
        cfg = training_config(args, args.min_area)
        meta = {
            "data": "SpaceNet sample tile (solaris), buildings",
            "train_region": f"cols 0..{SPLIT_COL - 1}",
            "test_region": f"cols {SPLIT_COL}..899",
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
    ecfg = EvalConfig(max_clicks=args.max_clicks, min_area=args.min_area, stop_iou=args.stop_iou)
    predictors = {
        f"IOG {args.profile}": IOGPredictor(loaded.model, loaded.preprocess, device=device)
    }
    predictors.update(baseline_predictors(replace(loaded.preprocess, clip_to_box=False)))
    results = evaluate_all(predictors, [te_im], [te_lab], ecfg)
    isprs = [
        load_isprs(data / "aerial-isprs", n)
        for n in ("potsdam_2_10_0_0_512_512", "vaihingen_area1_0_0_512_512")
    ]
    cross = evaluate_all(
        {f"IOG {args.profile} on ISPRS (cross-domain)": predictors[f"IOG {args.profile}"]},
        [i for i, _ in isprs],
        [lab for _, lab in isprs],
        ecfg,
    )
    extra = {
        "dataset": "aerial-spacenet buildings (right half)",
        "split_col": SPLIT_COL,
        "profile": args.profile,
        "checkpoint": out.name if args.eval_only is None else Path(ckpt).name,
        "model_config": loaded.model.config.to_dict(),
        "preprocess": loaded.preprocess.to_dict(),
        "checkpoint_meta": {
            k: loaded.meta.get(k) for k in ("epochs", "steps", "train_seconds", "metrics")
        },
        "cross_domain_isprs": cross[0].summary(),
        "max_corrective_clicks": args.max_clicks,
        "stop_iou": args.stop_iou,
        "n_test_buildings_total": int(len(np.unique(te_lab)) - 1),
    }
    res = results_json(results[0], results[1:], summary, device_description(device), command, extra)
    if summary is None:
        res["train_seconds"] = loaded.meta.get("train_seconds")
    write_json(results_path, res)
    if summary is not None:
        record_test_metrics(ckpt, loaded, res)
    write_report(results + cross, results_path.with_suffix(""), extra={"command": command})
    print(f"wrote {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
