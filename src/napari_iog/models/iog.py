"""IOGNet: the paper's network (backbone + PSP + CoarseNet + FineNet [+ RefinementBranch]).

``forward(x, click_maps=None) -> IOGOutput`` with ``x`` float32 ``[N, 5, S, S]`` (R, G, B in
0..255, inside and outside heatmaps in 0..255; S a multiple of 16) and, for refinement nets,
``click_maps`` ``[N, 2, S, S]`` (positive, negative; 0..255; default: ``x[:, 3:5]``, the
initial clicks, as in the official first round). Outputs are logits ``[N, 1, S, S]``.
With ``config.boundary_channels > 0`` a ``BoundaryHead`` (not in the paper) turns FineNet's /4
logits into /2 logits; FineNet's own output then becomes a fifth side output.

The split ``encode`` (backbone, run once per object crop) / ``decode`` (click branch, PSP,
CoarseNet, FineNet) is what makes a refinement click cheap: it never re-runs the backbone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from .backbone import EncoderFeatures, ResNetBackbone
from .boundary_head import BoundaryHead
from .decoder import CoarseNet, FineNet
from .psp import PSPModule
from .refinement import RefinementBranch


class IOGOutput(NamedTuple):
    coarse: tuple[torch.Tensor, ...]  # 4 side outputs (+ FineNet's with a boundary head)
    fine: torch.Tensor  # logits [N, 1, h, w]


class InputShapeError(ValueError):
    """The network input has the wrong shape; the message says which one is expected."""


class IOGNet(nn.Module):
    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config = config or ModelConfig()
        backbone = ResNetBackbone(
            config.backbone, config.in_channels, config.width, config.multi_grid
        )
        c1, c2, c3, c4 = backbone.out_channels
        psp_in = c4 + (config.click_channels if config.refinement else 0)
        # Attribute names and registration order are those of the official checkpoints
        # (``Coarse_net.*``, ``Fine_net.*``, ``backbone.*``, ``psp4.*``, ``iog_points.*``):
        # IOG_PASCAL_SBD.pth & co. need them to load with strict=True.
        self.Coarse_net = CoarseNet((config.psp_out, c3, c2, c1), config.decoder_channels)
        self.Fine_net = FineNet(config.decoder_channels, config.fine_channels)
        self.backbone = backbone
        self.psp4 = PSPModule(psp_in, config.psp_out, config.psp_bins)
        if config.refinement:
            w = config.width
            self.iog_points = RefinementBranch((w, 2 * w, 4 * w, 4 * w), config.click_channels)
        if config.boundary_channels:
            self.boundary_head = BoundaryHead(config.width, config.boundary_channels)

    @property
    def is_refinement(self) -> bool:
        return self.config.refinement

    # -- input checks -------------------------------------------------------------------------
    @staticmethod
    def _check(t: torch.Tensor, channels: int, what: str) -> None:
        if not isinstance(t, torch.Tensor) or t.ndim != 4 or t.shape[1] != channels:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise InputShapeError(f"{what} must be a tensor [N, {channels}, S, S]; got {shape}.")
        if t.shape[-1] % 16 or t.shape[-2] % 16:
            raise InputShapeError(
                f"{what} spatial size {tuple(t.shape[-2:])} must be a multiple of 16 "
                "(the network's output stride); resize the crop, e.g. to 512x512."
            )

    # -- the two halves -----------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> EncoderFeatures:
        """Run the backbone once: ``x [N, 5, S, S]`` -> ``EncoderFeatures``."""
        self._check(x, self.config.in_channels, "x")
        return self.backbone(x, keep_stem=bool(self.config.boundary_channels))

    def lateral_features(self, feats: EncoderFeatures) -> tuple[torch.Tensor, ...]:
        """CoarseNet's lateral maps of layer3, layer2, layer1: click-independent, so a predictor
        can cache them with the encoder features and pass them to :meth:`decode`."""
        c = self.Coarse_net
        return (c.lateral(1, feats.layer3), c.lateral(2, feats.layer2), c.lateral(3, feats.layer1))

    def decode(
        self,
        feats: EncoderFeatures,
        click_maps: torch.Tensor | None = None,
        out_size: Sequence[int] | None = None,
        *,
        laterals: Sequence[torch.Tensor] | None = None,
        side_outputs: bool = True,
    ) -> IOGOutput:
        """PSP + CoarseNet + FineNet (+ RefinementBranch) on cached backbone features.

        ``out_size=None`` returns logits on the /4 grid (128x128 for 512 crops, as the official
        refinement forward does; /2 for the fine output of a net with a boundary head);
        otherwise they are bilinearly resized (align_corners=True).
        ``laterals`` (from :meth:`lateral_features`) skips recomputing the click-independent
        laterals; ``side_outputs=False`` returns ``coarse=()`` and skips the 4 coarse heads.
        Neither changes the fine output.
        """
        top = feats.layer4
        if self.is_refinement:
            if click_maps is None:
                raise ValueError(
                    "This is a refinement network: decode() needs click_maps [N, 2, S, S]."
                )
            self._check(click_maps, 2, "click_maps")
            top = torch.cat([top, self.iog_points(click_maps)], dim=1)
        size = feats.layer1.shape[-2:]
        pyramid = [self.psp4(top), feats.layer3, feats.layer2, feats.layer1]
        fmaps, coarse = self.Coarse_net(pyramid, size, laterals, side_outputs)
        fine = self.Fine_net(fmaps, size)
        if self.config.boundary_channels:
            if feats.stem is None:
                raise ValueError("This net has a boundary head: decode() needs encode()'s stem.")
            if side_outputs:
                coarse.append(fine)
            fine = self.boundary_head(fine, feats.stem)
        if out_size is not None:
            coarse = [
                F.interpolate(c, size=tuple(out_size), mode="bilinear", align_corners=True)
                for c in coarse
            ]
            fine = F.interpolate(fine, size=tuple(out_size), mode="bilinear", align_corners=True)
        return IOGOutput(tuple(coarse), fine)

    def forward(self, x: torch.Tensor, click_maps: torch.Tensor | None = None) -> IOGOutput:
        feats = self.encode(x)
        if self.is_refinement and click_maps is None:
            click_maps = x[:, 3:5]
        elif click_maps is not None and not self.is_refinement:
            raise ValueError("click_maps given to a network without the refinement branch.")
        return self.decode(feats, click_maps, out_size=x.shape[-2:])
