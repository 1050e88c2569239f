"""Object datasets: one sample = one object crop, its network input and its target.

:class:`ObjectDataset` holds image planes (converted once to network RGB, float32 ``[H, W, 3]``
in 0..255 with the same contrast rule as ``IOGPredictor.set_image``) and int instance planes
``[H, W]``; it lists every object with area >= ``min_area`` (smaller ones are counted in
``n_skipped_small``). :meth:`ObjectDataset.sample` builds one training sample: object window ->
paper augmentation -> simulated prompt (box + jitter, inside click) -> ``make_network_input``
(the one input builder) -> target crop.

Build from files with :func:`napari_iog.data.files.load_pairs` or from arrays (napari layers)
with :meth:`ObjectDataset.from_arrays`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import PreprocessConfig
from ..words import count
from .augment import AugmentConfig, random_affine
from .files import DataError, pair_planes
from .prompts import simulate_prompt

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class ObjectRecord:
    """One object: plane index, instance id, tight inclusive box ``(row0, col0, row1, col1)``."""

    plane: int
    label: int
    box: tuple[int, int, int, int]
    area: int
    touches_border: bool


@dataclass(frozen=True)
class Sample:
    """``x`` float32 ``[5, S, S]``; ``target`` float32 ``[S, S]`` in {0, 1}; ``click_maps``
    float32 ``[2, S, S]`` (initial guidance); ``record`` the object it came from."""

    x: np.ndarray
    target: np.ndarray
    click_maps: np.ndarray
    record: ObjectRecord


def split_stack(
    image: np.ndarray, labels: np.ndarray, rgb: bool | None = None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split an image ``[H, W]``, ``[H, W, 3]``, ``[Z, H, W]`` or ``[Z, H, W, 3]`` and labels
    ``[H, W]`` / ``[Z, H, W]`` into paired 2D planes; planes whose labels are all 0 are dropped
    (e.g. the slices a user has not annotated yet)."""
    image, labels = np.asarray(image), np.asarray(labels)
    if labels.ndim == 2:
        return ([image], [labels]) if labels.any() else ([], [])
    if labels.ndim != 3:
        raise DataError(f"Labels must be [H, W] or [Z, H, W], got shape {labels.shape}.")
    if image.shape[:3] != labels.shape:
        raise DataError(
            f"Image shape {image.shape} does not match labels shape {labels.shape}; "
            "they must cover the same pixels (same Z, H, W)."
        )
    keep = [z for z in range(labels.shape[0]) if labels[z].any()]
    return [image[z] for z in keep], [labels[z] for z in keep]


MIN_SIDE = 3  # px: objects (and augmented samples) thinner than this are not used


