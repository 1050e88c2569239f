"""Atomic writes: content lands whole, a failing writer leaves the old file, the mode follows umask."""

from __future__ import annotations

import os

import pytest

from napari_iog.fileio import atomic_write, atomic_write_text


def test_atomic_write_replaces_and_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "sub" / "out.json"
    atomic_write_text(target, "first")
    assert target.read_text() == "first"

    def broken(fh):
        fh.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "first"
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]  # no temp file left


def test_atomic_write_mode_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == 0o644
