"""CoarseNet and FineNet: the CPN-style decoder of IOG (paper §1.3-1.4).

``CoarseNet`` (CPN's GlobalNet): laterals (1x1 conv -> BN -> ReLU) on
``[psp (/16), layer3 (/16), layer2 (/8), layer1 (/4)]``, a top-down path (x2 bilinear upsample ->
1x1 conv -> BN, no upsampling between the two /16 levels), and one side output per level
(1x1 conv -> BN -> ReLU -> 3x3 conv -> 1 channel -> bilinear resize to the /4 grid -> BN(1)).

``FineNet`` (CPN's RefineNet): 3, 2, 1, 0 bottlenecks on the four CoarseNet feature maps, resize
to the /4 grid, concat, one more bottleneck -> 3x3 conv -> 1 channel -> BN(1).

All logits are ``[N, 1, h, w]`` at the /4 grid; every resize is bilinear with align_corners=True.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _resize(x: torch.Tensor, size) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=True)


class _SideOutput(nn.Sequential):
    """conv1x1 -> BN -> ReLU -> conv3x3 (->1) -> [resize] -> BN(1).

    Index 4 is the resize (an Upsample without parameters in the official net); it is an Identity
    here and the resize happens in ``forward`` so any crop size works. Indices match the
    checkpoints (``predict.i.{0,1,3,5}``).
    """

    def __init__(self, channels: int):
        super().__init__(
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, 1, 3, padding=1, bias=False),
            nn.Identity(),
            nn.BatchNorm2d(1),
        )

    def forward(self, x: torch.Tensor, size) -> torch.Tensor:  # type: ignore[override]
        for i in range(4):
            x = self[i](x)
        return self[5](_resize(x, size))


class CoarseNet(nn.Module):
    """Top-down pyramid with 4 side outputs.

    ``forward(levels, size)`` takes ``[L0 (/16), L1 (/16), L2 (/8), L3 (/4)]`` and returns
    ``(features [f0..f3], logits [c0..c3])``; features have ``channels`` channels, logits are
    ``[N, 1, *size]``.
    """

    def __init__(self, in_channels: Sequence[int] = (512, 1024, 512, 256), channels: int = 256):
        super().__init__()
        self.laterals = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(c, channels, 1, bias=False),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            )
            for c in in_channels
        )
        # Three up-modules as in the official net; ``upsamples[0]`` is never used but the
        # checkpoints carry its weights, so it must exist for strict loading.
        self.upsamples = nn.ModuleList(
            nn.Sequential(
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
                nn.Conv2d(channels, channels, 1, bias=False),
                nn.BatchNorm2d(channels),
            )
            for _ in range(len(in_channels) - 1)
        )
        self.predict = nn.ModuleList(_SideOutput(channels) for _ in in_channels)

    def lateral(self, i: int, level: torch.Tensor) -> torch.Tensor:
        """The lateral branch of level ``i`` (cacheable for levels 1-3: they do not depend on
        the clicks of a refinement net)."""
        return self.laterals[i](level)

    def forward(
        self,
        levels: Sequence[torch.Tensor],
        size: Sequence[int],
        laterals: Sequence[torch.Tensor] | None = None,
        side_outputs: bool = True,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """``levels``: float ``[N, C_i, h_i, w_i]`` maps (see the class doc); ``size``: the
        ``(h, w)`` of the logits. ``laterals``: optional precomputed ``lateral(i, levels[i])``
        for i = 1..3 (a refinement click changes only level 0). ``side_outputs=False`` skips the
        4 coarse heads (inference uses only FineNet's output) and returns an empty logits list."""
        feats, logits = [], []
        up = None
        for i, level in enumerate(levels):
            f = laterals[i - 1] if (laterals is not None and i > 0) else self.laterals[i](level)
            if up is not None:
                f = f + up
            feats.append(f)
            if side_outputs:
                logits.append(self.predict[i](f, size))
            if i == 0:
                up = f  # L0 and L1 are both /16: no upsampling between them
            elif i < len(levels) - 1:
                up = self.upsamples[i](f)
        return feats, logits


class FineBottleneck(nn.Module):
    """FineNet's bottleneck: 1x1 -> 3x3 -> 1x1 (``planes`` -> ``2*planes``), projection shortcut always."""

    def __init__(self, cin: int, planes: int = 128):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 2, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 2)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = nn.Sequential(
            nn.Conv2d(cin, planes * 2, 1, bias=False), nn.BatchNorm2d(planes * 2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Float ``[N, cin, H, W]`` -> ``[N, 2 * planes, H, W]``."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.downsample(x))


class _Cascade(nn.Sequential):
    """``n`` FineBottlenecks then a resize to the /4 grid (the resize has no parameters)."""

    def forward(self, x, size):  # type: ignore[override]
        for m in self:
            x = m(x)
        return _resize(x, size)


class FineNet(nn.Module):
    """``forward(features [f0..f3], size) -> logits [N, 1, *size]``."""

    def __init__(self, channels: int = 256, planes: int = 128, levels: int = 4):
        super().__init__()
        cascades = []
        for i in range(levels):
            n = levels - 1 - i
            blocks = [FineBottleneck(channels if j == 0 else planes * 2, planes) for j in range(n)]
            cascades.append(_Cascade(*blocks))
        self.cascade = nn.ModuleList(cascades)
        cat = sum(planes * 2 if levels - 1 - i > 0 else channels for i in range(levels))
        self.final_predict = nn.Sequential(
            FineBottleneck(cat, planes),
            nn.Conv2d(planes * 2, 1, 3, padding=1, bias=False),
            nn.BatchNorm2d(1),
        )

    def forward(self, feats: Sequence[torch.Tensor], size: Sequence[int]) -> torch.Tensor:
        """``feats``: CoarseNet's 4 float ``[N, channels, h_i, w_i]`` maps; returns float logits
        ``[N, 1, *size]``."""
        parts = [c(f, size) for c, f in zip(self.cascade, feats)]
        return self.final_predict(torch.cat(parts, dim=1))
