"""Plain data structures shared by the predictor, the annotator, training and evaluation.

Coordinates are always pixel ``(row, col)`` of the 2D image plane, 0-based, origin top-left.
Boxes are inclusive: ``BBox(row0, col0, row1, col1)`` covers rows ``row0..row1`` and columns
``col0..col1``. The official IOG code uses ``(x, y) = (col, row)``; conversion happens only in
the tests that compare against its fixture.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np


class PromptError(ValueError):
    """A prompt (box, inside click, correction click) that cannot be used; the message says why."""


@dataclass(frozen=True)
class Click:
    """One click at pixel ``(row, col)``; ``positive`` = foreground (inside) click."""

    row: float
    col: float
    positive: bool = True

    def as_array(self) -> np.ndarray:
        return np.array([self.row, self.col], dtype=np.float64)


@dataclass(frozen=True)
class BBox:
    """Inclusive pixel box ``rows row0..row1, cols col0..col1`` (ints)."""

    row0: int
    col0: int
    row1: int
    col1: int

    @property
    def height(self) -> int:
        return self.row1 - self.row0 + 1

    @property
    def width(self) -> int:
        return self.col1 - self.col0 + 1

    @property
    def center(self) -> tuple[float, float]:
        return ((self.row0 + self.row1) / 2.0, (self.col0 + self.col1) / 2.0)

    @classmethod
    def from_corners(cls, a: tuple[float, float], b: tuple[float, float]) -> BBox:
        """Box spanned by two opposite corners ``(row, col)`` in any order (the paper's two
        outside clicks, or a dragged rectangle)."""
        r0, r1 = sorted((float(a[0]), float(b[0])))
        c0, c1 = sorted((float(a[1]), float(b[1])))
        return cls(int(np.floor(r0)), int(np.floor(c0)), int(np.ceil(r1)), int(np.ceil(c1)))

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> BBox:
        """Tight box of the nonzero pixels of a 2D mask. Raises PromptError for an empty mask."""
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise PromptError(f"A mask for a box must be 2D, got shape {mask.shape}.")
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        if rows.size == 0:
            raise PromptError("The mask is empty: there is no object to put a box around.")
        return cls(int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1]))

    def contains(self, row: float, col: float) -> bool:
        return self.row0 <= row <= self.row1 and self.col0 <= col <= self.col1

    def validate(self, image_shape: tuple[int, int], min_size: int = 2) -> None:
        """Raise PromptError with advice if the box is inverted, too small or off the image."""
        h, w = int(image_shape[0]), int(image_shape[1])
        if self.row1 < self.row0 or self.col1 < self.col0:
            raise PromptError(
                f"The box {self.as_tuple()} is inverted (row1 < row0 or col1 < col0): "
                "give (row0, col0, row1, col1) with the top-left corner first."
            )
        if self.height < min_size or self.width < min_size:
            raise PromptError(
                f"The box {self.as_tuple()} is {self.height}x{self.width} px; it must be at "
                f"least {min_size}x{min_size} px. Draw a box around the whole object."
            )
        if self.row1 < 0 or self.col1 < 0 or self.row0 >= h or self.col0 >= w:
            raise PromptError(
                f"The box {self.as_tuple()} lies outside the {h}x{w} image. "
                "Draw it on the image (coordinates are (row, col) pixels)."
            )

    def clip(self, image_shape: tuple[int, int]) -> BBox:
        h, w = int(image_shape[0]), int(image_shape[1])
        return BBox(
            max(self.row0, 0), max(self.col0, 0), min(self.row1, h - 1), min(self.col1, w - 1)
        )

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.row0, self.col0, self.row1, self.col1)


@dataclass(frozen=True)
class Prompt:
    """An IOG prompt: the object's box, an optional inside click, optional correction clicks.

    ``inside=None`` means: use the simulator's default (distance-transform maximum of the
    box-centred region). ``clicks`` are correction clicks (positive or negative), in order.
    """

    box: BBox
    inside: Click | None = None
    clicks: tuple[Click, ...] = field(default_factory=tuple)

    def with_clicks(self, clicks: Iterable[Click]) -> Prompt:
        return Prompt(self.box, self.inside, tuple(clicks))

    def to_dict(self) -> dict:
        return {
            "box": list(self.box.as_tuple()),
            "inside": None if self.inside is None else [self.inside.row, self.inside.col],
            "clicks": [[c.row, c.col, bool(c.positive)] for c in self.clicks],
            "coordinate_order": "row, col",
        }

    @classmethod
    def from_dict(cls, d: dict) -> Prompt:
        inside = d.get("inside")
        return cls(
            BBox(*[int(v) for v in d["box"]]),
            None if inside is None else Click(float(inside[0]), float(inside[1]), True),
            tuple(Click(float(r), float(c), bool(p)) for r, c, p in d.get("clicks", [])),
        )


@dataclass(frozen=True)
class MaskResult:
    """A predicted object, stored only over its window of the image (huge images stay cheap).

    - ``prob``: float32 ``[h, w]`` foreground probability over the window.
    - ``mask``: bool ``[h, w]`` (``prob >= threshold``, post-processed).
    - ``origin``: ``(row, col)`` of the window's top-left pixel in the image.
    - ``image_shape``: ``(H, W)`` of the full image plane.
    - ``seeds``: image ``(row, col)`` points whose connected components the mask keeps
      (``inference.postprocess.finalize_mask``; empty = not recorded).
    """

    prob: np.ndarray
    mask: np.ndarray
    origin: tuple[int, int]
    image_shape: tuple[int, int]
    prompt: Prompt
    threshold: float = 0.5
    seeds: tuple = ()

    @property
    def window(self) -> tuple[slice, slice]:
        r, c = self.origin
        return (slice(r, r + self.mask.shape[0]), slice(c, c + self.mask.shape[1]))

    def full_mask(self) -> np.ndarray:
        """bool ``[H, W]`` mask of the whole image plane."""
        out = np.zeros(self.image_shape, dtype=bool)
        out[self.window] = self.mask
        return out

    @property
    def area(self) -> int:
        return int(self.mask.sum())
