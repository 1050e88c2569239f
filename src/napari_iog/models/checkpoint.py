"""Load IOG networks: our self-describing checkpoints, the official plain ``.pth``, weights names.

The file format (writing, reading, headers) is :mod:`napari_iog.models.checkpoint_file`; its
names are re-exported here (``save_checkpoint``, ``read_header``...). The official checkpoints
(``IOG_PASCAL*.pth``) are bare state dicts; their architecture is found by comparing keys and
shapes with every known profile (``models.profiles.PROFILES``), built on torch's ``meta`` device
so that no memory is spent (``models.statedict``). Weights names (shipped starters, released
weights, the user's cached checkpoints) resolve through ``models.weights.resolve_source``. Every
failure is a ``CheckpointError`` (a ``ValueError``) whose message says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from napari_iog.config import ModelConfig, PreprocessConfig
from napari_iog.devices import DeviceError, resolve_device
from napari_iog.fileio import atomic_write  # noqa: F401  (re-exported)
from napari_iog.models.checkpoint_file import (  # noqa: F401  (re-exported: the public names)
    FORMAT,
    FORMAT_VERSION,
    content_digest,
    read_header,
    read_payload,
    read_state_dict,
    save_checkpoint,
    write_payload,
)
from napari_iog.models.profiles import get_profile, profile_of
from napari_iog.models.statedict import (  # noqa: F401  (CheckpointError & co. are public here)
    CheckpointError,
    as_state_dict,
    build_empty,
    describe_mismatch,
    detect_profile,
    load_state_dict_strict,
)
from napari_iog.models.weights import resolve_source  # noqa: F401  (re-exported)


@dataclass
class LoadedModel:
    """A network ready for inference: ``model`` (eval mode, on ``device``), its input pipeline,
    provenance ``meta``, where it came from (``source``) and the matched ``profile`` name (or None)."""

    model: object  # IOGNet
    preprocess: PreprocessConfig
    meta: dict = field(default_factory=dict)
    source: str = ""
    profile: str | None = None


def _device(device: str | None):
    """:func:`napari_iog.devices.resolve_device`, its error as a CheckpointError."""
    try:
        return resolve_device(device)
    except DeviceError as exc:
        raise CheckpointError(str(exc)) from None


def _load_plain(path: Path, obj, device: str, profile: str | None = None) -> LoadedModel:
    dev = _device(device)
    sd = as_state_dict(obj, repr(str(path)))
    if profile is None:
        profile = detect_profile(sd)
    try:
        mcfg, pcfg = get_profile(profile)
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    model = build_empty(mcfg)
    load_state_dict_strict(model, sd, repr(str(path)))
    model.to(dev).eval()
    return LoadedModel(model, pcfg, {"format": "state_dict", "file": path.name}, str(path), profile)


def load_official_state_dict(
    path: str | Path, profile: str | None = None, device: str = "cpu"
) -> LoadedModel:
    """Load a plain state dict (official ``IOG_PASCAL*.pth`` or ``torch.save(model.state_dict())``).

    ``profile=None`` detects the architecture from keys and shapes. Preprocessing is the profile's
    (for the official ResNet-101 files: the paper's ``PreprocessConfig()``)."""
    path = Path(path)
    return _load_plain(path, read_payload(path), device, profile)


def _load_ours(path: Path, ckpt: dict, device: str) -> LoadedModel:
    dev = _device(device)
    version = ckpt.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{str(path)!r} has napari-iog checkpoint format_version {version!r}; this napari-iog reads "
            f"up to {FORMAT_VERSION}. Upgrade napari-iog (pip install -U napari-iog)."
        )
    try:
        mcfg = ModelConfig.from_dict(dict(ckpt["model_config"]))
        pcfg = PreprocessConfig.from_dict(dict(ckpt["preprocess"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{str(path)!r} has a broken model_config/preprocess ({exc}); re-save it."
        ) from None
    sd = as_state_dict(ckpt.get("state_dict"), repr(str(path)))
    recorded = ckpt.get("content_sha256")
    if recorded is not None and recorded != content_digest(sd):
        raise CheckpointError(
            f"{str(path)!r} is corrupt: its weights do not match the content hash recorded when "
            "it was written (damaged on disk or in transfer). Copy, download or re-create it again."
        )
    model = build_empty(mcfg)
    load_state_dict_strict(model, sd, repr(str(path)))
    model.to(dev).eval()
    return LoadedModel(model, pcfg, dict(ckpt.get("meta") or {}), str(path), profile_of(mcfg))


def load_model(source: str | Path | LoadedModel, device: str = "cpu") -> LoadedModel:
    """Load a network for inference from ``source``: a napari-iog checkpoint, an official plain
    ``.pth`` state dict, or a weights name (``IOG_PASCAL_SBD``, a fine-tuned checkpoint in the
    cache). ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"auto"``. Model is in eval mode."""
    if isinstance(source, LoadedModel):
        return source
    _device(device)  # fail before reading hundreds of MB
    path = resolve_source(source)
    obj = read_payload(path)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        loaded = _load_ours(path, obj, device)
    else:
        loaded = _load_plain(path, obj, device)
    loaded.source = str(source)
    return loaded
