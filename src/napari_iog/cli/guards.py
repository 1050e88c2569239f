"""Checks of a command's arguments that run before any work (no data read, no model built).

:func:`check_finetune_args` validates ``napari-iog finetune``'s numbers and its ``--out`` path
(``napari_iog.pathguard``), so a bad value costs nothing instead of failing after an epoch.
"""

from __future__ import annotations

import argparse
import math
import sys

from . import CLIError, pair_inputs

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


def _positive(value, flag: str, what: str = "> 0") -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise CLIError(f"{flag} must be a finite number {what}, got {value}.")


def check_finetune_args(args: argparse.Namespace) -> None:
    """Refuse (``CLIError``/``PathGuardError``, exit 2) unusable ``finetune`` arguments: ``--minutes``
    not finite and > 0, ``--lr`` not finite in (0, 1], counts < 1, and an ``--out`` that is not a
    checkpoint name, sits in a missing or read-only folder, or is one of the inputs (images,
    labels, ``--weights``, ``--resume``). A ``--batch-size`` above ``--samples-per-epoch`` is
    capped to it (``args`` is changed) with a note on stderr."""
    from ..pathguard import check_output, expand_inputs

    _positive(args.minutes, "--minutes", "> 0 (a time budget)")
    _positive(args.lr, "--lr")
    if args.lr is not None and args.lr > 1:
        raise CLIError(
            f"--lr {args.lr} is far too large (it diverges); use a value <= 1, e.g. 2e-3."
        )
    for flag, value in (
        ("--epochs", args.epochs),
        ("--samples-per-epoch", args.samples_per_epoch),
        ("--batch-size", args.batch_size),
    ):
        if value < 1:
            raise CLIError(f"{flag} must be >= 1, got {value}.")
    if args.threads is not None and args.threads < 1:
        raise CLIError(f"--threads must be >= 1, got {args.threads}.")
    if args.batch_size > args.samples_per_epoch:
        print(
            f"note: --batch-size {args.batch_size} is larger than --samples-per-epoch "
            f"{args.samples_per_epoch}; using batches of {args.samples_per_epoch}.",
            file=sys.stderr,
        )
        args.batch_size = args.samples_per_epoch
    inputs = pair_inputs(args) + expand_inputs([args.weights, args.resume])
    check_output(args.out, inputs, suffixes=CHECKPOINT_SUFFIXES)
