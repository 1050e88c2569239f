"""The label-reading rules: how a label plane becomes int32 instances, and what kind it is.

A label plane is one of: a 1-bit mask (bool), a binary mask ({0, 1} or {0, 255}, or an
anti-aliased 0..255 mask), a class map (few small values, each spread over many regions), or an
instance image (one id per object). :func:`as_instances` converts one plane by a mode
(``auto``, ``instances``, ``binary``, ``classes``) and optional class values (``--label-value``);
:func:`label_kind` tells the kinds apart, and ``files.load_pairs`` uses it to refuse a set of
files that one mode cannot read right (:func:`napari_iog.data.files.check_label_set`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

MODES = ("auto", "instances", "binary", "classes")


class DataError(ValueError):
    """Input data that cannot be used for fine-tuning or evaluation; the message says what to do."""


def binarize(mask: np.ndarray) -> np.ndarray:
    """bool ``[H, W]``: ``> 0`` for 0/1 (or bool) masks, ``> 127`` for anti-aliased 0..255 masks."""
    mask = np.asarray(mask)
    if mask.dtype == bool:
        return mask
    return mask > 0 if mask.max(initial=0) <= 1 else mask > 127


def instances_from_binary(mask: np.ndarray, connectivity: int = 1) -> np.ndarray:
    """int32 instance image from a binary mask: connected components (1 = 4-, 2 = 8-connected)."""
    from skimage.measure import label

    return label(binarize(mask), connectivity=connectivity).astype(np.int32)


def class_values(value: int | Iterable[int] | None) -> tuple[int, ...] | None:
    """``--label-value`` as a tuple of distinct class values (``None``: no class chosen);
    refuses negative, non-integer or no values."""
    if value is None:
        return None
    raw = [value] if isinstance(value, (int, np.integer)) else list(value)
    if not raw:
        raise DataError("--label-value needs at least one class value, e.g. --label-value 2.")
    out: list[int] = []
    for v in raw:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise DataError(f"--label-value: class values are integers >= 0, got {v!r}.")
        if int(v) not in out:
            out.append(int(v))
    return tuple(out)


def check_mode_values(mode: str, values: tuple[int, ...] | None) -> None:
    """Refuse an unknown mode and a mode that cannot take (or needs) ``--label-value``."""
    if mode not in MODES:
        raise DataError(f"Unknown label mode {mode!r}; use one of {', '.join(MODES)}.")
    if values is not None and mode in ("instances", "binary"):
        raise DataError(
            f"--label-value picks classes of a class map; --label-mode {mode} reads "
            f"{'object ids' if mode == 'instances' else 'on/off masks'}, which have no classes. "
            "Give one of the two (or --label-mode classes with --label-value)."
        )
    if values is None and mode == "classes":
        raise DataError("--label-mode classes needs --label-value N (the class(es) to use).")


def _checked(labels: np.ndarray) -> np.ndarray:
    """``labels`` as an array after refusing non-2D, non-integral and negative values."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise DataError(f"A label plane must be 2D [H, W], got shape {labels.shape}.")
    if labels.dtype == bool:
        return labels
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.issubdtype(labels.dtype, np.floating) or not np.isfinite(labels).all():
            raise DataError(
                f"Labels must be integers (instance ids), got dtype {labels.dtype} with NaN, inf "
                "or non-numeric values. Pass an integer label image (0 = background)."
            )
        if not np.all(np.mod(labels, 1) == 0):
            raise DataError(
                f"Labels must be integers (instance ids), got dtype {labels.dtype} with "
                "fractional values. Pass an integer label image (0 = background)."
            )
    if labels.min(initial=0) < 0:
        raise DataError("Labels must be >= 0 (0 = background); found negative ids.")
    return labels


