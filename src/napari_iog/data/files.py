"""Read (image, instance labels) pairs from files, folders and the layouts in ``shared/data``.

Every loader returns a list of 2D planes: ``images[i]`` is ``[H, W]`` or ``[H, W, 3]`` (any numeric
dtype) and ``labels[i]`` is an int32 ``[H, W]`` instance image (0 = background, ids 1..N). 3D tif
stacks ``[Z, H, W]`` are split into Z planes. Binary masks (values {0, 1} or {0, 255}, or bool)
become instances by connected components.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..words import count

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp")


class DataError(ValueError):
    """Input data that cannot be used for fine-tuning or evaluation; the message says what to do."""


def read_array(path: str | Path) -> np.ndarray:
    """Read one image file (tif/tiff via tifffile, others via scikit-image) as a numpy array."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"File not found: {path}. Check the path.")
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        return np.asarray(tifffile.imread(str(path)))
    from skimage import io

    return np.asarray(io.imread(str(path)))


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


def as_instances(labels: np.ndarray, mode: str = "auto", value: int | None = None) -> np.ndarray:
    """Convert a label plane ``[H, W]`` (bool, integer, or integral float) to int32 instances.

    - ``mode="instances"``: ids are used as they are; ids beyond int32 (e.g. int64 >= 2**31)
      are renumbered 1..N in sorted order (never wrapped, which would merge objects).
    - ``mode="binary"``: connected components of the binarised mask.
    - ``mode="auto"``: binary if the values are a subset of {0, 1} or {0, 255}, or an
      anti-aliased 0..255 mask (thresholded at 127, :func:`is_antialiased_mask`); a semantic
      class map (:func:`semantic_classes`) raises :class:`DataError` naming ``--label-value``;
      else instances.
    - ``value``: keep only pixels equal to ``value`` (a semantic class, e.g. 2 = building) and
      split them into connected components.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise DataError(f"A label plane must be 2D [H, W], got shape {labels.shape}.")
    if labels.dtype == bool:
        return instances_from_binary(labels)
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
    if value is not None:
        return instances_from_binary(labels == value)
    if mode == "binary":
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
                f"{next(iter(spread))}) to split it into objects, or pass --label-mode instances "
                "to use the values as object ids anyway."
            )
    elif mode != "instances":
        raise DataError(f"Unknown label mode {mode!r}; use 'auto', 'instances' or 'binary'.")
    return _to_int32_ids(labels)


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


def semantic_classes(
    labels: np.ndarray, vals: np.ndarray | None = None, max_values: int = 64
) -> dict[int, int]:
    """``{value: number of 4-connected regions}`` when the nonzero values of ``labels`` look
    like class codes (at most ``max_values`` of them, and at least half of them each spread
    over 3 or more separate regions); ``{}`` when they look like instance ids."""
    vals = np.unique(labels) if vals is None else vals
    from scipy import ndimage

    vals = [int(v) for v in vals if v != 0]
    if not vals or len(vals) > max_values or vals[-1] > 1_000_000:  # class codes are small
        return {}
    boxes = ndimage.find_objects(labels.astype(np.int32, copy=False))
    counts = {v: int(ndimage.label(labels[boxes[v - 1]] == v)[1]) for v in vals}
    spread = {v: n for v, n in counts.items() if n >= 3}
    return spread if 2 * len(spread) >= len(vals) else {}


def _planes(arr: np.ndarray, is_label: bool) -> list[np.ndarray]:
    if arr.ndim == 2:
        return [arr]
    if arr.ndim == 3 and not is_label and arr.shape[-1] in (3, 4):
        return [arr[..., :3]]
    if arr.ndim == 3:
        return [arr[i] for i in range(arr.shape[0])]
    if arr.ndim == 4 and not is_label and arr.shape[-1] in (3, 4):
        return [arr[i, ..., :3] for i in range(arr.shape[0])]
    raise DataError(f"Cannot read planes from an array of shape {arr.shape}; expected 2D or 3D.")


def _list_files(source: str | Path | list) -> list[Path]:
    if isinstance(source, (list, tuple)):
        out: list[Path] = []
        for s in source:
            out.extend(_list_files(s))
        return out
    p = Path(source)
    if p.is_dir():
        return sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if any(ch in str(p) for ch in "*?["):
        import glob

        return sorted(
            Path(f) for f in glob.glob(str(p)) if Path(f).suffix.lower() in IMAGE_SUFFIXES
        )
    if not p.exists():
        raise DataError(f"Path not found: {p}. Give an image file, a folder or a glob pattern.")
    return [p]


def pair_planes(
    images: list[np.ndarray], labels: list[np.ndarray], **label_kw
) -> tuple[list, list]:
    """Validate in-memory planes and convert labels to instances (see :func:`as_instances`)."""
    if len(images) == 0:
        raise DataError("No images were given: pass at least one image with its labels.")
    if len(images) != len(labels):
        raise DataError(
            f"Got {count(len(images), 'image plane')} but {count(len(labels), 'label plane')}; "
            "they must pair up."
        )
    out_i, out_l = [], []
    for k, (im, lab) in enumerate(zip(images, labels)):
        im, lab = np.asarray(im), np.asarray(lab)
        if im.shape[:2] != lab.shape[:2]:
            raise DataError(
                f"Plane {k}: image shape {im.shape[:2]} != label shape {lab.shape[:2]}. "
                "Each label image must have the same height and width as its image."
            )
        out_i.append(im)
        out_l.append(as_instances(lab, **label_kw))
    return out_i, out_l


def load_pairs(images, labels, mode: str = "auto", value: int | None = None) -> tuple[list, list]:
    """Load (image plane, instance plane) pairs from files/folders/globs (or lists of them).

    Files pair up in sorted order; stacks are split into planes. Raises :class:`DataError` with
    advice for a folder with no images, a count mismatch or a shape mismatch.
    """
    img_files, lab_files = _list_files(images), _list_files(labels)
    if not img_files:
        raise DataError(f"No image files ({', '.join(IMAGE_SUFFIXES)}) found in {images}.")
    if not lab_files:
        raise DataError(f"No label files found in {labels}.")
    img_planes = [p for f in img_files for p in _planes(read_array(f), False)]
    lab_planes = [p for f in lab_files for p in _planes(read_array(f), True)]
    if len(img_planes) != len(lab_planes):
        raise DataError(
            f"Found {count(len(img_planes), 'image plane')} in {count(len(img_files), 'file')} "
            f"but {count(len(lab_planes), 'label plane')} in {count(len(lab_files), 'file')}: "
            "no pairs. "
            "Give the same number of images and label images (sorted names pair up)."
        )
    return pair_planes(img_planes, lab_planes, mode=mode, value=value)
