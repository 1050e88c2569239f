"""npe2 reader for OME-Zarr and zarr folders: the image as a multiscale layer (lazy, level 0 =
full resolution) plus every labels store already saved for it (OME-Zarr ``labels/<name>``, or
the ``<stem>.iog-labels.zarr`` folder beside a plain zarr), backed by the store on disk."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from napari.utils.notifications import show_warning

from napari_iog._napari.layers import LABELS_NAME
from napari_iog._napari.volume_labels import VOLUME_KEY, labels_layer_kwargs
from napari_iog.volumes import (
    DEFAULT_NAME,
    LabelStoreError,
    Volume,
    VolumeError,
    default_path,
    open_labels,
    open_volume,
    writable,
)

_MARKERS = ("zarr.json", ".zgroup", ".zarray")


def napari_get_reader(
    path: str | os.PathLike | Sequence[str | os.PathLike],
) -> Callable[[str | os.PathLike | Sequence[str | os.PathLike]], list[tuple]] | None:
    """The reader for one zarr folder (None for anything else, so other readers get it)."""
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(str(path))
    if not p.is_dir() or not any((p / m).is_file() for m in _MARKERS):
        return None
    return read_zarr


def image_layer_data(volume: Volume) -> tuple:
    """``(data, kwargs, "image")`` of the volume: a multiscale list when it has levels."""
    data = list(volume.levels) if len(volume.levels) > 1 else volume.levels[0]
    kwargs = {
        "name": volume.name,
        "scale": volume.scale,
        "translate": volume.translate,
        "multiscale": len(volume.levels) > 1,
        "metadata": {VOLUME_KEY: volume},
    }
    if volume.dtype == np.uint8:  # no min/max pass over the data
        kwargs["contrast_limits"] = (0, 255)
    return data, kwargs, "image"


def labels_layer_data(volume: Volume) -> list[tuple]:
    """The saved labels of ``volume`` as store-backed labels layer tuples."""
    names = list(volume.labels)
    if not volume.ome and default_path(volume, DEFAULT_NAME).is_dir():
        names.append(DEFAULT_NAME)
    out = []
    for name in names:
        try:
            store = open_labels(volume, name, create=False)
        except LabelStoreError as err:
            show_warning(f"Labels '{name}' of {volume.path} not opened: {err}")
            continue
        if store is None:
            continue
        layer_name = LABELS_NAME if name == DEFAULT_NAME else name
        kw = labels_layer_kwargs(store, layer_name, volume.scale, volume.translate)
        if store.read_only:
            show_warning(
                f"'{volume.path}' is read-only: its labels '{name}' are shown read-only; the "
                "annotator asks where to save new labels."
            )
        out.append((store, kw, "labels"))
    return out


def volume_layer_data(volume: Volume) -> list[tuple]:
    """Image then labels layer tuples of an opened volume."""
    return [image_layer_data(volume), *labels_layer_data(volume)]


def read_zarr(path: str | os.PathLike | Sequence[str | os.PathLike]) -> list[tuple]:
    """Open ``path`` (a zarr / OME-Zarr folder); a bad store gives a warning and no layers."""
    if isinstance(path, (list, tuple)):
        path = path[0]
    try:
        volume = open_volume(path)
    except VolumeError as err:
        show_warning(str(err))
        return []
    if volume.path is not None and not writable(volume.path):
        show_warning(
            f"'{volume.path}' is read-only: it opens for viewing and annotating, and the first "
            "commit asks where to save the labels (a new .zarr folder elsewhere)."
        )
    return volume_layer_data(volume)
