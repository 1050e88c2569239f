"""Read (image, instance labels) pairs from files, folders and the layouts in ``shared/data``.

Every loader returns a list of 2D planes: ``images[i]`` is ``[H, W]`` or ``[H, W, 3]`` (any numeric
dtype) and ``labels[i]`` is an int32 ``[H, W]`` instance image (0 = background, ids 1..N). 3D tif
stacks ``[Z, H, W]`` are split into Z planes. Binary masks (values {0, 1} or {0, 255}, or bool)
become instances by connected components.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..words import count
from .labels import (  # noqa: F401  (the label rules, re-exported where they always were)
    MODES,
    DataError,
    as_instances,
    binarize,
    check_mode_values,
    class_values,
    instances_from_binary,
    is_antialiased_mask,
    label_kind,
    semantic_classes,
)

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp")


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
    images: list[np.ndarray],
    labels: list[np.ndarray],
    names: list[str] | None = None,
    **label_kw: Any,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Validate in-memory planes and convert labels to instances (see :func:`as_instances`);
    ``names``: where each label plane came from (its file), put in front of a refusal."""
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
        where = names[k] if names else f"Plane {k}"
        if im.shape[:2] != lab.shape[:2]:
            raise DataError(
                f"{where}: image shape {im.shape[:2]} != label shape {lab.shape[:2]}. "
                "Each label image must have the same height and width as its image."
            )
        out_i.append(im)
        try:
            out_l.append(as_instances(lab, **label_kw))
        except DataError as exc:
            raise DataError(f"{where}: {exc}" if names else str(exc)) from None
    return out_i, out_l


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


_ORDER = ("instances", "classes", "1-bit", "mask", "binary", "unclear", "empty")


def check_label_set(
    named: list[tuple[str, np.ndarray]],
    mode: str = "auto",
    value: int | Iterable[int] | None = None,
) -> None:
    """Refuse (:class:`DataError`, naming the files and the flags to use) a set of label planes
    ``[(file name, plane), ...]`` that one ``mode``/``value`` would read wrongly: in ``auto`` mode,
    instance images mixed with class maps, and, with ``value``, 1-bit masks (the value would be
    ignored), 0/255 masks without 255 among the values (nothing selected) or instance images
    (one object kept); with ``auto`` or ``classes``, a class value found in no file."""
    values = class_values(value)
    check_mode_values(mode, values)
    if mode in ("instances", "binary"):
        return
    kinds: dict[str, set[str]] = {}
    present: set[int] = set()
    for name, plane in named:
        try:
            kinds.setdefault(name, set()).add(label_kind(plane))
        except DataError as exc:
            raise DataError(f"{name}: {exc}") from None
        if values is not None and plane.dtype != bool:
            present.update(v for v in values if v not in present and (plane == v).any())
    files: dict[str, list[str]] = {}
    for name, ks in kinds.items():
        files.setdefault(next(k for k in _ORDER if k in ks), []).append(name)
    flag = "" if values is None else f" --label-value {' '.join(map(str, values))}"
    if mode == "auto" and files.get("instances") and files.get("classes"):
        raise DataError(
            f"The label files mix kinds: {count(len(files['instances']), 'file')} look like "
            f"instance images, one id per object ({_listed(files['instances'])}), and "
            f"{count(len(files['classes']), 'file')} like class maps, few values each spread "
            f"over many regions ({_listed(files['classes'])}). One --label-mode/--label-value "
            "applies to every file, so one kind would be read wrongly (with --label-value N an "
            "instance image keeps only its object with id N). Give one kind per run: the "
            "instance images with --label-mode instances, the class maps with --label-value N "
            "(several classes: --label-value 2 5), or convert the class maps to instance ids."
        )
    if values is None:
        return
    if files.get("1-bit"):
        raise DataError(f"{_listed(files['1-bit'])}: {labels_msg('1-bit', flag)}")
    if mode == "auto" and files.get("mask") and 255 not in values:
        raise DataError(f"{_listed(files['mask'])}: {labels_msg('mask', flag)}")
    if mode == "auto" and files.get("instances"):
        raise DataError(f"{_listed(files['instances'])}: {labels_msg('instances', flag)}")
    missing = [v for v in values if v not in present]
    if missing:
        raise DataError(
            f"--label-value {', '.join(map(str, missing))}: no label file has pixels of this "
            f"class ({_listed(list(kinds))}). Check the class codes of your label images."
        )


def labels_msg(kind: str, flag: str) -> str:
    """Why ``--label-value`` (``flag``) cannot read label files of ``kind``, and what to give."""
    if kind == "1-bit":
        return (
            f"1-bit masks (on/off only, no class values), so{flag} would be ignored. Drop "
            "--label-value: each connected region of a mask becomes an object."
        )
    if kind == "mask":
        return (
            f"on/off masks (0 and 255), not class maps, so{flag} selects nothing in them. Drop "
            "--label-value: each connected region of a mask becomes an object."
        )
    return (
        f"these look like instance images (one id per object, each a single region), so{flag} "
        "would keep only the object(s) with that id. Drop --label-value (or pass --label-mode "
        "instances); if they really are class maps, pass --label-mode classes."
    )


def load_pairs(
    images: str | Path | list[str | Path] | tuple[str | Path, ...],
    labels: str | Path | list[str | Path] | tuple[str | Path, ...],
    mode: str = "auto",
    value: int | Iterable[int] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Load (image plane, instance plane) pairs from files/folders/globs (or lists of them).

    Files pair up in sorted order; stacks are split into planes. ``mode``/``value``: see
    :func:`as_instances` (``value``: one class or several). Raises :class:`DataError` with advice
    for a folder with no images, a count or shape mismatch, or label files that ``mode``/``value``
    would read wrongly (:func:`check_label_set`).
    """
    img_files, lab_files = _list_files(images), _list_files(labels)
    if not img_files:
        raise DataError(f"No image files ({', '.join(IMAGE_SUFFIXES)}) found in {images}.")
    if not lab_files:
        raise DataError(f"No label files found in {labels}.")
    img_planes = [p for f in img_files for p in _planes(read_array(f), False)]
    named = [(str(f), p) for f in lab_files for p in _planes(read_array(f), True)]
    if len(img_planes) != len(named):
        raise DataError(
            f"Found {count(len(img_planes), 'image plane')} in {count(len(img_files), 'file')} "
            f"but {count(len(named), 'label plane')} in {count(len(lab_files), 'file')}: "
            "no pairs. "
            "Give the same number of images and label images (sorted names pair up)."
        )
    check_label_set(named, mode, value)
    return pair_planes(
        img_planes, [p for _, p in named], names=[n for n, _ in named], mode=mode, value=value
    )
