"""The IOG network (tensors in, tensors out). Importing this package imports torch.

Every name of a network or of weights (profiles, presets, aliases, shipped starters, released
weights, the user's checkpoints) is looked up in :mod:`napari_iog.models.registry`; weights are
read and written by :mod:`napari_iog.models.checkpoint`.
"""

from __future__ import annotations

from ..config import ModelConfig
from .backbone import EncoderFeatures, ResNetBackbone
from .boundary_head import BoundaryHead
from .decoder import CoarseNet, FineNet
from .iog import InputShapeError, IOGNet, IOGOutput
from .profiles import PROFILES, get_profile, profile_of
from .psp import PSPModule
from .refinement import RefinementBranch


def build_model(
    name_or_config: str | ModelConfig = "iog-resnet101", seed: int | None = None
) -> IOGNet:
    """Build a random-init IOGNet from a profile name (see ``PROFILES``) or a ModelConfig.
    ``seed``: initialise the weights from this seed (reproducible training runs) without touching
    the global torch random state; ``None`` draws from the global state."""
    import torch

    cfg = (
        name_or_config
        if isinstance(name_or_config, ModelConfig)
        else get_profile(name_or_config)[0]
    )
    if seed is None:
        return IOGNet(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return IOGNet(cfg)


__all__ = [
    "BoundaryHead",
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
