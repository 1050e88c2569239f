"""Frozen configuration dataclasses: the network (``ModelConfig``) and its input pipeline
(``PreprocessConfig``). Both round-trip through plain dicts so checkpoints can carry them.

Defaults are the paper's (``reference/iog-method.md`` §1-3): ResNet-101 at output stride 16 with
multi-grid (1, 2, 4), PSP bins (1, 2, 3, 6), 512 px crops, relax 30 px, sigma 10 (FWHM), corner
offset 10 px.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

AUTO_WEIGHTS = "auto"  # weights option: the shipped starter that matches the image
MAX_CROP = 4096  # px; 512 is the paper's, a crafted 100000 would need ~75 GiB per image
BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101", "tiny")


def _from_dict(cls, d: dict):
    names = {f.name for f in fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ValueError(
            f"{cls.__name__} got unknown fields {sorted(unknown)}; known: {sorted(names)}"
        )
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
    return cls(**kw)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of an IOG network (paper profile by default).

    ``refinement=True`` adds the click branch (``iog_points``) whose 64-channel output is
    concatenated with layer4 before PSP. ``width`` scales the stem (64 in every ResNet).
    ``boundary_channels > 0`` adds our stride-2 ``BoundaryHead`` after FineNet (not in the
    paper; 0 in every paper profile, so the official checkpoints load unchanged).
    """

    backbone: str = "resnet101"
    in_channels: int = 5
    width: int = 64
    psp_bins: tuple[int, ...] = (1, 2, 3, 6)
    psp_out: int = 512
    decoder_channels: int = 256
    fine_channels: int = 128
    refinement: bool = False
    click_channels: int = 64
    multi_grid: tuple[int, ...] = (1, 2, 4)
    boundary_channels: int = 0

    def __post_init__(self):
        if self.boundary_channels < 0:
            raise ValueError(f"boundary_channels must be >= 0, got {self.boundary_channels}.")
        if self.backbone not in BACKBONES:
            raise ValueError(f"Unknown backbone {self.backbone!r}; choose one of {BACKBONES}.")
        if self.in_channels != 5:
            raise ValueError("IOG takes 5 input channels (R, G, B, inside, outside).")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return _from_dict(cls, d)


@dataclass(frozen=True)
class PreprocessConfig:
    """The input pipeline around the network.

    - ``crop_size``: side of the square network input (multiple of 16).
    - ``relax``: margin in original-image pixels added around the box before cropping.
    - ``sigma``: Gaussian FWHM in crop pixels for every click heatmap.
    - ``pad_pixel``: outside (corner) points sit this many crop pixels outside the box.
    - ``threshold``: probability threshold of the fine output.
    - ``clip_to_box``: zero the mask outside the user's box (the paper does not; off by default);
      a side with a positive click beyond it is not clipped (``postprocess.clip_window_mask``).
    """

    crop_size: int = 512
    relax: int = 30
    sigma: float = 10.0
    pad_pixel: int = 10
    threshold: float = 0.5
    clip_to_box: bool = False

    def __post_init__(self):
        if self.crop_size % 16 or self.crop_size < 32:
            raise ValueError(f"crop_size must be a multiple of 16 and >= 32, got {self.crop_size}.")
        if self.crop_size > MAX_CROP:
            raise ValueError(
                f"crop_size {self.crop_size} is too large (at most {MAX_CROP} px; IOG uses 512): "
                "the checkpoint's preprocess settings are wrong or were tampered with."
            )
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}.")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PreprocessConfig:
        return _from_dict(cls, d)
