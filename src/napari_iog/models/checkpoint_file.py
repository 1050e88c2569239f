"""The napari-iog checkpoint file: write it, read it back, read its header (no network built here).

Our format (``format_version`` 1) is one ``torch.save``-d dict that ``torch.load(...,
weights_only=True)`` can read (only tensors, dicts, lists, strings and numbers)::

    {"format": "napari-iog", "format_version": 1,
     "model_config": ModelConfig.to_dict(), "preprocess": PreprocessConfig.to_dict(),
     "meta": {"created": ISO-8601 UTC, "napari_iog_version", "torch_version", ...JSON-able},
     "content_sha256": sha256 of the tensors, "state_dict": {name: CPU tensor}}

Every failure is a ``CheckpointError`` (a ``ValueError``) whose message says what to do.
Loading a network from such a file (or from a weights name) is :mod:`napari_iog.models.checkpoint`.
"""

from __future__ import annotations

import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from napari_iog.config import PreprocessConfig
from napari_iog.fileio import atomic_write
from napari_iog.models.statedict import CheckpointError, as_state_dict

if TYPE_CHECKING:
    from napari_iog.models.iog import IOGNet

FORMAT = "napari-iog"
FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------- saving
def _json_clean(meta: dict) -> dict:
    try:
        return json.loads(json.dumps(meta))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"Checkpoint meta must be JSON-able (str, numbers, lists, dicts): {exc}. "
            "Convert arrays with .tolist() and paths with str()."
        ) from None


def save_checkpoint(
    path: str | Path, model: IOGNet, preprocess: PreprocessConfig, meta: dict | None = None
) -> Path:
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


def write_payload(path: str | Path, payload: dict) -> Path:
    """Atomically ``torch.save`` a checkpoint dict, adding the ``content_sha256`` of its tensors."""
    import torch

    payload = dict(payload, content_sha256=content_digest(payload["state_dict"]))
    return atomic_write(path, lambda fh: torch.save(payload, fh))


# -------------------------------------------------------------------------------------- reading
def read_payload(path: Path, mmap: bool = False) -> object:
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


def read_state_dict(path: str | Path, mmap: bool = False) -> dict:
    """The ``{key: tensor}`` of a plain state dict or of a napari-iog checkpoint file."""
    path = Path(path)
    obj = read_payload(path, mmap=mmap)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        obj = obj.get("state_dict")
    return as_state_dict(obj, repr(str(path)))


def read_header(path: str | Path) -> dict:
    """Everything of a napari-iog checkpoint except the tensors (memory-mapped; cheap)."""
    path = Path(path)
    obj = read_payload(path, mmap=True)
    if not (isinstance(obj, dict) and obj.get("format") == FORMAT):
        raise CheckpointError(
            f"{str(path)!r} is not a napari-iog checkpoint (no 'format': 'napari-iog')."
        )
    return {k: v for k, v in obj.items() if k != "state_dict"}
