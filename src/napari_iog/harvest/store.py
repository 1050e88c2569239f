"""Results on disk: one part file per finished image (the resume marker), the merged COCO JSON,
and optional label TIFFs.

Layout for ``--out masks.json``::

    masks.json            merged COCO (images, annotations with RLE, categories); deterministic
    masks_parts/img-<image_id>.json   one finished image (written atomically, last)
    masks_labels/<file_name>.tif      uint32 label image per image (value = annotation id)

A part is reused by a re-run only if its ``key`` (weights, 2-stage setting, file name, boxes)
matches, so changing the weights or the boxes of an image redoes that image. Every file is
written to a temp file in the same folder and moved in place with ``os.replace``.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path, PurePosixPath

import numpy as np

from napari_iog.fileio import atomic_write  # noqa: F401  (re-exported)
from napari_iog.harvest import rle
from napari_iog.harvest.plan import HarvestPlan, ImageTask

PART_FORMAT = "napari-iog-harvest-part"
PART_VERSION = 1


def _dump(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8")


def image_key(run_fp: str, task: ImageTask) -> str:
    """Fingerprint of one image's work: run settings + file name + its boxes."""
    boxes = [[b.ann_id, *b.box.as_tuple(), b.category_id, list(b.bbox_xywh)] for b in task.boxes]
    payload = json.dumps([run_fp, task.image_id, task.file_name, boxes], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


class ResultStore:
    """Reads and writes the files of one output path (see module doc)."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        if self.out.suffix.lower() != ".json":
            raise ValueError(
                f"--out must be a .json file (the merged COCO output), got {str(out)!r}."
            )
        if self.out.is_dir():
            raise ValueError(f"--out {str(out)!r} is a folder; give a file name like masks.json.")
        self.parts_dir = self.out.with_name(self.out.stem + "_parts")
        self.labels_dir = self.out.with_name(self.out.stem + "_labels")

    def part_path(self, task: ImageTask) -> Path:
        return self.parts_dir / f"img-{task.image_id}.json"

    def label_path(self, task: ImageTask) -> Path:
        rel = PurePosixPath(task.file_name.replace("\\", "/"))
        if rel.is_absolute() or ".." in rel.parts:
            rel = PurePosixPath(f"{task.image_id}")
        return self.labels_dir / Path(*rel.parts).with_suffix(".tif")

    def label_clashes(self, plan: HarvestPlan) -> dict[Path, list[str]]:
        """Label files that more than one image of ``plan`` would write (e.g. ``x.tif`` and
        ``x.png`` both give ``x.tif``): ``{label path: [file names]}``; empty when none clash."""
        by_path: dict[str, list[str]] = {}
        paths: dict[str, Path] = {}
        for task in plan.images:
            path = self.label_path(task)
            key = str(path).lower()  # x.TIF and x.tif clash on case-insensitive file systems
            by_path.setdefault(key, []).append(task.file_name)
            paths[key] = path
        return {paths[k]: names for k, names in by_path.items() if len(names) > 1}

    def load_part(self, task: ImageTask, key: str, complete: bool = True) -> dict | None:
        """The saved result of ``task`` if a valid part with this ``key`` exists, else None.
        ``complete=True`` (resume) accepts only parts without failed boxes."""
        path = self.part_path(task)
        try:
            part = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(part, dict) or part.get("format") != PART_FORMAT:
            return None
        if part.get("version") != PART_VERSION or part.get("key") != key:
            return None
        if complete and not part.get("complete", False):
            return None
        return part

    def write_part(self, task: ImageTask, key: str, result: dict) -> dict:
        """Persist a finished image. ``result`` has ``image`` (COCO entry), ``annotations`` and
        ``issues`` (dicts) and ``complete`` (False if a box failed: a re-run redoes the image).
        Written last: a complete part means the image is done."""
        part = {
            "format": PART_FORMAT,
            "version": PART_VERSION,
            "key": key,
            "complete": bool(result["complete"]),
            "image": result["image"],
            "annotations": sorted(result["annotations"], key=lambda a: a["id"]),
            "issues": result["issues"],
        }
        atomic_write(self.part_path(task), lambda fh: fh.write(_dump(part)))
        return part

    def labels_ok(self, task: ImageTask, part: dict) -> bool:
        """True when the label TIFF of ``task`` exists, reads, and has the part's image size."""
        import tifffile

        try:
            data = tifffile.imread(self.label_path(task))
        except Exception:  # missing, truncated, not a TIFF: any reader error
            return False
        return data.shape == (int(part["image"]["height"]), int(part["image"]["width"]))

    def write_labels(self, task: ImageTask, part: dict) -> Path:
        """uint32 ``[H, W]`` label TIFF of a part: value = annotation id; where masks overlap the
        smaller object wins (painted last), ties broken by id."""
        import tifffile

        h, w = int(part["image"]["height"]), int(part["image"]["width"])
        labels = np.zeros((h, w), dtype=np.uint32)
        anns = sorted(part["annotations"], key=lambda a: (-int(a["area"]), int(a["id"])))
        for ann in anns:
            labels[rle.decode(ann["segmentation"])] = int(ann["id"])
        buf = io.BytesIO()
        tifffile.imwrite(buf, labels, compression="zlib")
        return atomic_write(self.label_path(task), lambda fh: fh.write(buf.getvalue()))

    def merge(self, plan: HarvestPlan, keys: dict[int, str], info: dict) -> tuple[dict, int]:
        """Write the merged COCO JSON from every valid part of ``plan`` (sorted by image id, then
        annotation id; no timestamps, so equal inputs give byte-identical files).
        Returns ``(coco dict, number of images merged)``."""
        images, annotations = [], []
        for task in plan.images:
            part = self.load_part(task, keys[task.image_id], complete=False)
            if part is None:
                continue
            images.append(part["image"])
            annotations.extend(part["annotations"])
        annotations.sort(key=lambda a: (a["image_id"], a["id"]))
        coco = {
            "info": info,
            "images": images,
            "annotations": annotations,
            "categories": [dict(c) for c in plan.categories],
        }
        atomic_write(self.out, lambda fh: fh.write(_dump(coco)))
        return coco, len(images)