def _min_side(mask: np.ndarray) -> int:
    """The shorter side (px) of the tight box of the nonzero pixels of a 2D mask (0 if empty)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return 0
    return int(min(rows[-1] - rows[0], cols[-1] - cols[0]) + 1)


class ObjectDataset:
    """Objects of paired planes. ``images`` / ``labels``: lists of 2D planes (see module doc)."""

    def __init__(
        self,
        images: Iterable[np.ndarray],
        labels: Iterable[np.ndarray],
        preprocess: PreprocessConfig | None = None,
        min_area: int = 50,
        label_mode: str = "auto",
        _shared: tuple[list[np.ndarray], list[np.ndarray], list[ObjectRecord], int] | None = None,
    ) -> None:
        from ..inference.image import to_network_rgb

        self.preprocess = preprocess or PreprocessConfig()
        self.min_area = int(min_area)
        if _shared is not None:  # a subset view sharing the planes
            self.rgb, self.labels, self.objects, self.n_skipped_small = _shared
            return
        images, labels = pair_planes(list(images), list(labels), mode=label_mode)
        self.rgb = [to_network_rgb(im) for im in images]
        self.labels = labels
        self.objects: list[ObjectRecord] = []
        self.n_skipped_small = 0
        self._index()

    @classmethod
    def from_arrays(
        cls,
        image: np.ndarray,
        labels: np.ndarray,
        preprocess: PreprocessConfig | None = None,
        min_area: int = 50,
        **kw: Any,
    ) -> ObjectDataset:
        """From one (image, labels) pair of arrays, 2D or a stack (see :func:`split_stack`)."""
        ims, labs = split_stack(image, labels)
        if not ims:
            raise DataError("The label image is empty (all 0): paint or commit some objects first.")
        return cls(ims, labs, preprocess, min_area, **kw)

    def _index(self) -> None:
        from scipy import ndimage

        for p, lab in enumerate(self.labels):
            areas = np.bincount(lab.ravel().astype(np.int64))
            h, w = lab.shape
            for k, sl in enumerate(ndimage.find_objects(lab), start=1):
                if sl is None:
                    continue
                thin = min(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start) < MIN_SIDE
                if areas[k] < self.min_area or thin:  # a 1-px line has no inside to click
                    self.n_skipped_small += 1
                    continue
                box = (sl[0].start, sl[1].start, sl[0].stop - 1, sl[1].stop - 1)
                border = box[0] == 0 or box[1] == 0 or box[2] == h - 1 or box[3] == w - 1
                self.objects.append(ObjectRecord(p, k, box, int(areas[k]), bool(border)))

    def __len__(self) -> int:
        return len(self.objects)

    def describe(self) -> str:
        n_border = sum(o.touches_border for o in self.objects)
        return (
            f"{count(len(self.objects), 'object')} in {count(len(self.labels), 'plane')} "
            f"({n_border} touch the image border; {self.n_skipped_small} skipped: area < {self.min_area} px or thinner than {MIN_SIDE} px)"
        )

    def subset(self, indices: Iterable[int]) -> ObjectDataset:
        objs = [self.objects[i] for i in indices]
        return ObjectDataset(
            [],
            [],
            self.preprocess,
            self.min_area,
            _shared=(self.rgb, self.labels, objs, self.n_skipped_small),
        )

    def split(self, val_fraction: float, seed: int = 0) -> tuple[ObjectDataset, ObjectDataset]:
        """Random object split; ``val`` gets ``round(val_fraction * n)`` objects (>= 1 if the
        fraction is > 0 and there are >= 2 objects)."""
        n = len(self.objects)
        n_val = int(round(val_fraction * n))
        if val_fraction > 0 and n >= 2:
            n_val = max(1, min(n_val, n - 1))
        perm = np.random.default_rng(seed).permutation(n)
        return self.subset(sorted(perm[n_val:])), self.subset(sorted(perm[:n_val]))

    def _window(self, rec: ObjectRecord, margin: int):
        """``(image [h, w, 3], object mask uint8 [h, w])`` of the box grown by ``margin``; parts
        outside the image are zero (image and mask), as the predictor pads its crops, so that
        rotations move that padding along with an object cut by the image border."""
        lab = self.labels[rec.plane]
        h, w = lab.shape
        r0, c0, r1, c1 = rec.box
        rr = (r0 - margin, r1 + margin + 1)
        cc = (c0 - margin, c1 + margin + 1)
        sl = slice(max(rr[0], 0), min(rr[1], h)), slice(max(cc[0], 0), min(cc[1], w))
        pad = ((sl[0].start - rr[0], rr[1] - sl[0].stop), (sl[1].start - cc[0], cc[1] - sl[1].stop))
        img = np.pad(self.rgb[rec.plane][sl], (*pad, (0, 0)))
        mask = np.pad((lab[sl] == rec.label).astype(np.uint8), pad)
        return img, mask

    def sample(
        self,
        i: int,
        rng: np.random.Generator | None = None,
        augment: AugmentConfig | None = None,
        box_jitter: float = 0.0,
    ) -> Sample:
        """Training/validation sample of object ``i``; no randomness if ``rng`` is None."""
        from ..inference.image import NetworkImage
        from ..inference.transforms import make_network_input

        rec = self.objects[i]
        pre = self.preprocess
        side = max(rec.box[2] - rec.box[0], rec.box[3] - rec.box[1]) + 1
        img, mask = self._window(rec, pre.relax + side // 2 + 4)
        if rng is not None and augment is not None and not augment.is_identity:
            img_a, mask_a = random_affine(img, mask, rng, augment)
            # keep the object visible, and promptable: an edge-cut object rotated out of the
            # window can leave a sliver whose box is 1 px wide (the un-augmented sample then)
            if mask_a.sum() >= max(4, rec.area // 8) and _min_side(mask_a) >= MIN_SIDE:
                img, mask = img_a, mask_a
        prompt = simulate_prompt(mask, rng if box_jitter > 0 else None, box_jitter)
        net_img = NetworkImage(img, rgb=True, contrast_limits=(0.0, 255.0))
        ni = make_network_input(net_img, prompt, pre)
        target = (ni.transform.crop_mask(mask.astype(np.float32)) >= 0.5).astype(np.float32)
        return Sample(ni.x, target, ni.click_maps, rec)


def collate(samples: list[Sample]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack samples into torch tensors ``x [B, 5, S, S]``, ``target [B, 1, S, S]``,
    ``click_maps [B, 2, S, S]`` (float32, CPU)."""
    import torch

    x = torch.from_numpy(np.stack([s.x for s in samples]))
    y = torch.from_numpy(np.stack([s.target for s in samples]))[:, None]
    maps = torch.from_numpy(np.stack([s.click_maps for s in samples]))
    return x, y, maps
