"""Convolutional embeddings (CE) of CETNet (Wang et al., ECCV 2022) and the units they are made of.

* :class:`FusedMBConv` and :class:`MBConv`: EfficientNetV2's units (BN + SiLU by default).
* :class:`ConvStem`: CE of the first stage (S0 + CE of S1): 4 Fused-MBConv at width ``D/2`` with
  strides (2, 1, 2, 1), a 1x1 conv to ``D`` and a LayerNorm on the tokens.
* :class:`ConvDownsample`: CE between stages: 4 MBConv at the input width, the first strided,
  a 1x1 conv to the next width (``2c`` in CETNet) and a LayerNorm.
* :class:`PatchEmbed` / :class:`PatchMerging`: the plain token embeddings the CE replaces
  (ViT/PVT/CvT/CSWin strided conv + LN; Swin's 2x2 merging).
* :func:`build_embeddings`: the single switch (``embed='conv'`` or ``'patch'``) every CE backbone
  uses to build its stem and its between-stage embeddings.

Every embedding takes ``(x, hw_shape)`` with ``x`` either NCHW or ``(B, N, C)`` tokens (then
``hw_shape`` gives H, W) and returns ``(tokens (B, N', C'), (H', W'))``.

Choices marked [inferred] in docs/design/cetnet.md#convolutional-embedding-internals (e=1 stem, e=2
MBConv, no SE, stride first, stem width D/2)
are argument defaults here, so other readings of the paper stay one keyword away.
"""
from collections import OrderedDict
from typing import Optional, Sequence

import torch
from mmcv.cnn import build_activation_layer, build_norm_layer
from torch import nn

from .drop import DropPath
from .tokens import map_to_tokens, tokens_to_map

def _norm(cfg: Optional[dict], channels: int) -> nn.Module:
    """mmcv's norm layer for NCHW maps (``BN``, ``SyncBN``, ``GN``, ...), or none for None."""
    if cfg is None:
        return nn.Identity()
    try:
        return build_norm_layer(cfg, channels)[1]
    except KeyError as e:
        raise ValueError(f'norm_cfg {cfg!r}: {e}') from None


def _act(cfg: Optional[dict]) -> nn.Module:
    """mmcv's activation layer (``SiLU``, ``GELU``, ``ReLU``, ...), or none for None."""
    return nn.Identity() if cfg is None else build_activation_layer(cfg)


class ConvNormAct(nn.Sequential):
    """``conv -> norm -> act`` with keys ``conv``, ``norm``, ``act`` (bias only without a norm)."""

    def __init__(self, in_channels, out_channels, kernel_size=1, stride=1, groups=1,
                 norm_cfg=dict(type='BN'), act_cfg=dict(type='SiLU')):
        super().__init__(OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2,
                           groups=groups, bias=norm_cfg is None),
            norm=_norm(norm_cfg, out_channels),
            act=_act(act_cfg)))


class SqueezeExcite(nn.Module):
    """EfficientNet squeeze-excitation; ``squeeze_channels`` is a fraction of the block input."""

    def __init__(self, channels, squeeze_channels, act_cfg=dict(type='SiLU')):
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze_channels, 1)
        self.act = _act(act_cfg)
        self.expand = nn.Conv2d(squeeze_channels, channels, 1)

    def forward(self, x):
        s = self.expand(self.act(self.reduce(x.mean((2, 3), keepdim=True))))
        return x * s.sigmoid()


class _InvertedResidual(nn.Module):
    """What both units share: ``layers`` (their first convs, at width ``width``) followed by
    [SE] and, with ``project``, a 1x1 projection (norm, no act); the identity shortcut."""

    def __init__(self, layers, in_channels, out_channels, width, stride, se_ratio, norm_cfg,
                 act_cfg, use_shortcut, drop_path, project=True):
        super().__init__()
        if se_ratio > 0:
            layers['se'] = SqueezeExcite(width, max(1, int(in_channels * se_ratio)), act_cfg)
        if project:
            layers['project_conv'] = ConvNormAct(width, out_channels, 1, norm_cfg=norm_cfg,
                                                 act_cfg=None)
        self.block = nn.Sequential(layers)
        self.use_shortcut = use_shortcut and stride == 1 and in_channels == out_channels
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x):
        out = self.block(x)
        return x + self.drop_path(out) if self.use_shortcut else out


