"""The one model registry: every name a user or a script gives for a network or its weights.

- **Networks** (``resolve_profile``): the model profiles (``models.profiles.PROFILES``: the
  paper's networks and lighter variants), the fine-tuning presets (``PRESETS``: ``cpu-light``,
  the few-shot benchmarks' network) and the benchmark scripts' short names (``ALIASES``:
  ``light``, ``paper``).
- **Weights** (``list_weights``, ``verify``, ``domain_of_weights``): the starters shipped in the
  package (``models.starters``), the released weights (``models.weights.REGISTRY``, cached or
  not) and the user's checkpoints in the cache. A name becomes a file through
  ``models.weights.resolve_source`` and a network through ``models.checkpoint.load_model``.

Imports go one way: profiles, starters, weights -> checkpoint -> registry (nothing under
``models`` imports this module, and ``models`` never imports ``training``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from napari_iog.config import ModelConfig, PreprocessConfig
from napari_iog.models import starters as S
from napari_iog.models.checkpoint import load_model
from napari_iog.models.checkpoint_file import read_header
from napari_iog.models.profiles import PROFILES, profile_of
from napari_iog.models.statedict import CheckpointError
from napari_iog.models.weights import (
    REGISTRY,
    cache_dir,
    resolve_source,
    user_checkpoints,
    verify_release,
)

# ------------------------------------------------------------------------------------- networks
PRESETS: dict[str, tuple[ModelConfig, PreprocessConfig]] = {
    # The few-shot benchmarks' network (docs/results.md): the ResNet-18 layout at half width
    # (stem 32) with a light decoder, 192 px crops, relax 20 px, the mask clipped to the box.
    "cpu-light": (
        ModelConfig(
            backbone="resnet18",
            width=32,
            psp_out=128,
            decoder_channels=64,
            fine_channels=32,
            click_channels=32,
            refinement=True,
        ),
        PreprocessConfig(crop_size=192, relax=20, sigma=10.0, pad_pixel=10, clip_to_box=True),
    ),
}
ALIASES: dict[str, str] = {"light": "cpu-light", "paper": "iog-resnet101-refine"}


def profile_names() -> list[str]:
    """Every network name :func:`resolve_profile` accepts but the aliases: presets, then profiles."""
    return [*PRESETS, *PROFILES]


def resolve_profile(name: str) -> tuple[ModelConfig, PreprocessConfig]:
    """``(ModelConfig, PreprocessConfig)`` of a preset, a model profile or an alias; ValueError
    lists the valid names."""
    name = ALIASES.get(name, name)
    if name in PRESETS:
        return PRESETS[name]
    if name not in PROFILES:
        raise ValueError(
            f"Unknown profile {name!r}; choose one of: {', '.join([*PRESETS, *PROFILES])} "
            f"(or {', '.join(ALIASES)})."
        )
    return PROFILES[name]


def config_name(config: ModelConfig) -> str | None:
    """The profile or preset name whose ModelConfig equals ``config``, or None."""
    return profile_of(config) or next((n for n, (m, _) in PRESETS.items() if m == config), None)


# -------------------------------------------------------------------------------------- weights
@dataclass(frozen=True)
class WeightsInfo:
    """A row of ``list_weights()``: ``kind`` is ``"starter"`` (shipped), ``"registry"`` (released)
    or ``"checkpoint"`` (user-made, in the cache); ``size`` in bytes (None: unknown)."""

    name: str
    profile: str | None
    cached: bool
    path: Path
    size: int | None
    kind: str = "registry"
    description: str = ""


def _starter_rows() -> list[WeightsInfo]:
    """The starters shipped in the package; the description carries the card's domain and score."""
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
            profile = config_name(config)
            profile = profile or f"custom ({head['model_config'].get('backbone')})"
            desc = str(head.get("meta", {}).get("data", ""))
        except (CheckpointError, ValueError, KeyError, TypeError):
            desc = "unreadable napari-iog checkpoint"
        rows.append(WeightsInfo(name, profile, True, p, p.stat().st_size, "checkpoint", desc))
    return rows


def verify(name: str) -> dict:
    """Check the cached file of ``name``: ``{"name", "path", "size", "sha256", "status"}`` where
    status is ``"ok"`` (published or recorded hash matches) or ``"recorded"`` (first hash kept).
    Starters and user checkpoints (our format) are loaded, which checks every tensor's hash."""
    local = S.starter_path(name) if name in S.STARTERS else user_checkpoints().get(name)
    if local is not None:
        load_model(local, device="cpu")
        return {"name": name, "path": str(local), "size": local.stat().st_size, "status": "ok"}
    return verify_release(name)


def domain_of_weights(source: str | Path) -> str | None:
    """The domain (``"em"``/``"aerial"``) of weights ``source`` (a starter name, or a checkpoint
    whose provenance declares one); None when unknown or unreadable (the official weights,
    plain state dicts)."""
    if source in S.STARTERS:
        return S.STARTERS[source].domain
    try:
        return S.weights_domain(dict(read_header(resolve_source(source)).get("meta") or {}))
    except (CheckpointError, OSError):
        return None
