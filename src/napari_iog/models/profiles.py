"""Named model profiles: the paper's networks and lighter variants of the same classes.

| name | backbone | crop | use |
|---|---|---|---|
| iog-resnet101[-refine] | ResNet-101 | 512 | the paper; loads IOG_PASCAL*.pth |
| iog-resnet50[-refine] | ResNet-50 | 384 | lighter GPU/CPU |
| iog-resnet18[-refine] | ResNet-18, 128-ch decoder | 256 | fast CPU |
| iog-tiny[-refine] | 1-block ResNet, width 16 | 64 | unit tests only |
"""

from __future__ import annotations

from dataclasses import replace

from ..config import ModelConfig, PreprocessConfig

_BASE: dict[str, tuple[ModelConfig, PreprocessConfig]] = {
    "iog-resnet101": (ModelConfig(), PreprocessConfig(crop_size=512)),
    "iog-resnet50": (ModelConfig(backbone="resnet50"), PreprocessConfig(crop_size=384)),
    "iog-resnet18": (
        ModelConfig(
            backbone="resnet18",
            psp_out=256,
            decoder_channels=128,
            fine_channels=64,
            click_channels=32,
        ),
        PreprocessConfig(crop_size=256),
    ),
    "iog-tiny": (
        ModelConfig(
            backbone="tiny",
            width=16,
            psp_out=32,
            decoder_channels=16,
            fine_channels=8,
            click_channels=8,
        ),
        PreprocessConfig(crop_size=64, relax=8, sigma=6.0, pad_pixel=4),
    ),
}

PROFILES: dict[str, tuple[ModelConfig, PreprocessConfig]] = {}
for _name, (_m, _p) in _BASE.items():
    PROFILES[_name] = (_m, _p)
    PROFILES[_name + "-refine"] = (replace(_m, refinement=True), _p)


def get_profile(name: str) -> tuple[ModelConfig, PreprocessConfig]:
    """``(ModelConfig, PreprocessConfig)`` of a named profile; ValueError lists the valid names."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"Unknown model profile {name!r}; choose one of: {', '.join(PROFILES)}."
        ) from None


def profile_of(config: ModelConfig) -> str | None:
    """The profile name whose ModelConfig equals ``config``, or None."""
    for name, (m, _) in PROFILES.items():
        if m == config:
            return name
    return None
