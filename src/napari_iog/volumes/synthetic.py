"""A synthetic EM-like OME-Zarr volume whose chunks are made when read (nothing but metadata on
disk), for tests and ``benchmarks/volume_zarr.py``: a 256 x 8192 x 8192 volume costs a few KB.

:func:`make_synthetic_volume` writes the OME-Zarr metadata with ``ome-zarr`` (uncompressed
chunks, levels downsampled by 2 in ``(y, x)``); :class:`SyntheticStore` is a read-only zarr
``LocalStore`` of that folder that answers every chunk key of the image levels with pixels made
by :func:`render`. Open it with ``open_volume(path, store=SyntheticStore(path))``.

The picture: a grey membrane-like texture with round cells on a grid (one per 256 x 256 tile,
jittered); each cell is a darker disc with a dark rim whose radius changes slowly with z, so it
can be followed through slices. :func:`cell_boxes` gives the true boxes of the cells on a slice.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from zarr.storage import LocalStore

from napari_iog.structures import BBox

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from zarr.abc.store import ByteRequest
    from zarr.core.buffer import Buffer, BufferPrototype

TILE = 256  # one cell per TILE x TILE tile of level 0
_CHUNK_KEY = re.compile(r"^s(\d+)/c/(\d+)/(\d+)/(\d+)$")


def _hash(*ints) -> np.ndarray:
    """Deterministic pseudo-random uint32 from integer arrays (broadcast)."""
    h = np.uint32(2166136261)
    for v in ints:
        h = (h ^ np.asarray(v, dtype=np.uint32)) * np.uint32(16777619)
        h ^= h >> np.uint32(13)
    return h


def _cells(ti, tj):
    """Centre (row, col), base radius and phase of the cell of tile ``(ti, tj)`` (arrays)."""
    h = _hash(ti, tj, 7)
    r0 = 45 + (h % 40).astype(np.float64)
    jr = ((h >> 8) % 61).astype(np.float64) - 30
    jc = ((h >> 16) % 61).astype(np.float64) - 30
    phase = ((h >> 4) % 628).astype(np.float64) / 100
    return ti * TILE + TILE / 2 + jr, tj * TILE + TILE / 2 + jc, r0, phase


def radius(r0: ArrayLike, phase: ArrayLike, z: ArrayLike) -> np.ndarray | float:
    """Cell radius on slice ``z`` (slowly varying: followable through slices)."""
    return r0 * (1 + 0.25 * np.sin(np.asarray(z, dtype=np.float64) / 15 + phase))


def render(z: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """uint8 pixels of slice ``z`` at level-0 coordinates ``rows`` x ``cols`` (1D float arrays):
    ``[len(rows), len(cols)]``."""
    r = rows[:, None]
    c = cols[None, :]
    ti, tj = np.floor(r / TILE).astype(np.int64), np.floor(c / TILE).astype(np.int64)
    ti, tj = np.broadcast_to(ti, (r.size, c.size)), np.broadcast_to(tj, (r.size, c.size))
    cr, cc, r0, phase = _cells(ti, tj)
    d = np.hypot(r - cr, c - cc)
    rad = radius(r0, phase, z)
    noise = (_hash(np.round(r).astype(np.int64), np.round(c).astype(np.int64), z) % 41).astype(
        np.float64
    )
    tex = 170 + 12 * np.sin(r / 9.0) * np.cos(c / 11.0) + noise - 20
    img = np.where(d < rad, 105 + noise / 2, tex)
    img = np.where(np.abs(d - rad) < 3, 35 + noise / 4, img)
    return np.clip(img, 0, 255).astype(np.uint8)


def cell_boxes(z: int, shape: tuple[int, int], margin: int = 4) -> list[tuple[int, BBox]]:
    """``[(cell id, inclusive BBox)]`` of every cell wholly inside the ``shape`` = ``(H, W)``
    plane on slice ``z``; ids number the tiles row-major from 1."""
    nt_r, nt_c = shape[0] // TILE, shape[1] // TILE
    ti, tj = np.meshgrid(np.arange(nt_r), np.arange(nt_c), indexing="ij")
    cr, cc, r0, phase = _cells(ti, tj)
    rad = radius(r0, phase, z) + 3 + margin
    out = []
    for i, j in zip(ti.ravel(), tj.ravel()):
        box = BBox(
            int(cr[i, j] - rad[i, j]), int(cc[i, j] - rad[i, j]),
            int(cr[i, j] + rad[i, j]), int(cc[i, j] + rad[i, j]),
        )  # fmt: skip
        if box.row0 >= 0 and box.col0 >= 0 and box.row1 < shape[0] and box.col1 < shape[1]:
            out.append((int(i * nt_c + j + 1), box))
    return out


def make_synthetic_volume(
    path: str | Path,
    shape: tuple[int, int, int] = (256, 8192, 8192),
    levels: int = 3,
    chunks: tuple[int, int, int] = (1, 512, 512),
) -> Path:
    """Write the OME-Zarr metadata (no chunks) of a ``uint8`` ``(z, y, x)`` volume at ``path``
    (a new folder); its levels are ``shape / 2**k`` in ``(y, x)``."""
    import dask.array as da
    import zarr
    from ome_zarr.writer import write_multiscale

    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; give a new folder for the synthetic volume.")
    root = zarr.open_group(str(path), mode="w")
    pyramid = [
        da.zeros((shape[0], shape[1] >> k, shape[2] >> k), dtype=np.uint8, chunks=chunks)
        for k in range(levels)
    ]
    write_multiscale(
        pyramid, root, axes="zyx", name=path.name.split(".")[0], compute=False,
        storage_options={"chunks": chunks, "compressors": None},
    )  # fmt: skip
    return path


class SyntheticStore(LocalStore):
    """Read-only ``LocalStore`` of a :func:`make_synthetic_volume` folder that makes the image
    chunks on read (metadata comes from disk). ``reads`` counts the chunks made."""

    def __init__(self, root: str | Path):
        super().__init__(root, read_only=True)
        self.reads = 0
        self._meta: dict[int, tuple] = {}

    def _level(self, k: int) -> tuple:
        if k not in self._meta:
            import json

            meta = json.loads((Path(self.root) / f"s{k}" / "zarr.json").read_text())
            chunks = tuple(meta["chunk_grid"]["configuration"]["chunk_shape"])
            self._meta[k] = (tuple(meta["shape"]), chunks)
        return self._meta[k]

    def chunk_bytes(self, k: int, iz: int, iy: int, ix: int) -> bytes:
        shape, (cz, cy, cx) = self._level(k)
        f = 2**k
        zs = range(iz * cz, min((iz + 1) * cz, shape[0]))
        rows = (np.arange(iy * cy, iy * cy + cy) * f + (f - 1) / 2).astype(np.float64)
        cols = (np.arange(ix * cx, ix * cx + cx) * f + (f - 1) / 2).astype(np.float64)
        block = np.zeros((cz, cy, cx), dtype=np.uint8)  # full chunk (edge chunks are padded)
        for n, z in enumerate(zs):
            block[n] = render(z, rows, cols)
        self.reads += 1
        return block.tobytes()

    async def get(
        self,
        key: str,
        prototype: BufferPrototype | None = None,
        byte_range: ByteRequest | None = None,
    ) -> Buffer | None:
        m = _CHUNK_KEY.match(key)
        if m is None:
            return await super().get(key, prototype, byte_range)
        from zarr.core.buffer import default_buffer_prototype

        data = self.chunk_bytes(*(int(g) for g in m.groups()))
        return (prototype or default_buffer_prototype()).buffer.from_bytes(data)

    async def exists(self, key: str) -> bool:
        return _CHUNK_KEY.match(key) is not None or await super().exists(key)

    def __eq__(self, other) -> bool:
        return isinstance(other, SyntheticStore) and str(self.root) == str(other.root)
