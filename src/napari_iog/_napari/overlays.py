"""What the annotator draws over the image, at a constant size on screen.

Prompt markers, the box outline and the preview contour are sized in *screen* pixels, not image
pixels: on an 8000x8000 tile a marker must not hide a 50-px building, and on a 1024x1024 EM
slice it must not cover a mitochondrion. Points use napari's ``canvas_size_limits`` (both
limits equal: a fixed on-screen size whatever the zoom); the box edge width (Shapes) and the
preview contour (Labels, whole image pixels) follow ``viewer.camera.events.zoom``.

Two corner clicks also get a box outline between them (a rectangle flagged as derived in the
box Shapes layer; :func:`~napari_iog._napari.layers.read_box` ignores it, so the clicks stay
the prompt and removing one removes the outline).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from napari.layers import Image, Labels, Points, Shapes

from napari_iog._napari.layers import DERIVED, pixel_to_world
from napari_iog.structures import BBox

if TYPE_CHECKING:
    import napari
    from napari.layers import Layer

MARKER_PX = 10.0  # prompt marker diameter on screen
BOX_PX = 2.0  # box outline width on screen
CONTOUR_PX = 2.0  # preview contour width on screen (at least one image pixel)


def data_per_screen_px(viewer: napari.Viewer, image: Image) -> float:
    """Image pixels (along the columns) covered by one screen pixel at the current zoom."""
    zoom = float(viewer.camera.zoom) or 1.0
    return 1.0 / (zoom * abs(float(image.scale[-1])) or 1.0)


def style_points(points: Points) -> None:
    """Fix the markers' size on screen (napari clamps the drawn size to the limits)."""
    points.canvas_size_limits = (MARKER_PX, MARKER_PX)


def fit_to_zoom(
    viewer: napari.Viewer,
    image: Image,
    points: Points | None,
    box: Shapes | None,
    preview: Layer | None,
) -> None:
    """Set marker size (used to pick points), box edge width and preview contour for the
    current zoom so that they measure MARKER_PX, BOX_PX and CONTOUR_PX on screen."""
    per_px = data_per_screen_px(viewer, image)
    if points is not None:
        style_points(points)
        size = MARKER_PX * per_px
        if not np.isclose(float(points.current_size), size, rtol=0.02):
            points.current_size = size
            if len(points.data):
                points.size = size
    if box is not None:
        width = BOX_PX * per_px
        if not np.isclose(float(box.current_edge_width), width, rtol=0.02):
            box.current_edge_width = width
            if len(box.data):
                box.edge_width = width
    if isinstance(preview, Labels):  # per preview pixel (coarser than the image when zoomed out)
        per_prev = per_px * abs(float(image.scale[-1]) / float(preview.scale[-1]))
        contour = max(1, int(round(CONTOUR_PX * per_prev)))
        if preview.contour != contour:
            preview.contour = contour


def show_corner_box(shapes: Shapes, image: Image, leading: Sequence[int], box: BBox | None) -> None:
    """Show ``box`` (the box spanned by two corner clicks) as a derived outline in ``shapes``,
    replacing the previous one; ``None`` removes it. Does not emit ``shapes.events.data``."""
    if DERIVED not in shapes.features or len(shapes.features) != len(shapes.data):
        shapes.features = {DERIVED: np.zeros(len(shapes.data), dtype=bool)}
    flags = np.asarray(shapes.features[DERIVED], dtype=bool)
    old = [i for i, f in enumerate(flags) if f]
    if box is not None and len(old) == 1:
        verts = np.asarray(shapes.data[old[0]])
        if np.allclose(verts, _corners(shapes, image, leading, box)):
            return  # unchanged
    with shapes.events.data.blocker():
        if old:
            shapes.selected_data = set(old)
            shapes.remove_selected()
        if box is not None:
            shapes.feature_defaults = {DERIVED: True}
            shapes.add_rectangles(
                _corners(shapes, image, leading, box),
                edge_color="orange",
                face_color="transparent",
                edge_width=shapes.current_edge_width,
            )
            shapes.feature_defaults = {DERIVED: False}
    shapes.refresh()


def _corners(shapes: Shapes, image: Image, leading, box: BBox) -> np.ndarray:
    corners = [
        (box.row0, box.col0),
        (box.row0, box.col1),
        (box.row1, box.col1),
        (box.row1, box.col0),
    ]
    return np.array(
        [shapes.world_to_data(pixel_to_world(image, leading, r, c)) for r, c in corners]
    )
