"""Dual-ViT blocks (Yao et al., "Dual Vision Transformer", TPAMI; docs/design/dualvit.md).

Stem, downsampling, semantic-token embedding, the Dual block (stages 1-2), the Merge block
(stages 3-4) and the class-attention block of the classification post network. Module and
parameter names follow the official code (github.com/YehLi/ImageNetModel) so its checkpoints load
with a plain prefix mapping. Every attention product goes through the shared :func:`attention`
core; the FFNs extend the shared :class:`Mlp`; stochastic depth is the shared :class:`DropPath`.
"""
import math
from typing import Tuple

import torch
from torch import nn

from .attention import attention
from .chunk import chunked
from .drop import DropPath
from .mlp import Mlp
from .weight_init import init_vit_weights


def split_heads(t: torch.Tensor, num_heads: int, parts: int = 1):
    """``(B, N, parts*C)`` -> ``parts`` tensors ``(B, heads, N, C/heads)``.

    The fused projection's output is laid out ``[part0 | part1 | ...]`` and each part is split into
    heads of contiguous ``head_dim`` chunks, as in the official code.
    """
    B, N, C = t.shape
    t = t.reshape(B, N, parts, num_heads, C // (parts * num_heads)).permute(2, 0, 3, 1, 4)
    return t.unbind(0)


def merge_heads(t: torch.Tensor) -> torch.Tensor:
    """``(B, heads, N, d)`` -> ``(B, N, heads*d)``."""
    return t.transpose(1, 2).flatten(2)


def layer_scale(dim: int, init_value: float) -> nn.Parameter:
    return nn.Parameter(init_value * torch.ones(dim))


def dualvit_init_weights(m: nn.Module) -> None:
    """The official initialisation
    (docs/design/dualvit.md#conventions-norms-layer-scale-and-initialisation), applied with
    ``module.apply``."""
    if isinstance(m, (nn.Linear, nn.LayerNorm)):
        init_vit_weights(m)
    elif isinstance(m, nn.Conv2d):
        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
        nn.init.normal_(m.weight, 0, math.sqrt(2.0 / fan_out))
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def build_stem_norm(norm_cfg: dict, num_features: int) -> nn.Module:
    """BN of the stem from an OpenMMLab ``norm_cfg`` (``BN`` / ``SyncBN``, ``requires_grad``)."""
    from mmcv.cnn import build_norm_layer
    return build_norm_layer(dict(norm_cfg), num_features)[1]


class Stem(nn.Module):
    """Overlapping conv stem, total stride 4
    (docs/design/dualvit.md#overlapping-stem-and-downsampling).

    7x7/2 conv-BN-ReLU, 2x (3x3 conv-BN-ReLU), 3x3/2 conv with bias, flatten, LayerNorm (eps 1e-5).
    Keys ``conv.{0,1,3,4,6,7}``, ``proj``, ``norm``. Returns tokens ``(B, H*W, C)`` and ``(H, W)``.
    """

    def __init__(self, in_channels: int, hidden_dim: int, out_channels: int,
                 norm_cfg: dict = dict(type='BN')):
        super().__init__()
        layers = []
        for i, (k, s) in enumerate([(7, 2), (3, 1), (3, 1)]):
            layers += [
                nn.Conv2d(in_channels if i == 0 else hidden_dim, hidden_dim, k, s, k // 2,
                          bias=False),
                build_stem_norm(norm_cfg, hidden_dim),
                nn.ReLU(inplace=True),
            ]
        self.conv = nn.Sequential(*layers)
        self.proj = nn.Conv2d(hidden_dim, out_channels, 3, 2, 1)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x):
        x = self.proj(self.conv(x))
        hw = tuple(x.shape[-2:])
        return self.norm(x.flatten(2).transpose(1, 2)), hw


class DownSamples(nn.Module):
    """3x3/2 conv (bias) -> flatten -> LayerNorm (eps 1e-5) between stages
    (docs/design/dualvit.md#overlapping-stem-and-downsampling)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, out_channels, 3, 2, 1)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x):
        x = self.proj(x)
        hw = tuple(x.shape[-2:])
        return self.norm(x.flatten(2).transpose(1, 2)), hw


class SemanticEmbed(nn.Module):
    """Re-projects the semantic tokens to the next stage's width: Linear -> LayerNorm (eps 1e-5)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.proj_proxy = nn.Sequential(nn.Linear(in_channels, out_channels),
                                        nn.LayerNorm(out_channels))

    def forward(self, z):
        return self.proj_proxy(z)


