"""Atomic file writes (torch- and napari-free): a temp file beside the target, fsync, ``os.replace``.

A crash or Ctrl-C mid-write leaves the previous file intact, never a truncated one.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _new_temp(path: Path) -> Path:
    """Create an empty, unique temp file beside ``path``. Its mode is ``0o666`` minus the umask,
    applied by the kernel (what ``open(path, "w")`` gives; mkstemp's 0600 would make results
    unreadable for the rest of a lab group) - no process-wide ``os.umask`` toggling, which
    would race with files created by other threads."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"Could not create a temporary file next to {path}.")


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(binary file object)`` on a temp file next to ``path``, then replace ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temp(path)
    try:
        with open(tmp, "wb") as fh:  # by name: writers like tifffile need fh.name to be a path
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def sidecar_path(labels_path: str | os.PathLike) -> Path:
    """Where the provenance JSON of a labels file or store sits: beside it, named after its stem
    up to the first dot: ``labels.tif`` -> ``labels.iog.json``, ``x.zarr`` -> ``x.iog.json``,
    ``.../labels/iog`` -> ``.../labels/iog.iog.json`` (the napari writers, ``export-polygons``,
    the zarr labels stores and the harvest ledger)."""
    p = Path(labels_path)
    return p.with_name(p.name.split(".")[0] + ".iog.json")


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    data = text.encode("utf-8")
    return atomic_write(path, lambda fh: fh.write(data))
