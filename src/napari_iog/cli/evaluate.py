"""``napari-iog evaluate``: simulated-click evaluation of a checkpoint (and baselines).

    napari-iog evaluate --weights my.pt --images raw/ --labels masks/ --report out/

Writes ``out/report.json`` (mIoU@k, NoC@85/90 per method), ``out/per_object.csv`` and
``out/iou_vs_clicks.png``, rewritten after every method (``methods_pending`` in report.json lists
those still to run), so a crash or Ctrl-C later keeps the finished methods. Each method shows its
own progress bar. Baselines run on the same boxes and clicks: box fill, random walker,
GrabCut (when OpenCV is installed; large boxes are downscaled to bound its cost). ``--void-band 2`` ignores a 2 px band around every object's
boundary (in the IoU and for the click simulator), as PASCAL VOC's void pixels are ignored.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from ..config import AUTO_WEIGHTS

REPORT_FILES = ("report.json", "per_object.csv", "iou_vs_clicks.png")


def register(subparsers: argparse._SubParsersAction) -> None:
    from . import pairs_options, threshold_option

    p = subparsers.add_parser(
        "evaluate",
        help="simulated-click evaluation (mIoU@k, NoC@85/90) with baselines",
        description="Evaluate IOG weights with simulated clicks on (image, instance labels) pairs.",
    )
    p.add_argument("--weights", default=AUTO_WEIGHTS,
                   help="checkpoint, official .pth or weights name; auto (default): the shipped "
                   "starter matching the first image")  # fmt: skip
    pairs_options(p)
    p.add_argument("--report", required=True, help="output folder")
    p.add_argument(
        "--max-clicks", type=int, default=20, help="corrective clicks after the 3 IOG clicks"
    )
    p.add_argument("--min-area", type=int, default=50)
    p.add_argument(
        "--stop-iou", type=float, default=1.0, help="stop clicking an object at this IoU"
    )
    p.add_argument(
        "--void-band",
        type=int,
        default=0,
        metavar="PX",
        help="ignore pixels within PX of each object's boundary (PASCAL-style void band; "
        "default 0 = every pixel counts)",
    )
    p.add_argument(
        "--box-jitter",
        type=float,
        default=0.0,
        metavar="FRAC",
        help="simulate imprecise boxes: each edge moves by up to FRAC of the box side (max 10 px; "
        "the same boxes for every method, seeded by --seed; default 0 = tight boxes)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the jittered boxes")
    p.add_argument(
        "--baselines",
        default="box fill,random walker,grabcut",
        help="comma-separated subset of 'box fill,random walker,grabcut' or 'none'",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--tta", action="store_true",
                   help="average over the 4 mirror images of the crop (4x slower, a bit more accurate)")  # fmt: skip
    threshold_option(p)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..cli import CLIError, load_pairs_of, pair_inputs
    from ..evaluation.protocol import EvalConfig
    from ..evaluation.runner import baseline_predictors, evaluate_methods, parse_baselines
    from ..extras import require
    from ..inference import IOGPredictor
    from ..models.starters import resolve_weights
    from ..pathguard import check_output_dir, expand_inputs

    if args.max_clicks < 0:
        raise CLIError(f"--max-clicks must be >= 0, got {args.max_clicks}.")
    if args.void_band < 0:
        raise CLIError(f"--void-band must be >= 0 px, got {args.void_band}.")
    if not 0 < args.stop_iou <= 1:  # NaN fails too
        raise CLIError(f"--stop-iou must be in (0, 1] (1 = never stop early), got {args.stop_iou}.")
    if args.min_area < 1:
        raise CLIError(f"--min-area must be >= 1 px, got {args.min_area}.")
    if args.threads is not None and args.threads < 1:
        raise CLIError(f"--threads must be >= 1, got {args.threads}.")
    require("matplotlib", "napari-iog evaluate (the report's IoU-vs-clicks plot)")
    inputs = pair_inputs(args) + expand_inputs([args.weights])
    check_output_dir(args.report, inputs, names=REPORT_FILES)  # before the (long) evaluation
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    images, labels = load_pairs_of(args)
    args.weights = resolve_weights(args.weights, images[0] if images else None)
    print(f"napari-iog evaluate: weights {args.weights}")
    iog = IOGPredictor.from_weights(args.weights, device=args.device, tta=args.tta)
    if args.threshold is not None:
        iog.mask_threshold = args.threshold
    predictors = {"IOG": iog}
    try:
        names = parse_baselines(args.baselines)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    predictors.update(baseline_predictors(iog.preprocess, names))
    cfg = EvalConfig(
        max_clicks=args.max_clicks,
        min_area=args.min_area,
        stop_iou=args.stop_iou,
        void_band=args.void_band,
        box_jitter=args.box_jitter,
        seed=args.seed,
    )
    command = "napari-iog " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else ""
    extra = {"weights": str(args.weights), "command": command, "protocol": cfg.__dict__}
    report = _Reporter(args.report, extra, list(predictors), not args.no_progress)
    try:
        evaluate_methods(predictors, images, labels, cfg, progress=report)
    except KeyboardInterrupt:
        report.close_bar()
        done = ", ".join(r.name for r in report.results) or "none"
        where = f"; {report.out['json']} holds them" if report.out else ""
        print(f"interrupted during {report.method}: finished methods: {done}{where}.",
              file=sys.stderr)  # fmt: skip
        return 130
    finally:
        report.close_bar()
    print(f"report: {report.out['json']}")
    return 0


class _Reporter:
    """The CLI's view of :func:`~napari_iog.evaluation.runner.evaluate_methods`: a line and a
    tqdm bar per method (``bars``), a summary line after each, and the report rewritten after
    every method (``methods_pending``: those still to run), so a later failure keeps them."""

    def __init__(self, folder, extra: dict, methods: list[str], bars: bool):
        self.folder, self.extra, self.methods, self.bars = folder, extra, methods, bars
        self.results: list = []
        self.out: dict | None = None
        self.method = ""
        self._bar = None

    def close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __call__(self, ev) -> None:
        from ..evaluation.report import write_report

        if ev.kind == "start":
            self.method = ev.method
            print(
                f"napari-iog evaluate: method [{ev.index}/{ev.n_methods}] {ev.method}", flush=True
            )
        elif ev.kind == "object" and self.bars:
            if self._bar is None:
                from tqdm import tqdm

                desc = f"[{ev.index}/{ev.n_methods}] {ev.method}"
                self._bar = tqdm(total=ev.event.total, unit="obj", desc=desc)
            self._bar.update(1)
        elif ev.kind == "done":
            self.close_bar()
            s = ev.result.summary()
            print(
                f"{ev.method}: mIoU@3 {s['miou_at_3']:.4f}  NoC@85 {s['noc85']:.2f}  "
                f"NoC@90 {s['noc90']:.2f}  (n={s['n_objects']}, skipped small "
                f"{s['n_skipped_small']}, {s['seconds']:.0f} s)"
            )
            self.results.append(ev.result)
            pending = self.methods[ev.index :]
            self.out = write_report(
                self.results, self.folder, extra={**self.extra, "methods_pending": pending}
            )
