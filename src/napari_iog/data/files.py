"""Read (image, instance labels) pairs from files, folders and the layouts in ``shared/data``.

Every loader returns a list of 2D planes: ``images[i]`` is ``[H, W]`` or ``[H, W, 3]`` (any numeric
dtype) and ``labels[i]`` is an int32 ``[H, W]`` instance image (0 = background, ids 1..N). 3D tif
stacks ``[Z, H, W]`` are split into Z planes. Binary masks (values {0, 1} or {0, 255}, or bool)
become instances by connected components.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
    """Convert a label plane to int32 instances.

    - ``mode="instances"``: ids are used as they are.
    - ``mode="binary"``: connected components of the binarised mask.
    - ``mode="auto"``: binary if the values are a subset of {0, 1} or {0, 255}, else instances.
    - ``value``: keep only pixels equal to ``value`` (a semantic class, e.g. 2 = building) and
      split them into connected components.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise DataError(f"A label plane must be 2D [H, W], got shape {labels.shape}.")
    if labels.dtype == bool:
        return instances_from_binary(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(np.mod(labels, 1) == 0):
            labels = labels.astype(np.int64)
        else:
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
    elif mode != "instances":
        raise DataError(f"Unknown label mode {mode!r}; use 'auto', 'instances' or 'binary'.")
    return labels.astype(np.int32)


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
            f"Got {len(images)} image planes but {len(labels)} label planes; they must pair up."
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
            f"Found {len(img_planes)} image planes in {len(img_files)} file(s) but "
            f"{len(lab_planes)} label planes in {len(lab_files)} file(s): no pairs. "
            "Give the same number of images and label images (sorted names pair up)."
        )
    return pair_planes(img_planes, lab_planes, mode=mode, value=value)


# ----------------------------------------------------------------- layouts in shared/data
def load_sstem(root: str | Path, slices, kind: str = "mitochondria") -> tuple[list, list]:
    """ssTEM Drosophila VNC (``raw/NN.tif`` + ``<kind>/NN.png``); instances = 4-connected components."""
    root = Path(root)
    imgs, labs = [], []
    for s in slices:
        imgs.append(read_array(root / "raw" / f"{int(s):02d}.tif"))
        labs.append(instances_from_binary(read_array(root / kind / f"{int(s):02d}.png")))
    return imgs, labs


def load_spacenet(root: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """SpaceNet sample tile: ``image.tif`` (uint16 [H, W]) and ``instances.tif`` (ids 1..N)."""
    root = Path(root)
    return read_array(root / "image.tif"), as_instances(
        read_array(root / "instances.tif"), "instances"
    )


def load_isprs(root: str | Path, name: str, value: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """ISPRS crop ``<name>_image.png`` (RGB) and the components of class ``value`` (2 = building)."""
    root = Path(root)
    img = read_array(root / f"{name}_image.png")[..., :3]
    lab = read_array(root / f"{name}_labels.png")
    return img, as_instances(lab, value=value)


def load_isbi2012(root: str | Path, slices) -> tuple[list, list]:
    """ISBI 2012 training stack (``image/N.png`` uint8 [512, 512], ``label/N.png`` 255 = cell
    interior, 0 = membrane); instances = 4-connected components of the interiors."""
    root = Path(root)
    imgs = [read_array(root / "image" / f"{int(s)}.png") for s in slices]
    labs = [instances_from_binary(read_array(root / "label" / f"{int(s)}.png")) for s in slices]
    return imgs, labs