ONE_BIT_WITH_VALUE = (
    "--label-value was given, but this label image is a 1-bit mask (on/off only, no class "
    "values), so it would be ignored. Drop --label-value: each connected region of the mask "
    "becomes an object."
)
INSTANCES_WITH_VALUE = (
    "--label-value picks classes of a class map, but this label image looks like instance ids "
    "(one id per object, each a single region): --label-value {v} would keep only the object "
    "with id {v}. Drop --label-value, or, if it really is a class map, pass --label-mode classes."
)


def as_instances(
    labels: np.ndarray, mode: str = "auto", value: int | Iterable[int] | None = None
) -> np.ndarray:
    """Convert a label plane ``[H, W]`` (bool, integer, or integral float) to int32 instances.

    - ``mode="instances"``: ids are used as they are; ids beyond int32 (e.g. int64 >= 2**31)
      are renumbered 1..N in sorted order (never wrapped, which would merge objects).
    - ``mode="binary"``: connected components of the binarised mask.
    - ``mode="auto"``: binary if the values are a subset of {0, 1} or {0, 255}, or an
      anti-aliased 0..255 mask (thresholded at 127, :func:`is_antialiased_mask`); a semantic
      class map (:func:`semantic_classes`) raises :class:`DataError` naming ``--label-value``;
      else instances.
    - ``value`` (one class or several, with ``mode`` ``auto`` or ``classes``): the connected
      components of the pixels of each class, every one a separate object. In ``auto`` mode a
      1-bit mask or a plane that looks like instance ids is refused (the value would be ignored
      or keep one object); ``classes`` takes the values without asking.
    """
    values = class_values(value)
    check_mode_values(mode, values)
    labels = _checked(labels)
    if values is not None:
        if labels.dtype == bool:
            raise DataError(ONE_BIT_WITH_VALUE)
        if mode == "auto" and label_kind(labels) == "instances":
            raise DataError(INSTANCES_WITH_VALUE.format(v=values[0]))
        return class_instances(labels, values)
    if labels.dtype == bool or mode == "binary":
        return instances_from_binary(labels)
    if mode == "auto":
        vals = np.unique(labels)
        if set(vals.tolist()) <= {0, 1} or set(vals.tolist()) <= {0, 255}:
            return instances_from_binary(labels)
        if is_antialiased_mask(labels, vals):
            return instances_from_binary(labels)  # binarize: > 127
        spread = semantic_classes(labels, vals)
        if spread:
            shown = ", ".join(f"{v}: {n} regions" for v, n in list(spread.items())[:6])
            raise DataError(
                f"This label image looks like a semantic class map, not instance ids: "
                f"{len(vals) - (vals[0] == 0)} values, each spread over many separate regions "
                f"({shown}). Pick one class with --label-value N (e.g. --label-value "
                f"{next(iter(spread))}; several: --label-value 2 5) to split it into objects, or "
                "pass --label-mode instances to use the values as object ids anyway."
            )
    return _to_int32_ids(labels)


def class_instances(labels: np.ndarray, values: tuple[int, ...]) -> np.ndarray:
    """int32 instances: the 4-connected components of each class in ``values``, numbered on
    (objects of different classes never share an id, even where they touch)."""
    from skimage.measure import label

    out = np.zeros(labels.shape, np.int32)
    n = 0
    for v in values:
        comp = label(labels == v, connectivity=1)
        inside = comp > 0
        out[inside] = comp[inside] + n
        n += int(comp.max(initial=0))
    return out


def _to_int32_ids(labels: np.ndarray) -> np.ndarray:
    """int32 ids of integral ``labels`` (>= 0): as they are when they fit, else renumbered."""
    if labels.max(initial=0) <= np.iinfo(np.int32).max:
        return labels.astype(np.int32)
    vals, inverse = np.unique(labels, return_inverse=True)
    if vals.size > np.iinfo(np.int32).max:
        raise DataError(f"{vals.size} distinct label ids: too many objects for one plane.")
    ids = inverse.reshape(labels.shape).astype(np.int32)
    return ids if vals[0] == 0 else ids + 1  # 0 stays background


