"""Vector files through pyogrio (GDAL/OGR): write polygon features as GeoJSON or GeoPackage, read
the geometries and CRS of any OGR vector file (GeoJSON, GeoPackage, Shapefile...).

Written files are in the CRS given (the image's; none for pixel coordinates) - GeoJSON keeps a
non-WGS84 CRS in its ``crs`` member, as GDAL writes it. Writes are atomic and never over an input.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_iog.geo.deps import GeoInputError, require
from napari_iog.geo.output import atomic_output
from napari_iog.geo.vectorize import Feature

DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".fgb", ".gml", ".kml")


def driver_for(path: str | os.PathLike) -> str:
    """The OGR driver that writes ``path`` (by suffix); :class:`GeoInputError` otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in DRIVERS:
        raise GeoInputError(
            f"{Path(path).name}: polygons are written as GeoJSON (.geojson) or GeoPackage "
            "(.gpkg); use one of these suffixes."
        )
    return DRIVERS[suffix]


def _column(values: list) -> np.ndarray:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, (bool, np.bool_)) for v in present):
        present = [int(v) for v in present]
    if present and len(present) == len(values):
        if all(isinstance(v, (int, np.integer)) for v in present):
            return np.asarray(values, dtype=np.int64)
        if all(isinstance(v, (int, float, np.number)) for v in present):
            return np.asarray(values, dtype=np.float64)
    if present and all(isinstance(v, (int, float, np.number)) for v in present):
        return np.asarray([np.nan if v is None else float(v) for v in values])
    return np.asarray([None if v is None else str(v) for v in values], dtype=object)


def write_features(
    path: str | os.PathLike,
    features: list[Feature],
    crs: str | None,
    inputs: Iterable[str | os.PathLike] = (),
    layer: str | None = None,
) -> Path:
    """Write ``features`` (one row each; geometry promoted to MultiPolygon) to ``path`` (.geojson
    or .gpkg) in ``crs`` (WKT; ``None`` = plain coordinates), atomically, never over ``inputs``."""
    raw = require("pyogrio.raw")
    shapely = require("shapely")
    driver = driver_for(path)
    if not features:
        raise GeoInputError("No object to write; commit objects before exporting polygons.")
    names = list(dict.fromkeys(k for f in features for k in f.properties))
    fields = [_column([f.properties.get(k) for f in features]) for k in names]
    geometry = shapely.to_wkb(np.asarray([f.geometry for f in features], dtype=object))
    with atomic_output(path, inputs) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's "not RFC 7946" notes
            raw.write(
                tmp, geometry, fields, names, driver=driver, geometry_type="MultiPolygon",
                promote_to_multi=True, crs=crs, layer=layer or Path(path).stem,
            )  # fmt: skip
    return Path(path)


@dataclass(frozen=True)
class VectorData:
    """The features of a vector file: ``geometries`` (shapely objects, ``None`` for empty rows),
    ``crs`` (WKT or ``None`` when the file has none), ``fields`` (name -> array) and ``layer``."""

    geometries: list
    crs: str | None
    fields: dict
    layer: str


def read_vector(path: str | os.PathLike) -> VectorData:
    """Read the first layer of an OGR vector file. :class:`GeoInputError` when it is missing or
    unreadable."""
    pyogrio = require("pyogrio")
    shapely = require("shapely")
    path = Path(path)
    if not path.is_file():
        raise GeoInputError(f"Vector file {str(path)!r} does not exist.")
    try:
        layers = pyogrio.list_layers(path)
        layer = str(layers[0][0]) if len(layers) else None
        meta, _, geometry, field_data = pyogrio.raw.read(path, layer=layer)
    except Exception as err:  # GDAL raises several types; the user needs the file and why
        raise GeoInputError(
            f"{path.name} cannot be read as a vector file ({type(err).__name__}: "
            f"{str(err)[:120]}). Give GeoJSON, GeoPackage or a Shapefile."
        ) from None
    if len(layers) > 1:
        warnings.warn(f"{path.name} has {len(layers)} layers; using the first, {layer!r}.",
                      UserWarning, stacklevel=2)  # fmt: skip
    geoms = [] if geometry is None else list(shapely.from_wkb(geometry))
    fields = {str(n): a for n, a in zip(meta["fields"], field_data)}
    return VectorData(geoms, _wkt(meta.get("crs")), fields, layer or path.stem)


def _wkt(crs) -> str | None:
    if not crs:
        return None
    return require("pyproj").CRS.from_user_input(crs).to_wkt()
