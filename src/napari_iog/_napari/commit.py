"""Commit masks into a napari Labels layer through ``Labels.data_setitem`` (undoable).

Every commit is ONE napari undo step (Ctrl+Z / Ctrl+Shift+Z): the pixels to write come from the
core's ``paste_labels`` (commit modes keep / overwrite / background); editing an existing id also
clears that id's pixels the new mask no longer covers, in the same step. Propagation commits many
slices as one step (``labels.block_history()``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from napari.layers import Image, Labels
from napari.utils.notifications import show_info

from napari_iog._napari.layers import LABELS_NAME, spatial_shape
from napari_iog._napari.volume_labels import make_volume_labels, store_of, volume_of
from napari_iog.inference.postprocess import COMMIT_MODES, paste_labels
from napari_iog.structures import MaskResult

if TYPE_CHECKING:
    import napari


class CommitError(ValueError):
    """A commit that cannot be done (no result, wrong labels shape); the message says what to do."""


LABEL_DTYPES = (np.uint8, np.uint16, np.uint32, np.uint64)


def make_labels_layer(viewer: napari.Viewer, image: Image, name: str = LABELS_NAME) -> Labels:
    """A new empty Labels layer matching ``image`` (spatial shape, scale, translate).

    It starts as uint8: napari shows uint8 / uint16 labels without re-casting the whole layer
    (wider dtypes are hashed into a texture on every refresh, seconds on 8000x8000 images);
    :func:`fit_dtype` widens it when an id outgrows the dtype. An image read from a zarr /
    OME-Zarr folder gets a uint16 labels store on disk instead (``volume_labels``). The labels of
    a GeoTIFF keep its georeference in their metadata (the georeferenced writers use it)."""
    if volume_of(image) is not None:
        return make_volume_labels(viewer, image, name)
    from napari_iog._napari.geo_writer import layer_metadata

    shape = spatial_shape(image)
    data = np.zeros(shape, dtype=LABEL_DTYPES[0])
    georef = layer_metadata(image).get("georeference")  # a GeoTIFF: saved georeferenced
    meta = {"georeference": georef} if georef else {}
    return viewer.add_labels(data, name=name, scale=image.scale, translate=image.translate,
                             metadata=meta)  # fmt: skip


def fit_dtype(labels: Labels, value: int) -> str | None:
    """Widen an unsigned ``labels`` layer (uint8 -> uint16 -> uint32 -> uint64) so it holds
    ``value``; its undo history is kept. Returns a message when it widened, else None (signed
    or already wide enough layers are left alone; values they cannot hold raise CommitError)."""
    dtype = np.dtype(labels.data.dtype)
    if dtype.kind not in "ui" or int(value) <= np.iinfo(dtype).max:
        return None
    wider = next((d for d in LABEL_DTYPES if np.iinfo(d).max >= int(value)), None)
    if dtype.kind != "u" or wider is None or labels.multiscale or store_of(labels) is not None:
        raise CommitError(
            f"Id {value} does not fit in '{labels.name}' ({dtype.name}): use a smaller id."
        )
    labels.data = np.asarray(labels.data).astype(wider)
    return (
        f"'{labels.name}' now holds ids above {np.iinfo(dtype).max}: widened from {dtype.name} "
        f"to {np.dtype(wider).name} (undo history kept)."
    )


def check_labels(labels: Labels, image: Image) -> None:
    """Raise :class:`CommitError` unless ``labels`` can hold objects of ``image``."""
    want = spatial_shape(image)
    got = tuple(int(s) for s in labels.data.shape)
    if labels.multiscale:
        raise CommitError(f"'{labels.name}' is multiscale; pick or create a plain Labels layer.")
    store = store_of(labels)
    if store is not None and store.read_only:
        raise CommitError(
            f"'{labels.name}' is read-only (its store {store.path} cannot be written): choose "
            "'<new labels layer>' to save the labels elsewhere."
        )
    if got != want:
        raise CommitError(
            f"Labels layer '{labels.name}' has shape {got} but image '{image.name}' has "
            f"{want}: pick a Labels layer of the image's shape or choose '<new labels layer>'."
        )


def next_id(labels: Labels) -> int:
    """The next free instance id (max + 1; 1 for an empty layer). A zarr-backed layer uses the
    largest id its store has seen (no full-volume scan)."""
    store = store_of(labels)
    if store is not None:
        return store.max_id + 1
    data = labels.data
    return int(np.max(data)) + 1 if data.size else 1


def _edit_indices(labels: Labels, leading, result: MaskResult, value: int, mode: str):
    edit = paste_labels(labels.data, result, value, mode, plane=leading if leading else None)
    return list(edit.index), edit.new_values


def _stale_indices(labels: Labels, leading, result: MaskResult, edit_id: int):
    """Pixels of ``edit_id`` on the plane that the new mask does not cover (to be cleared)."""
    plane = labels.data[tuple(leading)] if leading else labels.data
    rr, cc = np.nonzero(np.asarray(plane) == edit_id)
    if rr.size:
        keep = np.zeros(rr.shape, dtype=bool)
        (wr, wc) = result.window
        inside = (rr >= wr.start) & (rr < wr.stop) & (cc >= wc.start) & (cc < wc.stop)
        keep[inside] = result.mask[rr[inside] - wr.start, cc[inside] - wc.start]
        rr, cc = rr[~keep], cc[~keep]
    index = [np.full(rr.shape, p, dtype=np.intp) for p in leading] + [rr, cc]
    return index, np.zeros(rr.shape, dtype=labels.data.dtype)


def commit_result(
    labels: Labels,
    leading: tuple[int, ...],
    result: MaskResult | None,
    value: int,
    mode: str = "keep",
    edit_id: int | None = None,
) -> int:
    """Write ``result`` on slice ``leading`` of ``labels`` as ``value`` (one undo step).

    ``edit_id``: the object being edited; its pixels outside the new mask on this slice are set
    to 0 (only that id is touched). Returns the number of pixels changed.
    """
    if result is None or result.area == 0:
        raise CommitError("Nothing to commit: segment an object first (the preview is empty).")
    if mode not in COMMIT_MODES:
        raise CommitError(f"Unknown commit mode {mode!r}; choose one of {COMMIT_MODES}.")
    if labels.data.ndim != len(leading) + 2:
        raise CommitError(
            f"Labels layer '{labels.name}' has {labels.data.ndim} dims; the object lives on a "
            f"{len(leading) + 2}D image. Pick a Labels layer of the image's shape."
        )
    msg = fit_dtype(labels, int(value))
    if msg is not None:
        show_info(msg)
    try:
        index, values = _edit_indices(labels, leading, result, int(value), mode)
    except ValueError as err:
        raise CommitError(str(err)) from err
    if edit_id:
        s_index, s_values = _stale_indices(labels, leading, result, int(edit_id))
        index = [np.concatenate([a, b]) for a, b in zip(s_index, index)]
        values = np.concatenate([s_values, values.astype(labels.data.dtype)])
    n = int(values.size)
    if n:
        labels.data_setitem(tuple(index), values)
    return n


def commit_many(
    labels: Labels,
    items: Iterable[tuple[Sequence[int], MaskResult | None]],
    value: int,
    mode: str = "keep",
) -> int:
    """Commit ``[(leading, MaskResult), ...]`` as one undo step; returns pixels changed."""
    total = 0
    with labels.block_history():
        for leading, result in items:
            if result is not None and result.area:
                total += commit_result(labels, tuple(leading), result, value, mode)
    return total
