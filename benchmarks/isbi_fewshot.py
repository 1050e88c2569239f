"""Few-shot IOG on ISBI 2012 neuron profiles: train from scratch on slices 0-4, evaluate slices 20-29.

A second EM stack (Drosophila first-instar VNC, Cardona et al. 2010) with one annotation
convention throughout: every cell interior is an object (4-connected components of
``label/N.png`` == 255; the membranes between them are background).

    nice python benchmarks/isbi_fewshot.py --minutes 30
    python benchmarks/isbi_fewshot.py --eval-only checkpoints/isbi-neurons-r18light.pt

Prints the results; ``--results benchmarks/results/isbi_fewshot.json`` writes them (+ per-object
CSV / PNG in ``benchmarks/results/isbi_fewshot/``). Data: ``../shared/data/isbi2012`` (or
``$NAPARI_IOG_SHARED``), research use only, never shipped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sstem_fewshot import REPO, build, data_root, resolved, slice_range  # noqa: E402

from napari_iog.evaluation.experiment import (  # noqa: E402
    BASELINES,
    add_training_args,
    parse_baselines,
)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_args(ap, minutes=30.0, samples_per_epoch=480)
    ap.add_argument("--train-slices", default="0-4")
    ap.add_argument("--test-slices", default="20-29")
    ap.add_argument("--min-area", type=int, default=50)
    ap.add_argument(
        "--baselines",
        default=",".join(BASELINES),
        help=f"comma-separated subset of '{','.join(BASELINES)}' or 'none'",
    )
    # an EM section has no "up"; the void-band passes are opt-in here (1000+ test objects)
    ap.set_defaults(rotate=180.0, vflip=True, intensity=0.1, void_bands="none")
    args = ap.parse_args(argv)
    try:  # said before training, not after it
        names = parse_baselines(args.baselines)
    except ValueError as exc:
        ap.error(str(exc))

    import torch

    from napari_iog.data.datasets import ObjectDataset
    from napari_iog.data.layouts import load_isbi2012
    from napari_iog.evaluation import experiment as ex
    from napari_iog.models.checkpoint import load_model
    from napari_iog.training.steps import resolve_device

    torch.set_num_threads(args.threads)
    root = data_root("isbi2012")
    if root is None:
        return 2
    train_slices, test_slices = slice_range(args.train_slices), slice_range(args.test_slices)
    name = f"isbi-neurons-{'r18light' if args.profile == 'light' else args.profile}"
    out = Path(args.out or REPO / "checkpoints" / f"{name}.pt")
    results_path = Path(args.results) if args.results else None  # default: print only
    command = ex.command_line(__file__, argv)
    device = resolve_device(args.device)

    ds = None
    if args.eval_only is None:
        pre = resolved(args.profile, args.set)[1]
        ims, labs = load_isbi2012(root, train_slices)
        ds = ObjectDataset(ims, labs, pre, min_area=args.min_area)
        print(f"train: slices {train_slices}: {ds.describe()}", flush=True)
    meta = {
        "data": "ISBI 2012 EM training stack (Cardona et al. 2010), neuron profiles",
        "train_slices": train_slices,
        "test_slices": test_slices,
        "profile": args.profile,
        "overrides": args.set,
        "command": command,
    }
    ckpt, summary = ex.train_or_load(
        args, lambda: build(args.profile, args.set, args.seed), ds, 0.1, out, meta, args.min_area
    )

    loaded = load_model(ckpt, device=str(device))
    ims, labs = load_isbi2012(root, test_slices)
    results, _, _, evaluated = ex.evaluate_checkpoint(
        args, ckpt, loaded, device, ims, labs, f"IOG {args.profile}", args.min_area, names
    )
    extra = {
        "dataset": "isbi2012 neuron profiles",
        "train_slices": train_slices,
        "test_slices": test_slices,
        "profile": args.profile,
        **evaluated,
    }
    ex.save_results(
        results_path, results, summary, device, command, extra, ckpt, loaded,
        install=args.install,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
