"""Few-shot IOG on aerial buildings: train on the left half of the SpaceNet sample tile, evaluate
on its right half (disjoint; buildings crossing column 450 are dropped from both), plus a
cross-domain check on the 6 ISPRS buildings (Potsdam RGB, Vaihingen IRRG; never trained on).

    nice python benchmarks/aerial_fewshot.py --minutes 10
    python benchmarks/aerial_fewshot.py --eval-only checkpoints/aerial-buildings-r18light.pt

Prints the results; ``--results benchmarks/results/aerial_fewshot.json`` writes them (+ per-object
CSV / PNG in ``benchmarks/results/aerial_fewshot/``). Data: ``../shared/data/aerial-*`` (or ``$NAPARI_IOG_SHARED``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sstem_fewshot import REPO, build, data_root, resolved  # noqa: E402

from napari_iog.data.layouts import SPACENET_SPLIT_COL as SPLIT_COL  # noqa: E402
from napari_iog.data.layouts import spacenet_halves  # noqa: E402
from napari_iog.evaluation.experiment import add_training_args  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_args(ap, minutes=10.0, samples_per_epoch=240)
    ap.add_argument("--min-area", type=int, default=50)
    # top-down images have no "up": any rotation, both flips, +-10 % contrast (docs/experiments.md)
    ap.set_defaults(rotate=180.0, vflip=True, intensity=0.1)
    args = ap.parse_args(argv)

    import torch

    from napari_iog.data.datasets import ObjectDataset
    from napari_iog.data.layouts import load_isprs
    from napari_iog.evaluation import experiment as ex
    from napari_iog.models.checkpoint import load_model
    from napari_iog.training.steps import resolve_device

    torch.set_num_threads(args.threads)
    spacenet = data_root("aerial-spacenet")
    if spacenet is None:
        return 2
    data = spacenet.parent
    name = f"aerial-buildings-{'r18light' if args.profile == 'light' else args.profile}"
    out = Path(args.out or REPO / "checkpoints" / f"{name}.pt")
    results_path = Path(args.results) if args.results else None  # default: print only
    command = ex.command_line(__file__, argv)
    device = resolve_device(args.device)
    (tr_im, tr_lab), (te_im, te_lab) = spacenet_halves(spacenet)
    ds = None
    if args.eval_only is None:
        pre = resolved(args.profile, args.set)[1]
        ds = ObjectDataset([tr_im], [tr_lab], pre, min_area=args.min_area, label_mode="instances")
        print(f"train: SpaceNet cols < {SPLIT_COL}: {ds.describe()}", flush=True)
    meta = {
        "data": "SpaceNet sample tile (solaris), buildings",
        "train_region": f"cols 0..{SPLIT_COL - 1}",
        "test_region": f"cols {SPLIT_COL}..899",
        "profile": args.profile,
        "overrides": args.set,
        "command": command,
    }
    ckpt, summary = ex.train_or_load(
        args, lambda: build(args.profile, args.set, args.seed), ds, 0.15, out, meta, args.min_area
    )
    loaded = load_model(ckpt, device=str(device))
    label = f"IOG {args.profile}"
    results, predictors, ecfg, evaluated = ex.evaluate_checkpoint(
        args, ckpt, loaded, device, [te_im], [te_lab], label, args.min_area
    )
    headline = next(iter(predictors.values()))
    isprs = [
        load_isprs(data / "aerial-isprs", n)
        for n in ("potsdam_2_10_0_0_512_512", "vaihingen_area1_0_0_512_512")
    ]
    cross = ex.evaluate_all(
        {f"{label} on ISPRS (cross-domain)": headline},
        [i for i, _ in isprs],
        [lab for _, lab in isprs],
        ecfg,
    )
    extra = {
        "dataset": "aerial-spacenet buildings (right half)",
        "split_col": SPLIT_COL,
        "profile": args.profile,
        **evaluated,
        "cross_domain_isprs": cross[0].summary(),
        "n_test_buildings_total": int(len(np.unique(te_lab)) - 1),
    }
    ex.save_results(
        results_path, results, summary, device, command, extra, ckpt, loaded, cross,
        install=args.install,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
