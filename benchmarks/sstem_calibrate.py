"""Fit an ssTEM checkpoint's mask threshold on its own validation objects (``training.calibration``).

The same objects ``sstem_fewshot.py`` held out for validation when it trained the checkpoint (10 %
of the mitochondria of the training slices, ``--seed``): writes a calibrated copy, whose
threshold ``sstem_fewshot.py --eval-only`` then uses. The input checkpoint is not changed.

    python benchmarks/sstem_calibrate.py checkpoints/sstem-mito-r18light.pt \\
        --out checkpoints/sstem-mito-r18light-calibrated.pt
    python benchmarks/sstem_fewshot.py --eval-only checkpoints/sstem-mito-r18light-calibrated.pt
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sstem_fewshot import slice_range, sstem_root  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", help="a checkpoint trained by sstem_fewshot.py")
    ap.add_argument("--out", required=True, help="the calibrated copy (must differ from weights)")
    ap.add_argument("--train-slices", default=None, help="default: the checkpoint's train_slices")
    ap.add_argument("--seed", type=int, default=0, help="the --seed it was trained with")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if Path(args.out).resolve() == Path(args.weights).resolve():
        ap.error("--out must differ from the input checkpoint")

    import torch

    from napari_iog.config import PreprocessConfig
    from napari_iog.data.datasets import ObjectDataset
    from napari_iog.data.files import load_sstem
    from napari_iog.models.checkpoint import read_header
    from napari_iog.training import FinetuneConfig
    from napari_iog.training.calibration import calibrate_checkpoint, describe

    torch.set_num_threads(args.threads)
    root = sstem_root()
    if root is None:
        return 2
    header = read_header(args.weights)
    meta = header.get("meta", {})
    slices = (
        slice_range(args.train_slices)
        if args.train_slices
        else meta.get("train_slices", [0, 1, 2, 3, 4])
    )
    pre = PreprocessConfig.from_dict(header["preprocess"])
    ims, labs = load_sstem(root, slices)
    _, val = ObjectDataset(ims, labs, pre, min_area=50).split(0.1, seed=args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(args.weights, args.out)
    rec = calibrate_checkpoint(args.out, val, FinetuneConfig(), torch.device("cpu"))
    print(f"slices {slices}: {describe(rec)} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
