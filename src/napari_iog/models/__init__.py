"""The IOG network (tensors in, tensors out). Importing this package imports torch."""

from __future__ import annotations

from ..config import ModelConfig
from .backbone import EncoderFeatures, ResNetBackbone
from .decoder import CoarseNet, FineNet
from .iog import InputShapeError, IOGNet, IOGOutput
from .profiles import PROFILES, get_profile, profile_of
from .psp import PSPModule
from .refinement import RefinementBranch


def build_model(name_or_config: str | ModelConfig = "iog-resnet101") -> IOGNet:
    """Build a random-init IOGNet from a profile name (see ``PROFILES``) or a ModelConfig."""
    if isinstance(name_or_config, ModelConfig):
        return IOGNet(name_or_config)
    return IOGNet(get_profile(name_or_config)[0])


__all__ = [
    "PROFILES",
    "CoarseNet",
    "EncoderFeatures",
    "FineNet",
    "IOGNet",
    "IOGOutput",
    "InputShapeError",
    "PSPModule",
    "RefinementBranch",
    "ResNetBackbone",
    "build_model",
    "get_profile",
    "profile_of",
]
