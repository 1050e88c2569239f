"""GeoTIFF in and out through rasterio: the georeference of an image, its pixels, and instance
labels written back with the same georeference.

Arrays are row-major ``(row, col)``: ``[H, W]`` for one band, ``[H, W, C]`` for several (bands
last, as napari and the core want them).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from napari_iog.geo.deps import GeoInputError, NoCRSWarning, require
from napari_iog.geo.georef import GeoReference
from napari_iog.geo.output import atomic_output

LABEL_DTYPES = ("uint8", "uint16", "uint32", "int32", "int16", "int64", "uint64")


def _open(path):
    rasterio = require("rasterio")
    path = Path(path)
    if not path.is_file():
        raise GeoInputError(f"Image {str(path)!r} does not exist; give a GeoTIFF file.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            return rasterio.open(path)
    except rasterio.errors.RasterioIOError as err:
        raise GeoInputError(
            f"{path.name} cannot be read as a georeferenced raster ({str(err)[:120]}); give a "
            "GeoTIFF."
        ) from None


def _georef(ds) -> GeoReference:
    crs = ds.crs
    name = ""
    if crs:
        epsg = crs.to_epsg()
        name = f"EPSG:{epsg}" if epsg else crs.to_string()[:60]
    return GeoReference(tuple(ds.transform)[:6], crs.to_wkt() if crs else None,
                        (ds.height, ds.width), name)  # fmt: skip


def read_georeference(path: str | os.PathLike) -> GeoReference:
    """The CRS and affine transform of a raster file (GeoTIFF); ``crs`` is None when it has no
    CRS. Raises :class:`GeoInputError` for a missing or unreadable file."""
    with _open(path) as ds:
        return _georef(ds)


def crs_georeference(path: str | os.PathLike) -> GeoReference | None:
    """The georeference of ``path`` when it is a raster with a CRS; None for plain TIFFs,
    unreadable files and installs without the ``[geo]`` extra (one read of the header)."""
    try:
        ref = read_georeference(path)
    except (GeoInputError, ImportError):
        return None
    return ref if ref.has_crs else None


def _bands_last(data: np.ndarray) -> np.ndarray:
    return data[0] if data.shape[0] == 1 else np.moveaxis(data, 0, -1)


def read_raster(path: str | os.PathLike, lazy: bool | None = None) -> tuple:
    """The pixels (``[H, W]`` or ``[H, W, C]``, the file's dtype) and the georeference.

    ``lazy``: a dask array read window by window (chunks of ``LAZY_CHUNK`` px) instead of a numpy
    array; ``None`` (default) = lazy when the pixels exceed ``LAZY_BYTES``, so a city-sized
    orthophoto costs only the crops the predictor reads."""
    with _open(path) as ds:
        ref = _georef(ds)
        size = ds.count * ds.height * ds.width * np.dtype(ds.dtypes[0]).itemsize
        if not (size > LAZY_BYTES if lazy is None else lazy):
            return _bands_last(ds.read()), ref
        count, dtype = ds.count, np.dtype(ds.dtypes[0])
    return _lazy_pixels(Path(path), ref.shape, count, dtype), ref


LAZY_BYTES = 512 * 2**20
LAZY_CHUNK = 2048


def _lazy_pixels(path: Path, shape, count: int, dtype):
    import dask.array as da

    rasterio = require("rasterio")
    windows = require("rasterio.windows")

    def block(block_info=None):
        (r0, r1), (c0, c1) = block_info[None]["array-location"][:2]
        with rasterio.open(path) as ds:
            return _bands_last(ds.read(window=windows.Window(c0, r0, c1 - c0, r1 - r0)))

    chunks = [da.core.normalize_chunks(LAZY_CHUNK, (n,))[0] for n in shape]
    if count > 1:
        chunks.append((count,))
    return da.map_blocks(
        block, chunks=tuple(chunks), dtype=dtype, meta=np.empty((0,) * len(chunks), dtype)
    )


def write_label_geotiff(
    path: str | os.PathLike,
    labels: np.ndarray,
    georef: GeoReference,
    inputs: Iterable[str | os.PathLike] = (),
) -> Path:
    """Write instance labels ``[H, W]`` (integer ids, 0 = background) as a deflate GeoTIFF with
    ``georef``'s CRS and transform, atomically; ``path`` must not be one of ``inputs``.

    Without a CRS the file gets the transform only, and a :class:`NoCRSWarning`."""
    rasterio = require("rasterio")
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise GeoInputError(
            f"A label GeoTIFF holds one 2D plane; got shape {labels.shape}. Save one slice."
        )
    if tuple(labels.shape) != tuple(georef.shape):
        raise GeoInputError(
            f"Labels {labels.shape} and the georeferenced image {georef.shape} differ in size; "
            "use the labels made on that image."
        )
    if labels.dtype == bool:
        labels = labels.astype(np.uint8)
    if labels.dtype.name not in LABEL_DTYPES:
        raise GeoInputError(f"Labels must be integers, got {labels.dtype}.")
    if not georef.has_crs:
        warnings.warn(
            f"{Path(path).name}: the image has no CRS, so the label GeoTIFF has none either.",
            NoCRSWarning,
            stacklevel=2,
        )
    profile = {
        "driver": "GTiff", "height": labels.shape[0], "width": labels.shape[1], "count": 1,
        "dtype": labels.dtype.name, "transform": georef.affine(), "compress": "deflate",
        "crs": rasterio.crs.CRS.from_wkt(georef.crs) if georef.crs else None, "nodata": None,
    }  # fmt: skip
    if min(labels.shape) >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with atomic_output(path, inputs) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(tmp, "w", **profile) as ds:
                ds.write(labels, 1)
    return Path(path)
