"""COCO run-length encoding of masks (pycocotools), in a JSON-ready form.

A mask is bool ``[h, w]`` over a window of the image whose top-left pixel is ``origin = (row,
col)``; the RLE covers the full image plane ``image_shape = (H, W)``. The runs are computed from
the window alone (column-major, as COCO wants), so a small object on a huge tile never allocates
a full-size mask. The RLE dict is COCO's compressed form ``{"size": [H, W], "counts": str}``.
"""

from __future__ import annotations

import numpy as np


def _coco():
    """``pycocotools.mask`` (the ``harvest`` extra), or MissingExtraError saying what to install."""
    from napari_iog.extras import require

    return require("pycocotools.mask", "COCO RLE masks (harvest)")


def encode(
    mask: np.ndarray,
    origin: tuple[int, int] = (0, 0),
    image_shape: tuple[int, ...] | None = None,
) -> dict:
    """Compressed COCO RLE of a bool window ``mask`` ``[h, w]`` placed at ``origin`` ``(row, col)``
    in ``image_shape`` ``(H, W, ...)`` (default: the mask is the whole image)."""
    mask_utils = _coco()

    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"RLE needs a 2D mask, got shape {mask.shape}.")
    H, W = mask.shape if image_shape is None else (int(image_shape[0]), int(image_shape[1]))
    r0, c0 = int(origin[0]), int(origin[1])
    h, w = mask.shape
    if r0 < 0 or c0 < 0 or r0 + h > H or c0 + w > W:
        raise ValueError(f"A {h}x{w} mask at {(r0, c0)} does not fit in a {H}x{W} image.")
    # Runs of ones per window column, as [start, end) offsets in the column-major full image.
    padded = np.zeros((w, h + 2), dtype=np.int8)
    padded[:, 1:-1] = mask.T
    step = np.diff(padded, axis=1)
    cs, rs = np.nonzero(step == 1)
    ce, re = np.nonzero(step == -1)
    starts = (c0 + cs).astype(np.int64) * H + r0 + rs
    ends = (c0 + ce).astype(np.int64) * H + r0 + re
    if starts.size > 1:  # a run ending at the last row continues at row 0 of the next column
        keep = np.ones(starts.size, dtype=bool)
        keep[1:] = starts[1:] != ends[:-1]
        starts, ends = starts[keep], ends[np.r_[keep[1:], True]]
    bounds = np.empty(2 * starts.size + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, H * W
    bounds[1:-1:2], bounds[2:-1:2] = starts, ends
    counts = np.diff(bounds).tolist()
    if len(counts) > 1 and counts[-1] == 0:  # pycocotools writes no empty last run
        counts.pop()
    rle = mask_utils.frPyObjects({"size": [H, W], "counts": counts}, H, W)
    return {"size": [H, W], "counts": rle["counts"].decode("ascii")}


def decode(rle: dict) -> np.ndarray:
    """bool ``[H, W]`` mask of a COCO RLE (compressed ``counts`` str/bytes or uncompressed list)."""
    mask_utils = _coco()

    return mask_utils.decode(_compressed(rle)).astype(bool)


def area(rle: dict) -> int:
    """Number of foreground pixels."""
    mask_utils = _coco()

    return int(mask_utils.area(_compressed(rle)))


def to_bbox_xywh(rle: dict) -> list[float]:
    """Tight COCO ``[x, y, w, h]`` (x = column) of the mask; zeros for an empty mask."""
    mask_utils = _coco()

    return [float(v) for v in mask_utils.toBbox(_compressed(rle))]


def _compressed(rle: dict) -> dict:
    mask_utils = _coco()

    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, list):
        return mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    return {"size": [h, w], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
