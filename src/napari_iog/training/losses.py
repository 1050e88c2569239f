"""Losses of the paper (``reference/iog-method.md`` §4): BCE on each of the 4 coarse side outputs
and on the fine output, void pixels ignored; optionally class-balanced BCE (DEXTR's) and a
soft-IoU term on the fine output (ours, off by default).

Tensors: ``logits`` ``[N, 1, S, S]`` of any float dtype (float16/bfloat16 under autocast: the
losses reduce in float32), ``target`` float ``[N, 1, S, S]`` in {0, 1} (soft targets are
binarised at 0.5), ``void`` bool ``[N, 1, S, S]`` or None. Unlike the official code
(sum over pixels / batch size) the loss is a *mean* over valid pixels, so learning rates do not
depend on the crop size (the official lr 1e-8 x 512^2 ~ 2.6e-3 for this reduction).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from ..models.iog import IOGOutput


def _prepare(logits, target, void):
    import torch
    import torch.nn.functional as F

    logits = logits.float()  # float16/bfloat16 under autocast: reduce in float32
    if logits.shape[-2:] != target.shape[-2:]:
        logits = F.interpolate(logits, size=target.shape[-2:], mode="bilinear", align_corners=True)
    y = (target >= 0.5).to(logits.dtype)
    valid = torch.ones_like(y) if void is None else (~void.bool()).to(logits.dtype)
    return logits, y, valid


def bce(
    logits: torch.Tensor,
    target: torch.Tensor,
    void: torch.Tensor | None = None,
    balanced: bool = False,
) -> torch.Tensor:
    """Scalar BCE-with-logits, mean over non-void pixels; ``balanced`` weights each class by the
    other class's pixel fraction (per sample)."""
    import torch.nn.functional as F

    logits, y, valid = _prepare(logits, target, void)
    per_px = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    if balanced:
        dims = tuple(range(1, y.ndim))
        n_pos = (y * valid).sum(dim=dims, keepdim=True)
        n_all = valid.sum(dim=dims, keepdim=True).clamp_min(1.0)
        w_pos = 1.0 - n_pos / n_all
        weights = (y * w_pos + (1.0 - y) * (1.0 - w_pos)) * 2.0
        per_px = per_px * weights
    return (per_px * valid).sum() / valid.sum().clamp_min(1.0)


def soft_iou(
    logits: torch.Tensor, target: torch.Tensor, void: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean over samples of ``1 - sum(p*y) / sum(p + y - p*y)`` with ``p = sigmoid(logits)``
    over non-void pixels (a differentiable surrogate of the IoU the user sees)."""
    import torch

    logits, y, valid = _prepare(logits, target, void)
    p = torch.sigmoid(logits) * valid
    y = y * valid
    dims = tuple(range(1, y.ndim))
    inter = (p * y).sum(dim=dims)
    union = (p + y - p * y).sum(dim=dims)
    return (1.0 - (inter + 1.0) / (union + 1.0)).mean()


def iog_loss(
    output: IOGOutput,
    target: torch.Tensor,
    void: torch.Tensor | None = None,
    balanced: bool = False,
    coarse_weight: float = 1.0,
    iou_weight: float = 0.0,
) -> torch.Tensor:
    """Sum of :func:`bce` over ``output.coarse`` (each x ``coarse_weight``) and ``output.fine``,
    plus ``iou_weight x`` :func:`soft_iou` of ``output.fine``."""
    total = bce(output.fine, target, void, balanced)
    for c in output.coarse:
        total = total + coarse_weight * bce(c, target, void, balanced)
    if iou_weight > 0:
        total = total + iou_weight * soft_iou(output.fine, target, void)
    return total
