"""Where each ssTEM slice's annotators drew the mitochondrion contour, relative to the image.

Model-free: for every slice, the mean raw intensity of the pixels at signed distance ``d`` from
the annotated contour (``d < 0`` inside, pixel centres at -0.5, +0.5, ... from the contour), and
the sub-pixel ``d`` where that profile crosses halfway between the dark inside level (mean at
``d`` = -4.5 and -3.5) and the bright outside level (``d`` = +5.5 and +6.5). A slice whose
annotators traced the contour one pixel further inside the dark mitochondrion edge shows the
crossing one pixel further out.

Each slice's sharpness (:func:`sharpness`) is printed too, to tell an annotation convention
from a blurrier section. With ``--weights CKPT``, per slice: the mean IoU of that checkpoint's
first prediction (box + inside click, the evaluation protocol's 3 clicks, clip to box) and the
mean ratio of predicted to annotated area: a model trained on one annotation convention predicts
too large (ratio > 1) on slices drawn tighter.

    python benchmarks/lab/sstem_contour_convention.py
    python benchmarks/lab/sstem_contour_convention.py --weights checkpoints/sstem-mito-r18light.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
from sstem_fewshot import slice_range, sstem_root  # noqa: E402

BINS = np.arange(-6.5, 7.0, 1.0)  # pixel-centre signed distances to the contour


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """float ``[H, W]``: distance of each pixel centre to the contour of bool ``mask``,
    negative inside (the inner ring at -0.5, the outer ring at +0.5)."""
    from scipy import ndimage

    inside = ndimage.distance_transform_edt(mask) - 0.5
    outside = ndimage.distance_transform_edt(~mask) - 0.5
    return np.where(mask, -inside, outside)


def intensity_profile(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float ``[len(BINS)]``: mean of ``image`` over the pixels whose signed distance to the
    contour of ``mask`` falls in the unit interval centred on each of ``BINS``."""
    sd = signed_distance(mask)
    key = np.floor(sd) + 0.5  # -0.5 -> -0.5, 0.5 -> 0.5, 1.91 -> 1.5
    return np.array([image[key == b].mean() for b in BINS])


def half_level_crossing(profile: np.ndarray) -> float:
    """Signed distance (px, linear interpolation) where ``profile`` first rises through the
    midpoint of its inside level (``BINS`` -4.5..-3.5) and outside level (+5.5..+6.5)."""
    lo = profile[(BINS >= -4.5) & (BINS <= -3.5)].mean()
    hi = profile[(BINS >= 5.5) & (BINS <= 6.5)].mean()
    mid = 0.5 * (lo + hi)
    for i in range(int(np.flatnonzero(BINS >= -3.5)[0]), len(BINS) - 1):
        a, b = profile[i], profile[i + 1]
        if a < mid <= b:
            return float(BINS[i] + (mid - a) / (b - a))
    return float("nan")


def sharpness(image: np.ndarray) -> float:
    """Image sharpness: spectral power at radial frequencies 1/8-1/4 cycles/px over the power at
    1/32-1/16 (a blurrier section scores lower)."""
    power = np.abs(np.fft.fft2(image - image.mean())) ** 2
    fy = np.fft.fftfreq(image.shape[0])[:, None]
    fx = np.fft.fftfreq(image.shape[1])[None, :]
    f = np.hypot(fy, fx)
    return float(power[(f > 1 / 8) & (f < 1 / 4)].sum() / power[(f > 1 / 32) & (f < 1 / 16)].sum())


def first_predictions(pred, image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """float ``[N, 2]``: per object (area >= 50 px) ``(IoU, predicted area / annotated area)`` of
    the box + inside-click prediction of ``pred`` (an ``IOGPredictor``)."""
    from napari_iog.data.prompts import simulate_prompt
    from napari_iog.evaluation.metrics import iou
    from napari_iog.evaluation.protocol import list_objects

    pred.set_image(image)
    out = []
    for k, _sl, area in list_objects(labels, 50)[0]:
        gt = labels == k
        res = pred.predict(simulate_prompt(gt))
        full = np.zeros_like(gt)
        r0, c0 = res.origin
        full[r0 : r0 + res.mask.shape[0], c0 : c0 + res.mask.shape[1]] = res.mask
        out.append((iou(full, gt), full.sum() / area))
    return np.array(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", default="0-19")
    ap.add_argument("--weights", help="also score this checkpoint's first prediction per slice")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    from napari_iog.data.layouts import load_sstem

    root = sstem_root()
    if root is None:
        return 2
    pred = None
    if args.weights:
        import torch

        from napari_iog.inference.predictor import IOGPredictor

        torch.set_num_threads(args.threads)
        pred = IOGPredictor.from_weights(args.weights, device="cpu")
    slices = slice_range(args.slices)
    show = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]
    cols = [f"I({d:+.1f})" for d in show] + ["half-level crossing (px)", "sharpness"]
    if pred is not None:
        cols += ["objects", "IoU@3", "pred / annotated area"]
    print("ssTEM mitochondria: mean raw intensity at signed distance d from the annotated contour")
    print("| slice | " + " | ".join(cols) + " |\n|" + "---|" * (len(cols) + 1))
    for z in slices:
        ims, labs = load_sstem(root, [z])
        image, labels = ims[0].astype(np.float64), labs[0]
        prof = intensity_profile(image, labels > 0)
        row = [f"{prof[np.flatnonzero(BINS == d)[0]]:.1f}" for d in show]
        row += [f"{half_level_crossing(prof):+.2f}", f"{sharpness(image):.2f}"]
        if pred is not None:
            per = first_predictions(pred, ims[0], labels)
            row += [str(len(per)), f"{per[:, 0].mean():.3f}", f"{per[:, 1].mean():.3f}"]
        print(f"| {z:02d} | " + " | ".join(row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
