"""Few-shot IOG on ssTEM mitochondria: train from scratch on slices 00-04, evaluate slices 10-19.

Re-creates the checkpoint (``checkpoints/sstem-mito-r18light.pt``, provenance inside) and prints
the results; ``--results benchmarks/results/sstem_fewshot.json`` writes them (+ ``per_object.csv``
/ ``iou_vs_clicks.png`` next to it) - the tracked record is never rewritten by default.

    nice python benchmarks/sstem_fewshot.py --minutes 30            # the light CPU profile
    nice python benchmarks/sstem_fewshot.py --profile paper --minutes 15 --max-clicks 0
    python benchmarks/sstem_fewshot.py --eval-only checkpoints/sstem-mito-r18light.pt
    python benchmarks/sstem_fewshot.py ... --install   # into the weights cache, right after training

Data: ``../shared/data/sstem-drosophila-vnc`` (or ``$NAPARI_IOG_SHARED``), never shipped.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from napari_iog.data.layouts import SSTEM_CODES
from napari_iog.evaluation.experiment import add_training_args

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    env = os.environ.get("NAPARI_IOG_SHARED")
    return Path(env) if env else (REPO / ".." / "shared").resolve()


def data_root(folder: str) -> Path | None:
    """``<shared>/data/<folder>``, or None after saying on stderr how to point at it."""
    root = shared_dir() / "data" / folder
    if root.is_dir():
        return root
    print(f"{folder} not found at {root}; set NAPARI_IOG_SHARED.", file=sys.stderr)
    return None


def sstem_root() -> Path | None:
    """The ssTEM data folder (:func:`data_root`)."""
    return data_root("sstem-drosophila-vnc")


def slice_range(spec: str) -> list[int]:
    """``"10-19"`` -> ``[10, ..., 19]``; ``"9"`` -> ``[9]``."""
    a, _, b = spec.partition("-")
    return list(range(int(a), int(b or a) + 1))


def resolved(profile: str, overrides=()):
    """``(ModelConfig, PreprocessConfig)``: ``light`` = the ``cpu-light`` preset (ResNet-18
    layout at half width, light decoder, 192 px crops, relax 20, clip to box); ``paper`` =
    ``iog-resnet101-refine``; else any profile name. ``overrides``: ``["field=value", ...]``
    (``--set``) replacing fields of either config, e.g. ``crop_size=224`` or ``width=64``."""
    from napari_iog.evaluation.experiment import override_configs
    from napari_iog.training.presets import resolve_profile

    name = {"light": "cpu-light", "paper": "iog-resnet101-refine"}.get(profile, profile)
    return override_configs(*resolve_profile(name), overrides)


def build(profile: str, overrides=(), seed: int = 0):
    """A random-init model of :func:`resolved` (weights from ``seed``) and its preprocessing."""
    from napari_iog.models import build_model

    mc, pc = resolved(profile, overrides)
    return build_model(mc, seed=seed), pc


def mixed_split(n_main: int, share: float):
    """``split(dataset, val_fraction, seed)`` for a dataset whose first ``n_main`` objects are the
    target objects and the rest extra ones: validation = the same objects a target-only dataset
    would hold out; training = the other target objects, repeated so that they make about
    ``1 - share`` of the samples, plus every extra object."""

    if not 0.0 < share < 1.0:
        raise SystemExit(f"--extra-share must be between 0 and 1 (exclusive), got {share}.")

    def split(ds, val_fraction, seed):
        _, val = ds.subset(range(n_main)).split(val_fraction, seed)
        idx_val = {ds.objects.index(o) for o in val.objects}
        idx_main = [i for i in range(n_main) if i not in idx_val]
        n_extra = len(ds) - n_main
        reps = max(1, round((1 - share) * n_extra / (share * len(idx_main))))
        return ds.subset(idx_main * reps + list(range(n_main, len(ds)))), ds.subset(sorted(idx_val))

    return split


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_args(ap, minutes=30.0, samples_per_epoch=480)
    ap.add_argument("--train-slices", default="0-4")
    # top-down images have no "up": any rotation, both flips, +-10 % contrast (docs/experiments.md)
    ap.set_defaults(rotate=180.0, vflip=True, intensity=0.1)
    ap.add_argument("--test-slices", default="10-19")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument(
        "--extra-objects", choices=sorted(SSTEM_CODES), default=None,
        help="also train on the other annotated structures of the training slices (validation "
        "stays on mitochondria)",
    )  # fmt: skip
    ap.add_argument(
        "--extra-share", type=float, default=0.5,
        help="share of the training samples drawn from --extra-objects",
    )  # fmt: skip
    args = ap.parse_args(argv)

    import torch

    from napari_iog.data.datasets import ObjectDataset
    from napari_iog.data.layouts import load_sstem, sstem_structures
    from napari_iog.evaluation import experiment as ex
    from napari_iog.models.checkpoint import load_model
    from napari_iog.training.steps import resolve_device

    torch.set_num_threads(args.threads)
    train_slices, test_slices = slice_range(args.train_slices), slice_range(args.test_slices)
    root = sstem_root()
    if root is None:
        return 2
    name = f"sstem-mito-{'r18light' if args.profile == 'light' else args.profile}"
    out = Path(args.out or REPO / "checkpoints" / f"{name}.pt")
    results_path = Path(args.results) if args.results else None  # default: print only
    command = ex.command_line(__file__, argv)
    device = resolve_device(args.device)

    ds, split = None, None
    if args.eval_only is None:
        pre = resolved(args.profile, args.set)[1]
        ims, labs = load_sstem(root, train_slices)
        extra = (
            sstem_structures(root, train_slices, args.extra_objects) if args.extra_objects else []
        )
        # extra planes pair the same images with the other structures; their objects come last
        ds = ObjectDataset(ims + ims[: len(extra)], labs + extra, pre, min_area=50)
        print(f"train: slices {train_slices}: {ds.describe()}", flush=True)
        if extra:
            n_main = sum(o.plane < len(labs) for o in ds.objects)
            print(f"  {n_main} mitochondria, {len(ds) - n_main} {args.extra_objects}", flush=True)
            split = mixed_split(n_main, args.extra_share)
    meta = {
        "data": "ssTEM Drosophila VNC stack 1 (Gerhard et al. 2013), mitochondria",
        "train_slices": train_slices,
        "test_slices": test_slices,
        "profile": args.profile,
        "overrides": args.set,
        "command": command,
    }
    if args.extra_objects:
        meta["extra_objects"] = {"kind": args.extra_objects, "share": args.extra_share}
    ckpt, summary = ex.train_or_load(
        args, lambda: build(args.profile, args.set, args.seed), ds, 0.1, out, meta, split=split
    )

    loaded = load_model(ckpt, device=str(device))
    ims, labs = load_sstem(root, test_slices)
    results, _, _, evaluated = ex.evaluate_checkpoint(
        args, ckpt, loaded, device, ims, labs, f"IOG {args.profile}",
        baselines=() if args.no_baselines else ex.BASELINES,
    )  # fmt: skip
    extra = {
        "dataset": "sstem-drosophila-vnc mitochondria",
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
