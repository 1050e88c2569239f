"""The georeference of a 2D raster: its CRS and affine transform, as a small frozen record.

Convention (stated once, tested in ``tests/test_geo_georef.py``): pixel ``(row, col)`` indices
name pixel *centres*, as everywhere in the core. The affine ``transform = (a, b, c, d, e, f)`` is
GDAL/rasterio's, on pixel *edges*: the top-left corner of pixel ``(0, 0)`` is ``(c, f)`` and::

    x = a * (col + 0.5) + b * (row + 0.5) + c
    y = d * (col + 0.5) + e * (row + 0.5) + f      # the centre of pixel (row, col)

So :meth:`GeoReference.map_to_pixel` gives ``(0.0, 0.0)`` at the centre of the first pixel and
``(-0.5, -0.5)`` at its top-left corner. The record is plain data (JSON-able through
:meth:`~GeoReference.to_dict`, so it can live in a napari layer's metadata); only
:meth:`~GeoReference.affine` needs rasterio.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from napari_iog.geo.deps import GeoInputError, require

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from pyproj import CRS
    from rasterio.transform import Affine

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
METADATA_KEY = "georeference"  # key of GeoReference.to_dict() in a napari layer's metadata


@dataclass(frozen=True)
class GeoReference:
    """CRS + affine transform of a raster of ``shape = (H, W)`` pixels.

    - ``transform``: ``(a, b, c, d, e, f)`` on pixel edges (see the module docstring).
    - ``crs``: the CRS as WKT, or ``None`` when the file has none (coordinates are then only
      numbers: exports fall back to pixel coordinates with a warning).
    - ``crs_name``: a short name for messages (e.g. ``"EPSG:32616"``), informative only.
    """

    transform: tuple[float, float, float, float, float, float]
    crs: str | None
    shape: tuple[int, int]
    crs_name: str = ""

    def __post_init__(self):
        t = tuple(float(v) for v in self.transform)
        if len(t) != 6 or not np.all(np.isfinite(t)):
            raise GeoInputError(f"An affine transform needs 6 finite numbers, got {t}.")
        if abs(t[0] * t[4] - t[1] * t[3]) < 1e-300:
            raise GeoInputError(f"The affine transform {t} is singular (zero pixel size).")
        object.__setattr__(self, "transform", t)
        object.__setattr__(self, "shape", (int(self.shape[0]), int(self.shape[1])))

    @classmethod
    def pixel_grid(cls, shape: Sequence[int]) -> GeoReference:
        """Pixel coordinates, no CRS: ``x = col``, ``y = row`` on pixel edges (the image's
        top-left corner is ``(0, 0)``, the centre of pixel (0, 0) is ``(0.5, 0.5)``)."""
        return cls(IDENTITY, None, (int(shape[0]), int(shape[1])), "pixels")

    @property
    def has_crs(self) -> bool:
        return bool(self.crs)

    @property
    def pixel_size(self) -> tuple[float, float]:
        """Map length of one pixel step along ``(row, col)`` (absolute values)."""
        a, b, _, d, e, _ = self.transform
        return (float(np.hypot(b, e)), float(np.hypot(a, d)))

    def pixel_to_map(self, row: ArrayLike, col: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Map ``(x, y)`` of pixel-centre coordinates ``(row, col)`` (scalars or arrays)."""
        a, b, c, d, e, f = self.transform
        r = np.asarray(row, dtype=np.float64) + 0.5
        q = np.asarray(col, dtype=np.float64) + 0.5
        return a * q + b * r + c, d * q + e * r + f

    def map_to_pixel(self, x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Continuous pixel ``(row, col)`` (pixel-centre convention) of map ``(x, y)``."""
        a, b, c, d, e, f = self.transform
        det = a * e - b * d
        dx = np.asarray(x, dtype=np.float64) - c
        dy = np.asarray(y, dtype=np.float64) - f
        col_edge = (e * dx - b * dy) / det
        row_edge = (a * dy - d * dx) / det
        return row_edge - 0.5, col_edge - 0.5

    def affine(self) -> Affine:
        """The transform as a rasterio ``Affine`` (needs the ``[geo]`` extra)."""
        return require("rasterio.transform").Affine(*self.transform)

    def crs_object(self) -> CRS | None:
        """The CRS as a ``pyproj.CRS`` (``None`` without CRS)."""
        return require("pyproj").CRS.from_user_input(self.crs) if self.crs else None

    def to_dict(self) -> dict:
        """Plain, JSON-able form (for layer metadata and sidecar files)."""
        return {
            "transform": list(self.transform),
            "crs": self.crs,
            "crs_name": self.crs_name,
            "shape": list(self.shape),
            "convention": "transform on pixel edges; pixel (row, col) = centre",
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GeoReference:
        """Inverse of :meth:`to_dict`; :class:`GeoInputError` for a malformed record."""
        try:
            return cls(
                tuple(d["transform"]), d.get("crs") or None, tuple(d["shape"]),
                str(d.get("crs_name") or ""),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, GeoInputError):
                raise
            raise GeoInputError(
                f"Not a georeference record ({err}); it needs 'transform' (6 numbers), 'crs' "
                "and 'shape' [H, W]."
            ) from None