class DWConv(nn.Module):
    """3x3 depthwise conv (bias) on ``(B, H*W, C)`` tokens; key ``dwconv``."""

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)

    def forward(self, x, hw: Tuple[int, int]):
        B, N, C = x.shape
        x = x.transpose(1, 2).reshape(B, C, hw[0], hw[1])
        return self.dwconv(x).flatten(2).transpose(1, 2)


class DWConvMlp(Mlp):
    """PVTv2-style pixel FFN: ``fc1 -> 3x3 depthwise conv -> GELU -> fc2`` (keys ``fc1``,
    ``dwconv.dwconv``, ``fc2``); no dropout."""

    def __init__(self, in_features: int, hidden_features: int):
        super().__init__(in_features, hidden_features, act_layer=nn.GELU)
        self.dwconv = DWConv(hidden_features)

    def forward(self, x, hw):
        # per image: pieces of >= 2 images whose hidden map fits the cache (layers/chunk.py)
        return chunked(lambda t: self.fc2(self.act(self.dwconv(self.fc1(t), hw))), x,
                       x.shape[1] * self.fc1.out_features * x.element_size(), min_items=2)


class MergeFFN(DWConvMlp):
    """FFN of the Merge block: the pixel part (first ``H*W`` tokens) goes through the depthwise-conv
    FFN, the semantic part through ``fc_proxy`` = Linear(d, 2d) -> GELU -> Linear(2d, d)."""

    def __init__(self, in_features: int, hidden_features: int):
        super().__init__(in_features, hidden_features)
        self.fc_proxy = nn.Sequential(
            nn.Linear(in_features, 2 * in_features), nn.GELU(),
            nn.Linear(2 * in_features, in_features))

    def forward(self, y, hw):
        n = hw[0] * hw[1]
        return torch.cat([super().forward(y[:, :n], hw), self.fc_proxy(y[:, n:])], dim=1)


class QKVAttention(nn.Module):
    """Multi-head attention with separate ``q`` and fused ``kv`` projections and ``proj``.

    ``forward(query, context)`` attends from ``query`` tokens to ``context`` tokens (self-attention
    when ``context`` is None). Used by the Merge block (self-attention over pixel + semantic
    tokens), the class-attention block (the cls token attends to all tokens) and, through
    :class:`DualAttention`, by the pixel <- semantic cross-attention.
    """

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        self.dim = dim
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)

    def forward(self, query, context=None):
        context = query if context is None else context
        q, = split_heads(self.q(query), self.num_heads)
        k, v = split_heads(self.kv(context), self.num_heads, 2)
        return self.proj(merge_heads(attention(q, k, v, scale=self.scale)))


class DualAttention(QKVAttention):
    """Both pathways of a Dual block (docs/design/dualvit.md#dual-block, Eq. 2-3).

    ``forward(xn, z)`` takes the normalised pixel tokens ``xn = norm1(x)`` and the semantic tokens
    ``z``; it updates ``z`` by self-attention (``qkv_proxy``, no output projection), cross-attention
    to the pixels (``q_proxy_ln``/``q_proxy``/``kv_proxy``, no output projection) and a ReLU FFN
    (``p_ln``/``mlp_proxy``), each residual scaled by ``gamma1..3`` and dropped by the block's
    drop-path rate; then the pixels attend to the updated semantic tokens (``q``, ``proxy_ln``/
    ``kv``, ``proj``). Returns the pixel branch output (before the block's layer scale) and ``z``.
    """

    def __init__(self, dim: int, num_heads: int, drop_path: float = 0.,
                 layer_scale_init_value: float = 1e-6):
        super().__init__(dim, num_heads)
        self.q_proxy = nn.Linear(dim, dim)
        self.kv_proxy = nn.Linear(dim, dim * 2)
        self.q_proxy_ln = nn.LayerNorm(dim)
        self.p_ln = nn.LayerNorm(dim)
        self.drop_path = DropPath(drop_path)
        self.mlp_proxy = nn.Sequential(nn.Linear(dim, 4 * dim), nn.ReLU(inplace=True),
                                       nn.Linear(4 * dim, dim))
        self.proxy_ln = nn.LayerNorm(dim)
        self.qkv_proxy = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim * 3))
        self.gamma1 = layer_scale(dim, layer_scale_init_value)
        self.gamma2 = layer_scale(dim, layer_scale_init_value)
        self.gamma3 = layer_scale(dim, layer_scale_init_value)

    def forward(self, xn, z):
        h = self.num_heads
        # semantic self-attention
        q, k, v = split_heads(self.qkv_proxy(z), h, 3)
        z = z + self.drop_path(self.gamma1 * merge_heads(attention(q, k, v, scale=self.scale)))
        # semantic <- pixel cross-attention
        q, = split_heads(self.q_proxy(self.q_proxy_ln(z)), h)
        k, v = split_heads(self.kv_proxy(xn), h, 2)
        z = z + self.drop_path(self.gamma2 * merge_heads(attention(q, k, v, scale=self.scale)))
        # semantic FFN
        z = z + self.drop_path(self.gamma3 * self.mlp_proxy(self.p_ln(z)))
        # pixel <- semantic cross-attention with the updated semantic tokens
        return super().forward(xn, self.proxy_ln(z)), z


