"""The ``[geo]`` extra: lazy imports of rasterio / pyogrio / shapely / pyproj through the one
optional-dependency mechanism (:mod:`napari_iog.extras`: a missing one raises
:class:`GeoDependencyError` saying ``pip install 'napari-iog[geo]'``), the error type for unusable
geo inputs and the no-CRS warning."""

from __future__ import annotations

from types import ModuleType

from napari_iog.extras import MissingExtraError

FEATURE = "Georeferenced images and vector files"
GeoDependencyError = MissingExtraError  # an ImportError and a ValueError (one CLI line)


class GeoInputError(ValueError):
    """A georeferenced image or vector file that cannot be used (no CRS, unreadable, wrong
    shape); the message says what to give instead."""


class NoCRSWarning(UserWarning):
    """The image has no CRS: coordinates written are pixel coordinates, not map coordinates."""


def require(name: str) -> ModuleType:
    """Import ``name`` (e.g. ``"rasterio.features"``) or raise :class:`GeoDependencyError`."""
    from napari_iog.extras import require as require_extra

    return require_extra(name, FEATURE)
