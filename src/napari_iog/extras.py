"""Optional dependencies, each behind a pip extra, and the message a user gets without it.

| extra | packages | needed by |
|---|---|---|
| ``harvest`` | ``dask[distributed]``, ``pycocotools`` | ``napari-iog harvest``, the harvest widget (COCO RLE masks, dask clusters) |
| ``eval`` | ``matplotlib``, ``opencv-python-headless`` | the IoU-vs-clicks plot of ``napari-iog evaluate``, the GrabCut baseline |
| ``geo`` | ``rasterio``, ``pyogrio``, ``shapely``, ``pyproj`` | GeoTIFF georeference, polygon export, vector box files (``napari_iog.geo``) |
| ``all`` | all of them | |

:func:`require` imports a module of an extra or raises :class:`MissingExtraError`, an
``ImportError`` that is also a ``ValueError`` (the CLI prints it as one line) and says what to
install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: import name -> (pip package, extra)
PACKAGES: dict[str, tuple[str, str]] = {
    "distributed": ("dask[distributed]", "harvest"),
    "pycocotools": ("pycocotools", "harvest"),
    "matplotlib": ("matplotlib", "eval"),
    "cv2": ("opencv-python-headless", "eval"),
    "rasterio": ("rasterio", "geo"),
    "pyogrio": ("pyogrio", "geo"),
    "shapely": ("shapely", "geo"),
    "pyproj": ("pyproj", "geo"),
}


class MissingExtraError(ImportError, ValueError):
    """A feature needs an optional package that is not installed; the message says what to do."""


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` (e.g. ``"pycocotools.mask"``) for ``feature`` (e.g. ``"napari-iog
    harvest"``), or raise MissingExtraError naming the pip extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        if top not in PACKAGES or (err.name or "").split(".")[0] != top:
            raise  # a broken install of something else: keep the real error
        package, extra = PACKAGES[top]
        raise MissingExtraError(
            f"{feature} needs {package}, which is not installed. Install the {extra!r} extra: "
            f"pip install 'napari-iog[{extra}]' (or pip install '{package}')."
        ) from None


def available(module: str) -> bool:
    """True when ``module`` imports (an optional package is installed)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
