"""Lazy image reading for harvesting.

An image is opened without loading its pixels where the format allows it: uncompressed TIFF is
memory-mapped by tifffile, and the predictor (``inference.image.NetworkImage``) converts only the
pixels of each object crop, so a huge tile costs the crops of one batch, not the tile. Other files
(PNG, JPEG, compressed TIFF) are decoded once per image: memory is then one image per worker.

Shape of what :func:`open_image` returns: ``[H, W]`` (grey) or ``[H, W, C]`` (C = 3 or 4), any
numeric dtype, row-major ``(row, col)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TIFF_SUFFIXES = (".tif", ".tiff")


class ImageReadError(ValueError):
    """An image that is missing or cannot be read as 2D grey / RGB(A); the message says why."""


def open_image(path: str | Path) -> np.ndarray:
    """Open ``path`` as a 2D plane: a read-only ``np.memmap`` for uncompressed TIFF, else an array.

    Raises :class:`ImageReadError` for a missing, unreadable or non-2D image."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(
            f"Image {str(path)!r} does not exist. Check --images and the file names."
        )
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            img = _open_tiff(path)
        else:
            import imageio.v3 as iio

            img = iio.imread(path)
    except ImageReadError:
        raise
    except Exception as err:  # decoders raise many types; the user needs the file name and why
        raise ImageReadError(
            f"Image {path.name!r} cannot be read ({type(err).__name__}: {str(err)[:120]}). "
            "Re-export it as TIFF or PNG."
        ) from None
    img = _squeeze_to_plane(img, path.name, _planar_rgb(path))
    if not (np.issubdtype(img.dtype, np.number) or img.dtype == bool):
        raise ImageReadError(f"Image {path.name!r} has a non-numeric dtype {img.dtype}.")
    return img


def _open_tiff(path: Path):
    import tifffile

    try:
        return tifffile.memmap(path, mode="r")
    except (ValueError, TypeError, OSError):  # compressed/tiled: not memory-mappable
        return tifffile.imread(path)


def _planar_rgb(path: Path) -> bool:
    """True for a TIFF whose first page says its samples are RGB colour (photometric RGB), the
    only case in which a ``[3|4, H, W]`` array is colour planes and not a stack of slices."""
    if path.suffix.lower() not in TIFF_SUFFIXES:
        return False
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            return int(tif.pages[0].photometric) == 2  # PHOTOMETRIC.RGB
    except Exception:  # unreadable tags: not a colour image we can vouch for
        return False


def _squeeze_to_plane(img, name: str, planar_rgb: bool = False):
    shape = tuple(img.shape)
    while len(shape) > 2 and shape[0] == 1:  # leading singleton pages/frames
        img = img[0]
        shape = shape[1:]
    if len(shape) == 2 or (len(shape) == 3 and shape[2] in (3, 4)):
        return img
    if len(shape) == 3 and shape[0] in (3, 4) and shape[1] > 4 and shape[2] > 4:
        if planar_rgb:  # colour planes (CYX) -> YXC
            return np.moveaxis(np.asarray(img), 0, -1)
        raise ImageReadError(  # as `napari-iog predict`: a stack of slices, not colour
            f"Image {name!r} has shape {shape}: a stack of {shape[0]} slices (its TIFF tags do "
            "not say RGB), not a colour image. Harvesting needs one 2D plane per file: split the "
            "stack into one file per slice, or save colour images as [H, W, 3]."
        )
    raise ImageReadError(
        f"Image {name!r} has shape {shape}; harvesting needs one 2D plane: [H, W] grey or "
        "[H, W, 3|4] colour. Split stacks into one file per slice."
    )
