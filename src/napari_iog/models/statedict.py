"""Match a state dict to an IOG architecture: key/shape comparison in words, profile detection,
strict loading with readable errors. ``state_dict``: ``{name: tensor}``; shapes compared as tuples.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

from napari_iog.config import ModelConfig

if TYPE_CHECKING:
    from napari_iog.models.iog import IOGNet

_LIST_LIMIT = 5  # names shown per list in mismatch messages
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net")


class CheckpointError(ValueError):
    """A checkpoint or weights file that cannot be used; the message says what to do."""


def _names(items, limit: int = _LIST_LIMIT) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def describe_mismatch(expected: dict, got: dict) -> tuple[int, str]:
    """Compare two ``{key: shape}`` maps -> ``(number of differences, sentence listing them)``.

    ``num_batches_tracked`` buffers are optional (PyTorch 0.4 checkpoints lack them)."""
    missing = [k for k in expected if k not in got and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in got if k not in expected]
    shapes = [k for k in expected if k in got and tuple(expected[k]) != tuple(got[k])]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys ({_names(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys ({_names(unexpected)})")
    if shapes:
        shown = [f"{k}: file {list(got[k])} vs model {list(expected[k])}" for k in shapes]
        parts.append(f"{len(shapes)} shape mismatches ({_names(shown, 3)})")
    return len(missing) + len(unexpected) + len(shapes), "; ".join(parts)


def shapes(state_dict: dict) -> dict:
    return {k: tuple(v.shape) for k, v in state_dict.items()}


def as_state_dict(obj: object, where: str) -> dict:
    """Unwrap ``{"state_dict": ...}`` style containers and a DataParallel ``module.`` prefix."""
    import torch

    if isinstance(obj, dict):
        for key in _WRAPPER_KEYS:
            if key in obj and isinstance(obj[key], dict) and obj[key]:
                obj = obj[key]
                break
    if (
        not isinstance(obj, dict)
        or not obj
        or not all(isinstance(v, torch.Tensor) for v in obj.values())
    ):
        raise CheckpointError(
            f"{where} is not a state_dict (a dict of tensors) nor a napari-iog checkpoint "
            f"(got {type(obj).__name__}). Give an IOG .pth or a file written by save_checkpoint."
        )
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return dict(obj)


@lru_cache(maxsize=32)
def _profile_signature(name: str) -> dict:
    """``{key: shape}`` of a profile's network, built on the meta device (no memory, fast)."""
    import torch

    from napari_iog.models import build_model

    with torch.device("meta"):
        model = build_model(name)
    return shapes(model.state_dict())


def detect_profile(state_dict: dict, candidates: Iterable[str] | None = None) -> str:
    """Name of the profile whose keys and shapes equal ``state_dict``'s; CheckpointError listing
    the nearest profile's differences otherwise. ``iog_points.*`` keys put refinement profiles first."""
    from napari_iog.models.profiles import PROFILES

    names = list(candidates or PROFILES)
    if any(k.startswith("iog_points.") for k in state_dict):
        names.sort(key=lambda n: not n.endswith("-refine"))  # stable: keeps resnet101 first
    got = shapes(state_dict)
    best = None
    for name in names:
        count, text = describe_mismatch(_profile_signature(name), got)
        if count == 0:
            return name
        if best is None or count < best[0]:
            best = (count, name, text)
    raise CheckpointError(
        f"The weights match no known IOG architecture. Nearest is {best[1]!r}, which differs by "
        f"{best[2]}. Use an IOG checkpoint (IOG_PASCAL*.pth) or one written by napari-iog."
    )


def build_empty(config: ModelConfig) -> IOGNet:
    """An IOGNet for ``config`` with parameters on the meta device: no random init, no memory.
    Fill it with ``load_state_dict_strict`` (which assigns the loaded tensors)."""
    import torch

    from napari_iog.models import build_model

    with torch.device("meta"):
        return build_model(config)


def load_state_dict_strict(model: IOGNet, state_dict: dict, where: str = "the checkpoint") -> None:
    """``model.load_state_dict(strict=True)`` with a readable CheckpointError on any mismatch.

    Missing ``num_batches_tracked`` buffers (old PyTorch) count as zero. A model built by
    ``build_empty`` (meta device) takes the tensors themselves, cast to the model's dtypes."""
    import torch

    own = model.state_dict()
    count, text = describe_mismatch(shapes(own), shapes(state_dict))
    if count:
        raise CheckpointError(
            f"{where} does not fit this network ({type(model).__name__}, {model.config.backbone}"
            f"{', refinement' if getattr(model, 'is_refinement', False) else ''}): {text}. "
            "It was made for another architecture: pick the matching profile or weights."
        )
    full = {k: v.to(own[k].dtype) for k, v in state_dict.items()}
    for k, v in own.items():
        if k not in full:  # only num_batches_tracked can be missing here
            full[k] = torch.zeros(v.shape, dtype=v.dtype)
    meta = any(t.is_meta for t in own.values())
    model.load_state_dict(full, strict=True, assign=meta)
    if meta and any(t.is_meta for t in [*model.parameters(), *model.buffers()]):
        raise CheckpointError(
            f"Internal error: {type(model).__name__} has tensors outside its state_dict."
        )
