"""Few-shot IOG on aerial buildings: train on the left half of the SpaceNet sample tile, evaluate
on its right half (disjoint; buildings crossing column 450 are dropped from both), plus a
cross-domain check on the 6 ISPRS buildings (Potsdam RGB, Vaihingen IRRG; never trained on).

    nice python benchmarks/aerial_fewshot.py --minutes 10
    python benchmarks/aerial_fewshot.py --eval-only checkpoints/aerial-buildings-r18light.pt

Prints the results; ``--results benchmarks/results/aerial_fewshot.json`` writes them (+ per-object
CSV / PNG in ``benchmarks/results/aerial_fewshot/``). Data: ``../shared/data/aerial-*`` (or ``$NAPARI_IOG_SHARED``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fewshot import DatasetSpec, run_fewshot  # noqa: E402

from napari_iog.data.layouts import SPACENET_SPLIT_COL as SPLIT_COL  # noqa: E402
from napari_iog.data.layouts import spacenet_halves  # noqa: E402,F401  (starter_eval uses it)

ISPRS = ("potsdam_2_10_0_0_512_512", "vaihingen_area1_0_0_512_512")


def train(args, root):
    from napari_iog.training.job import Planes

    (im, lab), _ = spacenet_halves(root)
    source = {"data": "SpaceNet sample tile (solaris), buildings",
              "train_region": f"cols 0..{SPLIT_COL - 1}", "test_region": f"cols {SPLIT_COL}..899"}  # fmt: skip
    return Planes((im,), (lab,), source), None


def test(args, root):
    _, (im, lab) = spacenet_halves(root)
    return [im], [lab]


def after(args, root, predictors, ecfg):
    """The headline predictor on the ISPRS buildings (cross-domain; reported, not tested)."""
    from harness import evaluate_all

    from napari_iog.data.layouts import load_isprs

    isprs = [load_isprs(root.parent / "aerial-isprs", n) for n in ISPRS]
    label = next(iter(predictors))
    cross = evaluate_all({f"{label} on ISPRS (cross-domain)": predictors[label]},
                         [i for i, _ in isprs], [lab for _, lab in isprs], ecfg)  # fmt: skip
    n_test = int(len(np.unique(test(args, root)[1][0])) - 1)
    return {"cross_domain_isprs": cross[0].summary(), "n_test_buildings_total": n_test}, cross


AERIAL = DatasetSpec(
    "aerial-buildings", "aerial-spacenet", __doc__.splitlines()[0], train, test,
    describe=lambda args: {"dataset": "aerial-spacenet buildings (right half)",
                           "split_col": SPLIT_COL},
    minutes=10.0, samples_per_epoch=240, val_fraction=0.15, after=after,
)  # fmt: skip


def main(argv=None) -> int:
    return run_fewshot(AERIAL, argv, __file__)


if __name__ == "__main__":
    sys.exit(main())
