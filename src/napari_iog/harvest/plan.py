"""What a harvest run has to do: images, their boxes, and the input problems found so far.

All boxes are :class:`~napari_iog.structures.BBox` in pixel ``(row, col)``, inclusive. The box
files' own conventions (COCO ``[x, y, w, h]``, CSV ``x0,y0,x1,y1``) are converted in
:mod:`napari_iog.harvest.sources`, nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from napari_iog.structures import BBox


class BoxFileError(ValueError):
    """A box file that cannot be read at all (wrong format, missing columns); says what to do."""


@dataclass(frozen=True)
class BoxRecord:
    """One box to turn into a mask.

    - ``ann_id``: the annotation id written to the output (COCO ``id``; CSV: the data row number).
    - ``box``: inclusive pixel box ``(row0, col0, row1, col1)``.
    - ``category_id``: output category id; ``bbox_xywh``: the box as the input gave it (COCO order).
    """

    ann_id: int
    box: BBox
    category_id: int = 1
    bbox_xywh: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class ImageTask:
    """One image and all of its boxes (one image read serves all of them).

    ``entry`` is the COCO ``images`` entry to copy to the output (``id``, ``file_name`` and any
    extra keys; ``width``/``height`` are overwritten with the real image size).
    """

    image_id: int
    file_name: str
    boxes: tuple[BoxRecord, ...]
    entry: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Issue:
    """A box or image that produced no mask, and why.

    - ``kind``: ``"skipped"`` (bad input; re-running will not help until the input is fixed) or
      ``"failed"`` (an error while running; the image is retried on the next run).
    - ``reason``: a short stable code used for counting (e.g. ``"zero-area box"``).
    - ``detail``: the human-readable message with what to do.
    - ``n_boxes``: how many boxes the issue covers (an unreadable image covers all of its boxes).
    """

    kind: str
    reason: str
    detail: str
    image: str | None = None
    ann_id: int | None = None
    n_boxes: int = 1

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "reason": self.reason,
            "detail": self.detail,
            "image": self.image,
            "ann_id": self.ann_id,
            "n_boxes": self.n_boxes,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Issue:
        return cls(
            str(d["kind"]),
            str(d["reason"]),
            str(d["detail"]),
            d.get("image"),
            d.get("ann_id"),
            int(d.get("n_boxes", 1)),
        )


@dataclass(frozen=True)
class HarvestPlan:
    """Everything read from a box file: the image tasks (sorted by image id), the categories for
    the output, and the issues found while reading (zero-area boxes, duplicate ids, bad rows)."""

    images: tuple[ImageTask, ...]
    categories: tuple[dict, ...]
    issues: tuple[Issue, ...] = ()
    source: str = ""

    @property
    def n_boxes(self) -> int:
        return sum(len(t.boxes) for t in self.images)

    @property
    def n_input_boxes(self) -> int:
        """Boxes in the file, counting the ones skipped while reading."""
        return self.n_boxes + sum(i.n_boxes for i in self.issues)
