"""The last planes read from a labels store, kept in memory and written through.

napari re-reads the whole displayed plane of a non-numpy Labels layer after every edit (its
partial refresh re-slices the layer) and after every undo: 256 chunk reads for an 8192 x 8192
plane (about 0.4 s). :class:`PlaneCache` answers those reads from memory: the store writes
every edit to zarr AND to the cached plane, so both always agree. At most :data:`KEEP` planes
(an 8192 x 8192 uint16 plane is 134 MB; one plane: the displayed one).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

KEEP = 1


def plane_request(
    key: object, shape: tuple[int, ...]
) -> tuple[tuple[int, ...], tuple[slice, ...], tuple[bool, ...]] | None:
    """``(leading index tuple, (row slice, col slice), keep)`` when ``key`` selects ONE plane of
    an array of ``shape`` with basic slices in its last two axes (``keep``: per leading axis,
    whether it stays as a length-1 axis); None for any other key."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (len(shape) - len(key) + 1) + key[i + 1 :]
    nlead = len(shape) - 2
    if len(key) < nlead or len(key) > len(shape):
        return None
    lead, keep = [], []
    for k, n in zip(key[:nlead], shape[:nlead]):
        if isinstance(k, (int, np.integer)):
            v = int(k) + n if int(k) < 0 else int(k)
            if not 0 <= v < n:
                return None
            lead.append(v)
            keep.append(False)
        elif isinstance(k, slice):
            start, stop, step = k.indices(n)
            if stop - start != 1 or step != 1:
                return None
            lead.append(start)
            keep.append(True)
        else:
            return None
    rest = tuple(key[nlead:]) + (slice(None),) * (len(shape) - len(key))
    if not all(isinstance(r, slice) for r in rest):
        return None
    return tuple(lead), rest, tuple(keep)


class PlaneCache:
    """Up to :data:`KEEP` whole planes ``[H, W]`` by leading index, least recently used out."""

    def __init__(self):
        self._planes: OrderedDict[tuple[int, ...], np.ndarray] = OrderedDict()

    def plane(self, lead: tuple[int, ...], load: Callable[[], ArrayLike]) -> np.ndarray:
        """The cached plane ``lead`` (``load()`` reads it on a miss)."""
        if lead in self._planes:
            self._planes.move_to_end(lead)
            return self._planes[lead]
        arr = np.asarray(load())  # a fresh array already (a copy costs page faults)
        self._planes[lead] = arr
        while len(self._planes) > KEEP:
            self._planes.popitem(last=False)
        return arr

    def cached(self, lead: tuple[int, ...]) -> np.ndarray | None:
        return self._planes.get(lead)

    def write(self, idx: tuple[np.ndarray, ...], values: np.ndarray) -> None:
        """Apply a fancy-index write (one int array per axis) to the cached planes it hits."""
        if not self._planes:
            return
        nlead = len(idx) - 2
        if nlead == 0:
            for plane in self._planes.values():
                plane[idx[0], idx[1]] = values
            return
        leads = np.stack(idx[:nlead], axis=1)
        for lead, plane in self._planes.items():
            hit = np.all(leads == np.asarray(lead), axis=1)
            if hit.any():
                plane[idx[-2][hit], idx[-1][hit]] = values[hit]

    def clear(self) -> None:
        self._planes.clear()
