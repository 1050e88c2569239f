"""Atomic output for writers that need a *path* (GDAL drivers): a private temp folder beside the
target, the file written there under its real name, then ``os.replace`` onto the target. A crash
leaves the previous file intact; sidecars GDAL makes while writing (``-wal``, ``.aux.xml``) go with
the temp folder. An output that is one of the inputs is refused before anything is written."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from napari_iog.pathguard import PathGuardError, overwritten_inputs


@contextmanager
def atomic_output(
    path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()
) -> Iterator[Path]:
    """Yield a temp path with ``path``'s name; on success it replaces ``path``.

    Raises :class:`~napari_iog.pathguard.PathGuardError` if ``path`` is one of ``inputs``."""
    path = Path(path)
    for _, same in overwritten_inputs([path], [p for p in inputs if p]):
        raise PathGuardError(
            f"{str(path)!r} is the input {str(same)!r}; inputs are never overwritten. Give a "
            "new file name."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        tmp = tmpdir / path.name
        yield tmp
        if not tmp.is_file():
            raise OSError(f"the writer produced no file for {path.name}")
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
