"""How much IoU the output grid alone costs: the ground truth itself, squeezed through the
network's crop and an output grid of stride 1, 2, 4 or 8, pasted back and scored.

Per object: box from the mask (the evaluation's), crop box = box +- relax resized to S x S
(``CropTransform.crop_mask``, as the network input), area-average to the stride's grid (the best
soft map a net on that grid could output), bilinear back to S x S (align_corners, as the decoder),
cubic paste to the image (the predictor's ``paste``), threshold 0.5, clip to the box. No network:
the table is an upper bound of what each output stride can reach on these objects.

    python benchmarks/lab/resolution_ceiling.py                      # ssTEM slices 10-19, cpu-light
    python benchmarks/lab/resolution_ceiling.py --crop-size 224 --relax 20
    python benchmarks/lab/resolution_ceiling.py --data isbi          # ISBI 2012 slices 20-29
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
from sstem_fewshot import data_root, slice_range  # noqa: E402


def ceiling(labels_planes, crop_size: int, relax: int, strides) -> dict[int, list[float]]:
    import torch
    import torch.nn.functional as F

    from napari_iog.data.prompts import simulate_prompt
    from napari_iog.evaluation.metrics import iou
    from napari_iog.evaluation.protocol import list_objects
    from napari_iog.inference.transforms import CropTransform

    out: dict[int, list[float]] = {s: [] for s in strides}
    for lab in labels_planes:
        for k, _sl, _area in list_objects(lab, 50)[0]:
            gt = lab == k
            box = simulate_prompt(gt).box
            t = CropTransform.from_box(box, lab.shape, relax, crop_size)
            crop = torch.from_numpy(t.crop_mask(gt.astype(np.float32)))[None, None]
            inside = np.zeros_like(gt)
            inside[box.row0 : box.row1 + 1, box.col0 : box.col1 + 1] = True
            for s in strides:
                x = crop
                if s > 1:
                    x = F.interpolate(
                        F.avg_pool2d(x, s), size=crop.shape[-2:], mode="bilinear",
                        align_corners=True,
                    )  # fmt: skip
                prob, (r0, c0) = t.paste(x[0, 0].numpy())
                pred = np.zeros_like(gt)
                pred[r0 : r0 + prob.shape[0], c0 : c0 + prob.shape[1]] = prob >= 0.5
                pred &= inside
                out[s].append(iou(pred, gt))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=("sstem", "isbi"), default="sstem",
                    help="sstem: ssTEM mitochondria; isbi: ISBI 2012 neuron profiles")  # fmt: skip
    ap.add_argument("--slices", default=None, help="default: the test slices (10-19 / 20-29)")
    ap.add_argument("--crop-size", type=int, default=192)
    ap.add_argument("--relax", type=int, default=20)
    args = ap.parse_args(argv)
    from napari_iog.data.layouts import load_isbi2012, load_sstem

    if args.data == "isbi":
        folder, load, what, test = "isbi2012", load_isbi2012, "ISBI 2012 neurons", "20-29"
    else:
        folder, load, what, test = "sstem-drosophila-vnc", load_sstem, "ssTEM mitochondria", "10-19"
    args.slices = args.slices or test
    root = data_root(folder)
    if root is None:
        return 2
    _, labs = load(root, slice_range(args.slices))
    res = ceiling(labs, args.crop_size, args.relax, (1, 2, 4, 8))
    print(f"{what}, slices {args.slices}, crop {args.crop_size}, relax {args.relax}")
    print("| output stride | mIoU ceiling | worst object | objects |\n|---|---|---|---|")
    for s, v in res.items():
        print(f"| {s} | {np.mean(v):.4f} | {np.min(v):.3f} | {len(v)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
