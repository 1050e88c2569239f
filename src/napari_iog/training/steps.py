"""One optimisation step and the crop-level validation IoU, including simulated refinement clicks.

Batches are ``(x [B, 5, S, S], target [B, 1, S, S], click_maps [B, 2, S, S])`` float32 tensors
(``napari_iog.data.datasets.collate``). Corrective clicks are simulated in crop pixels with the
shared simulator (:func:`napari_iog.data.prompts.next_click`) and drawn with the shared
:func:`napari_iog.inference.guidance.add_click`, exactly as evaluation and the annotator do.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from ..devices import resolve_device  # noqa: F401  (the one rule; re-exported)
from ..inference.guidance import add_click
from .config import DivergedError, FinetuneConfig, TrainingError
from .losses import iog_loss

if TYPE_CHECKING:
    import torch
    from torch.optim.swa_utils import AveragedModel

    from ..data.datasets import ObjectDataset
    from ..models.iog import IOGNet


@contextmanager
def oom_guard(batch_size: int, crop: int) -> Iterator[None]:
    """Turn a CUDA out-of-memory error into a TrainingError that says what to lower."""
    import torch

    try:
        yield
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        raise TrainingError(
            f"The GPU ran out of memory (batch size {batch_size}, crop {crop} px). Lower the batch "
            "size (--batch-size) or use a smaller crop/profile, or train on the CPU."
        ) from None


def add_simulated_clicks(
    pred: np.ndarray, target: np.ndarray, maps: np.ndarray, sigma: float
) -> np.ndarray:
    """One corrective click per sample. ``pred``/``target`` bool ``[B, S, S]``, ``maps`` float32
    ``[B, 2, S, S]``; returns updated maps (a sample with no error keeps its maps)."""
    from ..data.prompts import next_click

    out = maps.copy()
    for b in range(pred.shape[0]):
        click = next_click(pred[b], target[b])
        if click is not None:
            out[b] = add_click(out[b], click, sigma)
    return out


def _refined_maps(model, feats, x, target, n_clicks: int, sigma: float, first_pred):
    """Click maps after ``n_clicks`` simulated corrective clicks (intermediate rounds no grad)."""
    import torch

    tgt = target[:, 0].detach().cpu().numpy() >= 0.5
    maps = x[:, 3:5].detach().cpu().numpy().astype(np.float32)
    pred = first_pred
    size = x.shape[-2:]
    for j in range(n_clicks):
        maps = add_simulated_clicks(pred, tgt, maps, sigma)
        if j < n_clicks - 1:
            with torch.no_grad():
                m = torch.from_numpy(maps).to(x.device)
                fine = model.decode(feats, m, out_size=size).fine
                pred = (fine[:, 0] > 0).cpu().numpy()
    return torch.from_numpy(maps).to(x.device)


def step_loss(
    model: IOGNet,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: FinetuneConfig,
    sigma: float,
    refine_clicks: int = 0,
) -> torch.Tensor:
    """The training loss of one batch (a 0-d tensor with grad).

    Plain: loss on the 3-click output. With ``refine_clicks = n > 0`` (refinement nets): the
    backbone runs once, ``n`` corrective clicks are simulated from the predictions, and the loss
    is ``0.5 * loss(3 clicks) + 0.5 * loss(3 + n clicks)`` (official ``train_refine.py`` style).
    ``x`` float32 ``[B, 5, S, S]``, ``y`` float32 ``[B, 1, S, S]`` on the model's device."""
    balanced = cfg.loss == "balanced"
    feats = model.encode(x)
    out0 = model.decode(feats, x[:, 3:5] if model.is_refinement else None, out_size=x.shape[-2:])
    loss = iog_loss(out0, y, balanced=balanced, iou_weight=cfg.iou_weight)
    if refine_clicks > 0 and model.is_refinement:
        pred0 = (out0.fine[:, 0] > 0).detach().cpu().numpy()
        maps = _refined_maps(model, feats, x, y, refine_clicks, sigma, pred0)
        out1 = model.decode(feats, maps, out_size=x.shape[-2:])
        loss = 0.5 * loss + 0.5 * iog_loss(out1, y, balanced=balanced, iou_weight=cfg.iou_weight)
    return loss


_LOSS_MODULE = None


def loss_module(model: IOGNet, cfg: FinetuneConfig, sigma: float) -> torch.nn.Module:
    """``model`` inside an ``nn.Module`` whose ``forward(x, y, refine_clicks)`` is
    :func:`step_loss`: what ``DistributedDataParallel`` wraps (its gradient hooks need the whole
    step to run through one ``forward``). Shares ``model``'s parameters."""
    global _LOSS_MODULE
    import torch

    if _LOSS_MODULE is None:

        class StepLoss(torch.nn.Module):
            def __init__(self, net: IOGNet, cfg: FinetuneConfig, sigma: float) -> None:
                super().__init__()
                self.net, self.cfg, self.sigma = net, cfg, sigma

            def forward(
                self, x: torch.Tensor, y: torch.Tensor, refine_clicks: int = 0
            ) -> torch.Tensor:
                return step_loss(self.net, x, y, self.cfg, self.sigma, refine_clicks)

        _LOSS_MODULE = StepLoss
    return _LOSS_MODULE(model, cfg, sigma)


