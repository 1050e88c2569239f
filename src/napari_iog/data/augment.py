"""Training augmentations of the paper (``reference/iog-method.md`` §3.2): horizontal flip,
scale in [0.75, 1.25] and rotation in [-20, 20] degrees about the window centre; optionally
(not in the paper) brightness/contrast jitter and an elastic deformation: a random displacement
field, Gaussian-smoothed with sigma ``elastic_sigma`` px and scaled to an RMS of ``elastic`` px
per axis, added to the affine map (one resampling for both).

Applied to an object's window (not the full image) so it stays cheap on a CPU. Images are
``[h, w]`` or ``[h, w, C]`` (resampled linearly, border reflected so no black wedges appear);
label windows ``[h, w]`` (int or bool) use nearest neighbour with a zero border, like the paper.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transform (defaults: the paper's); ``AugmentConfig.off()`` disables
    everything, ``AugmentConfig.top_down()`` is the fine-tuning default for images without an
    "up" (EM, microscopy, aerial). Each field's ``metadata["help"]`` is its command-line help."""

    flip: bool = field(default=True, metadata={"help": "random horizontal flips (paper)"})
    vflip: bool = field(default=False, metadata={"help": "also flip vertically (EM, aerial)"})
    scale: tuple[float, float] = field(
        default=(0.75, 1.25), metadata={"help": "random scale range (paper: 0.75-1.25)"}
    )
    rotate: float = field(
        default=20.0, metadata={"help": "max rotation, degrees, uniform in +-rotate (paper: 20)"}
    )
    intensity: float = field(
        default=0.0,
        metadata={"help": "+-fraction brightness/contrast jitter (0 = off, as the paper)"},
    )
    elastic: float = field(
        default=0.0,
        metadata={"help": "elastic deformation, RMS displacement in px (0 = off, as the paper)",
                  "metavar": "PX"},
    )  # fmt: skip
    elastic_sigma: float = field(
        default=8.0, metadata={"help": "smoothness of the elastic displacement field, px"}
    )

    def __post_init__(self):
        if self.elastic < 0 or self.elastic_sigma <= 0:
            raise ValueError(
                f"elastic must be >= 0 and elastic_sigma > 0 (px), got {self.elastic} and "
                f"{self.elastic_sigma}."
            )

    @classmethod
    def off(cls) -> AugmentConfig:
        return cls(flip=False, vflip=False, scale=(1.0, 1.0), rotate=0.0, intensity=0.0)

    @classmethod
    def top_down(cls) -> AugmentConfig:
        """Images without an "up" (EM, microscopy, aerial): any rotation, both flips, +-10 %
        contrast (the measured few-shot recipe, docs/finetuning.md)."""
        return cls(vflip=True, rotate=180.0, intensity=0.1)

    @property
    def is_identity(self) -> bool:
        return self == AugmentConfig.off()


def _affine_matrix(shape, angle_deg: float, scale: float, flip: bool, vflip: bool):
    """Matrix + offset mapping output (row, col) to input (row, col) about the window centre."""
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) / scale
    f = np.diag([-1.0 if vflip else 1.0, -1.0 if flip else 1.0])
    m = rot @ f
    c = (np.array(shape[:2], float) - 1) / 2.0
    return m, c - m @ c


def _displacement(shape, rms: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth random field ``[2, h, w]`` (row, col displacement in px) with RMS ``rms`` per axis."""
    field = np.stack([ndimage.gaussian_filter(rng.standard_normal(shape), sigma) for _ in "rc"])
    std = field.std(axis=(1, 2), keepdims=True)
    return field * (rms / np.maximum(std, 1e-12))


def _per_channel(fn, img: np.ndarray) -> np.ndarray:
    """``fn`` (a 2D resampling) applied to ``img [h, w]`` or to each channel of ``[h, w, C]``."""
    if img.ndim == 2:
        return fn(img)
    return np.stack([fn(img[..., k]) for k in range(img.shape[2])], axis=-1)


def random_affine(
    image: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    cfg: AugmentConfig = AugmentConfig(),
) -> tuple[np.ndarray, np.ndarray]:
    """Apply one random flip/scale/rotation to an (image window, label window) pair.

    Returns ``(image float32 [h, w(, C)], labels [h, w] same dtype as input)``; the output has
    the input's shape. Same-shaped windows in, same-shaped windows out.
    """
    image = np.asarray(image)
    labels = np.asarray(labels)
    if image.shape[:2] != labels.shape:
        raise ValueError(f"image window {image.shape[:2]} != label window {labels.shape}.")
    flip = cfg.flip and rng.random() < 0.5
    vflip = cfg.vflip and rng.random() < 0.5
    s = float(rng.uniform(*cfg.scale)) if cfg.scale[0] != cfg.scale[1] else float(cfg.scale[0])
    ang = float(rng.uniform(-cfg.rotate, cfg.rotate)) if cfg.rotate > 0 else 0.0
    img = image.astype(np.float32, copy=False)
    if cfg.intensity > 0:
        lo, hi = 1.0 - cfg.intensity, 1.0 + cfg.intensity
        mean = float(img.mean())
        img = (img - mean) * rng.uniform(lo, hi) + mean * rng.uniform(lo, hi)
    if not flip and not vflip and s == 1.0 and ang == 0.0 and cfg.elastic == 0:
        return img, labels
    m, off = _affine_matrix(labels.shape, ang, s, flip, vflip)
    lab = labels.astype(np.int32) if labels.dtype == bool else labels
    if cfg.elastic > 0:  # affine + smooth displacement, sampled point by point
        grid = np.indices(labels.shape, dtype=np.float64)
        coords = np.einsum("ij,jhw->ihw", m, grid) + off[:, None, None]
        coords += _displacement(labels.shape, cfg.elastic, cfg.elastic_sigma, rng)

        def warp(p, order, mode):
            return ndimage.map_coordinates(p, coords, order=order, mode=mode)
    else:

        def warp(p, order, mode):
            return ndimage.affine_transform(p, m, off, order=order, mode=mode)

    out_img = _per_channel(lambda p: warp(p, 1, "reflect"), img)
    out_lab = warp(lab, 0, "constant")  # zero border, like the paper
    return out_img.astype(np.float32), out_lab.astype(labels.dtype)
