"""The preview layer: the current MaskResult as a cyan outline over its window only, and, on a
large image zoomed out, pooled to about one screen pixel per preview pixel.

napari draws a Labels contour with a grey erosion whose footprint grows with the contour width in
layer pixels, so a full-resolution preview of a 300-px object on a zoomed-out 8000x8000 tile cost
~2 s of GUI time (``benchmarks/ui_stall.py --large``); pooled, it costs a few ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from napari.layers import Image, Labels

from napari_iog._napari.layers import PREVIEW_NAME, layer_named

if TYPE_CHECKING:
    import napari

    from napari_iog.structures import MaskResult


def preview_step(viewer: napari.Viewer, image_scale: Sequence[float]) -> int:
    """Image pixels per preview pixel at the current zoom (1 when zoomed in)."""
    per_px = 1.0 / ((float(viewer.camera.zoom) or 1.0) * abs(float(image_scale[-1])) or 1.0)
    return max(1, int(per_px))


def pooled(mask: np.ndarray, step: int) -> np.ndarray:
    """bool ``mask`` ``[h, w]`` reduced by ``step`` (a block is on if any of its pixels is):
    ``[ceil(h / step), ceil(w / step)]``."""
    if step <= 1:
        return mask
    h, w = mask.shape
    padded = np.zeros((-(-h // step) * step, -(-w // step) * step), dtype=bool)
    padded[:h, :w] = mask
    return padded.reshape(padded.shape[0] // step, step, -1, step).any(axis=(1, 3))


def show_preview(
    viewer: napari.Viewer,
    image: Image,
    leading: tuple[int, ...],
    result: MaskResult | None,
    create: bool = False,
) -> Labels | None:
    """Show a MaskResult in the preview layer: only its window (cheap for huge images), placed
    on slice ``leading`` with the image's scale/translate. ``result=None`` empties it (and makes
    it for ``image`` only with ``create``)."""
    ndim, step = image.ndim, 1 if result is None else preview_step(viewer, image.scale)
    mask = np.zeros((1, 1), bool) if result is None else pooled(result.mask, step)
    data = mask.astype(np.uint8).reshape((1,) * (ndim - 2) + mask.shape)
    origin = (
        [0] * ndim if result is None else [*leading, *(o + (step - 1) / 2 for o in result.origin)]
    )
    scale = np.array(image.scale, dtype=float)  # a copy: scaled below for the pooled preview
    translate = np.asarray(image.translate, dtype=float) + scale * np.asarray(origin, dtype=float)
    scale[-2:] *= step
    layer = layer_named(viewer, PREVIEW_NAME, Labels)
    if result is None and not create and (layer is None or layer.ndim != ndim):
        if layer is not None:  # nothing to show: never add a layer just to empty it (this may
            viewer.layers.remove(layer)  # run inside a layer-list event, e.g. viewer.close())
        return None
    if layer is None or layer.ndim != ndim:
        if layer is not None:
            viewer.layers.remove(layer)
        layer = viewer.add_labels(data, name=PREVIEW_NAME, opacity=0.9, scale=scale)
        from napari.utils.colormaps import DirectLabelColormap

        # an outline, so the preview never looks like a committed (filled) label
        layer.colormap = DirectLabelColormap(
            color_dict={None: "transparent", 0: "transparent", 1: "cyan"}
        )
        layer.contour = 1  # overlays.fit_to_zoom makes it constant on screen
    layer.data = data  # small (pooled when zoomed out): the refreshes below stay cheap
    if not np.array_equal(layer.scale, scale):  # each assignment re-slices the layer
        ratio = float(layer.scale[-1]) / float(scale[-1])  # keep the contour's width on screen
        layer.contour = max(1, int(round(layer.contour * ratio)))
        layer.scale = scale
    if not np.array_equal(layer.translate, translate):
        layer.translate = translate
    return layer
