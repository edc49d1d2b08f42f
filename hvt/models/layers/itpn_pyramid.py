"""The integrally pre-trained feature pyramid of iTPN (docs/design/itpn.md#feature-pyramid), written
once.

Used by the pixel/CLIP pre-training necks, by the detection / segmentation wrappers and by
Fast-iTPN; it lives in ``layers`` (registered as ``iTPNPyramid``) because backbones build it.
All operations are per-token MLPs and within-patch depth-to-space, so the pyramid runs unchanged
on

* HiViT's per-patch token layout: ``U1 (B, N, 4, 4, C/4)``, ``U2 (B, N, 2, 2, C/2)``,
  ``U3 (B, N, C)`` or ``(B, N, 1, 1, C)``; N may be the number of visible patches under masking;
* dense NCHW maps at strides 4 / 8 / 16 (``(B, C/4, 4Hp, 4Wp)``, ``(B, C/2, 2Hp, 2Wp)``,
  ``(B, C, Hp, Wp)``), giving exactly the same numbers as the token layout.

Checkpoint keys are the official ones: ``align_dim_16tofpn``, ``split_16to8``, ``align_dim_16to8``,
``block_16to8.{k}``, ``split_8to4``, ``align_dim_8to4``, ``block_8to4.{k}``, ``fpn_modules.{0,1,2}``
(index 0 refines the stride-16 level, 1 the stride-8 level, 2 the stride-4 level).
"""
from typing import Sequence

from mmengine.model import BaseModule
from torch import nn

from hvt.registry import MODELS

from .hivit_blocks import MlpBlock, PatchSplit
from .weight_init import init_vit_weights


@MODELS.register_module()
class iTPNPyramid(BaseModule):
    """iTPN feature pyramid.

    Args:
        in_channels: stage widths at strides 4, 8, 16, e.g. ``(128, 256, 512)`` for iTPN-B.
        fpn_dim: pyramid width (256).
        fpn_depth: MLP blocks in ``block_16to8`` / ``block_8to4`` (2 for pixel pre-training and
            segmentation, 1 for CLIP pre-training and detection).
        mlp_ratio: hidden ratio of every pyramid MLP block (4).
        norm_eps: LayerNorm eps (1e-6).
        init_cfg: mmengine init config.

    ``forward(feats)`` takes the three stage features (stride 4, 8, 16) and returns the refined
    outputs ``(O4, O8, O16)`` in the same layout as the inputs (token layout in, token layout
    out: ``(B, N, 4, 4, F)``, ``(B, N, 2, 2, F)``, ``(B, N, 1, 1, F)``; NCHW in, NCHW out).
    """

    def __init__(self, in_channels: Sequence[int] = (128, 256, 512), fpn_dim: int = 256,
                 fpn_depth: int = 2, mlp_ratio: float = 4., norm_eps: float = 1e-6,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != 3:
            raise ValueError(f'iTPNPyramid needs 3 stage widths (strides 4/8/16), got {in_channels}')
        c4, c8, c16 = in_channels
        self.in_channels = tuple(in_channels)
        self.fpn_dim = fpn_dim
        self.fpn_depth = fpn_depth
        if c16 != fpn_dim:
            self.align_dim_16tofpn = nn.Linear(c16, fpn_dim)
        else:
            self.align_dim_16tofpn = None
        self.split_16to8 = PatchSplit(c16, fpn_dim, norm_eps)
        self.align_dim_16to8 = nn.Linear(c8, fpn_dim, bias=False)
        self.block_16to8 = nn.Sequential(
            *[MlpBlock(fpn_dim, mlp_ratio, norm_eps=norm_eps) for _ in range(fpn_depth)])
        self.split_8to4 = PatchSplit(fpn_dim, fpn_dim, norm_eps)
        self.align_dim_8to4 = nn.Linear(c4, fpn_dim, bias=False)
        self.block_8to4 = nn.Sequential(
            *[MlpBlock(fpn_dim, mlp_ratio, norm_eps=norm_eps) for _ in range(fpn_depth)])
        self.fpn_modules = nn.ModuleList(
            [MlpBlock(fpn_dim, mlp_ratio, norm_eps=norm_eps) for _ in range(3)])

    def init_weights(self):
        if self.init_cfg is not None:
            return super().init_weights()
        self.apply(init_vit_weights)

    # -- core on channel-last maps ``(M, h, w, C)`` ------------------------------------------
    def forward_channel_last(self, f4, f8, f16):
        """Channel-last inputs ``(..., 4h, 4w, C/4)``, ``(..., 2h, 2w, C/2)``, ``(..., h, w, C)``."""
        for f, c, name in zip((f4, f8, f16), self.in_channels, ('stride-4', 'stride-8', 'stride-16')):
            if f.shape[-1] != c:
                raise ValueError(f'iTPNPyramid: {name} input has {f.shape[-1]} channels, '
                                 f'expected {c} (in_channels={self.in_channels})')
        h, w = f16.shape[-3:-1]
        if tuple(f8.shape[-3:-1]) != (2 * h, 2 * w) or tuple(f4.shape[-3:-1]) != (4 * h, 4 * w):
            raise ValueError('iTPNPyramid: stage sizes must be 4x / 2x / 1x of the stride-16 grid, '
                             f'got {tuple(f4.shape)}, {tuple(f8.shape)}, {tuple(f16.shape)}')
        p16 = f16 if self.align_dim_16tofpn is None else self.align_dim_16tofpn(f16)
        p8 = self.block_16to8(self.split_16to8(f16) + self.align_dim_16to8(f8))
        p4 = self.block_8to4(self.split_8to4(p8) + self.align_dim_8to4(f4))
        o16 = self.fpn_modules[0](p16)
        o8 = self.fpn_modules[1](p8)
        o4 = self.fpn_modules[2](p4)
        return o4, o8, o16

    def forward_tokens(self, u1, u2, u3):
        """HiViT token layout in and out (see class docstring)."""
        if u3.dim() == 3:
            u3 = u3[:, :, None, None, :]
        B, N = u3.shape[:2]
        outs = self.forward_channel_last(u1.flatten(0, 1), u2.flatten(0, 1), u3.flatten(0, 1))
        return tuple(o.reshape(B, N, *o.shape[1:]) for o in outs)

    def forward(self, feats):
        if len(feats) != 3:
            raise ValueError(f'iTPNPyramid.forward takes 3 stage features, got {len(feats)}')
        f4, f8, f16 = feats
        if f4.dim() == 5:
            return self.forward_tokens(f4, f8, f16)
        if f4.dim() != 4:
            raise ValueError(f'iTPNPyramid: unsupported input rank {f4.dim()} (NCHW or HiViT tokens)')
        outs = self.forward_channel_last(*(f.permute(0, 2, 3, 1) for f in (f4, f8, f16)))
        return tuple(o.permute(0, 3, 1, 2).contiguous() for o in outs)

