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

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fewshot import REPO, DatasetSpec, data_root, run_fewshot, slice_range, sstem_root  # noqa: E402,F401

from napari_iog.data.layouts import SSTEM_CODES  # noqa: E402


def options(ap) -> None:
    ap.add_argument("--train-slices", default="0-4")
    ap.add_argument("--test-slices", default="10-19")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--extra-objects", choices=sorted(SSTEM_CODES), default=None,
                    help="also train on the other annotated structures of the training slices "
                    "(validation stays on mitochondria)")  # fmt: skip
    ap.add_argument("--extra-share", type=float, default=0.5,
                    help="share of the training samples drawn from --extra-objects")  # fmt: skip


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


def planes_split(n_main_planes: int, share: float):
    """:func:`mixed_split` with the target objects being those of the first ``n_main_planes``
    planes (counted once the dataset is built)."""
    mixed_split(1, share)  # refuse a bad --extra-share before any work

    def split(ds, val_fraction, seed):
        n_main = sum(o.plane < n_main_planes for o in ds.objects)
        print(f"  {n_main} mitochondria, {len(ds) - n_main} extra objects", flush=True)
        return mixed_split(n_main, share)(ds, val_fraction, seed)

    return split


def train(args, root):
    from napari_iog.data.layouts import load_sstem, sstem_structures
    from napari_iog.training.job import Planes

    slices = slice_range(args.train_slices)
    ims, labs = load_sstem(root, slices)
    extra = sstem_structures(root, slices, args.extra_objects) if args.extra_objects else []
    source = {"data": "ssTEM Drosophila VNC stack 1 (Gerhard et al. 2013), mitochondria",
              "train_slices": slices, "test_slices": slice_range(args.test_slices)}  # fmt: skip
    if extra:  # the same images paired with the other structures; their objects come last
        source["extra_objects"] = {"kind": args.extra_objects, "share": args.extra_share}
    data = Planes(tuple(ims + ims[: len(extra)]), tuple(labs + extra), source, label_mode="auto")
    return data, (planes_split(len(labs), args.extra_share) if extra else None)


def test(args, root):
    from napari_iog.data.layouts import load_sstem

    return load_sstem(root, slice_range(args.test_slices))


SSTEM = DatasetSpec(
    "sstem-mito", "sstem-drosophila-vnc", __doc__.splitlines()[0], train, test,
    describe=lambda args: {"dataset": "sstem-drosophila-vnc mitochondria",
                           "train_slices": slice_range(args.train_slices),
                           "test_slices": slice_range(args.test_slices)},
    options=options, baselines=lambda args: () if args.no_baselines else None,
)  # fmt: skip


def main(argv=None) -> int:
    return run_fewshot(SSTEM, argv, __file__)


if __name__ == "__main__":
    sys.exit(main())
