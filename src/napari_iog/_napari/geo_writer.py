"""npe2 writers for Labels layers on georeferenced images: polygons (``.geojson`` / ``.gpkg``, one
feature per id with the object's provenance as attributes) and a georeferenced label TIFF (with
the provenance JSON beside it), in File > Save Selected Layer(s).

The georeference is, in order: the labels layer's own ``metadata['georeference']``; that of the
image layer its provenance names; the only georeferenced image layer of the labels' size in the
current viewer. An image layer is georeferenced when its metadata holds the record (a script
that used ``napari_iog.geo.raster.read_raster``) or when napari's own reader opened it from a
GeoTIFF with a CRS (read from ``layer.source.path``). Without one, polygons are written in pixel
coordinates with a warning and the TIFF without georeference (as the plain labels writer does).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from napari_iog._napari.provenance import KEY
from napari_iog.fileio import atomic_write_text, sidecar_path

if TYPE_CHECKING:
    from napari.layers import Layer
    from numpy.typing import ArrayLike

    from napari_iog.geo.georef import GeoReference


def _records(meta: dict) -> list[dict]:
    store = (meta.get("metadata") or {}).get(KEY)
    return list(store.get("objects", [])) if isinstance(store, dict) else []


def _image_layers() -> list:
    import napari

    viewer = napari.current_viewer()
    if viewer is None:
        return []
    return [layer for layer in viewer.layers if isinstance(layer, napari.layers.Image)]


def _open_files() -> list[str]:
    """Files the viewer's image layers were read from: a save never overwrites them."""
    return [str(layer.source.path) for layer in _image_layers() if layer.source.path]


def _source_georef(layer):
    """The georeference of the GeoTIFF an image layer was opened from, or ``None``."""
    from napari_iog.geo.georef import METADATA_KEY, GeoReference

    record = layer_metadata(layer).get(METADATA_KEY)
    return GeoReference.from_dict(record) if record else None


def layer_metadata(layer: Layer) -> dict:
    """``layer.metadata``, plus ``'georeference'`` when the layer was opened from a GeoTIFF with
    a CRS by napari's own reader (which keeps no CRS): the writers and the starter choice
    (``models.starters.image_domain``: georeferenced = aerial) see the same record. A plain
    TIFF, another format or no ``[geo]`` extra: the metadata as is."""
    from napari_iog.geo.georef import METADATA_KEY
    from napari_iog.geo.raster import crs_georeference

    meta = dict(layer.metadata or {})
    path = getattr(layer.source, "path", None)
    if METADATA_KEY in meta or not path or Path(str(path)).suffix.lower() not in (".tif", ".tiff"):
        return meta
    ref = crs_georeference(path)
    if ref is not None:
        meta[METADATA_KEY] = ref.to_dict()
    return meta


def _viewer_georef(shape, image_names):
    from napari_iog.geo.georef import METADATA_KEY, GeoReference

    found = []
    for layer in _image_layers():
        record = layer.metadata.get(METADATA_KEY)
        ref = GeoReference.from_dict(record) if record else _source_georef(layer)
        if ref is not None and ref.shape == tuple(shape[-2:]):
            found.append((layer.name in image_names, ref))
    named = [ref for hit, ref in found if hit]
    if named:
        return named[0]
    return found[0][1] if len(found) == 1 else None


def georef_of(shape: Sequence[int], meta: dict) -> GeoReference | None:
    """The :class:`~napari_iog.geo.GeoReference` of a labels layer (see the module docstring),
    or ``None``."""
    from napari_iog.geo.georef import METADATA_KEY, GeoReference

    record = (meta.get("metadata") or {}).get(METADATA_KEY)
    if record:
        return GeoReference.from_dict(record)
    names = {r.get("image") for r in _records(meta)}
    return _viewer_georef(shape, names)


def _plane(data) -> np.ndarray:
    arr = np.asarray(data)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(
            f"Polygons and georeferenced TIFFs hold one 2D plane; this labels layer has shape "
            f"{arr.shape}. Save it as a plain .tif, or copy one slice to its own Labels layer."
        )
    return arr


def _notify(caught) -> None:
    from napari.utils.notifications import show_warning

    for w in caught:
        show_warning(str(w.message))


def write_polygons(path: str, data: ArrayLike, meta: dict) -> list[str]:
    """Labels ``[H, W]`` (integer ids, 0 = background) -> ``path`` (.geojson / .gpkg) in the
    image CRS. Returns ``[path]``."""
    from napari_iog.geo.attributes import attributes_from_records
    from napari_iog.geo.georef import GeoReference
    from napari_iog.geo.vector_io import write_features
    from napari_iog.geo.vectorize import labels_to_features

    labels = _plane(data)
    ref = georef_of(labels.shape, meta) or GeoReference.pixel_grid(labels.shape)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        features = labels_to_features(labels, ref, attributes_from_records(_records(meta)))
        write_features(path, features, ref.crs if ref.has_crs else None, inputs=_open_files())
    _notify(caught)
    return [str(path)]


def write_geotiff(path: str, data: ArrayLike, meta: dict) -> list[str]:
    """Labels ``[H, W]`` (integer ids, 0 = background) -> a label GeoTIFF with the image's
    georeference, plus the provenance JSON beside it (as the plain writer). Without a
    georeference: the plain writer, warned."""
    from napari.utils.notifications import show_warning

    from napari_iog._napari.writer import write_labels
    from napari_iog.geo.raster import write_label_geotiff

    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        path = path.with_suffix(".tif")
    labels = _plane(data)
    ref = georef_of(labels.shape, meta)
    if ref is None:
        show_warning(
            "These labels belong to no georeferenced image (open the GeoTIFF in this viewer first): "
            "saved as a plain TIFF without georeference."
        )
        return write_labels(str(path), data, meta)
    write_label_geotiff(path, labels, ref, inputs=_open_files())
    written = [str(path)]
    store = (meta.get("metadata") or {}).get(KEY)
    if store:
        doc = {"plugin": "napari-iog", "labels_file": path.name, "labels_layer": meta.get("name"),
               "coordinate_order": "(row, col) pixels", "georeference": ref.to_dict(), **store}  # fmt: skip
        side = sidecar_path(path)
        atomic_write_text(side, json.dumps(doc, indent=1))
        written.append(str(side))
    return written
