"""Inference-only speed-ups of an IOGNet that keep its numerics (max |diff| ~1e-5 on logits).

``optimize_for_inference(model, fuse_bn=True, channels_last=False)`` returns an eval-mode *copy*:

- BatchNorm folding: every ``Conv2d`` directly followed by a ``BatchNorm2d`` becomes one conv with
  a bias (``w' = w * g / sqrt(v + eps)``, ``b' = (b - m) * g / sqrt(v + eps) + beta``) and the BN
  an ``Identity``. Pairs are found (a) as consecutive items of an ``nn.Sequential`` and (b) as
  ``convK`` / ``bnK`` children of one module (torchvision's ResNet naming, used by the backbone
  and the FineNet bottlenecks, whose forward is always ``bnK(convK(x))``).
- ``channels_last``: weights in NHWC memory format (inputs are converted by the caller or the
  first conv). Helps on some CPUs/GPUs, hurts on others: measure (``benchmarks/latency.py``).

The copy's state dict no longer matches the checkpoints (BN keys are gone): never save it.
torch is imported lazily.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn


def _fold(conv, bn):
    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    with torch.no_grad():
        return fuse_conv_bn_eval(conv.eval(), bn.eval())


def fuse_conv_bn(model: nn.Module) -> int:
    """Fold BatchNorms into their convs *in place* (model must be in eval mode). Returns the
    number of folded pairs."""
    from torch import nn

    if model.training:
        raise ValueError("fuse_conv_bn needs an eval-mode model (call model.eval() first).")
    count = 0
    for module in list(model.modules()):
        children = dict(module.named_children())
        if isinstance(module, nn.Sequential):
            names = list(children)
            for a, b in zip(names, names[1:]):
                conv, bn = children[a], children[b]
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    setattr(module, a, _fold(conv, bn))
                    setattr(module, b, nn.Identity())
                    children[a], children[b] = getattr(module, a), getattr(module, b)
                    count += 1
            continue
        for name, conv in children.items():
            m = re.fullmatch(r"conv(\d+)", name)
            bn = children.get(f"bn{m.group(1)}") if m else None
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(module, name, _fold(conv, bn))
                setattr(module, f"bn{m.group(1)}", nn.Identity())
                count += 1
    return count


def optimize_for_inference(
    model: nn.Module, fuse_bn: bool = True, channels_last: bool = False
) -> nn.Module:
    """An eval-mode copy of ``model`` with BN folded and/or channels-last weights (see module doc).
    The original model is untouched (keep it for saving / fine-tuning)."""
    import torch

    fast = copy.deepcopy(model).eval()
    if fuse_bn:
        fuse_conv_bn(fast)
    if channels_last:
        fast = fast.to(memory_format=torch.channels_last)
    fast.inference_only = True  # save_checkpoint refuses it
    return fast
