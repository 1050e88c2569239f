"""Image volumes on disk (OME-Zarr / zarr): lazy multiscale reading, a chunked zarr labels store
written chunk by chunk, and the provenance beside it. napari-free (see ``_napari/volume_*``)."""

from napari_iog.volumes.labels_open import (
    DEFAULT_NAME,
    ReadOnlyStoreError,
    default_path,
    label_chunks,
    open_labels,
    suggested_path,
)
from napari_iog.volumes.labels_store import LabelStore, LabelStoreError
from napari_iog.volumes.source import Volume, VolumeError, open_volume, writable

__all__ = [
    "DEFAULT_NAME",
    "LabelStore",
    "LabelStoreError",
    "ReadOnlyStoreError",
    "Volume",
    "VolumeError",
    "default_path",
    "label_chunks",
    "open_labels",
    "open_volume",
    "suggested_path",
    "writable",
]
