"""What weights this machine has: the starters shipped in the package, the registry's released
weights (cached or not) and the user's checkpoints in the cache, as rows for the CLI's
``weights list`` and the annotator's picker (``list_weights``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from napari_iog.config import ModelConfig
from napari_iog.models.checkpoint import CheckpointError, read_header
from napari_iog.models.profiles import profile_of
from napari_iog.models.weights import REGISTRY, cache_dir, user_checkpoints


@dataclass(frozen=True)
class WeightsInfo:
    """A row of ``list_weights()``: ``kind`` is ``"starter"`` (shipped), ``"registry"`` (released)
    or ``"checkpoint"`` (user-made, in the cache)."""

    name: str
    profile: str | None
    cached: bool
    path: Path
    size: int | None
    kind: str = "registry"
    description: str = ""


def _preset_of(config: ModelConfig) -> str | None:
    """The training preset (e.g. ``cpu-light``, the few-shot default) whose network ``config`` is."""
    from ..training.presets import PRESETS  # plain configs: no torch, no training code

    return next((name for name, (m, _) in PRESETS.items() if m == config), None)


def _starter_rows() -> list[WeightsInfo]:
    """The starters shipped in the package; the description carries the card's domain and score."""
    from napari_iog.models import starters as S

    rows = []
    for e in S.STARTERS.values():
        p = S.STARTER_DIR / e.filename
        desc = e.description
        try:
            score = S.headline_score(S.starter_card(e.name)) if p.is_file() else None
        except CheckpointError:
            score, desc = None, f"{desc} [unreadable file: reinstall napari-iog]"
        if score is not None:
            desc += f"; mIoU@3 {score[1]:.3f} on {score[0]}"
        size = p.stat().st_size if p.is_file() else None
        rows.append(WeightsInfo(e.name, "cpu-light", p.is_file(), p, size, "starter", desc))
    return rows


def list_weights() -> list[WeightsInfo]:
    """Shipped starters, registry entries (cached or not), then the user's cached checkpoints."""
    rows = _starter_rows()
    for e in REGISTRY.values():
        p = cache_dir() / e.filename
        size = p.stat().st_size if p.is_file() else e.size
        rows.append(WeightsInfo(e.name, e.profile, p.is_file(), p, size, "registry", e.description))
    for name, p in user_checkpoints().items():
        profile, desc = None, ""
        try:
            head = read_header(p)
            config = ModelConfig.from_dict(dict(head["model_config"]))
            profile = profile_of(config) or _preset_of(config)
            profile = profile or f"custom ({head['model_config'].get('backbone')})"
            desc = str(head.get("meta", {}).get("data", ""))
        except (CheckpointError, ValueError, KeyError, TypeError):
            desc = "unreadable napari-iog checkpoint"
        rows.append(WeightsInfo(name, profile, True, p, p.stat().st_size, "checkpoint", desc))
    return rows
