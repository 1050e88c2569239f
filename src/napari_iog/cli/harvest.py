"""``napari-iog harvest``: box annotations (COCO JSON or CSV) -> COCO JSON with RLE masks.

Exit codes: 0 = every box got a mask or was skipped as bad input (listed in the summary);
1 = something failed (image unreadable/missing, prediction error, worker died) - re-run the same
command to retry only what is missing; 2 = unusable arguments or box file; 130 = interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from napari_iog.harvest.plan import HarvestPlan
    from napari_iog.harvest.runner import HarvestProgress

EPILOG = """\
box files:
  COCO JSON  images[{id, file_name}], annotations[{id, image_id, bbox=[x, y, w, h]}]
  CSV        header image,x0,y0,x1,y1[,label]; x = column, y = row, pixel edges (x1 = x0 + w)
  vector     .geojson/.gpkg/.shp footprints in any CRS, reprojected to --images (one GeoTIFF);
             the box of each feature's vertices, ann id = feature number (1-based)

outputs (for --out masks.json):
  masks.json          COCO with RLE masks (deterministic: same inputs, same bytes)
  masks_parts/        one file per finished image; a re-run skips these images (resume)
  masks_labels/       uint32 label TIFF per image (with --labels; value = annotation id)
  masks_summary.json  counts, and every skipped/failed box with its reason
  --zarr-labels x.zarr  uint32 zarr labels volume, one plane per image (box-file order; same
                      image size), written chunk by chunk; overlaps: the smaller id keeps a
                      pixel (the annotator's 'keep' mode); x.iog.json beside it = ledger
"""


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``harvest`` subcommand to an argparse ``subparsers`` and set ``args.func``."""
    from . import threshold_option

    p = subparsers.add_parser(
        "harvest",
        help="turn box annotations into instance masks (COCO RLE), on dask",
        description="Harvest one instance mask per box with IOG (box + the simulator's default "
        "inside click), batched, on a local dask cluster or an existing scheduler; resumable.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--boxes", required=True,
                   help="COCO .json or .csv box file, or footprints as .geojson/.gpkg/.shp "
                   "(any CRS; needs the [geo] extra and --images the GeoTIFF)")  # fmt: skip
    p.add_argument("--images", required=True,
                   help="folder the image file names are relative to (the GeoTIFF itself for "
                   "vector box files)")  # fmt: skip
    p.add_argument("--weights", required=True, help="checkpoint path or weights name")
    p.add_argument("--out", required=True, help="output COCO .json (parts/labels go next to it)")
    p.add_argument("--batch-size", type=int, default=8, help="object crops per network call (8)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (auto)")
    p.add_argument("--no-amp", action="store_true", help="no fp16 autocast on CUDA")
    p.add_argument(
        "--two-stage",
        "--refine",
        dest="two_stage",
        action="store_true",
        help="second pass with the inside click at the deepest point of the first mask "
        "(the paper's 2-stage harvesting; about 2x the time)",
    )
    threshold_option(p)
    p.add_argument("--labels", action="store_true", help="also write a label TIFF per image")
    p.add_argument(
        "--zarr-labels",
        default=None,
        metavar="PATH.zarr",
        help="also write the masks into a chunked zarr labels volume (one plane per image)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="dask scheduler address (tcp://host:8786); 'inline' = this process, no dask; "
        "default: a local cluster",
    )
    p.add_argument("--workers", type=int, default=None, help="local cluster workers (CPU cores)")
    p.add_argument(
        "--threads", type=int, default=None, help="torch threads per worker (1 on a local cluster)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Bad arguments and box files raise ValueError subclasses (the CLI prints them, exit 2)."""
    from pathlib import Path

    from napari_iog.harvest import HarvestConfig, HarvestConfigError, iter_harvest, load_boxes
    from napari_iog.harvest.vector import VECTOR_SUFFIXES

    if args.workers is not None and args.workers < 1:
        raise HarvestConfigError(f"--workers must be >= 1, got {args.workers}.")
    threads = args.threads
    if threads is None and not args.scheduler:
        threads = 1  # one single-threaded worker per core: do not oversubscribe the CPU
    config = HarvestConfig(
        weights=args.weights,
        batch_size=args.batch_size,
        device=args.device,
        amp=not args.no_amp,
        two_stage=args.two_stage,
        write_labels=args.labels,
        torch_threads=threads,
        threshold=args.threshold,
    )
    plan = load_boxes(args.boxes, image=args.images)
    if Path(args.boxes).suffix.lower() in VECTOR_SUFFIXES:  # --images is then the GeoTIFF
        args.images = str(Path(args.images).parent)
    check_paths(args, plan)
    stop = StopRequest(inline=args.scheduler == "inline")
    events = iter_harvest(
        plan, config, args.images, args.out, scheduler=args.scheduler, n_workers=args.workers,
        cancel=stop, zarr_labels=args.zarr_labels,
    )  # fmt: skip
    seen: list = []
    try:
        with stop:
            summary = _drive(events, show=not args.no_progress, seen=seen)
    except KeyboardInterrupt:
        print(interrupted_line(args.out, seen[-1] if seen else None, merged=False), file=sys.stderr)
        return 130
    except Exception:
        if not stop.requested:
            raise
        # an error raised by a Ctrl-C inside a library (e.g. pycocotools): still an interruption
        print(interrupted_line(args.out, seen[-1] if seen else None, merged=False), file=sys.stderr)
        return 130
    if stop.requested:
        print(interrupted_line(args.out, seen[-1], merged=True), file=sys.stderr)
        return 130
    print(summary.format())
    return 0 if summary.ok else 1


class StopRequest:
    """Ctrl-C handling of an inline harvest (``inline``; otherwise only a flag): inside ``with``,
    the first SIGINT asks the run to stop after the image in hand (``stop()`` is then True, and
    no exception is raised in the middle of torch or pycocotools), a second one stops at once
    (``KeyboardInterrupt``). Only the main thread installs the handler; ``with`` restores it."""

    def __init__(self, inline: bool = True):
        self.requested, self._inline, self._old = False, inline, None

    def __call__(self) -> bool:
        return self.requested

    def __enter__(self) -> StopRequest:
        if self._inline and threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after the current image (Ctrl-C again: at once)", file=sys.stderr)


def interrupted_line(out: str, progress: HarvestProgress | None, merged: bool) -> str:
    """The one line an interrupted harvest ends with: what is saved, and how to resume.
    ``progress``: the last HarvestProgress seen (None: none yet); ``merged``: ``out`` was
    rewritten with the finished images."""
    from pathlib import Path

    from napari_iog.harvest.store import ResultStore

    parts = ResultStore(out).parts_dir
    where = f"{out} and {parts.name}/" if merged else f"{parts.name}/ (next to {Path(out).name})"
    done = (
        "the finished images are saved"
        if progress is None
        else f"{progress.images_done} of {progress.images_total} images done, saved"
    )
    return (
        f"interrupted: {done} in {where}; run the same command again to resume (finished "
        "images are skipped)."
    )


def check_paths(args: argparse.Namespace, plan: HarvestPlan) -> None:
    """Refuse, before any work, a ``--out`` (or the summary / label files it implies) that is the
    box file, one of the plan's images or the weights, or that cannot be written."""
    from pathlib import Path

    from napari_iog.harvest.store import ResultStore
    from napari_iog.pathguard import PathGuardError, check_output, expand_inputs, overwritten_inputs

    names = [Path(args.images) / t.file_name for t in plan.images]
    inputs = expand_inputs([args.boxes, args.weights, *names])  # the ones that exist
    out = check_output(args.out, inputs, suffixes=(".json",))
    store = ResultStore(out)
    summary = out.with_name(out.stem + "_summary.json")
    check_output(summary, inputs, suffixes=(".json",), flag=f"--out (its summary {summary.name})")
    labels = [store.label_path(t) for t in plan.images] if args.labels else []
    clash = overwritten_inputs(labels, inputs)
    if clash:
        raise PathGuardError(
            f"--labels would write {str(clash[0][0])!r} over the input {str(clash[0][1])!r}; "
            "put --out in another folder (label files go to <out>_labels/)."
        )


def _drive(events, show: bool, seen: list | None = None):
    """Run ``events`` to the end (with tqdm bars when ``show``); returns the summary. Each event
    is appended to ``seen`` (so an interrupted caller knows how far it got)."""
    from tqdm import tqdm

    seen = [] if seen is None else seen
    first = next(events)
    seen.append(first)
    bars = None
    if show:
        bars = (
            tqdm(total=first.images_total, initial=first.images_done, desc="images", unit="img"),
            tqdm(total=first.boxes_total, initial=first.boxes_done, desc="boxes ", unit="box"),
        )
    last = first
    try:
        for event in events:
            if bars:
                bars[0].update(event.images_done - last.images_done)
                bars[1].update(event.boxes_done - last.boxes_done)
            last = event
            seen[-1:] = [event]  # the last one is enough
    finally:
        if bars:
            for bar in bars:
                bar.close()
    return last.summary
