"""A small synthetic OME-Zarr volume for the volume tests (written with ome-zarr)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_ome_zarr(path: Path, shape=(8, 512, 512), chunks=(1, 128, 128), levels=3) -> Path:
    """An EM-like uint8 OME-Zarr (z, y, x) at ``path`` with ``levels`` levels (2x in y, x)."""
    import zarr
    from ome_zarr.writer import write_image

    from napari_iog.volumes.synthetic import render

    rows = np.arange(shape[1], dtype=float)
    cols = np.arange(shape[2], dtype=float)
    data = np.stack([render(z, rows, cols) for z in range(shape[0])])
    root = zarr.open_group(str(path), mode="w")
    factors = [2**k for k in range(1, levels)]
    write_image(data, root, scale_factors=factors, axes="zyx", storage_options={"chunks": chunks})
    return path
