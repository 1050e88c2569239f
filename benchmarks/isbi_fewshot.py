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

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fewshot import DatasetSpec, run_fewshot, slice_range  # noqa: E402


def options(ap) -> None:
    from harness import BASELINES

    ap.add_argument("--train-slices", default="0-4")
    ap.add_argument("--test-slices", default="20-29")
    ap.add_argument("--baselines", default=",".join(BASELINES),
                    help=f"comma-separated subset of '{','.join(BASELINES)}' or 'none'")  # fmt: skip
    ap.set_defaults(void_bands="none")  # the void-band passes are opt-in here (1000+ objects)


def baselines(args):
    from harness import parse_baselines

    try:
        return parse_baselines(args.baselines)
    except ValueError as exc:
        raise SystemExit(f"--baselines: {exc}") from None


def train(args, root):
    from napari_iog.data.layouts import load_isbi2012
    from napari_iog.training.job import Planes

    slices = slice_range(args.train_slices)
    ims, labs = load_isbi2012(root, slices)
    source = {"data": "ISBI 2012 EM training stack (Cardona et al. 2010), neuron profiles",
              "train_slices": slices, "test_slices": slice_range(args.test_slices)}  # fmt: skip
    return Planes(tuple(ims), tuple(labs), source, label_mode="auto"), None


def test(args, root):
    from napari_iog.data.layouts import load_isbi2012

    return load_isbi2012(root, slice_range(args.test_slices))


ISBI = DatasetSpec(
    "isbi-neurons", "isbi2012", __doc__.splitlines()[0], train, test,
    describe=lambda args: {"dataset": "isbi2012 neuron profiles",
                           "train_slices": slice_range(args.train_slices),
                           "test_slices": slice_range(args.test_slices)},
    options=options, baselines=baselines,
)  # fmt: skip


def main(argv=None) -> int:
    return run_fewshot(ISBI, argv, __file__)


if __name__ == "__main__":
    sys.exit(main())
