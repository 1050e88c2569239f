"""Fixtures for every test: a private weights cache, so no test reads or writes the user's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NAPARI_IOG_CACHE", str(tmp_path / "cache"))
