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
