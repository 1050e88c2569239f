"""napari layers <-> core structures: the ONE place that converts coordinates.

World coordinates (napari, with scale/translate) become image *data* coordinates through the
image layer's own transform; the last two data axes are the 2D plane ``(row, col)``; the leading
axes (Z, T, C...) form the ``leading`` index tuple of the plane (the current slice). RGB(A) images
keep their colour axis last (napari's ``layer.ndim`` excludes it).

Plugin layers have fixed names and are reused when present; they copy the image's scale and
translate so that clicks land on the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from napari.layers import Image, Layer, Points, Shapes

from napari_iog.structures import BBox, Click, Prompt

if TYPE_CHECKING:
    import napari
    from numpy.typing import ArrayLike

POINTS_NAME = "IOG points"
BOX_NAME = "IOG box"
PREVIEW_NAME = "IOG preview"
LABELS_NAME = "IOG labels"
REPLAY_NAME = "IOG replay preview"
PLUGIN_LAYERS = (POINTS_NAME, BOX_NAME, PREVIEW_NAME, REPLAY_NAME)

DERIVED = "corner_box"  # Shapes feature: True for the outline drawn between two corner clicks
ROLES = ("outside", "inside", "positive", "negative")
ROLE_COLORS = {"outside": "orange", "inside": "yellow", "positive": "lime", "negative": "red"}


class LayerError(ValueError):
    """A layer that cannot be used as asked; the message says what to do."""


@dataclass(frozen=True)
class PlacedPoint:
    """A prompt point in image pixels: ``role`` in ROLES, ``leading`` = slice index tuple."""

    role: str
    leading: tuple[int, ...]
    row: float
    col: float


def world_to_pixel(image: Image, world: ArrayLike) -> tuple[tuple[int, ...], float, float]:
    """World position (any length >= image.ndim) -> (leading slice index, row, col) of ``image``."""
    data = np.asarray(image.world_to_data(np.asarray(world, dtype=float)), dtype=float)
    data = np.round(data, 6)  # drop float noise of scale/translate round trips (19.999999 -> 20)
    leading = tuple(int(round(v)) for v in data[:-2])
    return leading, float(data[-2]), float(data[-1])


def pixel_to_world(image: Image, leading: tuple[int, ...], row: float, col: float) -> np.ndarray:
    """Inverse of :func:`world_to_pixel` (world coordinates of length ``image.ndim``)."""
    return np.asarray(image.data_to_world([*leading, row, col]), dtype=float)


def current_leading(viewer: napari.Viewer, image: Image) -> tuple[int, ...]:
    """Slice index (leading data axes) of ``image`` shown at the viewer's current dims point,
    clipped to the image's extent."""
    leading, _, _ = world_to_pixel(image, viewer.dims.point)
    shape = spatial_shape(image)
    return tuple(int(min(max(v, 0), n - 1)) for v, n in zip(leading, shape[:-2]))


def spatial_shape(image: Image) -> tuple[int, ...]:
    """Shape of the image without the RGB(A) axis (level 0 of a multiscale image)."""
    data = image.data[0] if image.multiscale else image.data
    shape = tuple(int(s) for s in data.shape)
    return shape[:-1] if image.rgb else shape


def plane(image: Image, leading: tuple[int, ...]) -> ArrayLike:
    """The 2D plane ``[H, W]`` or ``[H, W, 3|4]`` at ``leading`` (a view or lazy array slice)."""
    data = image.data[0] if image.multiscale else image.data
    return data[tuple(leading)] if leading else data


