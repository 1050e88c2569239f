"""Fit an ssTEM checkpoint's mask threshold on its own validation objects (``training.calibration``),
and print mean IoU against the threshold on any slices.

``--out``: the objects ``sstem_fewshot.py`` held out for validation when it trained the
checkpoint (10 % of the mitochondria of its training slices, ``--seed``) choose the threshold; a
calibrated copy is written, which ``sstem_fewshot.py --eval-only`` then uses. The input
checkpoint is not changed. ``--curve``: a table of mean IoU@3 (box + inside click, the
annotator's pipeline) at thresholds 0.20-0.80 on all mitochondria of the given slice ranges.

    python benchmarks/lab/sstem_calibrate.py checkpoints/sstem-base.pt \\
        --out checkpoints/sstem-base-calibrated.pt --curve 0-4,5-8,10-19
    python benchmarks/sstem_fewshot.py --eval-only checkpoints/sstem-base-calibrated.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
from sstem_fewshot import slice_range, sstem_root  # noqa: E402


def curve_table(loaded, root, ranges: list[str], cfg, device) -> str:
    """Markdown: one row per slice range, mean IoU@3 at each threshold, and the best."""
    from napari_iog.data.datasets import ObjectDataset
    from napari_iog.data.layouts import load_sstem
    from napari_iog.training.calibration import THRESHOLDS, threshold_curve

    rows = ["| slices | objects | " + " | ".join(f"{t:.2f}" for t in THRESHOLDS) + " | best |"]
    rows.append("|---" * (len(THRESHOLDS) + 3) + "|")
    for spec in ranges:
        ims, labs = load_sstem(root, slice_range(spec))
        ds = ObjectDataset(ims, labs, loaded.preprocess, min_area=50)
        c = threshold_curve(loaded.model, loaded.preprocess, ds, cfg, device, THRESHOLDS)
        best = int(c.argmax())
        cells = " | ".join(f"{v:.4f}" for v in c)
        rows.append(f"| {spec} | {len(ds)} | {cells} | {THRESHOLDS[best]:.2f} ({c[best]:.4f}) |")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", help="a checkpoint trained by sstem_fewshot.py")
    ap.add_argument("--out", help="write the calibrated copy here (must differ from weights)")
    ap.add_argument("--curve", default=None, metavar="A-B,C-D",
                    help="print mean IoU against the threshold on these slice ranges")  # fmt: skip
    ap.add_argument("--train-slices", default=None, help="default: the checkpoint's train_slices")
    ap.add_argument("--seed", type=int, default=0, help="the --seed it was trained with")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if not args.out and not args.curve:
        ap.error("give --out, --curve or both")
    if args.out and Path(args.out).resolve() == Path(args.weights).resolve():
        ap.error("--out must differ from the input checkpoint")

    import torch

    from napari_iog.data.datasets import ObjectDataset
    from napari_iog.data.layouts import load_sstem
    from napari_iog.models.checkpoint import load_model
    from napari_iog.training import FinetuneConfig
    from napari_iog.training.calibration import describe, fit_threshold, save_fitted

    torch.set_num_threads(args.threads)
    root = sstem_root()
    if root is None:
        return 2
    device = torch.device("cpu")
    loaded = load_model(args.weights, device="cpu")
    cfg = FinetuneConfig(val_max_objects=10_000)
    if args.curve:
        print(curve_table(loaded, root, args.curve.split(","), cfg, device))
    if args.out:
        slices = (
            slice_range(args.train_slices)
            if args.train_slices
            else loaded.meta.get("train_slices", [0, 1, 2, 3, 4])
        )
        ims, labs = load_sstem(root, slices)
        _, val = ObjectDataset(ims, labs, loaded.preprocess, min_area=50).split(0.1, args.seed)
        rec = fit_threshold(loaded, val, FinetuneConfig(), device)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        save_fitted(args.out, loaded, rec)
        print(f"slices {slices}: {describe(rec)} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