class MBConv(_InvertedResidual):
    """MBConv: 1x1 expand -> depthwise kxk (stride) -> [SE] -> 1x1 project (norm, no act).

    Args:
        in_channels, out_channels: widths.
        stride: stride of the depthwise conv.
        expand_ratio: hidden width ``= expand_ratio * in_channels``; 1 drops the expand conv.
            Default 2 [inferred, docs/design/cetnet.md#convolutional-embedding-internals].
        kernel_size: depthwise kernel.
        se_ratio: squeeze channels as a fraction of ``in_channels``; 0 (default) = no SE
            [inferred: every SE variant over-counts Table 7].
        norm_cfg, act_cfg: mmcv-style dicts (BN and SiLU, following EfficientNetV2).
        use_shortcut: identity shortcut when stride is 1 and the widths agree.
        drop_path: stochastic depth on the residual branch (0 in CETNet's CE).
    """

    def __init__(self, in_channels, out_channels, stride=1, expand_ratio=2, kernel_size=3,
                 se_ratio=0., norm_cfg=dict(type='BN'), act_cfg=dict(type='SiLU'),
                 use_shortcut=True, drop_path=0.):
        hidden = int(round(in_channels * expand_ratio))
        layers = OrderedDict()
        if expand_ratio != 1:
            layers['expand_conv'] = ConvNormAct(in_channels, hidden, 1, norm_cfg=norm_cfg,
                                                act_cfg=act_cfg)
        layers['depthwise_conv'] = ConvNormAct(hidden, hidden, kernel_size, stride, groups=hidden,
                                               norm_cfg=norm_cfg, act_cfg=act_cfg)
        super().__init__(layers, in_channels, out_channels, hidden, stride, se_ratio, norm_cfg,
                         act_cfg, use_shortcut, drop_path)


class FusedMBConv(_InvertedResidual):
    """Fused-MBConv: kxk conv (stride) -> [SE] -> 1x1 project; with ``expand_ratio == 1`` the
    kxk conv maps straight to ``out_channels`` (norm + act) and there is no projection.

    Args: as :class:`MBConv`; default ``expand_ratio=1`` [inferred,
        docs/design/cetnet.md#convolutional-embedding-internals].
    """

    def __init__(self, in_channels, out_channels, stride=1, expand_ratio=1, kernel_size=3,
                 se_ratio=0., norm_cfg=dict(type='BN'), act_cfg=dict(type='SiLU'),
                 use_shortcut=True, drop_path=0.):
        project = expand_ratio != 1
        width = int(round(in_channels * expand_ratio)) if project else out_channels
        layers = OrderedDict(fused_conv=ConvNormAct(in_channels, width, kernel_size, stride,
                                                    norm_cfg=norm_cfg, act_cfg=act_cfg))
        super().__init__(layers, in_channels, out_channels, width, stride, se_ratio, norm_cfg,
                         act_cfg, use_shortcut, drop_path, project)


_UNITS = {'fused_mbconv': FusedMBConv, 'mbconv': MBConv}


def to_nchw(x: torch.Tensor, hw_shape=None) -> torch.Tensor:
    """``(B, N, C)`` tokens + ``hw_shape`` -> NCHW; NCHW passes through."""
    if x.dim() == 4:
        return x
    if hw_shape is None:
        raise ValueError('token input (B, N, C) needs hw_shape=(H, W)')
    return tokens_to_map(x, hw_shape)


class ConvEmbedding(nn.Module):
    """A CE: ``depth`` conv units, a 1x1 conv to ``out_channels`` (with bias) and a token LayerNorm.

    Args:
        in_channels, out_channels: input and output widths.
        hidden_channels: width of the conv units (the final 1x1 conv changes it to
            ``out_channels``). Defaults to ``in_channels``.
        depth: number of conv units (4 in CETNet; "5-layer" CE = 4 units + the 1x1 conv).
        strides: one stride per unit; their product is the CE's downsampling factor.
        unit: ``'mbconv'`` or ``'fused_mbconv'``.
        expand_ratio, kernel_size, se_ratio, norm_cfg, act_cfg: passed to every unit.
        out_norm: LayerNorm on the output tokens (True in CETNet).
    """

    def __init__(self, in_channels, out_channels, hidden_channels=None, depth=4,
                 strides: Sequence[int] = (2, 1, 1, 1), unit='mbconv', expand_ratio=2,
                 kernel_size=3, se_ratio=0., norm_cfg=dict(type='BN'), act_cfg=dict(type='SiLU'),
                 out_norm=True):
        super().__init__()
        if unit not in _UNITS:
            raise ValueError(f'unit {unit!r} is not one of {sorted(_UNITS)}')
        strides = tuple(strides)
        if len(strides) != depth:
            raise ValueError(f'strides {strides} must have one entry per unit (depth={depth})')
        hidden = hidden_channels or in_channels
        units, c = [], in_channels
        for s in strides:
            units.append(_UNITS[unit](c, hidden, stride=s, expand_ratio=expand_ratio,
                                      kernel_size=kernel_size, se_ratio=se_ratio,
                                      norm_cfg=norm_cfg, act_cfg=act_cfg))
            c = hidden
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride = 1
        for s in strides:
            self.stride *= s
        self.layers = nn.Sequential(*units)
        self.proj = nn.Conv2d(c, out_channels, 1)
        self.norm = nn.LayerNorm(out_channels) if out_norm else nn.Identity()

    def forward(self, x, hw_shape=None):
        x = self.proj(self.layers(to_nchw(x, hw_shape)))
        out_hw = tuple(x.shape[2:])
        return self.norm(map_to_tokens(x)), out_hw


