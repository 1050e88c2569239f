"""``napari-iog predict``: one object from a box (+ inside click, + correction clicks) to a mask file.

Coordinates are pixel ``(row, col)`` of the image plane, boxes inclusive ``R0 C0 R1 C1``. A 3D
stack (``[Z, H, W]`` or ``[Z, H, W, C]``) needs ``--slice Z``. The mask is written as a 2D
``uint8`` TIFF (or PNG) of the plane's size with values 0/255 (``--values 1``: 0/1), atomically.
An empty mask is an error (exit 2, nothing written), never a silent empty file.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from napari_iog.cli import CLIError, threshold_option

from ..config import AUTO_WEIGHTS

if TYPE_CHECKING:
    from napari_iog.structures import BBox, Click, MaskResult

_SIGNS = {"+": True, "pos": True, "1": True, "-": False, "neg": False, "0": False}
_OUT_SUFFIXES = (".tif", ".tiff", ".png")
TINY_SIDE = 3  # px: a box this thin (or thinner) holds an object IOG often misses


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict",
        help="segment one object (box + clicks) and write its mask",
        description="Segment one object and write a 2D uint8 mask. Coordinates are (row, col) pixels.",
    )
    p.add_argument("--image", required=True, help="image file (.tif/.tiff, .png, .jpg, ...)")
    p.add_argument("--box", required=True, nargs=4, type=int, metavar=("R0", "C0", "R1", "C1"),
                   help="inclusive box: top-left row/col, bottom-right row/col")  # fmt: skip
    p.add_argument("--inside", nargs=2, type=float, metavar=("R", "C"),
                   help="inside click (default: the centre-most point of the box)")  # fmt: skip
    p.add_argument("--click", nargs=3, action="append", default=[], metavar=("R", "C", "SIGN"),
                   help="correction click, SIGN + (object) or - (background); repeatable")  # fmt: skip
    p.add_argument("--weights", default=AUTO_WEIGHTS,
                   help="checkpoint file, official .pth, or a name from `napari-iog weights list`; "
                   "auto (default): the shipped starter matching the image (iog-em for grey, "
                   "iog-aerial for colour)")  # fmt: skip
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, mps")
    p.add_argument("--tta", action="store_true",
                   help="average over the 4 mirror images of the crop (4x slower, a bit more accurate)")  # fmt: skip
    threshold_option(p)
    p.add_argument("--slice", type=int, default=None, metavar="Z", help="slice of a 3D stack")
    p.add_argument("--values", type=int, choices=(255, 1), default=255,
                   help="foreground value in the mask file (default 255)")  # fmt: skip
    p.add_argument("--out", required=True, help="output mask (.tif, .tiff or .png)")
    p.set_defaults(func=run)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file to a numpy array (tifffile for TIFF, scikit-image otherwise)."""
    path = Path(path)
    if path.is_dir():
        raise CLIError(f"--image {str(path)!r} is a folder; give one image file.")
    if not path.is_file():
        raise CLIError(f"Image {str(path)!r} does not exist; give an image file with --image.")
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            return np.asarray(tifffile.imread(path))
        import skimage.io

        return np.asarray(skimage.io.imread(path))
    except Exception as exc:  # codec errors of any kind
        raise CLIError(f"Cannot read image {str(path)!r} ({type(exc).__name__}: {exc}).") from None


def select_plane(image: np.ndarray, z: int | None) -> np.ndarray:
    """The 2D plane ``[H, W]`` / ``[H, W, C]`` to segment; stacks need ``z``."""
    is_stack = image.ndim == 4 or (image.ndim == 3 and image.shape[-1] not in (1, 3, 4))
    if not is_stack:
        if z is not None:
            raise CLIError(
                f"--slice {z} given but the image is a single plane {image.shape}; drop it."
            )
        return image
    if z is None:
        raise CLIError(
            f"The image is a stack of {image.shape[0]} slices {image.shape}; choose one with "
            f"--slice Z (0..{image.shape[0] - 1})."
        )
    if not -image.shape[0] <= z < image.shape[0]:
        raise CLIError(f"--slice {z} is outside the stack (0..{image.shape[0] - 1}).")
    return image[z]


def parse_clicks(raw: Sequence[Sequence[str]]) -> tuple[Click, ...]:
    from napari_iog.structures import Click

    clicks = []
    for r, c, sign in raw:
        if sign.lower() not in _SIGNS:
            raise CLIError(f"--click {r} {c} {sign}: SIGN must be + or - (object / background).")
        try:
            clicks.append(Click(float(r), float(c), _SIGNS[sign.lower()]))
        except ValueError:
            raise CLIError(f"--click {r} {c} {sign}: R and C must be numbers (row, col).") from None
    return tuple(clicks)


