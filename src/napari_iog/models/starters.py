"""Starter models shipped inside the package: ``iog-em`` (EM / grey microscopy) and
``iog-aerial`` (RGB / panchromatic aerial), so that a fresh install segments offline.

Each is a napari-iog checkpoint (``models.checkpoint``) whose tensors are stored as float16
(loaded back as float32) and whose ``meta["card"]`` is its model card: training data (paths
relative to the data root), domain, input expectations, measured scores, the sha256 of the
float32 weights it was made from, and the command that re-creates it
(``benchmarks/starter_train.py``, ``starter_eval.py``, ``starter_pack.py``).

:func:`image_domain` tells an EM-like image from an aerial one (from the array and the layer
metadata) and :func:`starter_for` names the starter that matches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from napari_iog.config import AUTO_WEIGHTS
from napari_iog.models.statedict import CheckpointError

STARTER_DIR = Path(__file__).resolve().parent / "starters"
DOMAINS = ("em", "aerial")
_GEO_KEYS = ("crs", "transform", "geotransform", "georeference", "epsg")


@dataclass(frozen=True)
class StarterEntry:
    """A shipped starter: ``domain`` is ``"em"`` or ``"aerial"``; ``filename`` in STARTER_DIR."""

    name: str
    domain: str
    filename: str
    description: str


STARTERS: dict[str, StarterEntry] = {
    "iog-em": StarterEntry(
        "iog-em", "em", "iog-em.pt",
        "EM / grey microscopy starter (ssTEM, ISBI 2012, FIB-SEM; mitochondria, cell profiles)",
    ),
    "iog-aerial": StarterEntry(
        "iog-aerial", "aerial", "iog-aerial.pt",
        "Aerial starter (RGB or panchromatic orthophotos; buildings)",
    ),
}  # fmt: skip


class StarterMissingError(CheckpointError):
    """A shipped starter file is absent (a broken or partial install)."""


def starter_path(name: str) -> Path:
    """Path of the shipped file of starter ``name``; StarterMissingError says how to repair."""
    if name not in STARTERS:
        raise CheckpointError(f"Unknown starter {name!r}; shipped: {', '.join(STARTERS)}.")
    path = STARTER_DIR / STARTERS[name].filename
    if not path.is_file():
        raise StarterMissingError(
            f"The starter model {name!r} should ship with napari-iog at {path}, but the file is "
            "missing: the installation is incomplete. Reinstall it (pip install --force-reinstall "
            "--no-deps napari-iog, or from a checkout: pip install -e .), or pick other weights."
        )
    return path


def available_starters() -> list[str]:
    """Names of the starters whose files are present in this installation."""
    return [n for n, e in STARTERS.items() if (STARTER_DIR / e.filename).is_file()]


@lru_cache(maxsize=8)
def _card(path: str, mtime: float) -> dict:
    from napari_iog.models.checkpoint_file import read_header

    return dict(read_header(path).get("meta", {}).get("card", {}))


def starter_card(name: str) -> dict:
    """The model card (``meta["card"]``) of a shipped starter (``{}`` if the file has none)."""
    path = starter_path(name)
    return _card(str(path), path.stat().st_size + path.stat().st_mtime)


def headline_score(card: dict) -> tuple[str, float] | None:
    """``(test set, mIoU@3)`` of the card's first measured test set, or None."""
    for test, scores in (card.get("scores") or {}).items():
        if isinstance(scores, dict) and "miou_at_3" in scores:
            return test, float(scores["miou_at_3"])
    return None


def image_domain(data: object, rgb: bool | None = None, metadata: dict | None = None) -> str:
    """``"aerial"`` or ``"em"`` for an image.

    ``data``: array-like ``[..., H, W]`` or ``[..., H, W, C]`` (numpy, dask, or the first level
    of a multiscale list); ``rgb``: napari's flag for a trailing colour axis (None = guess from
    a last axis of 3 or 4); ``metadata``: layer metadata. An explicit ``metadata["domain"]`` (or
    ``"modality"``) of ``em``/``aerial`` wins; a georeference (``crs``, ``transform``...) means
    aerial; colour means aerial; anything else (grey, 8/16-bit, a stack) is EM/microscopy.
    """
    meta = metadata or {}
    for key in ("domain", "modality"):
        value = str(meta.get(key, "")).lower()
        if value in DOMAINS:
            return value
    if any(k in meta for k in _GEO_KEYS):
        return "aerial"
    if isinstance(data, (list, tuple)) and data and hasattr(data[0], "shape"):
        data = data[0]
    shape = tuple(getattr(data, "shape", np.shape(data)))
    if rgb is None:
        rgb = len(shape) >= 3 and shape[-1] in (3, 4)
    return "aerial" if rgb else "em"


def starter_for(domain: str) -> str:
    """The starter name of ``domain`` (``"em"`` -> ``"iog-em"``)."""
    for name, entry in STARTERS.items():
        if entry.domain == domain:
            return name
    raise ValueError(f"Unknown domain {domain!r}; choose one of {DOMAINS}.")


def weights_domain(meta: dict) -> str | None:
    """The domain a checkpoint's provenance declares (starters and runs started from them)."""
    for value in (meta.get("domain"), (meta.get("card") or {}).get("domain")):
        if value in DOMAINS:
            return str(value)
    return None


def resolve_weights(
    weights: str, image: object = None, rgb: bool | None = None, metadata: dict | None = None
) -> str:
    """``weights`` unchanged, except ``"auto"``: the shipped starter matching ``image`` (see
    :func:`image_domain`); StarterMissingError when that file is absent from the install."""
    if str(weights).strip().lower() != AUTO_WEIGHTS:
        return str(weights)
    name = starter_for(image_domain(image, rgb, metadata) if image is not None else "em")
    starter_path(name)  # a clear message if the install lacks it
    return name
