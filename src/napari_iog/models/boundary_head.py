"""BoundaryHead: an optional stride-2 head that sharpens FineNet's /4 contour (not in the paper).

IOG predicts on the /4 grid. On the ssTEM mitochondria a perfect /4 map (area-averaged ground
truth, bilinearly upsampled and pasted back) caps the IoU at 0.981; a /2 map at 0.999
(``docs/results.md``). This head spends the backbone's stem activation, which is computed
anyway, on that last factor of two:

``forward(fine [N, 1, S/4, S/4] logits, stem [N, W, S/2, S/2]) -> logits [N, 1, S/2, S/2]``
= ``up2(fine) + delta`` with ``delta`` from ``[1x1 (W->C) on stem, up2(fine)]`` through
3x3 (C+1->C) -> BN -> ReLU -> 3x3 (C->C) -> BN -> ReLU -> 3x3 (C->1). The last conv starts at
zero, so a fresh head is the identity on FineNet's output. Every resize is bilinear with
align_corners=True, as in the decoder.

``ModelConfig.boundary_channels = C``; 0 (every paper profile and the official checkpoints)
means no head and no ``boundary_head.*`` keys in the state dict.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn_relu(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class BoundaryHead(nn.Module):
    def __init__(self, stem_channels: int, channels: int = 16):
        super().__init__()
        if channels < 1:
            raise ValueError(f"BoundaryHead needs channels >= 1, got {channels}.")
        self.project = _conv_bn_relu(stem_channels, channels, 1)
        self.body = nn.Sequential(
            _conv_bn_relu(channels + 1, channels, 3),
            _conv_bn_relu(channels, channels, 3),
        )
        self.delta = nn.Conv2d(channels, 1, 3, padding=1)
        nn.init.zeros_(self.delta.weight)
        nn.init.zeros_(self.delta.bias)

    def forward(self, fine: torch.Tensor, stem: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(fine, size=stem.shape[-2:], mode="bilinear", align_corners=True)
        h = self.body(torch.cat([self.project(stem), up.to(stem.dtype)], dim=1))
        return up + self.delta(h)
