"""Synthetic data for the harvest tests (helpers used by tests/test_harvest_*.py), and a check
that the helpers really produce what the other tests assume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import tifffile

SHAPE = (96, 128)


def make_images(folder: Path, n_images: int = 3, seed: int = 0, shape=SHAPE) -> list[dict]:
    """uint8 TIFFs with 3 non-overlapping bright disks each on a noisy background.

    Returns ``[{"file_name", "truth": [bool mask [H, W] per disk], "boxes": [(r0, c0, r1, c1)]}]``
    (boxes inclusive, pixel (row, col))."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    out = []
    for i in range(n_images):
        img = rng.integers(0, 40, shape).astype(np.uint8)
        taken = np.zeros(shape, bool)
        truth, boxes = [], []
        while len(truth) < 3:
            r, c, rad = (
                rng.integers(14, shape[0] - 14),
                rng.integers(14, shape[1] - 14),
                rng.integers(6, 11),
            )
            disk = (yy - r) ** 2 + (xx - c) ** 2 <= rad**2
            if (disk & taken).any():
                continue
            taken |= disk
            img[disk] = 200
            truth.append(disk)
            rows, cols = np.nonzero(disk)
            boxes.append((int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())))
        name = f"img{i}.tif"
        tifffile.imwrite(folder / name, img)
        out.append({"file_name": name, "truth": truth, "boxes": boxes})
    return out


def coco_dict(images: list[dict]) -> dict:
    """COCO JSON of the boxes (``bbox`` = pixel edges ``[x, y, w, h]``), ids 1..N in order."""
    imgs, anns = [], []
    for i, im in enumerate(images, start=1):
        imgs.append({"id": i, "file_name": im["file_name"]})
        for r0, c0, r1, c1 in im["boxes"]:
            x, y, w, h = c0, r0, c1 - c0 + 1, r1 - r0 + 1
            anns.append(
                {"id": len(anns) + 1, "image_id": i, "category_id": 1, "bbox": [x, y, w, h]}
            )
    return {"images": imgs, "annotations": anns, "categories": [{"id": 1, "name": "cell"}]}


def write_coco(path: Path, images: list[dict]) -> Path:
    path.write_text(json.dumps(coco_dict(images)))
    return path


def write_csv(path: Path, images: list[dict], labels=("cell",)) -> Path:
    """CSV ``image,x0,y0,x1,y1,label`` in the same order as :func:`coco_dict` (row n = id n)."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "x0", "y0", "x1", "y1", "label"])
        n = 0
        for im in images:
            for r0, c0, r1, c1 in im["boxes"]:
                w.writerow([im["file_name"], c0, r0, c1 + 1, r1 + 1, labels[n % len(labels)]])
                n += 1
    return path


def make_tiny_checkpoint(path: Path) -> Path:
    """A random-init ``iog-tiny`` network (crop 64) saved as a napari-iog checkpoint."""
    import torch

    from napari_iog.models import build_model, get_profile
    from napari_iog.models.checkpoint import save_checkpoint

    torch.manual_seed(0)
    return save_checkpoint(
        path, build_model("iog-tiny"), get_profile("iog-tiny")[1], {"data": "random"}
    )


def test_synthetic_boxes_are_tight_and_disjoint(tmp_path):
    images = make_images(tmp_path, n_images=2)
    for im in images:
        img = tifffile.imread(tmp_path / im["file_name"])
        assert img.shape == SHAPE and img.dtype == np.uint8
        union = np.zeros(SHAPE, int)
        for disk, (r0, c0, r1, c1) in zip(im["truth"], im["boxes"]):
            rows, cols = np.nonzero(disk)
            assert (rows.min(), cols.min(), rows.max(), cols.max()) == (r0, c0, r1, c1)
            assert (img[disk] == 200).all()
            union += disk
        assert union.max() == 1
    coco = coco_dict(images)
    assert [a["id"] for a in coco["annotations"]] == list(range(1, 7))
