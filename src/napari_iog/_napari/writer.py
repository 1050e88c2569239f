"""npe2 writer: a Labels layer as TIFF plus its IOG provenance JSON beside it
(``labels.tif`` + ``labels.iog.json``), both written atomically (temp file + os.replace)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from napari_iog._napari.provenance import KEY
from napari_iog.fileio import atomic_write, atomic_write_text, sidecar_path

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def write_labels(path: str, data: ArrayLike, meta: dict) -> list[str]:
    """Write label array ``data`` (integer ids ``[..., H, W]``) to ``path`` (.tif) and the
    provenance records in ``meta['metadata']['napari_iog']`` to the sidecar JSON. Returns the
    written paths."""
    import tifffile

    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        path = path.with_suffix(".tif")
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.asarray(data)
    atomic_write(path, lambda fh: tifffile.imwrite(fh, arr, compression="zlib"))
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
        atomic_write_text(side, json.dumps(doc, indent=1))
        written.append(str(side))
    return written
