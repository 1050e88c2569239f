"""``napari-iog demo [--sample em|aerial|em-synthetic|aerial-synthetic] [--weights W] [--device D]``:
open napari with a sample and the IOG Annotator docked (needs a display and a Qt binding)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

_HEADLESS_QPA = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="open napari with a sample stack and the IOG Annotator",
        description="Open napari with a sample image and the IOG Annotator docked, using the best "
        "weights at hand (cached IOG weights, else the classical predictor). Real samples are "
        "downloaded once; offline, a synthetic sample opens instead.",
    )
    p.add_argument(
        "--sample", default="em", choices=["em", "aerial", "em-synthetic", "aerial-synthetic"]
    )
    p.add_argument(
        "--weights", default=None, help="registry name or checkpoint path (default: best cached)"
    )
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    p.add_argument("--no-run", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=_demo)


def display_problem(
    env: Mapping[str, str] | None = None, platform: str | None = None
) -> str | None:
    """Why Qt could not open a window here, or None. On Linux a window needs ``DISPLAY`` (X11) or
    ``WAYLAND_DISPLAY``, unless ``QT_QPA_PLATFORM`` picks a platform that needs none (offscreen);
    without one, Qt aborts the process (SIGABRT) before any Python error could be shown."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if qpa in _HEADLESS_QPA or env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return (
        "The demo opens a napari window, and this machine has no display (DISPLAY and "
        "WAYLAND_DISPLAY are not set). Run it on a desktop session, over `ssh -X`, or in a "
        "virtual display: `xvfb-run -a napari-iog demo`."
    )


def _demo(args) -> int:
    problem = display_problem()
    if problem is not None:  # before Qt is imported: Qt would abort with SIGABRT, unexplained
        raise ValueError(problem)
    try:
        from napari_iog._napari.demo import open_demo, run
    except ImportError as err:  # no Qt binding / napari
        raise ValueError(
            f"The demo needs napari with a Qt binding ({err}); install with "
            "`pip install 'napari-iog[qt]'` or `pip install pyqt6`."
        ) from err
    viewer, _widget = open_demo(args.sample, args.weights, args.device, show=not args.no_run)
    if args.no_run:
        viewer.close()
        return 0
    run()
    return 0