def image_warnings(viewer: napari.Viewer, image: Image) -> list[str]:
    """Problems worth telling the user before annotating ``image`` (empty list when fine)."""
    msgs = []
    shape = spatial_shape(image)
    if len(shape) < 2:
        msgs.append(f"'{image.name}' is 1D {shape}; the annotator needs a 2D image or a stack.")
    if not image.rgb and len(shape) >= 3 and shape[-1] in (3, 4):
        msgs.append(
            f"'{image.name}' has shape {shape}: its last axis looks like colour channels but the "
            "layer is not RGB. Re-open it as RGB (rgb=True) or move channels to the front."
        )
    if not image.rgb and len(shape) == 3 and shape[0] in (3, 4) and min(shape[1:]) > 16:
        msgs.append(
            f"'{image.name}' has shape {shape}: if these are colour channels first, napari shows "
            "them as a stack of single-channel slices and each is segmented alone. For colour, "
            "open it channels-last as RGB (np.moveaxis(data, 0, -1), rgb=True)."
        )
    if (
        viewer.dims.ndisplay != 2
        or tuple(viewer.dims.displayed) != tuple(range(viewer.dims.ndim))[-2:]
    ):
        msgs.append(
            "The viewer shows other axes than the image's last two (3D view, rolled or transposed "
            "axes): switch to 2D view and restore the default axis order to annotate."
        )
    return msgs


def layer_named(viewer: napari.Viewer, name: str, kind: type) -> Layer | None:
    layer = viewer.layers[name] if name in viewer.layers else None
    return layer if isinstance(layer, kind) else None


def _reusable(viewer, name, kind, ndim):
    """The plugin layer ``name`` if present with ``ndim`` dimensions; one of another ndim is
    renamed "(ND, old)" (kept, never deleted) and None returned so a fresh one is made."""
    layer = layer_named(viewer, name, kind)
    if layer is not None and layer.ndim != ndim:
        layer.name = f"{name} ({layer.ndim}D, old)"
        return None
    return layer


def _place_like(layer, image: Image) -> None:
    layer.scale = image.scale
    layer.translate = image.translate


def get_points_layer(viewer: napari.Viewer, image: Image) -> Points:
    """The plugin's Points layer (reused if present and of the image's ndim, else created)."""
    layer = _reusable(viewer, POINTS_NAME, Points, image.ndim)
    if layer is None:
        layer = viewer.add_points(
            np.empty((0, image.ndim)),
            name=POINTS_NAME,
            features={"role": np.array([], dtype=object)},
            border_width=0.1,
        )  # sizes: overlays.fit_to_zoom (constant on screen)
        layer.feature_defaults = {"role": "outside"}
    _place_like(layer, image)
    return layer


def get_box_layer(viewer: napari.Viewer, image: Image) -> Shapes:
    """The plugin's Shapes layer for box prompts (rectangles; reused if present)."""
    layer = _reusable(viewer, BOX_NAME, Shapes, image.ndim)
    if layer is None:
        layer = viewer.add_shapes(
            ndim=image.ndim, name=BOX_NAME, face_color="transparent", edge_color="orange"
        )
    _place_like(layer, image)
    return layer


def set_next_role(points: Points, role: str) -> None:
    """Role and colour that the next click in ``points`` will get."""
    points.feature_defaults = {"role": role}
    points.current_face_color = ROLE_COLORS[role]


def read_points(points: Points, image: Image) -> list[PlacedPoint]:
    """All points of the layer as image pixels, in insertion order."""
    roles = points.features["role"] if "role" in points.features else [None] * len(points.data)
    out = []
    for coords, role in zip(points.data, roles):
        world = points.data_to_world(coords)
        leading, r, c = world_to_pixel(image, world)
        out.append(PlacedPoint(str(role) if role in ROLES else "positive", leading, r, c))
    return out


def _drawn(shapes: Shapes) -> list[bool]:
    """Per shape: drawn by the user (or restored from a prompt), not a derived corner outline."""
    if DERIVED not in shapes.features or len(shapes.features) != len(shapes.data):
        return [True] * len(shapes.data)
    return [not bool(f) for f in shapes.features[DERIVED]]


