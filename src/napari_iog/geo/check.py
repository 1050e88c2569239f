"""Checks of an exported polygon set against the label image it came from (tests, benchmark).

Vertex error: the distance, in pixels, from an exported vertex (mapped back to pixel-edge
coordinates) to the nearest pixel corner on the boundary of its object's mask (a corner whose
four neighbouring pixels are not all inside or all outside). An exact vectorisation has 0; one
that traced pixel centres would have 0.5.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from napari_iog.geo.deps import require
from napari_iog.geo.georef import GeoReference

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry


def boundary_corners(mask: np.ndarray) -> np.ndarray:
    """Bool ``[H+1, W+1]``: pixel corner ``(i, j)`` (edge coordinates) lies on the boundary of
    ``mask [H, W]``."""
    p = np.pad(np.asarray(mask, dtype=bool), 1)
    a, b, c, d = p[:-1, :-1], p[:-1, 1:], p[1:, :-1], p[1:, 1:]
    inside = a & b & c & d
    outside = ~(a | b | c | d)
    return ~(inside | outside)


def vertex_errors(geometry: BaseGeometry, mask: np.ndarray, georef: GeoReference) -> np.ndarray:
    """Per-vertex error (px, float64) of ``geometry`` (in ``georef``'s coordinates) against
    ``mask [H, W]`` (see the module docstring). An upper bound of the distance to the boundary
    corners (exact when the vertex is within 0.5 px of one)."""
    shapely = require("shapely")
    from scipy.ndimage import distance_transform_edt

    xy = shapely.get_coordinates(geometry)
    row, col = georef.map_to_pixel(xy[:, 0], xy[:, 1])
    re, ce = row + 0.5, col + 0.5  # pixel-edge coordinates
    corners = boundary_corners(mask)
    if not corners.any():
        return np.full(len(xy), np.inf)
    dist = distance_transform_edt(~corners)
    ri = np.clip(np.rint(re).astype(np.int64), 0, corners.shape[0] - 1)
    ci = np.clip(np.rint(ce).astype(np.int64), 0, corners.shape[1] - 1)
    return np.hypot(re - ri, ce - ci) + dist[ri, ci]
