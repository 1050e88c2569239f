"""Create or open the chunked zarr labels store of a :class:`~napari_iog.volumes.source.Volume`.

Where the labels go (:func:`open_labels`):

- ``path`` given: a zarr array at that folder (created when missing; an existing one must have
  the image's level-0 shape);
- an OME-Zarr image whose folder is writable: ``image.zarr/labels/<name>`` (an OME-Zarr labels
  image written with ``ome-zarr``: ``image-label`` metadata, one level);
- a plain zarr image whose parent folder is writable: ``<image stem>.<name>-labels.zarr`` beside it;
- otherwise :class:`ReadOnlyStoreError`: its message names the read-only folder and a suggested
  place elsewhere (``suggested``); call again with ``path=``.

Labels already in a read-only store open read-only (``LabelStore.read_only``): they can be shown,
not changed. The labels are ``uint16`` (:data:`LABELS_DTYPE`; up to 65535 ids), chunked like the image's level 0 (a
chunk larger than :data:`MAX_PLANE_CHUNK` in the plane becomes ``1 x 512 x 512``), fill value 0.
The provenance JSON sits beside the labels folder: ``<labels folder stem>.iog.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from napari_iog.fileio import sidecar_path
from napari_iog.volumes.labels_store import LabelStore, LabelStoreError
from napari_iog.volumes.source import LABELS_GROUP, Volume, writable

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

DEFAULT_NAME = "iog"
# uint16, not OME-Zarr's usual uint32: napari shows uint8/uint16 labels directly, while a uint32
# 8192 x 8192 plane costs +1.1 GB peak memory to show and 0.8-1.8 s per commit/undo (measured,
# docs/volumes.md). 65535 ids per store; harvest volumes (no display) stay uint32.
LABELS_DTYPE = np.uint16
MAX_PLANE_CHUNK = 1024
PLANE_CHUNK = 512


class ReadOnlyStoreError(LabelStoreError):
    """The labels cannot be written where asked; ``suggested`` is a writable place to use."""

    def __init__(self, message: str, suggested: Path):
        super().__init__(message)
        self.suggested = suggested


def label_chunks(volume: Volume) -> tuple[int, ...]:
    """Chunk shape of the labels: the image's level-0 chunks, or ``(1, .., 512, 512)`` when
    those are wider than :data:`MAX_PLANE_CHUNK` in the plane or hold > 64 M pixels."""
    chunks = volume.chunks
    if max(chunks[-2:]) <= MAX_PLANE_CHUNK and int(np.prod(chunks)) <= 1 << 26:
        return chunks
    lead = (1,) * (len(chunks) - 2)
    return lead + tuple(min(PLANE_CHUNK, s) for s in volume.shape[-2:])


def suggested_path(volume: Volume, name: str = DEFAULT_NAME) -> Path:
    """A writable place for labels of a read-only image: the current folder if writable, else
    the home folder; ``<image stem>.<name>-labels.zarr``."""
    stem = (volume.path.name.split(".")[0] if volume.path else volume.name) or "image"
    base = Path.cwd() if writable(Path.cwd()) else Path.home()
    return base / f"{stem}.{name}-labels.zarr"


def default_path(volume: Volume, name: str = DEFAULT_NAME) -> Path:
    """Where :func:`open_labels` puts the labels without ``path`` (see module doc)."""
    if volume.path is None:
        return suggested_path(volume, name)
    if volume.ome:
        return volume.path / LABELS_GROUP / name
    return volume.path.with_name(volume.path.name.split(".")[0] + f".{name}-labels.zarr")


def _sidecar_max(labels_path: Path) -> int | None:
    try:
        doc = json.loads(sidecar_path(labels_path).read_text(encoding="utf-8"))
        return int(doc["max_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _wrap(array, labels_path: Path, read_only: bool) -> LabelStore:
    store = LabelStore(array, labels_path, sidecar_path(labels_path))
    store.read_only = read_only
    top = _sidecar_max(labels_path)
    store.max_id = store.scan_max() if top is None else top
    return store


def _check_shape(array, volume: Volume, where: Path) -> None:
    if tuple(array.shape) != volume.shape:
        raise LabelStoreError(
            f"The labels at {where} have shape {tuple(array.shape)} but the image has "
            f"{volume.shape}: choose another labels folder (or a new one) for this image."
        )
    if np.dtype(array.dtype).kind not in "ui":
        raise LabelStoreError(f"The labels at {where} are {array.dtype}, not integers.")


def _open_ome_labels(volume: Volume, name: str, create: bool, dtype=LABELS_DTYPE):
    """(zarr array, read_only) of ``labels/<name>`` in the OME-Zarr image (None: absent)."""
    import zarr

    root_path = volume.path
    mode = "r+" if writable(root_path) else "r"
    where = root_path / LABELS_GROUP / name
    if where.is_dir():
        group = zarr.open_group(str(where), mode=mode)
        attrs = dict(group.attrs)
        ms = attrs.get("ome", attrs).get("multiscales", [{}])[0]
        sub = ms.get("datasets", [{"path": "0"}])[0]["path"]
        return group[sub], mode == "r"
    if not create:
        return None
    import dask.array as da
    from ome_zarr.format import format_from_version
    from ome_zarr.writer import write_multiscale_labels

    chunks = label_chunks(volume)
    zeros = da.zeros(volume.shape, dtype=dtype, chunks=chunks)
    root = zarr.open_group(str(root_path), mode="r+")
    fmt = format_from_version(volume.ome_version or "0.5")
    axes = list(volume.axes) if all(a in "tczyx" for a in volume.axes) else None
    write_multiscale_labels(
        [zeros], root, name, fmt=fmt, axes=axes, storage_options={"chunks": chunks},
        scale=dict(zip(volume.axes, volume.scale)) if axes else None, compute=False,
    )  # fmt: skip
    return _open_ome_labels(volume, name, create=False)


def _open_plain(volume: Volume, path: Path, create: bool, dtype=LABELS_DTYPE):
    import zarr

    if path.exists():
        mode = "r+" if writable(path) else "r"
        try:
            return zarr.open_array(str(path), mode=mode), mode == "r"
        except Exception:  # a group, or not zarr
            raise LabelStoreError(
                f"{path} exists but is not a zarr labels array; choose a new folder name."
            ) from None
    if not create:
        return None
    array = zarr.create_array(
        str(path), shape=volume.shape, chunks=label_chunks(volume), dtype=dtype,
        fill_value=0, attributes={"napari_iog": {"image": str(volume.path or volume.name)}},
    )  # fmt: skip
    return array, False


def open_labels(
    volume: Volume,
    name: str = DEFAULT_NAME,
    path: str | os.PathLike | None = None,
    create: bool = True,
    dtype: DTypeLike = LABELS_DTYPE,
) -> LabelStore | None:
    """The :class:`LabelStore` of ``volume`` (see module doc for where it lives).

    ``dtype``: of a new store (unsigned). Returns None when it does not exist and ``create`` is
    False. Raises
    :class:`ReadOnlyStoreError` when it must be created in a read-only place, and
    :class:`LabelStoreError` for an existing store of another shape.
    """
    target = Path(path).expanduser() if path is not None else default_path(volume, name)
    in_image = path is None and volume.ome
    if create and not target.exists() and not writable(target.parent if not in_image else
                                                        volume.path):  # fmt: skip
        suggested = suggested_path(volume, name)
        raise ReadOnlyStoreError(
            f"'{volume.path or target.parent}' is read-only: the labels cannot be saved in it. "
            f"Save them elsewhere, e.g. {suggested} (choose a labels folder).",
            suggested,
        )
    if in_image:
        found = _open_ome_labels(volume, name, create, dtype)
    else:
        found = _open_plain(volume, target, create, dtype)
    if found is None:
        return None
    array, read_only = found
    _check_shape(array, volume, target)
    return _wrap(array, target, read_only)
