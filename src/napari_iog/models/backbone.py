"""ResNet backbone with named stages, output stride 16 and a multi-grid dilated conv5.

Layout and parameter names follow torchvision's ResNet (``conv1``, ``bn1``, ``layer1..4``, blocks
with ``conv1/bn1/conv2/bn2[/conv3/bn3]`` and ``downsample.{0,1}``) so ImageNet weights and the
official IOG checkpoints (prefix ``backbone.``) map one to one. No conv has a bias.

Input ``[N, 5, H, W]`` float32 (R, G, B, inside, outside); output stride 16:
layer1 ``/4``, layer2 ``/8``, layer3 ``/16``, layer4 ``/16`` (dilated; paper §1.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn


class EncoderFeatures(NamedTuple):
    """Backbone outputs, deepest first (the order the official code returns them)."""

    layer4: torch.Tensor  # [N, C4, H/16, W/16]
    layer3: torch.Tensor  # [N, C3, H/16, W/16]
    layer2: torch.Tensor  # [N, C2, H/8,  W/8]
    layer1: torch.Tensor  # [N, C1, H/4,  W/4]
    stem: torch.Tensor | None = None  # [N, width, H/2, W/2] after conv1-BN-ReLU (boundary head)


def _conv3x3(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False)


class BasicBlock(nn.Module):
    """ResNet-18/34 block (two 3x3 convs), used by the light CPU profiles."""

    expansion = 1

    def __init__(
        self,
        cin: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
    ):
        super().__init__()
        self.conv1 = _conv3x3(cin, planes, stride, dilation)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, 1, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Float ``[N, cin, H, W]`` -> ``[N, planes, H / stride, W / stride]``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """ResNet-50/101 bottleneck (1x1, 3x3 with the stride and dilation, 1x1; expansion 4)."""

    expansion = 4

    def __init__(
        self,
        cin: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Float ``[N, cin, H, W]`` -> ``[N, 4 * planes, H / stride, W / stride]``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


# name -> (block, blocks per stage)
RESNET_SPECS: dict[str, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    "tiny": (BasicBlock, (1, 1, 1, 1)),
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
    "resnet101": (Bottleneck, (3, 4, 23, 3)),
}


class ResNetBackbone(nn.Module):
    """ResNet at output stride 16: strides (1, 2, 2, 1), layer4 dilated with a multi-grid.

    ``layer4`` block ``i`` uses dilation ``2 * multi_grid[i]`` (paper: 2, 4, 8). ``width`` is the
    stem width (64 in every standard ResNet; smaller only for test models).
    """

    def __init__(
        self,
        name: str = "resnet101",
        in_channels: int = 5,
        width: int = 64,
        multi_grid: Sequence[int] = (1, 2, 4),
    ):
        super().__init__()
        block, counts = RESNET_SPECS[name]
        if len(multi_grid) != counts[3]:
            # Multi-grid has one factor per layer4 block; repeat the last for deeper variants.
            multi_grid = tuple(
                multi_grid[i] if i < len(multi_grid) else multi_grid[-1] for i in range(counts[3])
            )
        self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self._cin = width
        self.layer1 = self._make_layer(block, width, counts[0], 1, [1] * counts[0])
        self.layer2 = self._make_layer(block, width * 2, counts[1], 2, [1] * counts[1])
        self.layer3 = self._make_layer(block, width * 4, counts[2], 2, [1] * counts[2])
        self.layer4 = self._make_layer(block, width * 8, counts[3], 1, [2 * g for g in multi_grid])
        e = block.expansion
        self.out_channels = (width * e, width * 2 * e, width * 4 * e, width * 8 * e)  # layer1..4

    def _make_layer(self, block, planes, blocks, stride, dilations):
        downsample = None
        if stride != 1 or self._cin != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self._cin, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self._cin, planes, stride, dilations[0], downsample)]
        self._cin = planes * block.expansion
        for i in range(1, blocks):
            layers.append(block(self._cin, planes, 1, dilations[i]))
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, keep_stem: bool = False) -> EncoderFeatures:
        """``keep_stem`` also returns the /2 stem activation (only a boundary head uses it)."""
        stem = self.relu(self.bn1(self.conv1(x)))
        l1 = self.layer1(self.maxpool(stem))
        l2 = self.layer2(l1)
        l3 = self.layer3(l2)
        l4 = self.layer4(l3)
        return EncoderFeatures(l4, l3, l2, l1, stem if keep_stem else None)
