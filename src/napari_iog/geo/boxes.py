"""Footprints or boxes in a vector file (any CRS) -> pixel boxes on a georeferenced image.

Each feature's vertices are reprojected from the file's CRS to the image's (pyproj, ``always_xy``)
and mapped to pixel *edge* coordinates with the image's affine transform; the feature's box is
the range of its vertices, returned in COCO order ``(x, y, w, h)`` on pixel edges (x = column,
y = row), the convention of the harvest box files, so ``harvest.sources.xywh_to_bbox`` turns it
into an inclusive ``BBox``. Coordinates are rounded to 1e-6 px so that a footprint reprojected
to another CRS and back gives the same box. The box is that of the vertices: with very long edges
across a strongly curved projection the true curve may bulge past it (not the case for building
footprints).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from napari_iog.geo.deps import GeoInputError, require
from napari_iog.geo.georef import GeoReference
from napari_iog.geo.vector_io import read_vector

DECIMALS = 6  # px


@dataclass(frozen=True)
class VectorBox:
    """Feature ``number`` (1-based, file order) -> ``xywh`` on pixel edges, or ``None`` with a
    ``reason`` when the feature has no usable geometry."""

    number: int
    xywh: tuple[float, float, float, float] | None
    reason: str = ""


def _transformer(src_wkt: str, georef: GeoReference, name: str):
    pyproj = require("pyproj")
    src = pyproj.CRS.from_user_input(src_wkt)
    dst = georef.crs_object()
    if src == dst:
        return None
    try:
        return pyproj.Transformer.from_crs(src, dst, always_xy=True)
    except pyproj.exceptions.ProjError as err:
        raise GeoInputError(
            f"{name}: cannot reproject from {src.name!r} to the image CRS {dst.name!r} ({err})."
        ) from None


def vector_boxes(path: str | os.PathLike, georef: GeoReference) -> list[VectorBox]:
    """The pixel box of every feature of the vector file ``path`` on the image of ``georef``.

    Refused (:class:`GeoInputError`): a vector file without CRS (it cannot be placed), an image
    without CRS, a file that cannot be read. Boxes outside the image are returned as they are
    (the harvest lists them as "box outside image")."""
    shapely = require("shapely")
    data = read_vector(path)
    name = os.path.basename(str(path))
    if data.crs is None:
        raise GeoInputError(
            f"{name} has no CRS, so its coordinates cannot be placed on the image. Save it with "
            "its CRS (e.g. ogr2ogr -a_srs EPSG:32616 fixed.gpkg in.gpkg) and try again."
        )
    if not georef.has_crs:
        raise GeoInputError(
            f"The image has no CRS, so the map coordinates of {name} cannot be placed on it. "
            "Give the georeferenced GeoTIFF, or pixel boxes as COCO JSON / CSV."
        )
    if not data.geometries:
        raise GeoInputError(f"{name} has no features; give the file with the footprints.")
    transformer = _transformer(data.crs, georef, name)
    out = []
    for number, geom in enumerate(data.geometries, start=1):
        if geom is None or geom.is_empty:
            out.append(VectorBox(number, None, "empty geometry"))
            continue
        xy = shapely.get_coordinates(geom)
        if transformer is not None:
            x, y = transformer.transform(xy[:, 0], xy[:, 1])
            xy = np.column_stack([x, y])
        if not np.all(np.isfinite(xy)):
            out.append(VectorBox(number, None, "coordinates outside the image CRS"))
            continue
        row, col = georef.map_to_pixel(xy[:, 0], xy[:, 1])
        row = np.round(row + 0.5, DECIMALS)  # pixel-centre -> pixel-edge coordinates
        col = np.round(col + 0.5, DECIMALS)
        x0, y0 = float(col.min()), float(row.min())
        out.append(VectorBox(number, (x0, y0, float(col.max()) - x0, float(row.max()) - y0)))
    return out