def write_mask(path: str | Path, mask: np.ndarray, value: int = 255) -> Path:
    """Write a bool ``[H, W]`` mask as uint8 0/``value``, atomically (temp file + os.replace)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _OUT_SUFFIXES:
        raise CLIError(f"--out {str(path)!r}: use a .tif, .tiff or .png file name.")
    if not path.parent.is_dir():
        raise CLIError(f"--out: folder {str(path.parent)!r} does not exist; create it first.")
    data = mask.astype(np.uint8) * np.uint8(value)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{suffix}")
    try:
        if suffix == ".png":
            import skimage.io

            skimage.io.imsave(tmp, data, check_contrast=False)
        else:
            import tifffile

            tifffile.imwrite(tmp, data, compression="zlib")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def box_notes(box: BBox, shape: tuple[int, ...]) -> list[str]:
    """Warnings about a box that is mostly off the image or tiny (<= ``TINY_SIDE`` px a side);
    refuses (``CLIError``) a box whose part on the image is thinner than 2 px."""
    h, w = int(shape[0]), int(shape[1])
    on = box.clip((h, w))
    if on.height < 2 or on.width < 2:
        raise CLIError(
            f"Only a {on.height}x{on.width} px sliver of the box {box.as_tuple()} lies on the "
            f"{h}x{w} image; draw the box around the object, on the image."
        )
    notes = []
    frac = on.height * on.width / (box.height * box.width)
    if frac < 0.5:
        notes.append(
            f"only {100 * frac:.1f}% of the box {box.as_tuple()} lies on the {h}x{w} image; "
            f"it was clipped to {on.as_tuple()}."
        )
    if min(on.height, on.width) <= TINY_SIDE:
        notes.append(
            f"the box is {on.height}x{on.width} px: objects only a few pixels wide are often "
            "missed; upsample the image or paint such objects by hand."
        )
    return notes


def check_found(result: MaskResult, box: BBox, notes: list[str]) -> None:
    """Refuse (``CLIError``, no file written) an empty mask; warn when the mask misses the box."""
    if result.area == 0:
        top = float(np.nanmax(result.prob)) if result.prob.size else 0.0
        raise CLIError(
            f"the model found nothing in this box: no pixel reached probability "
            f"{result.threshold:g} (the highest was {top:.2f}); no mask was written. Check that "
            "the box surrounds the object, add a positive click (--click R C +), lower "
            "--threshold, or use weights that suit this image."
            + "".join(f" Note: {n}" for n in notes)
        )
    if not result.full_mask()[box.row0 : box.row1 + 1, box.col0 : box.col1 + 1].any():
        print(
            f"napari-iog predict: warning: the mask ({result.area} px) lies entirely outside "
            f"the box {box.as_tuple()}; the weights may not suit this image.",
            file=sys.stderr,
        )


def run(args: argparse.Namespace) -> int:
    from napari_iog.inference import IOGPredictor
    from napari_iog.models.starters import resolve_weights
    from napari_iog.pathguard import check_output, expand_inputs
    from napari_iog.structures import BBox, Click, Prompt

    clicks = parse_clicks(args.click)
    # fail before the slow part; the image (and weights) are never overwritten
    check_output(args.out, expand_inputs([args.image, args.weights]), suffixes=_OUT_SUFFIXES)
    plane = select_plane(read_image(args.image), args.slice)
    box = BBox(*args.box)
    box.validate(plane.shape[:2])
    notes = box_notes(box, plane.shape[:2])
    for note in notes:
        print(f"napari-iog predict: warning: {note}", file=sys.stderr)
    inside = None if args.inside is None else Click(args.inside[0], args.inside[1], True)
    t0 = time.perf_counter()
    weights = resolve_weights(args.weights, plane)
    predictor = IOGPredictor.from_weights(weights, device=args.device, tta=args.tta)
    if args.threshold is not None:
        predictor.mask_threshold = args.threshold
    t1 = time.perf_counter()
    predictor.set_image(plane)
    result = predictor.predict(Prompt(box, inside, clicks))
    t2 = time.perf_counter()
    check_found(result, box.clip(plane.shape[:2]), notes)
    mask = result.full_mask()
    out = write_mask(args.out, mask, args.values)
    h, w = mask.shape
    print(
        f"{out}: {h}x{w} uint8 mask, area {result.area} px ({100 * result.area / (h * w):.2f}%), "
        f"weights {weights}, load {t1 - t0:.2f} s, predict {t2 - t1:.2f} s on {predictor.device}"
    )
    return 0