def read_box(shapes: Shapes, image: Image, leading: tuple[int, ...]) -> BBox | None:
    """The last rectangle drawn on slice ``leading`` as an inclusive pixel box (None if none)."""
    box = None
    for verts, kind, drawn in zip(shapes.data, shapes.shape_type, _drawn(shapes)):
        if kind != "rectangle" or not drawn:
            continue
        pix = [world_to_pixel(image, shapes.data_to_world(v)) for v in verts]
        if any(p[0] != leading for p in pix):
            continue
        rows = [p[1] for p in pix]
        cols = [p[2] for p in pix]
        box = BBox.from_corners((min(rows), min(cols)), (max(rows), max(cols)))
    return box


def last_rect_leading(shapes: Shapes, image: Image) -> tuple[int, ...] | None:
    """Slice index of the last rectangle in ``shapes`` (None when there is none)."""
    rows = zip(reversed(shapes.data), reversed(shapes.shape_type), reversed(_drawn(shapes)))
    for verts, kind, drawn in rows:
        if kind == "rectangle" and drawn:
            return world_to_pixel(image, shapes.data_to_world(verts[0]))[0]
    return None


def write_prompt(
    points: Points, shapes: Shapes, image: Image, leading: tuple[int, ...], prompt: Prompt | None
) -> None:
    """Show ``prompt`` in the layers: a rectangle for its box, points for inside/corrections."""
    with points.events.data.blocker(), shapes.events.data.blocker():
        shapes.data = []
        shapes.features = {DERIVED: np.zeros(0, dtype=bool)}  # napari keeps stale rows
        points.data = np.empty((0, image.ndim))
        if prompt is None:
            return
        b = prompt.box
        corners = [(b.row0, b.col0), (b.row0, b.col1), (b.row1, b.col1), (b.row1, b.col0)]
        verts = [shapes.world_to_data(pixel_to_world(image, leading, r, c)) for r, c in corners]
        shapes.add_rectangles(np.array(verts), edge_color="orange", face_color="transparent")
        clicks = [("inside", prompt.inside)] if prompt.inside is not None else []
        clicks += [("positive" if c.positive else "negative", c) for c in prompt.clicks]
        if clicks:
            data = [
                points.world_to_data(pixel_to_world(image, leading, c.row, c.col))
                for _, c in clicks
            ]
            roles = [r for r, _ in clicks]
            points.data = np.array(data)
            points.features = {"role": np.array(roles, dtype=object)}
            points.face_color = [ROLE_COLORS[r] for r in roles]
    points.refresh()
    shapes.refresh()


def assemble_prompt(
    placed: list[PlacedPoint], rect: BBox | None, leading: tuple[int, ...]
) -> tuple[BBox | None, Click | None, tuple[Click, ...], list[PlacedPoint]]:
    """Box, inside click and correction clicks on slice ``leading`` from the placed points and an
    optional drawn rectangle (which wins over outside points). Returns also the points that lie on
    another slice (ignored)."""
    here = [p for p in placed if p.leading == tuple(leading)]
    elsewhere = [p for p in placed if p.leading != tuple(leading)]
    outside = [p for p in here if p.role == "outside"]
    box = rect
    if box is None and len(outside) >= 2:
        a, b = outside[0], outside[1]
        box = BBox.from_corners((a.row, a.col), (b.row, b.col))
    inside = next((Click(p.row, p.col, True) for p in here if p.role == "inside"), None)
    clicks = tuple(
        Click(p.row, p.col, p.role == "positive")
        for p in here
        if p.role in ("positive", "negative")
    )
    return box, inside, clicks, elsewhere


def next_role(placed: list[PlacedPoint], has_rect: bool, polarity_positive: bool) -> str:
    """Role of the next click: corners until there is a box, then the inside click, then
    correction clicks of the chosen polarity (the paper's interaction, no mode switching)."""
    n_out = sum(p.role == "outside" for p in placed)
    if not has_rect and n_out < 2:
        return "outside"
    if not any(p.role == "inside" for p in placed):
        return "inside"
    return "positive" if polarity_positive else "negative"
