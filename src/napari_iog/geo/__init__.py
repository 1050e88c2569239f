"""Georeferenced images and vector files (napari-free; needs the ``[geo]`` extra at call time).

Importing this package is cheap: rasterio, pyogrio, shapely and pyproj are imported inside the
functions that use them, and a missing one raises :class:`GeoDependencyError` saying
``pip install 'napari-iog[geo]'``.

- :mod:`~napari_iog.geo.georef`: :class:`GeoReference` (CRS + affine), pixel ``(row, col)`` <->
  map ``(x, y)``; pixel-centre convention.
- :mod:`~napari_iog.geo.raster`: read a GeoTIFF's georeference / pixels; write a label GeoTIFF.
- :mod:`~napari_iog.geo.vectorize`: instance labels -> one polygon feature per id (exact), and
  features -> labels again (for checks).
- :mod:`~napari_iog.geo.vector_io`: write GeoJSON / GeoPackage; read any OGR vector file.
- :mod:`~napari_iog.geo.boxes`: vector footprints in any CRS -> inclusive pixel ``BBox`` es.
"""

from napari_iog.geo.deps import GeoDependencyError, GeoInputError
from napari_iog.geo.georef import GeoReference

__all__ = ["GeoDependencyError", "GeoInputError", "GeoReference"]
