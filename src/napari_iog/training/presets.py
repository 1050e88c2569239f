"""The start of a fine-tuning run: its start weights (``resolve_start``) and network
(``start_model``). Network names (profiles, the ``cpu-light`` preset, aliases) are looked up in
the one model registry, :mod:`napari_iog.models.registry`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import AUTO_WEIGHTS, PreprocessConfig

if TYPE_CHECKING:
    import numpy as np

    from ..models.iog import IOGNet


def unfitted(preprocess: PreprocessConfig) -> PreprocessConfig:
    """``preprocess`` with the default mask threshold (0.5) instead of a fitted one."""
    return replace(preprocess, threshold=PreprocessConfig().threshold)


SCRATCH = ("", "none", "scratch")  # start weights: random init of the profile


def resolve_start(
    weights: str | None,
    image: np.ndarray | None = None,
    rgb: bool | None = None,
    metadata: dict | None = None,
) -> str | None:
    """The start weights of a fine-tuning run: ``"auto"`` -> the shipped starter matching
    ``image`` (``models.starters.image_domain``; None, i.e. random init, when it is not
    installed or there is no image); ``None`` / ``"none"`` / ``""`` -> None; anything else (a
    weights name or path) unchanged."""
    if weights is None or str(weights).strip().lower() in SCRATCH:
        return None
    if str(weights).strip().lower() != AUTO_WEIGHTS:
        return str(weights)
    if image is None:
        return None
    from ..models.starters import StarterMissingError, resolve_weights

    try:
        return resolve_weights(weights, image, rgb, metadata)
    except StarterMissingError:  # a broken install: train the profile from scratch
        return None


def start_model(
    weights: str | Path | None, profile: str, seed: int = 0
) -> tuple[IOGNet, PreprocessConfig, str]:
    """The network a fine-tuning run starts from: ``(IOGNet on CPU, PreprocessConfig, text)``
    from checkpoint ``weights`` if given, else a random init of ``profile`` from ``seed``; the
    text names the start for the checkpoint's provenance. A threshold fitted to the start
    weights (``training.calibration``) does not carry over: training changes the network, so
    the run starts from the paper's 0.5 (and fits its own with ``calibrate_threshold``)."""
    if weights:
        from ..models.checkpoint import load_model

        loaded = load_model(weights, device="cpu")
        return loaded.model, unfitted(loaded.preprocess), str(weights)
    from ..models import build_model
    from ..models.registry import resolve_profile

    mc, pre = resolve_profile(profile)
    return build_model(mc, seed=seed), pre, f"random init ({profile}, seed {seed})"
