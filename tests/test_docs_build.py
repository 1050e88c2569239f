"""The documentation site builds with ``mkdocs build --strict`` (broken links or anchors, missing
pages, API pages whose modules do not import: every warning fails), and its home page is the
README."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None,
    reason="mkdocs / mkdocstrings-python not installed (pip install -e '.[docs]')",
)
def test_mkdocs_build_strict(tmp_path):
    site = tmp_path / "site"
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Quick start" in home and 'href="starters/"' in home  # the README, links rewritten
    api = (site / "api" / "inference" / "index.html").read_text(encoding="utf-8")
    assert "IOGPredictor" in api and "resolve_device" in api  # rendered from the docstrings
    assert (site / "results" / "index.html").is_file()
