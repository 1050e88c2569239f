"""Never end a fine-tuning run with a model worse than the one it started from.

Before the first step the start weights are validated on the held-out objects (the same score
the epochs are ranked by: the mean of the 3-click and the refined crop IoU) and kept in memory.
If no kept epoch beats that score, the run's checkpoint holds the start weights, and its
``kept`` says so (``FinetuneConfig.keep_start``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from ..data.datasets import ObjectDataset
    from ..models.iog import IOGNet
    from .config import FinetuneConfig

KEPT_START = "start weights (no epoch beat their validation score)"


@dataclass
class StartScore:
    """The start weights' validation ``score`` (``val_iou``, ``val_iou_refined``) and a CPU copy
    of their ``state_dict``."""

    score: float
    val_iou: float
    val_iou_refined: float
    state_dict: dict


def epoch_score(v3: float, v4: float) -> float:
    """What epochs are ranked by: mean of the 3-click and the refined IoU (3-click if no refined)."""
    return v3 if math.isnan(v4) else 0.5 * (v3 + v4)


def measure_start(
    model: IOGNet,
    val: ObjectDataset | None,
    cfg: FinetuneConfig,
    device: torch.device | str,
) -> StartScore | None:
    """Validate the start weights of ``model`` (None when there is nothing to validate on)."""
    from .steps import validate

    if val is None or len(val) == 0:
        return None
    v3, v4 = validate(model, val, cfg, device)
    if not math.isfinite(epoch_score(v3, v4)):  # a broken start sets no bar
        return None
    sd = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    return StartScore(epoch_score(v3, v4), v3, v4, sd)


def start_wins(start: StartScore | None, kept_score: float | None) -> bool:
    """True when the start weights must be kept: no epoch was kept, or the kept one scores no
    better than the start on the validation objects."""
    if start is None:
        return False
    return kept_score is None or not kept_score > start.score


def restore_start(model: torch.nn.Module, start: StartScore) -> None:
    """Put the start weights back into ``model`` (in place, on its device)."""
    model.load_state_dict(start.state_dict)
