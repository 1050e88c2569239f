"""Never keep a diverged model: the finite check run on every epoch's model before it is saved.

A learning rate far too large can move the weights to ~1e30 in the last step of an epoch: the
loss of that step was still finite (it is computed before the update), but every prediction of
the new weights is NaN, so the crop IoU is 0 and nothing else would notice. :func:`validate_epoch`
validates the model that would be kept and raises :class:`DivergedError` when its weights or its
predictions are not finite, before anything is written: the previous checkpoint stays.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .config import DivergedError, FinetuneConfig  # noqa: F401  (DivergedError: public here)

if TYPE_CHECKING:
    import torch

    from ..data.datasets import ObjectDataset
    from ..models.iog import IOGNet


def weights_finite(model: torch.nn.Module) -> bool:
    """True when every parameter of ``model`` is finite. Buffers are not checked: a BatchNorm
    ``running_var`` of ``inf`` on a dead channel only zeroes that channel; what matters is
    caught by the prediction check."""
    import torch

    return all(bool(torch.isfinite(p.detach()).all()) for p in model.parameters())


def probe_finite(
    model: IOGNet, dataset: ObjectDataset, device: torch.device | str, n: int = 2
) -> bool:
    """True when the (eval-mode) predictions of ``model`` on the first ``n`` objects of
    ``dataset`` (no augmentation) are finite."""
    import torch

    from ..data.datasets import collate

    model.eval()
    x = collate([dataset.sample(i) for i in range(min(n, len(dataset)))])[0].to(device)
    with torch.no_grad():
        fine = model.decode(
            model.encode(x), x[:, 3:5] if model.is_refinement else None, out_size=x.shape[-2:]
        ).fine
    return bool(torch.isfinite(fine).all())


def validate_epoch(
    model: IOGNet,
    val: ObjectDataset | None,
    train: ObjectDataset,
    cfg: FinetuneConfig,
    device: torch.device | str,
    epoch: int,
    lr: float,
) -> tuple[float, float]:
    """``steps.validate`` of the model an epoch would keep (NaN, NaN without a validation set),
    after checking that it has not diverged (weights finite; predictions on the validation
    objects, or on two training objects when there are none, finite). Raises
    :class:`DivergedError` saying to lower the learning rate otherwise."""
    from .steps import validate

    has_val = val is not None and len(val) > 0
    try:
        ok = weights_finite(model)
        v3, v4 = validate(model, val, cfg, device) if has_val and ok else (math.nan,) * 2
        ok = ok and (has_val or probe_finite(model, train, device))
    except DivergedError:
        ok = False
    if not ok:
        raise DivergedError(
            f"Training diverged in epoch {epoch}: the model's predictions are NaN or infinite "
            f"(learning rate {lr:g} is too large). Lower the learning rate (--lr, e.g. 10x "
            "smaller); the previous checkpoint, if any, was kept unchanged."
        )
    return v3, v4
