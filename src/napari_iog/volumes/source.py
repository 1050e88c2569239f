"""Open an OME-Zarr (or plain zarr) image as its multiscale levels, lazily.

OME-Zarr groups are read with ``ome-zarr`` (its ``Reader``: the ``multiscales`` metadata, any
NGFF version it knows); plain zarr arrays and groups of arrays with ``zarr``. Nothing is loaded:
:class:`Volume` holds dask arrays, one per level, level 0 = full resolution.

Axes are in the store's order (e.g. ``(z, y, x)``); the last two are the image plane
``(row, col)``. ``factors[k]`` is how many level-0 pixels one level-``k`` pixel spans on each axis
(e.g. ``(1, 2, 2)``): the annotator crops only level 0 (see ``inference.image.NetworkImage``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from zarr.storage import LocalStore

LABELS_GROUP = "labels"  # OME-Zarr: image.zarr/labels/<name>


class VolumeError(ValueError):
    """A path that cannot be opened as an image volume; the message says what to do."""


@dataclass(frozen=True)
class Volume:
    """A lazily read image pyramid.

    - ``levels``: dask arrays, level 0 first, each of shape ``axes`` order (``[..., H, W]``).
    - ``factors``: per level, level-0 pixels per level pixel on each axis (level 0: all 1).
    - ``scale`` / ``translate``: physical pixel size and origin of level 0 per axis.
    - ``axes``: axis names (``("z", "y", "x")``; plain zarr: ``("dim_0", ...)``).
    - ``path``: the store folder; ``labels``: names of the OME-Zarr labels already in it.
    - ``ome``: True for an OME-Zarr image group (labels go into ``labels/<name>`` of it).
    - ``store``: the zarr store the levels were read from (for labels next to them).
    """

    levels: tuple
    factors: tuple[tuple[float, ...], ...]
    scale: tuple[float, ...]
    translate: tuple[float, ...]
    axes: tuple[str, ...]
    name: str
    path: Path | None
    labels: tuple[str, ...] = ()
    ome: bool = False
    ome_version: str | None = None
    store: object | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Level-0 shape ``[..., H, W]``."""
        return tuple(int(s) for s in self.levels[0].shape)

    @property
    def chunks(self) -> tuple[int, ...]:
        """Level-0 chunk shape (the first chunk of each axis)."""
        return tuple(int(c[0]) for c in self.levels[0].chunks)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.levels[0].dtype)


def _check_path(path) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise VolumeError(f"{str(path)!r} does not exist; give the folder of a zarr / OME-Zarr.")
    if not p.is_dir():
        raise VolumeError(
            f"{str(path)!r} is a file, not a zarr store: OME-Zarr and zarr images are folders "
            "(e.g. image.zarr). Open other images with napari's own readers."
        )
    return p


def _check_levels(levels, where: str) -> None:
    if not levels:
        raise VolumeError(f"{where} holds no image array; open the folder of an image.")
    first = levels[0]
    if first.ndim < 2:
        raise VolumeError(f"{where} is {first.ndim}D {first.shape}; an image needs >= 2 axes.")
    if np.dtype(first.dtype).kind not in "biuf":
        raise VolumeError(f"{where} has dtype {first.dtype}; an image needs numbers.")


def _factors(levels) -> tuple[tuple[float, ...], ...]:
    base = np.asarray(levels[0].shape, dtype=float)
    return tuple(tuple(float(v) for v in base / np.asarray(lv.shape, dtype=float)) for lv in levels)


