"""RefinementBranch (``iog_points`` in the checkpoint), paper §2 / supplementary.

Click heatmaps ``[N, 2, S, S]`` (positive, negative; 0..255) -> four 3x3 stride-2 convs
(2->c1->c2->c3->c3) and a 1x1 conv to ``out_channels``, each followed by BN + ReLU, giving
``[N, out_channels, S/16, S/16]``: the resolution of layer4 at output stride 16. Its output is
concatenated with layer4 before PSP, so a new click re-runs only this branch and the decoder.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


class RefinementBranch(nn.Sequential):
    def __init__(self, widths: Sequence[int] = (64, 128, 256, 256), out_channels: int = 64):
        layers: list[nn.Module] = []
        cin = 2
        for w in widths:
            layers += [
                nn.Conv2d(cin, w, 3, 2, 1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
            ]
            cin = w
        layers += [
            nn.Conv2d(cin, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
        # Index layout 0,3,6,9,12 = conv; 1,4,7,10,13 = BN, as in the official checkpoint.
        super().__init__(*layers)
        self.out_channels = out_channels