def train_step(
    loss_net: torch.nn.Module,
    opt: torch.optim.Optimizer,
    batch: Sequence[torch.Tensor],
    device: torch.device,
    refine_clicks: int = 0,
    scaler: torch.amp.GradScaler | None = None,
    amp_dtype: torch.dtype | None = None,
) -> float:
    """Forward/backward/step on one batch with ``loss_net`` (:func:`loss_module`, possibly in
    DistributedDataParallel); returns this process's loss (float). ``batch``: ``(x, target,
    click_maps)`` of :func:`~napari_iog.data.datasets.collate`. ``amp_dtype``: autocast
    dtype (``training.precision.autocast_dtype``; None = float32); ``scaler``: the GradScaler
    that float16 needs."""
    import torch

    x, y, _ = (t.to(device, non_blocking=True) for t in batch)
    x = x.contiguous(memory_format=torch.channels_last)
    with oom_guard(x.shape[0], x.shape[-1]):
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            loss = loss_net(x, y, refine_clicks)
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
    return float(loss.detach())


def _batch_iou(pred: np.ndarray, tgt: np.ndarray) -> list[float]:
    inter = (pred & tgt).sum(axis=(1, 2))
    union = (pred | tgt).sum(axis=(1, 2))
    return [float(i / u) if u else 1.0 for i, u in zip(inter, union)]


def _check_finite(fine) -> None:
    import torch

    if not bool(torch.isfinite(fine).all()):
        raise DivergedError(
            "The network's predictions on the validation objects are NaN or infinite (broken "
            "weights, or a diverged run: lower the learning rate)."
        )


def crop_ious(
    model: IOGNet, batch: Sequence[torch.Tensor], sigma: float, device: torch.device | str
) -> tuple[list[float], list[float]]:
    """Per-sample crop IoU after 3 clicks and (refinement nets) after 1 corrective click.
    ``batch``: ``(x, target, click_maps)`` of :func:`~napari_iog.data.datasets.collate`."""
    import torch

    x, y, _ = (t.to(device) for t in batch)
    tgt = y[:, 0].cpu().numpy() >= 0.5
    with torch.no_grad(), oom_guard(x.shape[0], x.shape[-1]):
        feats = model.encode(x)
        fine = model.decode(
            feats, x[:, 3:5] if model.is_refinement else None, out_size=x.shape[-2:]
        ).fine
        _check_finite(fine)
        pred = (fine[:, 0] > 0).cpu().numpy()
        first = _batch_iou(pred, tgt)
        if not model.is_refinement:
            return first, []
        maps = _refined_maps(model, feats, x, y, 1, sigma, pred)
        fine = model.decode(feats, maps, out_size=x.shape[-2:]).fine
        _check_finite(fine)
        return first, _batch_iou((fine[:, 0] > 0).cpu().numpy(), tgt)


def lr_at(cfg: FinetuneConfig, progress: float) -> float:
    if cfg.schedule == "constant":
        return cfg.lr
    progress = min(max(progress, 0.0), 1.0)
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def make_optimizer(model: torch.nn.Module, cfg: FinetuneConfig) -> torch.optim.Optimizer:
    import torch

    params = [p for n, p in model.named_parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_ema(model: torch.nn.Module, decay: float) -> AveragedModel | None:
    """``AveragedModel`` keeping an exponential moving average of ``model``'s parameters and
    buffers (BatchNorm statistics); None when ``decay`` is 0. The decay warms up as
    ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so the random initial weights do not
    dominate the average of a short run."""
    if decay <= 0:
        return None
    from torch.optim.swa_utils import AveragedModel

    def ema(avg, current, n_averaged):
        n = float(n_averaged)
        d = min(decay, (1.0 + n) / (10.0 + n))
        return avg * d + current * (1.0 - d) if avg.is_floating_point() else current

    return AveragedModel(model, avg_fn=ema, use_buffers=True)


def set_train_mode(model: IOGNet, cfg: FinetuneConfig) -> None:
    model.train()
    if cfg.freeze_backbone:
        model.backbone.eval()  # keep BN statistics of the frozen backbone


def validate(
    model: IOGNet, dataset: ObjectDataset, cfg: FinetuneConfig, device: torch.device | str
) -> tuple[float, float]:
    """Mean crop IoU after the 3 IOG clicks and after 1 simulated corrective click (refinement
    nets; NaN otherwise) over at most ``cfg.val_max_objects`` objects, no augmentation."""
    from ..data.datasets import collate

    n = min(len(dataset), cfg.val_max_objects)
    if n == 0:
        return float("nan"), float("nan")
    model.eval()
    i3, i4 = [], []
    for start in range(0, n, max(cfg.batch_size, 2)):
        batch = collate(
            [dataset.sample(i) for i in range(start, min(start + max(cfg.batch_size, 2), n))]
        )
        a, b = crop_ious(model, batch, dataset.preprocess.sigma, device)
        i3.extend(a)
        i4.extend(b)
    return float(np.mean(i3)), (float(np.mean(i4)) if i4 else float("nan"))
