"""Crop geometry and the network input (``reference/iog-method.md`` §3 and §7).

The crop box is the user's box grown by ``relax`` image pixels on every side, *not* clipped:
whatever lies outside the image is zero padding. The crop is resized to ``S x S`` ignoring the
aspect ratio, bilinear with the pixel-centre convention (cv2 ``INTER_LINEAR``); pasting back
resizes the ``S x S`` map to the crop-box size with the cubic kernel (cv2 ``INTER_CUBIC``) and
keeps only the part inside the image. A point maps as ``crop = (img - box0 + 0.5) * S / n - 0.5``
per axis (``n`` = crop-box length), the same convention, so a pixel centre stays a pixel centre.

:func:`make_network_input` is the one place that builds the 5-channel input and click maps; the
predictor, training and evaluation all use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ..config import PreprocessConfig
from ..structures import BBox, Click, Prompt, PromptError
from .guidance import add_click, iog_guidance, outside_points
from .image import NetworkImage, as_network_image
from .resample import axis_table, offset_table, resample


@dataclass(frozen=True)
class CropTransform:
    """Image <-> crop mapping for one object.

    ``row0, col0, row1, col1``: the inclusive crop box in image pixels (may extend past the image);
    ``crop_size``: ``S``; ``image_shape``: ``(H, W)`` of the image plane.
    """

    row0: int
    col0: int
    row1: int
    col1: int
    crop_size: int
    image_shape: tuple[int, int]

    @classmethod
    def from_box(
        cls, box: BBox, image_shape: tuple[int, ...], relax: int, crop_size: int
    ) -> CropTransform:
        """Crop box = ``box`` +- ``relax`` (unclipped)."""
        r = int(relax)
        return cls(
            int(box.row0) - r,
            int(box.col0) - r,
            int(box.row1) + r,
            int(box.col1) + r,
            int(crop_size),
            (int(image_shape[0]), int(image_shape[1])),
        )

    @property
    def box(self) -> BBox:
        """The crop box as a :class:`BBox` (inclusive; may extend past the image)."""
        return BBox(self.row0, self.col0, self.row1, self.col1)

    @property
    def height(self) -> int:
        return self.box.height

    @property
    def width(self) -> int:
        return self.box.width

    def _scale(self) -> np.ndarray:
        return np.array([self.crop_size / self.height, self.crop_size / self.width])

    def image_to_crop(self, points_rc: ArrayLike) -> np.ndarray:
        """``[N, 2]`` image ``(row, col)`` -> float64 ``[N, 2]`` crop ``(row, col)``."""
        p = np.asarray(points_rc, dtype=np.float64).reshape(-1, 2)
        return (p - [self.row0, self.col0] + 0.5) * self._scale() - 0.5

    def crop_to_image(self, points_rc: ArrayLike) -> np.ndarray:
        """``[N, 2]`` crop ``(row, col)`` -> float64 ``[N, 2]`` image ``(row, col)``."""
        p = np.asarray(points_rc, dtype=np.float64).reshape(-1, 2)
        return (p + 0.5) / self._scale() - 0.5 + [self.row0, self.col0]

    def contains(self, row: float, col: float) -> bool:
        """Is image point ``(row, col)`` inside the crop box (pixel edges included)?"""
        return (
            self.row0 - 0.5 <= row <= self.row1 + 0.5 and self.col0 - 0.5 <= col <= self.col1 + 0.5
        )

    def window(self) -> tuple[int, int, int, int]:
        """The in-image part of the crop box, inclusive ``(row0, col0, row1, col1)``."""
        h, w = self.image_shape
        return max(self.row0, 0), max(self.col0, 0), min(self.row1, h - 1), min(self.col1, w - 1)

    def _tables(self, kind: str):
        s = self.crop_size
        rows = offset_table(axis_table(self.height, s, kind), self.row0, self.image_shape[0])
        cols = offset_table(axis_table(self.width, s, kind), self.col0, self.image_shape[1])
        return rows, cols

    def crop_image(self, image: np.ndarray) -> np.ndarray:
        """float32 ``[S, S, 3]`` network RGB of the crop (zero outside the image). ``image``: a
        :class:`NetworkImage` or anything it accepts. Reads at most ``2S x 2S`` source pixels."""
        img = as_network_image(image)
        self._check_shape(img.shape)
        (ri, rw, rneed), (ci, cw, cneed) = self._tables("linear")
        return resample(img.gather(rneed, cneed), (ri, rw), (ci, cw))

    def crop_mask(self, mask: np.ndarray) -> np.ndarray:
        """float32 ``[S, S]`` bilinear crop of a 2D ``[H, W]`` map (zero outside the image)."""
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise ValueError(f"crop_mask needs a 2D [H, W] array, got shape {mask.shape}.")
        self._check_shape(mask.shape)
        (ri, rw, rneed), (ci, cw, cneed) = self._tables("linear")
        return resample(mask[np.ix_(rneed, cneed)].astype(np.float32), (ri, rw), (ci, cw))

    def paste(self, prob_crop: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """Inverse of the crop for a float ``[S, S]`` map: cubic resize to the crop-box size,
        clipped to 0..1, keeping only the part inside the image.

        Returns ``(prob_window float32 [h, w], (row, col) origin of the window in the image)``.
        Only the window is computed, never a full-size map.
        """
        p = np.asarray(prob_crop, dtype=np.float32)
        s = self.crop_size
        if p.shape != (s, s):
            raise ValueError(f"paste expects a [{s}, {s}] map, got shape {p.shape}.")
        r0, c0, r1, c1 = self.window()
        ri, rw = axis_table(s, self.height, "cubic")
        ci, cw = axis_table(s, self.width, "cubic")
        rsel = slice(r0 - self.row0, r1 - self.row0 + 1)
        csel = slice(c0 - self.col0, c1 - self.col0 + 1)
        out = resample(p, (ri[rsel], rw[rsel]), (ci[csel], cw[csel]))
        np.clip(out, 0.0, 1.0, out=out)
        return out, (r0, c0)

    def _check_shape(self, shape) -> None:
        if tuple(int(v) for v in shape[:2]) != self.image_shape:
            raise ValueError(
                f"Image shape {tuple(shape[:2])} differs from the transform's {self.image_shape}."
            )


@dataclass(frozen=True)
class NetworkInput:
    """One object's network input.

    - ``x``: float32 ``[5, S, S]`` = R, G, B (0..255), inside map, outside map (0..255; the
      initial guidance, no correction clicks).
    - ``click_maps``: float32 ``[2, S, S]`` = positive, negative (0..255): the initial maps plus
      every correction click of the prompt (official update rule, see ``guidance.add_click``).
    - ``transform``: the crop geometry; ``inside``: the inside point in crop ``(row, col)``.
    """

    x: np.ndarray
    click_maps: np.ndarray
    transform: CropTransform
    inside: tuple[float, float]

    def merged(self) -> np.ndarray:
        """``x`` with channels 3-4 replaced by ``click_maps``: how a network without the
        refinement branch sees correction clicks (positive into inside, negative into outside)."""
        out = self.x.copy()
        out[3:5] = self.click_maps
        return out


def validate_prompt(prompt: Prompt, image_shape: tuple[int, ...]) -> None:
    """Raise PromptError with advice unless ``prompt`` is usable on an ``(H, W)`` image."""
    if not isinstance(prompt, Prompt):
        raise PromptError(
            f"Expected a napari_iog.structures.Prompt, got {type(prompt).__name__}; build one "
            "with Prompt(BBox(row0, col0, row1, col1), inside=Click(row, col))."
        )
    prompt.box.validate(image_shape)
    pts = [("inside click", prompt.inside)] if prompt.inside is not None else []
    pts += [("correction click", c) for c in prompt.clicks]
    for what, c in pts:
        if not isinstance(c, Click) or not (np.isfinite(c.row) and np.isfinite(c.col)):
            raise PromptError(f"The {what} {c!r} must be a Click with finite (row, col).")
    if prompt.inside is not None and not prompt.box.contains(prompt.inside.row, prompt.inside.col):
        raise PromptError(
            f"The inside click ({prompt.inside.row:g}, {prompt.inside.col:g}) lies outside the box "
            f"{prompt.box.as_tuple()}; click inside the object, within its box."
        )


def as_clicks(clicks: Iterable[Click]) -> tuple[Click, ...]:
    """``clicks`` as a tuple; PromptError unless each is a Click with finite (row, col)."""
    clicks = tuple(clicks)
    for c in clicks:
        if not isinstance(c, Click) or not (np.isfinite(c.row) and np.isfinite(c.col)):
            raise PromptError(
                f"Correction click {c!r} must be a Click(row, col, positive) with finite values."
            )
    return clicks


def check_clicks_in_crop(clicks: Iterable[Click], transform: CropTransform) -> None:
    """Raise PromptError for correction clicks (image coords) outside the object's crop."""
    for c in as_clicks(clicks):
        if not transform.contains(c.row, c.col):
            raise PromptError(
                f"The correction click ({c.row:g}, {c.col:g}) is outside the current object's "
                f"crop (rows {transform.row0}..{transform.row1}, cols {transform.col0}.."
                f"{transform.col1}); click on or near the object, or start a new box."
            )


