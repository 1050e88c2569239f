"""Turn any 2D image plane into what IOG eats: RGB float32 in 0..255 (no mean/std).

Accepted (``H, W >= 1``):

- ``[H, W]`` grey -> replicated to 3 channels; ``[H, W, 1]`` is treated as grey.
- ``[H, W, 3]`` RGB; ``[H, W, 4]`` RGBA (alpha dropped). With ``rgb=True`` any ``[H, W, C>=3]``
  uses its first 3 channels. ``rgb=False`` insists on a 2D grey plane.
- dtypes: ``uint8`` is used as is (0..255); ``bool`` becomes 0/255; every other integer or float
  dtype is mapped linearly from ``contrast_limits = (lo, hi)`` to 0..255 and clipped. The default
  limits are the image's 0.5 and 99.5 percentiles over all channels together (on a regular
  subsample of about 4 M values for larger images). A constant image maps to zeros. Explicit
  ``contrast_limits`` are honoured for ``uint8`` too (e.g. napari's layer limits).

Rejected with :class:`ImageError` (a ValueError that says what to do): 0 or >3 dims, empty
images, NaN/inf values, complex dtypes, a last axis that is not 1/3/4 channels (pick one channel
or pass ``rgb=True``), inverted or non-finite contrast limits.

:class:`NetworkImage` keeps the original array (no copy, works with ``np.memmap``) and converts
only the pixels that are asked for, so huge images never get a full-size float copy. Lazy arrays
(dask, zarr: a plane of an OME-Zarr volume) stay lazy: only the asked windows are read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

_SAMPLE_TARGET = 4_000_000
_ROW_BLOCK_ELEMS = 1 << 24


class ImageError(ValueError):
    """An image that cannot be fed to the network; the message says what to do."""


def to_network_rgb(
    image: ArrayLike,
    rgb: bool | None = None,
    contrast_limits: tuple[float, float] | None = None,
) -> np.ndarray:
    """Convert a whole 2D image plane to float32 ``[H, W, 3]`` in 0..255 (see module doc)."""
    return NetworkImage(image, rgb=rgb, contrast_limits=contrast_limits).full()


class NetworkImage:
    """A validated image plane plus its conversion to network RGB, applied on demand.

    ``shape`` is ``(H, W)``; :meth:`gather` and :meth:`full` return float32 ``[..., 3]``.
    """

    def __init__(
        self,
        image: ArrayLike,
        rgb: bool | None = None,
        contrast_limits: tuple[float, float] | None = None,
    ):
        lazy = _is_lazy(image)
        arr = image if isinstance(image, np.ndarray) or lazy else np.asarray(image)
        if arr.dtype == object or arr.dtype.kind in "cSUV":
            raise ImageError(
                f"Image dtype {arr.dtype} is not a real-valued image; pass a numeric array."
            )
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.ndim not in (2, 3):
            raise ImageError(
                f"Expected one 2D image plane [H, W] or [H, W, 3|4], got shape {arr.shape}. "
                "For a stack, pass the current slice (e.g. image[z])."
            )
        if arr.shape[0] == 0 or arr.shape[1] == 0 or (arr.ndim == 3 and arr.shape[2] == 0):
            raise ImageError(f"The image is empty (shape {arr.shape}).")
        if arr.ndim == 3:
            n = arr.shape[2]
            if rgb is False:
                raise ImageError(
                    f"rgb=False needs a 2D grey plane, got shape {arr.shape}; pick one channel "
                    "(image[..., c]) or pass rgb=True."
                )
            if n == 2 or (n > 4 and rgb is not True):
                raise ImageError(
                    f"The last axis has {n} channels; IOG needs grey or RGB. Pick one channel "
                    f"(image[..., c]) or pass rgb=True to use the first 3 (needs >= 3)."
                )
            arr = arr[:, :, :3]
        elif rgb is True:
            raise ImageError(f"rgb=True needs [H, W, 3|4] data, got shape {arr.shape}.")
        self._raw = arr
        self._lazy = lazy
        self.shape = (int(arr.shape[0]), int(arr.shape[1]))
        self.is_rgb = arr.ndim == 3
        if not lazy:  # lazy planes are checked block by block as they are read (convert)
            self._check_finite()
        self._limits = self._resolve_limits(contrast_limits)
        self._wide = self._needs_float64()

    @property
    def raw(self) -> np.ndarray:
        """The original data (grey ``[H, W]`` or ``[H, W, 3]``), not converted."""
        return self._raw

    @property
    def contrast_limits(self) -> tuple[float, float] | None:
        """``(lo, hi)`` used for the linear mapping, or None when used as is (uint8/bool)."""
        return self._limits

    def _check_finite(self) -> None:
        if self._raw.dtype.kind != "f":
            return
        step = max(1, _ROW_BLOCK_ELEMS // max(1, self._raw[0].size))
        for r in range(0, self.shape[0], step):
            if not np.isfinite(self._raw[r : r + step]).all():
                raise ImageError(
                    "The image contains NaN or inf values; replace them first "
                    "(e.g. np.nan_to_num(image)) or pick a clean region."
                )

    def _resolve_limits(self, limits) -> tuple[float, float] | None:
        kind = self._raw.dtype.kind
        if limits is None:
            if kind == "b" or self._raw.dtype == np.uint8:
                return None
            step = max(1, int(np.ceil(np.sqrt(self._raw.size / _SAMPLE_TARGET))))
            sample = np.asarray(self._raw[::step, ::step], dtype=np.float64)
            with np.errstate(over="ignore", invalid="ignore"):
                lo, hi = np.percentile(sample, [0.5, 99.5])
            if not (np.isfinite(lo) and np.isfinite(hi)):  # interpolation overflowed (~1e308)
                lo, hi = sample.min(), sample.max()
            return float(lo), float(hi)
        try:
            lo, hi = (float(v) for v in limits)
        except (TypeError, ValueError):
            raise ImageError(
                f"contrast_limits must be two numbers (lo, hi), got {limits!r}."
            ) from None
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo:
            raise ImageError(
                f"contrast_limits {limits!r} must be finite with lo <= hi "
                "(e.g. the layer's contrast limits)."
            )
        return lo, hi

    def _needs_float64(self) -> bool:
        """True when float32 arithmetic could overflow or underflow to inf/NaN: float64 data, or
        limits (or their span) outside float32's comfortable range (e.g. values near 1e+-300)."""
        if self._limits is None:
            return False
        lo, hi = self._limits
        span_ok = hi == lo or 1e-30 < hi - lo < 1e30
        return self._raw.dtype.itemsize > 4 or max(abs(lo), abs(hi)) > 1e30 or not span_ok

    def convert(self, block: np.ndarray) -> np.ndarray:
        """Convert raw pixels (grey ``[..]`` or RGB ``[.., 3]``) to float32 RGB 0..255."""
        block = np.asarray(block)
        if self._lazy and block.dtype.kind == "f" and not np.isfinite(block).all():
            raise ImageError(
                "The image contains NaN or inf values; replace them first "
                "(e.g. np.nan_to_num(image)) or pick a clean region."
            )
        if self._raw.dtype.kind == "b":
            out = block.astype(np.float32) * np.float32(255)
        elif self._limits is None:
            out = block.astype(np.float32)
        elif self._limits[1] == self._limits[0]:  # flat limits (constant image): above -> 255
            out = np.where(block > self._limits[0], np.float32(255), np.float32(0))
        elif self._wide:  # normalise in float64 by the limits' magnitude: no inf - inf, no 0 * inf
            lo, hi = self._limits
            m = max(abs(lo), abs(hi))
            with np.errstate(over="ignore"):  # far outliers may reach +-inf: clipped below
                x = block.astype(np.float64) / m
                out = (x - lo / m) * (255.0 / (hi / m - lo / m))
            out = np.clip(out, 0, 255).astype(np.float32)
        else:
            lo, hi = self._limits
            x = block.astype(np.float32)
            out = (x - np.float32(lo)) * np.float32(255.0 / (hi - lo))
            np.clip(out, 0, 255, out=out)
        if not self.is_rgb:
            out = np.repeat(out[..., None], 3, axis=-1)
        return out.astype(np.float32, copy=False)

    def gather(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Converted pixels at the cross product of ``rows`` x ``cols`` (in-range int indices):
        float32 ``[len(rows), len(cols), 3]``. Reads only those pixels."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        if _is_range(rows) and _is_range(cols):  # contiguous: a cheap slice
            block = self._raw[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        elif self._lazy and rows.size and cols.size:  # read the bounding window once
            r0, c0 = int(rows.min()), int(cols.min())
            win = np.asarray(self._raw[r0 : int(rows.max()) + 1, c0 : int(cols.max()) + 1])
            block = win[np.ix_(rows - r0, cols - c0)]
        else:
            block = self._raw[np.ix_(rows, cols)]
        return self.convert(block)

    def window(self, r0: int, c0: int, r1: int, c1: int) -> np.ndarray:
        """Converted pixels of the inclusive in-image window ``rows r0..r1, cols c0..c1``."""
        return self.convert(self._raw[r0 : r1 + 1, c0 : c1 + 1])

    def full(self) -> np.ndarray:
        """The whole plane converted: float32 ``[H, W, 3]`` (allocates H*W*3 floats)."""
        return self.convert(self._raw)


def _is_lazy(image) -> bool:
    """True for array-likes read on demand (dask, zarr, ...): not numpy, with ``shape``,
    ``dtype``, ``ndim`` and ``__getitem__``. They are kept as they are: only the windows asked
    for are read (a huge zarr/dask plane is never loaded whole)."""
    return not isinstance(image, np.ndarray) and all(
        hasattr(image, a) for a in ("shape", "dtype", "ndim", "__getitem__")
    )


def _is_range(idx: np.ndarray) -> bool:
    return idx.size > 0 and int(idx[-1]) - int(idx[0]) + 1 == idx.size


def as_network_image(
    image: ArrayLike | NetworkImage,
    rgb: bool | None = None,
    contrast_limits: tuple[float, float] | None = None,
) -> NetworkImage:
    """Pass a :class:`NetworkImage` through unchanged, wrap anything else."""
    if isinstance(image, NetworkImage):
        return image
    return NetworkImage(image, rgb=rgb, contrast_limits=contrast_limits)
