"""npe2 writer: a Labels layer as TIFF plus its IOG provenance JSON beside it
(``labels.tif`` + ``labels.iog.json``), both written atomically (temp file + os.replace)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from napari_iog._napari.provenance import KEY, sidecar_path


def _atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_labels(path: str, data, meta: dict) -> list[str]:
    """Write label array ``data`` to ``path`` (.tif) and the provenance records in
    ``meta['metadata']['napari_iog']`` to the sidecar JSON. Returns the written paths."""
    import tifffile

    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        path = path.with_suffix(".tif")
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.asarray(data)
    _atomic(path, lambda tmp: tifffile.imwrite(tmp, arr, compression="zlib"))
    written = [str(path)]
    store = (meta.get("metadata") or {}).get(KEY)
    if store:
        doc = {
            "plugin": "napari-iog",
            "labels_file": path.name,
            "labels_layer": meta.get("name"),
            "coordinate_order": "slice indices, then (row, col) pixels",
            **store,
        }
        side = sidecar_path(path)

        def dump(tmp):
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=1)

        _atomic(side, dump)
        written.append(str(side))
    return written