class ConvStem(ConvEmbedding):
    """CE of the first stage: ``depth`` Fused-MBConv at ``hidden_channels`` (default
    ``out_channels // 2`` [inferred]) with strides (2, 1, 2, 1) (total 4), 1x1 conv, LN."""

    def __init__(self, in_channels=3, out_channels=64, hidden_channels=None, depth=4,
                 strides=None, unit='fused_mbconv', expand_ratio=1, **kwargs):
        if strides is None:
            if depth < 2:
                raise ValueError('ConvStem needs depth >= 2 for its default strides (2, .., 2, ..)')
            strides = [1] * depth
            strides[0] = strides[depth // 2] = 2
        super().__init__(in_channels, out_channels, hidden_channels or out_channels // 2, depth,
                         strides, unit, expand_ratio, **kwargs)


class ConvDownsample(ConvEmbedding):
    """CE between stages: ``depth`` MBConv at the input width, the first with ``stride``
    (downsampling first [inferred]), then a 1x1 conv to ``out_channels`` (default ``2c``) and LN."""

    def __init__(self, in_channels, out_channels=None, hidden_channels=None, depth=4, stride=2,
                 strides=None, unit='mbconv', expand_ratio=2, **kwargs):
        if strides is None:
            strides = [stride] + [1] * (depth - 1)
        super().__init__(in_channels, out_channels or 2 * in_channels, hidden_channels, depth,
                         strides, unit, expand_ratio, **kwargs)


class PatchEmbed(nn.Module):
    """Strided conv (``proj``, with bias) + token LayerNorm (``norm``): the patch embedding of
    ViT/Swin/PVT (kernel = stride) and the convolutional token embedding of CvT/CSWin."""

    def __init__(self, in_channels, out_channels, kernel_size=4, stride=4, padding=0,
                 norm=True):
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.proj = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)
        self.norm = nn.LayerNorm(out_channels) if norm else nn.Identity()

    def forward(self, x, hw_shape=None):
        x = to_nchw(x, hw_shape)
        if self.proj.padding == (0, 0) and self.proj.kernel_size == self.proj.stride:
            H, W = x.shape[2:]
            s = self.proj.stride
            pad_h, pad_w = (s[0] - H % s[0]) % s[0], (s[1] - W % s[1]) % s[1]
            if pad_h or pad_w:
                x = nn.functional.pad(x, (0, pad_w, 0, pad_h))
        x = self.proj(x)
        out_hw = tuple(x.shape[2:])
        return self.norm(map_to_tokens(x)), out_hw


class PatchMerging(nn.Module):
    """Swin's patch merging: concat 2x2 neighbours -> LayerNorm(4c) -> Linear(4c, out, no bias).
    Odd sizes are zero-padded."""

    def __init__(self, in_channels, out_channels=None):
        super().__init__()
        out_channels = out_channels or 2 * in_channels
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, 2
        self.norm = nn.LayerNorm(4 * in_channels)
        self.reduction = nn.Linear(4 * in_channels, out_channels, bias=False)

    def forward(self, x, hw_shape=None):
        x = to_nchw(x, hw_shape).permute(0, 2, 3, 1)
        H, W = x.shape[1:3]
        if H % 2 or W % 2:
            x = nn.functional.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        # Swin's order: (0,0), (1,0), (0,1), (1,1)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        out_hw = tuple(x.shape[1:3])
        x = self.reduction(self.norm(x.flatten(1, 2)))
        return x, out_hw


EMBED_TYPES = ('conv', 'patch')


def build_embeddings(embed: str, in_channels: int, dims: Sequence[int], patch_stem,
                     patch_downsample, stem_cfg: Optional[dict] = None,
                     downsample_cfg: Optional[dict] = None):
    """Build a backbone's stem and its between-stage embeddings: the one CE switch.

    Args:
        embed: ``'conv'`` (CETNet's CE: :class:`ConvStem` + :class:`ConvDownsample`) or
            ``'patch'`` (the backbone's own embeddings, made by the two factories below).
        in_channels: image channels.
        dims: width of every stage.
        patch_stem: ``f(in_channels, dims[0]) -> module`` for ``embed='patch'``.
        patch_downsample: ``f(stage_index, dims[i-1], dims[i]) -> module`` for ``embed='patch'``.
        stem_cfg, downsample_cfg: extra keyword arguments of :class:`ConvStem` /
            :class:`ConvDownsample` (depth, expand_ratio, norm_cfg, act_cfg, ...).

    Returns:
        ``(stem, [None, down_1, down_2, ...])``: one entry per stage, None for the first.
    """
    if embed == 'conv':
        stem = ConvStem(in_channels, dims[0], **(stem_cfg or {}))
        downs = [ConvDownsample(dims[i - 1], dims[i], **(downsample_cfg or {}))
                 for i in range(1, len(dims))]
    elif embed == 'patch':
        stem = patch_stem(in_channels, dims[0])
        downs = [patch_downsample(i, dims[i - 1], dims[i]) for i in range(1, len(dims))]
    else:
        raise ValueError(f'embed={embed!r} is not one of {EMBED_TYPES}')
    return stem, [None] + downs