def is_antialiased_mask(labels: np.ndarray, vals: np.ndarray | None = None) -> bool:
    """True for a 0..255 integer mask whose in-between values (1..254) are the soft edges of
    its 255 areas (anti-aliased drawing, resampling, blur): hardly any of them (<= 10%) inside a
    flat 3x3 patch, and >= 75% of them in edge bands that touch a 255 pixel (or, stray specks,
    fewer than 1% of the 255 pixels). Instance ids and class codes fill flat regions instead."""
    from scipy import ndimage

    vals = np.unique(labels) if vals is None else vals
    if labels.dtype.kind not in "iu" or vals[-1] != 255 or vals[0] < 0:
        return False
    mid = (labels > 0) & (labels < 255)
    n_mid, full = int(mid.sum()), labels == 255
    if n_mid == 0:
        return False
    flat = ndimage.maximum_filter(labels, 3) == ndimage.minimum_filter(labels, 3)
    if int((mid & flat).sum()) > 0.1 * n_mid:
        return False
    bands, _ = ndimage.label(mid, structure=np.ones((3, 3), bool))
    near = ndimage.binary_dilation(full, structure=np.ones((3, 3), bool))
    touching = np.isin(bands, np.unique(bands[near & mid]))
    return int(touching.sum()) >= 0.75 * n_mid or n_mid < 0.01 * int(full.sum())


def _region_counts(labels: np.ndarray, vals, max_values: int = 64) -> dict[int, int] | None:
    """``{nonzero value: number of 4-connected regions}``, or None when the values cannot be
    class codes (more than ``max_values`` of them, or one above 1e6)."""
    from scipy import ndimage

    vals = [int(v) for v in vals if v != 0]
    if len(vals) > max_values or (vals and vals[-1] > 1_000_000):
        return None
    boxes = ndimage.find_objects(labels.astype(np.int32, copy=False))
    return {v: int(ndimage.label(labels[boxes[v - 1]] == v)[1]) for v in vals}


def semantic_classes(
    labels: np.ndarray, vals: np.ndarray | None = None, max_values: int = 64
) -> dict[int, int]:
    """``{value: number of 4-connected regions}`` when the nonzero values of ``labels`` look
    like class codes (at most ``max_values`` of them, and at least half of them each spread
    over 3 or more separate regions); ``{}`` when they look like instance ids."""
    vals = np.unique(labels) if vals is None else vals
    counts = _region_counts(labels, vals, max_values)
    if not counts:
        return {}
    spread = {v: n for v, n in counts.items() if n >= 3}
    return spread if 2 * len(spread) >= len(counts) else {}


def label_kind(labels: np.ndarray) -> str:
    """What a label plane looks like: ``"1-bit"`` (bool), ``"empty"`` (all 0), ``"mask"``
    ({0, 255} or anti-aliased), ``"binary"`` ({0, 1}: a mask, or a class map with class 1 only),
    ``"classes"`` (:func:`semantic_classes`), ``"instances"`` (more than 64 values or one above
    1e6, or 3+ values of which >= 75% are single regions) or ``"unclear"`` (1 or 2 values)."""
    labels = _checked(labels)
    if labels.dtype == bool:
        return "1-bit"
    vals = np.unique(labels)
    nonzero = set(vals.tolist()) - {0}
    if not nonzero:
        return "empty"
    if nonzero == {1}:
        return "binary"
    if nonzero == {255} or is_antialiased_mask(labels, vals):
        return "mask"
    counts = _region_counts(labels, vals)
    if counts is None:
        return "instances"
    spread = [n for n in counts.values() if n >= 3]
    if 2 * len(spread) >= len(counts):
        return "classes"
    single = sum(n == 1 for n in counts.values())
    return "instances" if len(counts) >= 3 and single >= 0.75 * len(counts) else "unclear"
