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
