"""The one rule that turns a device name into a ``torch.device`` (every entry point uses it).

``"auto"`` (or None) = the first of: a CUDA GPU, Apple's MPS, the CPU. Any other text is passed to
``torch.device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``) and checked to exist here; a
bad name or a missing GPU raises :class:`DeviceError` (a ``ValueError``) saying what to use.
torch is imported only when a device is resolved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

AUTO = "auto"


class DeviceError(ValueError):
    """A device name that is unknown or not available on this machine."""


def _mps_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(spec: str | None = AUTO) -> torch.device:
    """``torch.device`` for ``spec``: ``"auto"``/None -> cuda if available, else mps if
    available, else cpu; otherwise ``torch.device(spec)`` after checking it is usable here."""
    import torch

    if isinstance(spec, torch.device):
        spec = str(spec)
    if spec is None or str(spec).strip().lower() == AUTO:
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    try:
        dev = torch.device(str(spec).strip())
    except (RuntimeError, TypeError) as exc:
        raise DeviceError(
            f"Unknown device {spec!r} ({exc}); use 'auto', 'cpu', 'cuda' or 'mps'."
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            f"device={spec!r} was asked for but no CUDA GPU is available; use 'cpu' or 'auto'."
        )
    if dev.type == "mps" and not _mps_available():
        raise DeviceError(f"device={spec!r} but Apple MPS is not available; use 'cpu' or 'auto'.")
    return dev
