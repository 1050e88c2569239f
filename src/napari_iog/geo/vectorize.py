"""Instance labels -> polygons, one feature per id, and polygons -> labels again.

Exact by construction: :func:`labels_to_features` traces the pixel-square outlines of each id
(``rasterio.features.shapes``, GDAL's polygonize, 4-connected), so every vertex is a pixel corner
of the mask boundary, holes are interior rings, and touching objects share edges. Rasterising
the features on the same grid (:func:`features_to_labels`, pixel-centre rule) gives the labels
back pixel for pixel. A region of an id that is not 4-connected to the rest becomes one more
polygon of the same (Multi)Polygon feature.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from napari_iog.geo.deps import GeoInputError, NoCRSWarning, require
from napari_iog.geo.georef import GeoReference

if TYPE_CHECKING:
    from numpy.typing import DTypeLike
    from shapely.geometry.base import BaseGeometry

MAX_ID = 2**31 - 1  # polygonize works on int32


@dataclass(frozen=True)
class Feature:
    """One object: its label ``id``, a shapely (Multi)Polygon in the output coordinates and
    its attributes (``id`` and ``pixels`` first, then the provenance fields)."""

    id: int
    geometry: object
    properties: dict = field(default_factory=dict)


def output_grid(georef: GeoReference, what: str = "the image") -> GeoReference:
    """``georef`` itself when it has a CRS; else the pixel grid (``x = col``, ``y = row`` on pixel
    edges) with a :class:`NoCRSWarning` saying so."""
    if georef.has_crs:
        return georef
    warnings.warn(
        f"{what} has no CRS: polygons are written in pixel coordinates (x = column, y = row, "
        "pixel edges, origin at the top-left corner of the image), not map coordinates. Give a "
        "georeferenced GeoTIFF (--image) for map coordinates.",
        NoCRSWarning,
        stacklevel=3,
    )
    return GeoReference.pixel_grid(georef.shape)


def _as_int32(labels) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise GeoInputError(
            f"Polygons are made from one 2D label plane; got shape {labels.shape}. Export one "
            "slice at a time."
        )
    if labels.dtype == bool:
        return labels.astype(np.int32)
    if labels.dtype.kind not in "iu":
        raise GeoInputError(f"Labels must be integer ids (0 = background), got {labels.dtype}.")
    if labels.size and (int(labels.max()) > MAX_ID or int(labels.min()) < 0):
        raise GeoInputError(
            f"Label ids must be in 0..{MAX_ID}; got {int(labels.min())}..{int(labels.max())}. "
            "Relabel the objects (e.g. skimage.segmentation.relabel_sequential)."
        )
    return labels.astype(np.int32, copy=False)


def labels_to_features(
    labels: np.ndarray,
    georef: GeoReference,
    attributes: Mapping[int, Mapping] | None = None,
) -> list[Feature]:
    """One :class:`Feature` per nonzero id of ``labels [H, W]`` (sorted by id), in ``georef``'s
    coordinates (pixel coordinates, with a :class:`NoCRSWarning`, when it has no CRS).

    ``attributes``: optional extra properties per id (e.g. provenance; see
    :mod:`napari_iog.geo.attributes`). Raises :class:`GeoInputError` for non-2D, non-integer or
    mis-sized labels, and for labels with no object (nothing to export)."""
    features_mod = require("rasterio.features")
    shapely_geometry = require("shapely.geometry")
    data = _as_int32(labels)
    if tuple(data.shape) != tuple(georef.shape):
        raise GeoInputError(
            f"Labels {data.shape} and the image {georef.shape} differ in size; export labels "
            "made on that image."
        )
    ids, counts = np.unique(data[data != 0], return_counts=True)
    if ids.size == 0:
        raise GeoInputError("The labels hold no object (all 0); there is nothing to export.")
    grid = output_grid(georef)
    parts: dict[int, list] = {int(i): [] for i in ids}
    for geom, value in features_mod.shapes(
        data, mask=data != 0, connectivity=4, transform=grid.affine()
    ):
        parts[int(value)].append(shapely_geometry.shape(geom))
    attributes = attributes or {}
    out = []
    for i, n in zip(ids.tolist(), counts.tolist()):
        polys = parts[i]
        geometry = polys[0] if len(polys) == 1 else shapely_geometry.MultiPolygon(polys)
        props = {"id": int(i), "pixels": int(n), **dict(attributes.get(int(i), {}))}
        out.append(Feature(int(i), geometry, props))
    return out


def features_to_labels(
    geometries: Iterable[BaseGeometry | None],
    ids: Iterable[int],
    georef: GeoReference,
    dtype: DTypeLike = np.int32,
) -> np.ndarray:
    """Rasterise ``geometries`` (shapely, in ``georef``'s coordinates) with values ``ids`` onto
    the ``[H, W]`` grid of ``georef`` (a pixel is in when its centre is; later ones win)."""
    features_mod = require("rasterio.features")
    shapes = [(g, int(v)) for g, v in zip(geometries, ids) if g is not None and not g.is_empty]
    if not shapes:
        return np.zeros(georef.shape, dtype=dtype)
    return features_mod.rasterize(
        shapes, out_shape=georef.shape, transform=georef.affine(), fill=0, dtype=dtype,
        all_touched=False,
    )  # fmt: skip
