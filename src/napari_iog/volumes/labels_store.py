"""A chunked zarr labels array that behaves like the numpy array napari's Labels layer edits.

napari's ``Labels.data_setitem`` (commits) and its undo/redo index the data with a tuple of int
arrays (fancy indexing). :class:`LabelStore` answers those with ONE read / read-modify-write of
their bounding box, so a commit reads and writes only the chunks its bounding box touches; chunks
that stay all background are never stored (zarr's ``write_empty_chunks=False``). Basic slices
(``paste_labels`` reading a window) go to zarr directly, except reads of one whole plane
(napari slicing the displayed plane, after every edit and undo): those come from a
:class:`~napari_iog.volumes.plane_cache.PlaneCache` that every write also updates.

Ids: :attr:`max_id` is the largest id ever written through this object or found when the store
was opened (never lowered by an undo, so an id is not reused after undo). No full-volume
``max`` is ever computed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from napari_iog.volumes.plane_cache import PlaneCache, plane_request

if TYPE_CHECKING:
    import zarr

WHOLE_READ_LIMIT = 1 << 28  # bytes: np.asarray(store) beyond this is refused (a 17 GB volume)


class LabelStoreError(ValueError):
    """A labels store that cannot do what was asked; the message says what to do."""


def _is_fancy(key) -> bool:
    return (
        isinstance(key, tuple)
        and len(key) > 0
        and all(isinstance(k, np.ndarray) or isinstance(k, list) for k in key)
    )


class LabelStore:
    """A numpy-like view of a zarr labels array ``[..., H, W]`` (unsigned ints).

    ``path``: the array's folder on disk (for messages and the provenance beside it);
    ``provenance``: that JSON's path; ``max_id``: see module doc.
    """

    def __init__(
        self, array: zarr.Array, path: Path | None, provenance: Path | None, max_id: int = 0
    ):
        self.array = array
        self.path = None if path is None else Path(path)
        self.provenance = None if provenance is None else Path(provenance)
        self.max_id = int(max_id)
        self.read_only = False
        self.writes = 0  # number of write calls (tests and the benchmark count them)
        self.cache = PlaneCache()  # the displayed plane(s), written through

    # --- the array protocol napari needs -------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.array.dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def chunks(self) -> tuple[int, ...]:
        return tuple(int(c) for c in self.array.chunks)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        nbytes = self.size * self.dtype.itemsize
        if nbytes > WHOLE_READ_LIMIT:
            raise LabelStoreError(
                f"Refusing to load the whole labels store {self.path} ({nbytes / 1e9:.1f} GB) "
                "into memory; read a slice of it (store[z]) instead."
            )
        out = np.asarray(self.array[...])
        return out if dtype is None else out.astype(dtype)

    def _bbox(self, key) -> tuple[tuple[slice, ...], tuple[np.ndarray, ...]]:
        idx = tuple(np.asarray(k, dtype=np.intp).ravel() for k in key)
        if len(idx) != self.ndim:
            raise IndexError(f"need {self.ndim} index arrays, got {len(idx)}")
        if idx[0].size == 0:
            return tuple(slice(0, 0) for _ in idx), idx
        box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in idx)
        local = tuple(i - b.start for i, b in zip(idx, box))
        return box, local

    def __getitem__(self, key):
        if _is_fancy(key):
            shape = np.broadcast(*[np.asarray(k) for k in key]).shape
            box, local = self._bbox(key)
            if local[0].size == 0:
                return np.zeros(shape, dtype=self.dtype)
            lead = tuple(b.start for b in box[:-2])
            plane = (
                self.cache.cached(lead) if all(b.stop - b.start == 1 for b in box[:-2]) else None
            )
            if plane is not None:  # on a cached plane: no store read
                return plane[box[-2:]][local[-2:]].reshape(shape)
            return np.asarray(self.array[box])[local].reshape(shape)
        req = plane_request(key, self.shape)
        if req is None:
            return np.asarray(self.array[key])
        lead, rest, keep = req
        plane = self.cache.cached(lead)
        whole = all(r.indices(n) == (0, n, 1) for r, n in zip(rest, self.shape[-2:]))
        if plane is None and not whole:  # a window of another plane: read just that
            return np.asarray(self.array[key])
        if plane is None:  # a whole plane (napari's slice of the displayed plane)
            plane = self.cache.plane(lead, lambda: self._read_plane(lead))
        out = plane[rest]
        return out.reshape((1,) * sum(keep) + out.shape)

    def __setitem__(self, key, value) -> None:
        if self.read_only:
            raise LabelStoreError(
                f"The labels at {self.path} are read-only; save them to another labels folder."
            )
        if _is_fancy(key):
            box, local = self._bbox(key)
            if local[0].size == 0:
                return
            block = np.asarray(self.array[box])
            vals = np.broadcast_to(np.asarray(value, dtype=self.dtype), local[0].shape)
            block[local] = vals
            self.array[box] = block
            self.cache.write(tuple(lo + b.start for lo, b in zip(local, box)), vals)
            top = int(vals.max()) if vals.size else 0
        else:
            vals = np.asarray(value, dtype=self.dtype)
            self.array[key] = vals
            self.cache.clear()
            top = int(vals.max()) if vals.size else 0
        self.max_id = max(self.max_id, top)
        self.writes += 1

    def _read_plane(self, lead: tuple[int, ...]) -> np.ndarray:
        """Plane ``lead`` ``[H, W]`` from its stored chunks only (the rest is background): a
        mostly empty 8192 x 8192 plane needs a few chunk reads, not 256 lookups."""
        if not lead:
            return np.asarray(self.array[...])
        out = np.zeros(self.shape[-2:], dtype=self.dtype)
        cz = self.chunks[0]
        ch, cw = self.chunks[-2:]
        for pos in self.stored_chunks(first=lead[0] // cz):
            if any(p != v // c for p, v, c in zip(pos[:-2], lead, self.chunks[:-2])):
                continue
            rows = slice(pos[-2] * ch, (pos[-2] + 1) * ch)
            cols = slice(pos[-1] * cw, (pos[-1] + 1) * cw)
            out[rows, cols] = self.array[(*lead, rows, cols)]
        return out

    # --- what is on disk -------------------------------------------------------------------
    def stored_chunks(self, first: int | None = None) -> list[tuple[int, ...]]:
        """Grid positions of the chunks that exist in the store (all others read as 0);
        ``first``: only those at that chunk index of axis 0 (zarr 3 key layout)."""
        from zarr.core.sync import sync

        async def keys():
            prefix = self.array.store_path.path
            lead = f"{prefix}/" if prefix else ""
            md = self.array.metadata
            sep = getattr(getattr(md, "chunk_key_encoding", None), "separator", None)
            if first is not None and md.zarr_format == 3 and sep == "/":
                lead += f"c/{int(first)}/"
            out = []
            async for k in self.array.store.list_prefix(lead):
                out.append(k[len(prefix) + 1 :] if prefix else k)
            return out

        grid = []
        for k in sync(keys()):
            name = k.rsplit("/", 1)[-1]
            if name in ("zarr.json", ".zarray", ".zattrs", ".zgroup") or name.startswith("."):
                continue
            parts = k.split("/")
            if len(parts) == 1 and "." in parts[0]:  # dot encodings: c.0.1.2 / 0.1.2
                parts = parts[0].split(".")
            if parts and parts[0] == "c":  # zarr 3 default encoding: c/0/1/2
                parts = parts[1:]
            try:
                grid.append(tuple(int(p) for p in parts))
            except ValueError:
                continue
        return sorted(g for g in grid if first is None or g[0] == first)

    def chunks_touched(self, box: tuple[slice, ...]) -> set[tuple[int, ...]]:
        """Grid positions of the chunks that the index box ``box`` (slices) overlaps."""
        ranges = [range(b.start // c, (b.stop - 1) // c + 1) for b, c in zip(box, self.chunks)]
        out = {()}
        for r in ranges:
            out = {(*o, i) for o in out for i in r}
        return out

    def scan_max(self) -> int:
        """Largest id in the stored chunks only (absent chunks are 0)."""
        top = 0
        for pos in self.stored_chunks():
            box = tuple(slice(p * c, (p + 1) * c) for p, c in zip(pos, self.chunks))
            top = max(top, int(np.max(self.array[box])))
        return top
