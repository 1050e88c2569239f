"""Save and load IOG networks: our self-describing checkpoints and the official plain ``.pth``.

Our format (``format_version`` 1) is one ``torch.save``-d dict that ``torch.load(...,
weights_only=True)`` can read (only tensors, dicts, lists, strings and numbers)::

    {"format": "napari-iog", "format_version": 1,
     "model_config": ModelConfig.to_dict(), "preprocess": PreprocessConfig.to_dict(),
     "meta": {"created": ISO-8601 UTC, "napari_iog_version", "torch_version", ...JSON-able},
     "state_dict": {name: CPU tensor}}

The official checkpoints (``IOG_PASCAL*.pth``) are bare state dicts; their architecture is found
by comparing keys and shapes with every known profile (``models.profiles.PROFILES``), built on
torch's ``meta`` device so that no memory is spent (``models.statedict``). Every failure is a ``CheckpointError``
(a ``ValueError``) whose message says what to do.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from napari_iog.config import ModelConfig, PreprocessConfig
from napari_iog.fileio import atomic_write  # noqa: F401  (re-exported)
from napari_iog.models.statedict import (  # noqa: F401  (CheckpointError & co. are public here)
    CheckpointError,
    as_state_dict,
    build_empty,
    describe_mismatch,
    detect_profile,
    load_state_dict_strict,
)

FORMAT = "napari-iog"
FORMAT_VERSION = 1


@dataclass
class LoadedModel:
    """A network ready for inference: ``model`` (eval mode, on ``device``), its input pipeline,
    provenance ``meta``, where it came from (``source``) and the matched ``profile`` name (or None)."""

    model: object  # IOGNet
    preprocess: PreprocessConfig
    meta: dict = field(default_factory=dict)
    source: str = ""
    profile: str | None = None


# --------------------------------------------------------------------------------------- saving
def _json_clean(meta: dict) -> dict:
    try:
        return json.loads(json.dumps(meta))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"Checkpoint meta must be JSON-able (str, numbers, lists, dicts): {exc}. "
            "Convert arrays with .tolist() and paths with str()."
        ) from None


def save_checkpoint(path, model, preprocess: PreprocessConfig, meta: dict | None = None) -> Path:
    """Write ``model`` (an IOGNet) with its configs and provenance ``meta`` to ``path``, atomically.

    ``meta`` must be JSON-able (e.g. ``{"data": "sstem 00-04", "epochs": 20, "metrics": {...}}``);
    ``created``, ``napari_iog_version`` and ``torch_version`` are added. Returns the path.
    """
    import torch

    from napari_iog import __version__

    if getattr(model, "inference_only", False):
        raise CheckpointError(
            "This model is an inference-optimized copy (BatchNorm folded, models.fuse); its weights "
            "do not fit the architecture. Save the original model instead."
        )
    if not isinstance(preprocess, PreprocessConfig):
        raise CheckpointError(
            f"preprocess must be a PreprocessConfig, got {type(preprocess).__name__}."
        )
    info = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "napari_iog_version": __version__,
        "torch_version": str(torch.__version__),
    }
    info.update(_json_clean(dict(meta or {})))
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": _json_clean(model.config.to_dict()),
        "preprocess": _json_clean(preprocess.to_dict()),
        "meta": info,
        "state_dict": {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()},
    }
    return write_payload(path, payload)


def content_digest(state_dict: dict) -> str:
    """sha256 over a state dict's names, dtypes, shapes and raw bytes (sorted by name): the
    content hash our checkpoints carry (``content_sha256``), checked on every load."""
    import hashlib

    import torch

    h = hashlib.sha256()
    for k in sorted(state_dict):
        t = state_dict[k].detach().to("cpu").contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def write_payload(path, payload: dict) -> Path:
    """Atomically ``torch.save`` a checkpoint dict, adding the ``content_sha256`` of its tensors."""
    import torch

    payload = dict(payload, content_sha256=content_digest(payload["state_dict"]))
    return atomic_write(path, lambda fh: torch.save(payload, fh))


# -------------------------------------------------------------------------------------- reading
def _read(path: Path, mmap: bool = False):
    """``torch.load(weights_only=True)`` with every failure turned into a CheckpointError."""
    import torch

    if not path.exists():
        raise CheckpointError(
            f"Checkpoint {str(path)!r} does not exist. Check the path, or use a weights name "
            "from `napari-iog weights list`."
        )
    if path.is_dir():
        raise CheckpointError(f"{str(path)!r} is a folder; give the checkpoint file inside it.")
    if path.stat().st_size == 0:
        raise CheckpointError(
            f"Checkpoint {str(path)!r} is empty (0 bytes): download or import it again."
        )
    try:
        return torch.load(
            path, map_location="cpu", weights_only=True, mmap=mmap and zipfile.is_zipfile(path)
        )
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        text = str(exc)
        if any(k in text.lower() for k in ("unsupported global", "unsupported class")):
            raise CheckpointError(  # torch < 2.6 "Unsupported global", 2.13 "unsupported GLOBAL"
                f"Refused {str(path)!r}: it is unsafe to load (it holds Python code or objects "
                "besides tensors, which torch.load(weights_only=True) will not run). Save only the "
                "state_dict (torch.save(model.state_dict(), ...)) or a napari-iog checkpoint."
            ) from None
        lines = [ln.strip() for ln in text.split("WeightsUnpickler error:")[-1].splitlines()]
        reason = next((ln for ln in lines if ln), type(exc).__name__)
        reason = reason.split(". ")[0].rstrip(".")  # torch's first sentence; no cut mid-word
        raise CheckpointError(
            f"{str(path)!r} is truncated or corrupt and cannot be read ({reason}). Download it "
            "again (`napari-iog weights fetch NAME`) or re-import it "
            "(`napari-iog weights import PATH --name NAME`)."
        ) from None


def read_state_dict(path, mmap: bool = False) -> dict:
    """The ``{key: tensor}`` of a plain state dict or of a napari-iog checkpoint file."""
    path = Path(path)
    obj = _read(path, mmap=mmap)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        obj = obj.get("state_dict")
    return as_state_dict(obj, repr(str(path)))


def _device(device: str):
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise CheckpointError(
            f"Unknown device {device!r} ({exc}); use 'auto', 'cpu' or 'cuda'."
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise CheckpointError(
            "device='cuda' was asked for but no CUDA GPU is available; use 'cpu' or 'auto'."
        )
    return dev


def _load_plain(path: Path, obj, device: str, profile: str | None = None) -> LoadedModel:
    from napari_iog.models import get_profile

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


def load_official_state_dict(path, profile: str | None = None, device: str = "cpu") -> LoadedModel:
    """Load a plain state dict (official ``IOG_PASCAL*.pth`` or ``torch.save(model.state_dict())``).

    ``profile=None`` detects the architecture from keys and shapes. Preprocessing is the profile's
    (for the official ResNet-101 files: the paper's ``PreprocessConfig()``)."""
    path = Path(path)
    return _load_plain(path, _read(path), device, profile)


def _load_ours(path: Path, ckpt: dict, device: str) -> LoadedModel:
    from napari_iog.models import profile_of

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


def resolve_source(source) -> Path:
    """A file path, or a registry / cached-checkpoint name resolved through ``models.weights``."""
    path = Path(os.path.expanduser(str(source)))
    if path.exists():
        return path
    if os.sep in str(source) or path.suffix in (".pt", ".pth", ".ckpt", ".tar"):
        _read(path)  # raises "does not exist" with advice
    from napari_iog.models import starters, weights

    if str(source) in starters.STARTERS:
        return starters.starter_path(str(source))
    if str(source) in weights.REGISTRY:
        return weights.fetch(str(source))
    user = weights.user_checkpoints()
    if str(source) in user:
        return user[str(source)]
    known = ", ".join(list(starters.STARTERS) + list(weights.REGISTRY) + list(user))
    raise CheckpointError(
        f"{str(source)!r} is neither an existing file nor a known weights name ({known}). "
        "Check the path, or see `napari-iog weights list`."
    )


def load_model(source, device: str = "cpu") -> LoadedModel:
    """Load a network for inference from ``source``: a napari-iog checkpoint, an official plain
    ``.pth`` state dict, or a weights name (``IOG_PASCAL_SBD``, a fine-tuned checkpoint in the
    cache). ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"auto"``. Model is in eval mode."""
    if isinstance(source, LoadedModel):
        return source
    _device(device)  # fail before reading hundreds of MB
    path = resolve_source(source)
    obj = _read(path)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        loaded = _load_ours(path, obj, device)
    else:
        loaded = _load_plain(path, obj, device)
    loaded.source = str(source)
    return loaded


def read_header(path) -> dict:
    """Everything of a napari-iog checkpoint except the tensors (memory-mapped; cheap)."""
    path = Path(path)
    obj = _read(path, mmap=True)
    if not (isinstance(obj, dict) and obj.get("format") == FORMAT):
        raise CheckpointError(
            f"{str(path)!r} is not a napari-iog checkpoint (no 'format': 'napari-iog')."
        )
    return {k: v for k, v in obj.items() if k != "state_dict"}
