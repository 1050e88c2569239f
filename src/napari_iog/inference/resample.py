"""Separable image resampling with the pixel-centre convention, numpy only.

A destination pixel ``i`` of a length-``out`` axis samples the source at
``x = (i + 0.5) * in / out - 0.5`` - the convention of ``cv2.resize`` and of
``torch.nn.functional.interpolate(..., align_corners=False, antialias=False)``:

- ``"linear"``: 2 taps, ``x`` clamped at 0 (as cv2 ``INTER_LINEAR`` / torch ``bilinear``).
- ``"cubic"``: 4 taps, Keys kernel with ``A = -0.75`` (as cv2 ``INTER_CUBIC`` / torch
  ``bicubic``); source indices clamped to the border (replicate).

Working from index/weight tables per axis means a caller can (1) read only the source rows and
columns the output needs (a 512 px crop of a 20k x 20k image touches at most 1024 rows and 1024
columns) and (2) compute only part of the output (the part of a pasted map inside the image).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

_A = -0.75
_CHUNK_ELEMS = 1 << 22  # bound on temporary floats per output chunk


def axis_table(in_len: int, out_len: int, kind: str = "linear") -> tuple[np.ndarray, np.ndarray]:
    """Index and weight tables ``(idx int64 [out, taps], w float64 [out, taps])`` for one axis.

    ``idx`` are source positions in ``0..in_len-1``; output ``i`` is ``sum_k w[i,k] src[idx[i,k]]``.
    """
    if in_len < 1 or out_len < 1:
        raise ValueError(f"Cannot resample a length-{in_len} axis to length {out_len}.")
    x = (np.arange(out_len, dtype=np.float64) + 0.5) * (in_len / out_len) - 0.5
    if kind == "linear":
        x = np.maximum(x, 0.0)
        i0 = np.minimum(np.floor(x).astype(np.int64), in_len - 1)
        t = x - i0
        idx = np.stack([i0, np.minimum(i0 + 1, in_len - 1)], axis=1)
        w = np.stack([1.0 - t, t], axis=1)
    elif kind == "cubic":
        i0 = np.floor(x).astype(np.int64)
        t = x - i0
        idx = np.clip(i0[:, None] + np.arange(-1, 3)[None, :], 0, in_len - 1)
        w = np.stack([_far(t + 1.0), _near(t), _near(1.0 - t), _far(2.0 - t)], axis=1)
    else:
        raise ValueError(f"Unknown interpolation {kind!r}; use 'linear' or 'cubic'.")
    return idx, w


def _near(d: np.ndarray) -> np.ndarray:  # |d| <= 1
    return ((_A + 2.0) * d - (_A + 3.0)) * d * d + 1.0


def _far(d: np.ndarray) -> np.ndarray:  # 1 < |d| < 2
    return ((_A * d - 5.0 * _A) * d + 8.0 * _A) * d - 4.0 * _A


def offset_table(
    table: tuple[np.ndarray, np.ndarray], offset: int, limit: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shift a table's indices by ``offset`` into an axis of length ``limit``; taps that land
    outside ``0..limit-1`` get weight 0 (zero padding). Returns ``(idx, w, needed)`` where
    ``idx`` indexes into ``needed`` (the sorted unique in-range source positions to read)."""
    idx, w = table
    pos = idx + int(offset)
    valid = (pos >= 0) & (pos < limit)
    w = np.where(valid, w, 0.0)
    needed = np.unique(pos[valid])
    if needed.size == 0:  # nothing to read: everything is padding
        return np.zeros_like(idx), w, np.array([0], dtype=np.int64)
    local = np.searchsorted(needed, np.clip(pos, needed[0], needed[-1]))
    return np.where(valid, local, 0), w, needed


def resample(
    src: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray],
    cols: tuple[np.ndarray, np.ndarray],
    dtype: DTypeLike = np.float32,
) -> np.ndarray:
    """Separable resample of ``src`` ``[h, w]`` or ``[h, w, C]`` with per-axis tables
    ``rows = (idx [R, k], w [R, k])`` and ``cols = (idx [Q, k], w [Q, k])``.
    Returns ``dtype`` ``[R, Q]`` or ``[R, Q, C]``; works in row chunks to bound memory."""
    src = np.asarray(src)
    ridx, rw = rows
    cidx, cw = cols
    rw = rw.astype(dtype)
    cw = cw.astype(dtype)
    extra = src.shape[2:]
    out = np.empty((ridx.shape[0], cidx.shape[0], *extra), dtype=dtype)
    per_row = max(1, int(np.prod(src.shape[1:])) * ridx.shape[1] + cidx.size * int(np.prod(extra)))
    step = max(1, _CHUNK_ELEMS // per_row)
    tail = (None,) * len(extra)
    for start in range(0, ridx.shape[0], step):
        sl = slice(start, start + step)
        gathered = src[ridx[sl]].astype(dtype, copy=False)  # [r, k, w, ...]
        tmp = np.einsum("rk...,rk->r...", gathered, rw[sl])  # [r, w, ...]
        g2 = tmp[:, cidx]  # [r, Q, k, ...]
        out[sl] = (g2 * cw[(None, slice(None), slice(None), *tail)]).sum(axis=2)
    return out