def box_in_crop(box: BBox, transform: CropTransform) -> tuple[float, float, float, float]:
    """The box's corner pixel centres in crop coordinates ``(row0, col0, row1, col1)``."""
    (a, b), (c, d) = transform.image_to_crop([[box.row0, box.col0], [box.row1, box.col1]])
    return float(a), float(b), float(c), float(d)


def default_inside(box_crop: BBox | tuple[float, float, float, float]) -> tuple[float, float]:
    """The default inside point when the user gives none: the centre of the box in crop
    coordinates. The distance transform of a rectangle peaks on its whole medial segment; the
    centre is the maximum that sits in the middle (raster-order tie-breaking would pick the top
    end of that segment for an elongated box, far from a typical object's centre).
    ``box_crop`` = ``(row0, col0, row1, col1)``; returns crop ``(row, col)`` floats."""
    r0, c0, r1, c1 = (float(v) for v in box_crop)
    return (r0 + r1) / 2.0, (c0 + c1) / 2.0


def make_network_input(
    rgb_image: np.ndarray, prompt: Prompt, preprocess: PreprocessConfig | None = None
) -> NetworkInput:
    """Build the network input for one prompt.

    ``rgb_image``: a :class:`NetworkImage` (prepared once, cheap to reuse) or any image
    :class:`NetworkImage` accepts (``[H, W]`` / ``[H, W, 3|4]``). ``prompt`` in image
    ``(row, col)``. Inside point = ``prompt.inside`` mapped into the crop, else the box centre
    (:func:`default_inside`); outside points = the 4 box corners in crop pixels pushed
    ``pad_pixel`` outward (clipped to ``[0, S]``); correction clicks are added to the click maps
    in order. Raises PromptError for unusable prompts (including clicks outside the crop).
    """
    pre = preprocess or PreprocessConfig()
    img: NetworkImage = as_network_image(rgb_image)
    validate_prompt(prompt, img.shape)
    s = pre.crop_size
    t = CropTransform.from_box(prompt.box, img.shape, pre.relax, s)
    check_clicks_in_crop(prompt.clicks, t)
    bc = box_in_crop(prompt.box, t)
    if prompt.inside is None:
        inside = default_inside(bc)
    else:
        inside = tuple(float(v) for v in t.image_to_crop([prompt.inside.row, prompt.inside.col])[0])
    guidance = iog_guidance(inside, outside_points(bc, pre.pad_pixel, s), s, pre.sigma)
    x = np.concatenate([t.crop_image(img).transpose(2, 0, 1), guidance]).astype(np.float32)
    maps = add_image_clicks(guidance, prompt.clicks, t, pre.sigma)
    return NetworkInput(np.ascontiguousarray(x), maps, t, inside)


def add_image_clicks(
    maps: np.ndarray, clicks: Iterable[Click], transform: CropTransform, sigma: float
) -> np.ndarray:
    """Add correction clicks (image ``(row, col)``, in order) to ``[2, S, S]`` click maps with
    :func:`guidance.add_click`. Returns a new float32 ``[2, S, S]`` (a copy when no clicks)."""
    out = np.array(maps, dtype=np.float32)
    for c in clicks:
        r, col = transform.image_to_crop([c.row, c.col])[0]
        out = add_click(out, Click(float(r), float(col), bool(c.positive)), sigma)
    return out
