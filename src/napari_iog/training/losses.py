"""Losses of the paper (``reference/iog-method.md`` §4): BCE on each of the 4 coarse side outputs
and on the fine output, void pixels ignored; optionally class-balanced BCE (DEXTR's).

Tensors: ``logits`` float ``[N, 1, S, S]``, ``target`` float ``[N, 1, S, S]`` in {0, 1} (soft
targets are binarised at 0.5), ``void`` bool ``[N, 1, S, S]`` or None. Unlike the official code
(sum over pixels / batch size) the loss is a *mean* over valid pixels, so learning rates do not
depend on the crop size (the official lr 1e-8 x 512^2 ~ 2.6e-3 for this reduction).
"""

from __future__ import annotations


def bce(logits, target, void=None, balanced: bool = False):
    """Scalar BCE-with-logits, mean over non-void pixels; ``balanced`` weights each class by the
    other class's pixel fraction (per sample)."""
    import torch
    import torch.nn.functional as F

    if logits.shape[-2:] != target.shape[-2:]:
        logits = F.interpolate(logits, size=target.shape[-2:], mode="bilinear", align_corners=True)
    y = (target >= 0.5).to(logits.dtype)
    valid = torch.ones_like(y) if void is None else (~void.bool()).to(logits.dtype)
    per_px = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    if balanced:
        dims = tuple(range(1, y.ndim))
        n_pos = (y * valid).sum(dim=dims, keepdim=True)
        n_all = valid.sum(dim=dims, keepdim=True).clamp_min(1.0)
        w_pos = 1.0 - n_pos / n_all
        weights = torch.where(y > 0.5, w_pos, 1.0 - w_pos) * 2.0
        per_px = per_px * weights
    return (per_px * valid).sum() / valid.sum().clamp_min(1.0)


def iog_loss(output, target, void=None, balanced: bool = False, coarse_weight: float = 1.0):
    """Sum of :func:`bce` over ``output.coarse`` (each x ``coarse_weight``) and ``output.fine``."""
    total = bce(output.fine, target, void, balanced)
    for c in output.coarse:
        total = total + coarse_weight * bce(c, target, void, balanced)
    return total
