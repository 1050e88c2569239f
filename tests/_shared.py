"""Locate ``../shared`` (real data and reference fixtures) for tests; never an absolute path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    env = os.environ.get("NAPARI_IOG_SHARED")
    return Path(env) if env else (REPO / ".." / "shared").resolve()


def require_shared(*parts: str) -> Path:
    """Path under shared/, or skip the test with the reason (CI always has it)."""
    p = shared_dir().joinpath(*parts)
    if not p.exists():
        pytest.skip(
            f"{p} is absent: put the shared folder beside the repo or set NAPARI_IOG_SHARED"
        )
    return p


def boundary_net(seed: int | None = None):
    """The tiny refinement test net with our stride-2 ``BoundaryHead`` (4 channels) on top;
    ``seed=None`` draws the weights from the global torch state."""
    from dataclasses import replace

    from napari_iog.models import build_model, get_profile

    return build_model(replace(get_profile("iog-tiny-refine")[0], boundary_channels=4), seed=seed)


def constant_net(profile: str, p: float):
    """The ``profile`` test network (random init, seed 0, eval mode) with its last BatchNorm set
    so that every pixel of the fine output gets probability ``p``: masks with a known answer at
    any threshold."""
    import math

    import torch

    from napari_iog.models import build_model

    torch.manual_seed(0)
    net = build_model(profile).eval()
    bn = net.Fine_net.final_predict[-1]
    with torch.no_grad():
        bn.weight.zero_()
        bn.bias.fill_(math.log(p / (1 - p)))
    return net
