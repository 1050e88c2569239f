"""``napari-iog calibrate``: fit a model's mask threshold to your annotated objects, no training.

    napari-iog calibrate --weights IOG_PASCAL_SBD_REFINEMENT --images raw/ --labels masks/ \\
        --out pascal-on-my-data.pt

Every object of the labels (up to ``--max-objects``) is segmented from the protocol's 3 clicks
(tight box + inside click) through the annotator's pipeline; the mean IoU at thresholds 0.20 ...
0.80 picks the best (``training.calibration``). The output is a napari-iog checkpoint with that
threshold and the curve in its provenance (``meta.threshold_calibration``); the input weights are
not changed. Needs at least 10 objects. Fine-tuning does this by itself on its validation objects.
"""

from __future__ import annotations

import argparse

from ..words import count


def register(subparsers: argparse._SubParsersAction) -> None:
    from . import pairs_options

    p = subparsers.add_parser(
        "calibrate",
        help="fit the mask threshold of some weights to annotated images (no training)",
        description="Write a copy of the weights whose mask threshold fits your annotations best.",
    )
    p.add_argument("--weights", required=True, help="checkpoint, official .pth or registry name")
    pairs_options(p)
    p.add_argument("--out", required=True, help="the calibrated checkpoint to write (.pt)")
    p.add_argument("--min-area", type=int, default=50, help="skip smaller objects (pixels)")
    p.add_argument("--max-objects", type=int, default=200, help="use at most this many objects")
    p.add_argument("--device", default="auto")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..cli import CLIError, load_pairs_of, pair_inputs
    from ..data.datasets import ObjectDataset
    from ..models.checkpoint import load_model, resolve_source
    from ..pathguard import check_output, expand_inputs
    from ..training import FinetuneConfig
    from ..training.calibration import MIN_OBJECTS, describe, fit_threshold, save_fitted
    from ..training.steps import resolve_device
    from .guards import CHECKPOINT_SUFFIXES

    if args.max_objects < MIN_OBJECTS:
        raise CLIError(f"--max-objects must be >= {MIN_OBJECTS}, got {args.max_objects}.")
    source = resolve_source(args.weights)
    inputs = pair_inputs(args) + expand_inputs([source])  # the input weights stay as they are
    out = check_output(args.out, inputs, suffixes=CHECKPOINT_SUFFIXES)
    images, labels = load_pairs_of(args)
    device = resolve_device(args.device)
    loaded = load_model(args.weights, device=str(device))
    ds = ObjectDataset(images, labels, loaded.preprocess, min_area=args.min_area)
    print(f"napari-iog calibrate: {ds.describe()}")
    if len(ds) < MIN_OBJECTS:
        raise CLIError(
            f"{count(len(ds), 'object')} to fit the threshold on; annotate at least {MIN_OBJECTS} "
            f"(or lower --min-area, now {args.min_area} px)."
        )
    cfg = FinetuneConfig(val_max_objects=args.max_objects, device=str(device))
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=min(len(ds), args.max_objects), unit="object", desc="calibrating")
    try:
        record = fit_threshold(
            loaded, ds, cfg, device, None if bar is None else lambda done, total: bar.update(1)
        )
    finally:
        if bar is not None:
            bar.close()
    data = {"images": [str(p) for p in args.images], "labels": [str(p) for p in args.labels]}
    meta = dict(loaded.meta, calibrated_from=str(args.weights), calibration_data=data)
    save_fitted(out, loaded, record, meta)  # one atomic write, once the curve is measured
    print(f"{describe(record)} -> {out}")
    return 0
