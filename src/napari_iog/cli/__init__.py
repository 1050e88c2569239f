"""The ``napari-iog`` command line: ``main(argv) -> exit code``.

Each name in ``SUBCOMMANDS`` is a module ``napari_iog.cli.<name>`` exposing
``register(subparsers)``, which adds its parser and sets ``func(args) -> int`` as default.
To add a command, write the module and append its name here (every listed module must exist).

Errors from our code (``ValueError`` subclasses: bad prompts, images, checkpoints, weights) and
file-system errors print one line ``napari-iog: error: ...`` on stderr and return 2; ``--debug``
(anywhere on the line) shows the traceback instead. Importing this package does not import torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

SUBCOMMANDS = [
    "predict",
    "weights",
    "harvest",
    "finetune",
    "evaluate",
    "calibrate",
    "demo",
    "export_polygons",
]
PROG = "napari-iog"


class CLIError(ValueError):
    """A bad command-line value; the message says what to give instead."""


def pairs_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--images``, ``--labels``, ``--label-mode`` and ``--label-value``, the arguments of
    ``data.files.load_pairs``."""
    parser.add_argument("--images", required=True, nargs="+", help="image files, folders or globs")
    parser.add_argument("--labels", required=True, nargs="+",
                        help="label files, folders or globs (same order)")  # fmt: skip
    parser.add_argument("--label-mode", default="auto",
                        choices=("auto", "instances", "binary", "classes"),
                        help="auto (default): masks, instance ids or, with --label-value, class "
                        "maps, told apart per file (a mix of instance and class files is "
                        "refused); instances: values are object ids; binary: on/off masks; "
                        "classes: class maps, with --label-value")  # fmt: skip
    parser.add_argument("--label-value", nargs="+", type=class_list, default=None, metavar="N",
                        help="class map labels: use the objects of these classes (e.g. 2, or "
                        "2 5, or 2,5; every connected region is an object)")  # fmt: skip


def class_list(text: str) -> tuple[int, ...]:
    """``"2"`` or ``"2,5"`` -> class values (argparse type of ``--label-value``)."""
    try:
        values = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"class values are integers, e.g. 2 or 2,5; got {text!r}"
        ) from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"class values are integers >= 0, got {text!r}")
    return values


def label_values(args: argparse.Namespace) -> tuple[int, ...] | None:
    """The class values of ``--label-value`` (flattened, in order, no repeats), or None."""
    if args.label_value is None:
        return None
    return tuple(dict.fromkeys(v for group in args.label_value for v in group))


def load_pairs_of(args: argparse.Namespace) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(images, labels)`` of :func:`pairs_options`' arguments (as ``data.files.load_pairs``)."""
    from ..data.files import load_pairs

    return load_pairs(args.images, args.labels, mode=args.label_mode, value=label_values(args))


def pair_inputs(args: argparse.Namespace) -> list[Path]:
    """Resolved input files of :func:`pairs_options`' arguments (for ``pathguard``)."""
    from ..data.files import IMAGE_SUFFIXES
    from ..pathguard import expand_inputs

    return expand_inputs([*args.images, *args.labels], suffixes=IMAGE_SUFFIXES)


def threshold_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--threshold P`` (IOG mask threshold, checked to be in (0, 1) when parsed)."""

    def probability(text: str) -> float:
        value = float(text)
        if not 0 < value < 1:
            raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
        return value

    parser.add_argument("--threshold", type=probability, default=None, metavar="P",
                        help="cut the IOG masks at this probability (default: the weights' own: "
                        "0.5 for released weights, fitted for checkpoints fine-tuned here)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    from napari_iog import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Inside-Outside Guidance (IOG) interactive segmentation: box + clicks to masks.",
        epilog="Add --debug to any command to see full tracebacks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors (argparse printed them)
        return int(exc.code or 0)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:
        if debug:
            traceback.print_exc()
        msg = " ".join(str(exc).split()) or type(exc).__name__
        return _error(msg if isinstance(exc, ValueError) else f"{type(exc).__name__}: {msg}")
