"""Harvest output as a chunked zarr labels volume (``napari-iog harvest --zarr-labels x.zarr``).

Every image of the plan is one plane of a ``uint32`` zarr array ``[N, H, W]`` (``z`` = the
image's position in the plan, i.e. box-file order; all images must have the same size). The
value of a pixel is the annotation id of its mask. Overlaps follow the annotator's default commit
mode, ``keep``: objects are written in increasing id, and a pixel already taken keeps its id (the
smaller id wins).

Written by the client, block by block, as each image's part arrives (the same dask path as the
COCO output): the plane is cut into the array's chunks and only chunks that hold labels (or held
some before) are written; all-background chunks are never stored. A ledger beside the store
(``<stem>.iog.json``, atomic, the provenance: per plane the image, its part key and ids) marks
finished planes, so a re-run skips them and rewrites a plane whose part changed or whose write
was interrupted.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from napari_iog.fileio import atomic_write_text, sidecar_path
from napari_iog.harvest import rle
from napari_iog.harvest.config import HarvestConfigError
from napari_iog.harvest.plan import HarvestPlan, ImageTask

LEDGER_FORMAT = "napari-iog-harvest-zarr"
PLANE_CHUNK = 512


def paint_plane(annotations: list[dict], shape: tuple[int, int]) -> np.ndarray:
    """uint32 ``[H, W]`` label plane of COCO ``annotations`` (RLE): increasing id, a pixel
    already taken keeps its id (the annotator's ``keep`` mode)."""
    plane = np.zeros(shape, dtype=np.uint32)
    for ann in sorted(annotations, key=lambda a: int(a["id"])):
        mask = rle.decode(ann["segmentation"]).astype(bool)
        plane[mask & (plane == 0)] = int(ann["id"])
    return plane


class ZarrLabelsSink:
    """The zarr labels store of one harvest run (see module doc)."""

    def __init__(self, path: str | Path, plan: HarvestPlan):
        self.path = Path(path).expanduser()
        if self.path.suffix.lower() != ".zarr":
            raise HarvestConfigError(
                f"--zarr-labels must name a .zarr folder (e.g. labels.zarr), got {str(path)!r}."
            )
        self.z_of = {t.image_id: z for z, t in enumerate(plan.images)}
        self.n = len(plan.images)
        self.ledger_path = sidecar_path(self.path)
        self.ledger = self._read_ledger()
        self.array = None

    def _read_ledger(self) -> dict:
        try:
            doc = json.loads(self.ledger_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"format": LEDGER_FORMAT, "max_id": 0, "planes": {}}
        if not isinstance(doc, dict) or doc.get("format") != LEDGER_FORMAT:
            raise HarvestConfigError(
                f"{self.ledger_path} exists but is not a harvest ledger; choose another "
                "--zarr-labels folder."
            )
        return doc

    def _open(self, shape: tuple[int, int]):
        import zarr

        want = (self.n, *shape)
        if self.array is None:
            if self.path.exists():
                try:
                    self.array = zarr.open_array(str(self.path), mode="r+")
                except Exception:  # a group or not zarr
                    raise HarvestConfigError(
                        f"--zarr-labels {str(self.path)!r} exists and is not a zarr array; "
                        "choose a new folder."
                    ) from None
            else:
                chunks = (1, min(PLANE_CHUNK, shape[0]), min(PLANE_CHUNK, shape[1]))
                self.array = zarr.create_array(
                    str(self.path), shape=want, chunks=chunks, dtype=np.uint32, fill_value=0,
                    attributes={"napari_iog": {"kind": "harvest labels", "axes": "image, y, x"}},
                )  # fmt: skip
        if tuple(self.array.shape) != want:
            raise HarvestConfigError(
                f"--zarr-labels holds shape {tuple(self.array.shape)} but this image needs "
                f"{want} (all images the same size, one plane each). Use a new folder, or "
                "harvest images of different sizes into COCO only."
            )
        return self.array

    def _stored_in_plane(self, z: int) -> set[tuple[int, int]]:
        """(chunk row, chunk col) of the chunks stored for plane ``z``."""
        from napari_iog.volumes.labels_store import LabelStore

        return {pos[1:] for pos in LabelStore(self.array, None, None).stored_chunks(z)}

    def done(self, task: ImageTask, key: str) -> bool:
        """True when the plane of ``task`` was written from the part with this ``key``."""
        rec = self.ledger["planes"].get(str(task.image_id))
        return isinstance(rec, dict) and rec.get("key") == key

    def write(self, task: ImageTask, part: dict, key: str) -> int:
        """Write the plane of a finished image block by block; returns chunks written."""
        shape = (int(part["image"]["height"]), int(part["image"]["width"]))
        array = self._open(shape)
        z = self.z_of[task.image_id]
        plane = paint_plane(part["annotations"], shape)
        stale = self._stored_in_plane(z)  # a redone or interrupted plane: clear old chunks
        _, ch, cw = array.chunks
        written = 0
        for r in range(0, shape[0], ch):
            for c in range(0, shape[1], cw):
                block = plane[r : r + ch, c : c + cw]
                if block.any() or (r // ch, c // cw) in stale:
                    array[z, r : r + ch, c : c + cw] = block
                    written += 1
        ids = sorted({int(a["id"]) for a in part["annotations"] if a.get("area", 1)})
        self.ledger["planes"][str(task.image_id)] = {
            "z": z, "file_name": task.file_name, "key": key, "ids": ids,
        }  # fmt: skip
        self.ledger["max_id"] = max([int(self.ledger.get("max_id", 0)), *ids])
        self.ledger["rule"] = "keep: increasing id, a pixel already taken keeps its id"
        atomic_write_text(self.ledger_path, json.dumps(self.ledger, indent=1))
        return written
