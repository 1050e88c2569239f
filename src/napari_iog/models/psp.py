"""Pyramid pooling module (``psp4`` in the checkpoints), paper §1.2.

Bins (1, 2, 3, 6): adaptive average pool -> 1x1 conv C -> C/4 -> BN -> ReLU -> bilinear
upsample (align_corners=True); concat ``[bins..., features]`` (2C channels) -> 1x1 conv -> BN -> ReLU.
Input ``[N, C, h, w]``, output ``[N, out_channels, h, w]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class PSPModule(nn.Module):
    def __init__(
        self, in_channels: int, out_channels: int = 512, bins: Sequence[int] = (1, 2, 3, 6)
    ):
        super().__init__()
        mid = in_channels // len(bins)
        # Index layout (0 pool, 1 conv, 2 BN, 3 ReLU) is what the official checkpoints use.
        self.stages = nn.ModuleList(
            nn.Sequential(
                nn.AdaptiveAvgPool2d(b),
                nn.Conv2d(in_channels, mid, 1, bias=False),
                nn.BatchNorm2d(mid),
                nn.ReLU(inplace=True),
            )
            for b in bins
        )
        self.bottleneck = nn.Sequential(
            nn.Conv2d(in_channels + mid * len(bins), out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        size = feats.shape[-2:]
        pyramid = [
            F.interpolate(stage(feats), size=size, mode="bilinear", align_corners=True)
            for stage in self.stages
        ]
        return self.bottleneck(torch.cat([*pyramid, feats], dim=1))
