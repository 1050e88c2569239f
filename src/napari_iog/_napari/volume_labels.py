"""Labels layers backed by a chunked zarr labels store (``napari_iog.volumes``).

An image layer opened from an OME-Zarr / zarr folder carries its :class:`Volume` in
``layer.metadata[VOLUME_KEY]``. The annotator's new labels for such an image are a
:class:`LabelStore` on disk (``labels/iog`` inside the OME-Zarr when writable): napari's
``Labels.data_setitem`` and undo/redo write only the chunks that an edit's bounding box touches,
and the provenance JSON beside the store is rewritten (atomically) after every change, so closing
napari loses nothing. A read-only image store: a warning, then :func:`ask_labels_path` offers to
save the labels elsewhere (tests replace it).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from napari.layers import Image, Labels
from napari.utils.notifications import show_warning

from napari_iog._napari.provenance import FORMAT, KEY, export_json
from napari_iog.volumes import (
    DEFAULT_NAME,
    LabelStore,
    LabelStoreError,
    ReadOnlyStoreError,
    Volume,
    open_labels,
)

if TYPE_CHECKING:
    import napari
    from napari.layers import Layer

VOLUME_KEY = "napari_iog_volume"


def volume_of(image: Layer) -> Volume | None:
    """The :class:`Volume` an image layer was read from (None for in-memory images)."""
    vol = image.metadata.get(VOLUME_KEY) if isinstance(image, Image) else None
    return vol if isinstance(vol, Volume) else None


def store_of(labels: Layer) -> LabelStore | None:
    """The :class:`LabelStore` behind a Labels layer (None for in-memory labels)."""
    data = getattr(labels, "data", None)
    return data if isinstance(data, LabelStore) else None


def load_provenance(store: LabelStore) -> dict:
    """The provenance records beside ``store`` as a Labels ``metadata[KEY]`` dict."""
    try:
        doc = json.loads(Path(store.provenance).read_text(encoding="utf-8"))
        objects = list(doc.get("objects", []))
    except (OSError, ValueError, TypeError, AttributeError):
        objects = []
    from napari_iog import __version__

    return {"format": FORMAT, "plugin_version": __version__, "objects": objects}


def save_provenance(labels: Labels) -> Path | None:
    """Rewrite the provenance JSON beside the layer's store (atomic); None for other layers."""
    store = store_of(labels)
    if store is None or store.provenance is None or store.read_only:
        return None
    return export_json(labels, store.provenance)


_WATCHED: weakref.WeakSet = weakref.WeakSet()


def watch(labels: Labels) -> None:
    """Save the provenance after every edit of a zarr-backed ``labels`` layer (napari's paint
    event fires inside the edit, before the commit records it, so the save runs from the event
    loop). Once per layer; in-memory layers are left alone."""
    from qtpy.QtCore import QTimer

    if store_of(labels) is None or labels in _WATCHED:
        return
    _WATCHED.add(labels)
    pending = {"on": False}

    def save() -> None:
        pending["on"] = False
        save_provenance(labels)

    def on_paint(event=None) -> None:
        if not pending["on"]:
            pending["on"] = True
            QTimer.singleShot(0, save)

    labels.events.paint.connect(on_paint)


def labels_layer_kwargs(
    store: LabelStore, name: str, scale: Sequence[float], translate: Sequence[float]
) -> dict:
    """``add_labels`` keyword arguments for a store-backed layer."""
    return {
        "name": name,
        "scale": tuple(scale),
        "translate": tuple(translate),
        "metadata": {KEY: load_provenance(store)},
    }


def ask_labels_path(suggested: Path, message: str) -> Path | None:
    """Ask where to save the labels of a read-only image (a folder name ending .zarr);
    None when the user cancels."""
    from qtpy.QtWidgets import QFileDialog

    path, _ = QFileDialog.getSaveFileName(
        None, "Save the labels elsewhere (a new .zarr folder)", str(suggested), "zarr (*.zarr)"
    )
    return Path(path) if path else None


def _existing(viewer, store: LabelStore) -> Labels | None:
    for layer in viewer.layers:
        other = store_of(layer)
        if other is not None and other.path is not None and other.path == store.path:
            return layer
    return None


def _ask_elsewhere(volume: Volume, err: ReadOnlyStoreError | None, where) -> LabelStore:
    msg = str(err) if err else f"The labels at {where} are read-only."
    show_warning(msg)
    path = ask_labels_path(err.suggested if err else Path.cwd() / "labels.zarr", msg)
    if path is None:
        raise LabelStoreError(
            "No labels folder chosen: the image's store is read-only. Commit again and choose "
            "where to save the labels (a new .zarr folder)."
        )
    return open_labels(volume, path=path)


def make_volume_labels(viewer: napari.Viewer, image: Image, name: str) -> Labels:
    """The store-backed Labels layer of a volume image (an open one on the same store is
    reused). Raises LabelStoreError when no writable place is given."""
    volume = volume_of(image)
    try:
        store = open_labels(volume, DEFAULT_NAME)
        if store.read_only:
            store = _ask_elsewhere(volume, None, store.path)
    except ReadOnlyStoreError as err:
        store = _ask_elsewhere(volume, err, volume.path)
    layer = _existing(viewer, store)
    if layer is not None:
        return layer
    layer = viewer.add_labels(
        store, **labels_layer_kwargs(store, name, image.scale, image.translate)
    )
    watch(layer)
    return layer