def _ome_volume(path: Path, store) -> Volume | None:
    """The first multiscale image of an OME-Zarr at ``path`` (None when it is not one)."""
    from ome_zarr.io import ZarrLocation
    from ome_zarr.reader import Multiscales, Reader

    logging.getLogger("ome_zarr").setLevel(logging.ERROR)  # it warns about missing optional keys
    try:
        loc = ZarrLocation(store if store is not None else path, mode="r")
    except Exception:  # not zarr at all, or an unreadable metadata file
        return None
    if not loc.exists():
        return None
    for node in Reader(loc)():
        if not any(isinstance(s, Multiscales) for s in node.specs) or not node.data:
            continue
        if "image-label" in (node.zarr.root_attrs or {}):
            continue  # a labels image, not the raw data
        md = node.metadata
        levels = tuple(node.data)
        _check_levels(levels, str(path))
        axes = tuple(a["name"] if isinstance(a, dict) else str(a) for a in md.get("axes", []))
        scale = [1.0] * levels[0].ndim
        translate = [0.0] * levels[0].ndim
        for t in (md.get("coordinateTransformations") or [[]])[0]:
            if t.get("type") == "scale":
                scale = [float(v) for v in t["scale"]]
            elif t.get("type") == "translation":
                translate = [float(v) for v in t["translation"]]
        labels = _label_names(path, store)
        return Volume(
            levels=levels,
            factors=_factors(levels),
            scale=tuple(scale),
            translate=tuple(translate),
            axes=axes or tuple(f"dim_{i}" for i in range(levels[0].ndim)),
            name=str(md.get("name") or path.stem),
            path=path,
            labels=labels,
            ome=True,
            ome_version=str(loc.version),
            store=store,
        )
    return None


def _label_names(path: Path, store) -> tuple[str, ...]:
    import zarr

    try:
        group = zarr.open_group(store if store is not None else path, mode="r")
        attrs = dict(group[LABELS_GROUP].attrs)
    except Exception:  # no labels group: fine
        return ()
    names = attrs.get("ome", attrs).get("labels", [])
    return tuple(str(n) for n in names)


def _plain_volume(path: Path, store) -> Volume:
    import dask.array as da
    import zarr

    try:
        node = zarr.open(store if store is not None else path, mode="r")
    except Exception as err:
        raise VolumeError(
            f"{str(path)!r} is not a zarr store ({type(err).__name__}): pick the folder that "
            "holds zarr.json (zarr 3) or .zarray/.zgroup (zarr 2)."
        ) from None
    if isinstance(node, zarr.Array):
        arrays = [node]
    else:
        arrays = [a for _, a in sorted(node.arrays(), key=lambda kv: kv[0])]
        arrays.sort(key=lambda a: -int(np.prod(a.shape)))
        shapes = [a.shape for a in arrays]
        pyramid = all(
            len(b) == len(shapes[0]) and all(x <= y for x, y in zip(b, a))
            for a, b in zip(shapes, shapes[1:])
        )
        if len(arrays) > 1 and not pyramid:
            names = ", ".join(sorted(n for n, _ in node.arrays()))
            raise VolumeError(
                f"{str(path)!r} holds several unrelated arrays ({names}); open one of them "
                f"(e.g. {path / sorted(n for n, _ in node.arrays())[0]})."
            )
    levels = tuple(da.from_zarr(a) for a in arrays)
    _check_levels(levels, str(path))
    nd = levels[0].ndim
    return Volume(
        levels=levels,
        factors=_factors(levels),
        scale=(1.0,) * nd,
        translate=(0.0,) * nd,
        axes=tuple(f"dim_{i}" for i in range(nd)),
        name=path.stem,
        path=path,
        store=store,
    )


def open_volume(path: str | os.PathLike, store: LocalStore | None = None) -> Volume:
    """Open the image at ``path`` (a zarr folder) as a :class:`Volume`; nothing is read yet.

    ``store``: a zarr ``LocalStore`` of that folder to read through instead (e.g. one that makes
    chunks on read, :mod:`napari_iog.volumes.synthetic`). Raises :class:`VolumeError` for a path
    that is missing, a file, not zarr, empty, or a group of unrelated arrays.
    """
    p = _check_path(path)
    return _ome_volume(p, store) or _plain_volume(p, store)


def writable(path: str | os.PathLike) -> bool:
    """True when a store folder (or, if it does not exist yet, its nearest existing parent)
    accepts new files."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return os.access(p, os.W_OK | os.X_OK)
