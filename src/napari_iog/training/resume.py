"""The resume state of a fine-tuning run (``<out>.state.pt``): weights, optimiser, EMA and
counters after the latest epoch, written atomically and read back with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .config import TrainingError

if TYPE_CHECKING:
    import torch
    from torch.optim.swa_utils import AveragedModel


def save_state(
    path: str | Path,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    ema: AveragedModel | None,
    epoch: int,
    step: int,
    best: float,
) -> None:
    """Write the resume state (weights, optimiser, EMA, counters) to ``path`` atomically."""
    import torch

    from ..fileio import atomic_write

    st = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
          "step": step, "best": best}  # fmt: skip
    if ema is not None:
        st["ema"] = ema.state_dict()
    atomic_write(path, lambda fh: torch.save(st, fh))


def load_state(
    path: str | Path,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    ema: AveragedModel | None,
    device: torch.device | str,
    epochs: int,
) -> tuple[int, int, float]:
    """Restore ``model`` / ``opt`` / ``ema`` from a resume state; returns ``(epoch, step, best)``.
    TrainingError (never a torch traceback) for a file that is not a state of this network, or
    one that already reached ``epochs``."""
    import torch

    try:
        st = torch.load(str(path), map_location=device, weights_only=True)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        if ema is not None and "ema" in st:
            ema.load_state_dict(st["ema"])
        epoch, step, best = int(st["epoch"]), int(st["step"]), float(st["best"])
    except FileNotFoundError:
        raise TrainingError(f"The resume state {str(path)!r} does not exist.") from None
    except Exception as exc:  # noqa: BLE001 - pickle, zip, key and shape errors alike
        raise TrainingError(
            f"{str(path)!r} is not a resume state of this network ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200]}). Give the <out>.state.pt that a run with the "
            "same profile or start weights wrote, or start without --resume."
        ) from None
    if epoch >= epochs:
        raise TrainingError(
            f"The resume state is at epoch {epoch}, so --epochs {epochs} leaves nothing to train: "
            f"give --epochs larger than {epoch}."
        )
    return epoch, step, best