class DualBlock(nn.Module):
    """Dual block of stages 1-2: ``forward(x, z, hw) -> (x, z)``
    (docs/design/dualvit.md#dual-block)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, drop_path: float = 0.,
                 layer_scale_init_value: float = 1e-6, norm_eps: float = 1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = DualAttention(dim, num_heads, drop_path, layer_scale_init_value)
        self.mlp = DWConvMlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path)
        self.gamma1 = layer_scale(dim, layer_scale_init_value)
        self.gamma2 = layer_scale(dim, layer_scale_init_value)

    def forward(self, x, z, hw):
        o, z = self.attn(self.norm1(x), z)
        x = x + self.drop_path(self.gamma1 * o)
        x = x + self.drop_path(self.gamma2 * self.mlp(self.norm2(x), hw))
        return x, z


class MergeBlock(nn.Module):
    """Merge block of stages 3-4 on ``y = [pixel tokens; semantic tokens]``
    (docs/design/dualvit.md#merge-block).

    One shared ``norm1``/``norm2`` and layer scale per branch; plain MHSA over all tokens, then the
    :class:`MergeFFN`. With ``pixel_only=True`` (the last block of the dense backbone,
    docs/design/dualvit.md#dense-prediction-backbone)
    the semantic tokens are dropped after attention and the FFN is the plain pixel FFN; the block
    then returns only the ``H*W`` pixel tokens.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, drop_path: float = 0.,
                 layer_scale_init_value: float = 1e-6, norm_eps: float = 1e-6,
                 pixel_only: bool = False):
        super().__init__()
        self.pixel_only = pixel_only
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = QKVAttention(dim, num_heads)
        ffn = DWConvMlp if pixel_only else MergeFFN
        self.mlp = ffn(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path)
        self.gamma1 = layer_scale(dim, layer_scale_init_value)
        self.gamma2 = layer_scale(dim, layer_scale_init_value)

    def forward(self, y, hw):
        y = y + self.drop_path(self.gamma1 * self.attn(self.norm1(y)))
        if self.pixel_only:
            y = y[:, :hw[0] * hw[1]]
        return y + self.drop_path(self.gamma2 * self.mlp(self.norm2(y), hw))


class ClassBlock(nn.Module):
    """CaiT-style class-attention block of the classification post network
    (docs/design/dualvit.md#classification-post-network-and-token-labeling).

    ``t = [cls; tokens]``: the normalised cls token queries all normalised tokens (cls included),
    then a GELU FFN (ratio ``mlp_ratio``) updates the cls token only. No layer scale, no drop path.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 2., norm_eps: float = 1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = QKVAttention(dim, num_heads)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=nn.GELU)

    def forward(self, t):
        cls = t[:, :1]
        tn = self.norm1(t)
        cls = cls + self.attn(tn[:, :1], tn)
        cls = cls + self.mlp(self.norm2(cls))
        return torch.cat([cls, t[:, 1:]], dim=1)
