"""CETNet's convolutional embeddings applied to CvT, PVT and CSWin (paper section 5.3, Table 7).

Lean, faithful re-implementations of the three baselines (official code: microsoft/CvT,
whai362/PVT, microsoft/CSWin-Transformer), sharing HVT's layers. One switch, ``embed``, selects
the token embeddings: ``'conv'`` (default) uses CETNet's CE (:class:`ConvStem` +
:class:`ConvDownsample` through :func:`build_embeddings`), ``'patch'`` the model's own ones, so
``embed='patch'`` is the Table 7 baseline. The CE archs (``'ce-*'``) carry the depth reductions of
Table 7. Swin and CE-Swin are :class:`hvt.CESwin` in ``cetnet.py``.

Classification follows each official model: CvT and PVT classify from a cls token of the last
stage (``out_type='cls_token'`` returns the normed token, use ``LinearClsHead`` with no neck);
CSWin averages the normed tokens (``GlobalAveragePooling`` neck, or ``out_type='avg_featmap'``).
``out_type='featmap'`` returns NCHW maps of ``out_indices`` for dense tasks. The skeleton (stages,
output norms, forward, frozen stages, init) is :class:`~hvt.models.backbones.cetnet.CEBackbone`.
"""
import torch
import torch.nn.functional as F
from torch import nn

from hvt.registry import MODELS
from ..layers.attention import attention
from ..layers.conv_embed import PatchEmbed
from ..layers.drop import DropPath, drop_path_rates
from ..layers.mlp import Mlp
from ..layers.tokens import map_to_tokens, tokens_to_map
from .cetnet import CEBackbone


def _heads(x, num_heads):
    """``(B, N, C)`` -> ``(B, heads, N, C // heads)``."""
    B, N, C = x.shape
    return x.view(B, N, num_heads, C // num_heads).transpose(1, 2)


def _merge_heads(x):
    B, h, N, d = x.shape
    return x.transpose(1, 2).reshape(B, N, h * d)


class PreNormBlock(nn.Module):
    """``x + DropPath(attn(LN(x), hw))``, ``x + DropPath(MLP(LN(x)))``; attention set by subclass."""

    def _build_common(self, dim, mlp_ratio, drop, drop_path, norm_eps):
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x, hw_shape):
        x = x + self.drop_path(self.attn(self.norm1(x), hw_shape))
        return x + self.drop_path(self.mlp(self.norm2(x)))


# ----------------------------------------------------------------------------------------- CvT
class CvTAttention(nn.Module):
    """CvT's convolutional projection attention: depthwise 3x3 conv + BN (``dw_bn``) for q (stride
    1) and k, v (stride ``stride_kv``), then linear ``proj_q/k/v``; the cls token bypasses the convs.
    The scale is ``dim ** -0.5`` (full width), as in the official code."""

    def __init__(self, dim, num_heads, qkv_bias=True, attn_drop=0., proj_drop=0., kernel_size=3,
                 stride_kv=2, stride_q=1, with_cls_token=False):
        super().__init__()
        self.num_heads = num_heads
        self.scale = dim ** -0.5
        self.with_cls_token = with_cls_token
        self.attn_drop = attn_drop

        self.conv_proj_q = self._dw_bn(dim, kernel_size, stride_q)
        self.conv_proj_k = self._dw_bn(dim, kernel_size, stride_kv)
        self.conv_proj_v = self._dw_bn(dim, kernel_size, stride_kv)
        self.proj_q = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj_k = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj_v = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    @staticmethod
    def _dw_bn(dim, kernel_size, stride):
        m = nn.Sequential()
        m.add_module('conv', nn.Conv2d(dim, dim, kernel_size, stride, kernel_size // 2,
                                       bias=False, groups=dim))
        m.add_module('bn', nn.BatchNorm2d(dim))
        return m

    def forward(self, x, hw_shape):
        if self.with_cls_token:
            cls, x = x[:, :1], x[:, 1:]
        fmap = tokens_to_map(x, hw_shape)
        q, k, v = (map_to_tokens(p(fmap))
                   for p in (self.conv_proj_q, self.conv_proj_k, self.conv_proj_v))
        if self.with_cls_token:
            q, k, v = (torch.cat([cls, t], 1) for t in (q, k, v))
        q = _heads(self.proj_q(q), self.num_heads)
        k = _heads(self.proj_k(k), self.num_heads)
        v = _heads(self.proj_v(v), self.num_heads)
        x = attention(q, k, v, None, self.attn_drop if self.training else 0., self.scale)
        return self.proj_drop(self.proj(_merge_heads(x)))


class CvTBlock(PreNormBlock):

    def __init__(self, dim, num_heads, mlp_ratio=4., qkv_bias=True, drop=0., attn_drop=0.,
                 drop_path=0., with_cls_token=False, stride_kv=2):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = CvTAttention(dim, num_heads, qkv_bias, attn_drop, drop, stride_kv=stride_kv,
                                 with_cls_token=with_cls_token)
        self._build_common(dim, mlp_ratio, drop, drop_path, 1e-5)


# ----------------------------------------------------------------------------------------- PVT
class SRAttention(nn.Module):
    """PVT's spatial-reduction attention: keys/values from a ``sr x sr`` strided conv + LN."""

    def __init__(self, dim, num_heads, qkv_bias=True, qk_scale=None, attn_drop=0., proj_drop=0.,
                 sr_ratio=1, norm_eps=1e-6):
        super().__init__()
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.attn_drop = attn_drop
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, sr_ratio, sr_ratio)
            self.norm = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, x, hw_shape):
        B, N, C = x.shape
        q = _heads(self.q(x), self.num_heads)
        if self.sr_ratio > 1:
            n_cls = N - hw_shape[0] * hw_shape[1]
            fmap = tokens_to_map(x[:, n_cls:], hw_shape)
            pad_h, pad_w = (-hw_shape[0]) % self.sr_ratio, (-hw_shape[1]) % self.sr_ratio
            if pad_h or pad_w:
                fmap = F.pad(fmap, (0, pad_w, 0, pad_h))
            x = self.norm(map_to_tokens(self.sr(fmap)))
        k, v = self.kv(x).chunk(2, dim=-1)
        x = attention(q, _heads(k, self.num_heads), _heads(v, self.num_heads), None,
                      self.attn_drop if self.training else 0., self.scale)
        return self.proj_drop(self.proj(_merge_heads(x)))


class PVTBlock(PreNormBlock):

    def __init__(self, dim, num_heads, mlp_ratio=4., qkv_bias=True, qk_scale=None, drop=0.,
                 attn_drop=0., drop_path=0., sr_ratio=1):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = SRAttention(dim, num_heads, qkv_bias, qk_scale, attn_drop, drop, sr_ratio)
        self._build_common(dim, mlp_ratio, drop, drop_path, 1e-6)


# --------------------------------------------------------------------------------------- CSWin
def _stripes(x, hs, ws):
    """``(B, H, W, C)`` (multiples of hs, ws) -> ``(B * nW, hs * ws, C)``."""
    B, H, W, C = x.shape
    x = x.view(B, H // hs, hs, W // ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, hs * ws, C)


def _unstripes(x, hs, ws, H, W):
    C = x.shape[-1]
    B = x.shape[0] // ((H // hs) * (W // ws))
    x = x.view(B, H // hs, W // ws, hs, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, H, W, C)


class LePEAttention(nn.Module):
    """CSWin's stripe attention of one branch with the locally-enhanced positional encoding
    (depthwise 3x3 conv ``get_v`` on V). ``idx`` 0: vertical stripes (full height, width
    ``split_size``), 1: horizontal stripes, -1: the whole map (last stage). Maps that are not a
    multiple of the stripe width are zero-padded."""

    def __init__(self, dim, num_heads, idx, split_size=7, qk_scale=None, attn_drop=0.):
        super().__init__()
        self.num_heads, self.idx, self.split_size = num_heads, idx, split_size
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.attn_drop = attn_drop
        self.get_v = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)

    def forward(self, q, k, v, hw_shape):
        B, N, C = q.shape
        H, W = hw_shape
        hs, ws = {-1: (H, W), 0: (H, self.split_size), 1: (self.split_size, W)}[self.idx]
        pad_h, pad_w = (-H) % hs, (-W) % ws

        def windows(t):
            t = t.view(B, H, W, C)
            if pad_h or pad_w:
                t = F.pad(t, (0, 0, 0, pad_w, 0, pad_h))
            return _stripes(t, hs, ws)

        q, k, v = windows(q), windows(k), windows(v)
        lepe = map_to_tokens(self.get_v(tokens_to_map(v, (hs, ws))))
        x = attention(_heads(q, self.num_heads), _heads(k, self.num_heads),
                      _heads(v, self.num_heads), None,
                      self.attn_drop if self.training else 0., self.scale)
        x = _merge_heads(x) + lepe
        x = _unstripes(x, hs, ws, H + pad_h, W + pad_w)[:, :H, :W]
        return x.reshape(B, N, C)


class CSWinAttention(nn.Module):
    """Shared ``qkv``, two half-width stripe branches (one full-map branch in the last stage),
    ``proj``."""

    def __init__(self, dim, num_heads, split_size=7, last_stage=False, qkv_bias=True,
                 qk_scale=None, attn_drop=0., proj_drop=0.):
        super().__init__()
        n = 1 if last_stage else 2
        if num_heads % n:
            raise ValueError(f'CSWin: {num_heads} heads do not split into the two stripe '
                             'branches of a stage before the last; use an even number')
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attns = nn.ModuleList([
            LePEAttention(dim // n, num_heads // n, -1 if last_stage else i, split_size,
                          qk_scale, attn_drop) for i in range(n)
        ])
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x, hw_shape):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        n = len(self.attns)
        parts = [a(qi, ki, vi, hw_shape) for a, qi, ki, vi in
                 zip(self.attns, q.chunk(n, -1), k.chunk(n, -1), v.chunk(n, -1))]
        return self.proj_drop(self.proj(torch.cat(parts, -1)))


class CSWinBlock(PreNormBlock):

    def __init__(self, dim, num_heads, split_size=7, last_stage=False, mlp_ratio=4.,
                 qkv_bias=True, qk_scale=None, drop=0., attn_drop=0., drop_path=0.):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = CSWinAttention(dim, num_heads, split_size, last_stage, qkv_bias, qk_scale,
                                   attn_drop, drop)
        self._build_common(dim, mlp_ratio, drop, drop_path, 1e-5)


# -------------------------------------------------------------------------------- backbones
@MODELS.register_module()
class CECvT(CEBackbone):
    """CvT (Wu et al. 2021) with optional CE (Table 7 CE-CvT-13: same depths, D=64).

    Args:
        arch: ``'13'``, ``'21'`` or a dict with ``embed_dims`` (3 widths), ``depths``,
            ``num_heads``. The CE swaps CvT's convolutional token embeddings (7x7 s4, 3x3 s2,
            3x3 s2, each + LN); its 1x1 convs do the 64->192->384 widening.
        embed: ``'conv'`` (CE) or ``'patch'`` (CvT's own embeddings = the baseline).
        drop_path_rate: per stage list (CvT: ``[0, 0, 0.1]``) or one float for the last stage.
        out_type: ``'cls_token'`` (default; the normed class token of the last stage, for
            ``LinearClsHead``), ``'featmap'`` or ``'avg_featmap'`` (the average of the normed
            patch tokens).
        **kwargs: the common arguments of :class:`~hvt.models.backbones.cetnet.CEBackbone`;
            the class token belongs to the last stage.
    """
    arch_zoo = {
        '13': dict(embed_dims=[64, 192, 384], depths=[1, 2, 10], num_heads=[1, 3, 6]),
        '21': dict(embed_dims=[64, 192, 384], depths=[1, 4, 16], num_heads=[1, 3, 6]),
    }
    arch_zoo['ce-13'] = arch_zoo['13']
    out_types = ('featmap', 'avg_featmap', 'cls_token')
    patch_kernels = ((7, 4, 2), (3, 2, 1), (3, 2, 1))

    def __init__(self, arch='ce-13', mlp_ratio=4., qkv_bias=True, drop_rate=0.,
                 attn_drop_rate=0., drop_path_rate=(0., 0., 0.1), stride_kv=2,
                 out_type='cls_token', **kwargs):
        super().__init__(arch, out_type=out_type, **kwargs)
        n = len(self.depths)
        if isinstance(drop_path_rate, (int, float)):
            drop_path_rate = [0.] * (n - 1) + [float(drop_path_rate)]
        dpr = [drop_path_rates(r, [d])[0] for r, d in zip(drop_path_rate, self.depths)]
        heads = self.arch['num_heads']

        def block(i, j, drop_path):
            return CvTBlock(self.embed_dims[i], heads[i], mlp_ratio, qkv_bias, drop_rate,
                            attn_drop_rate, drop_path, with_cls_token=i == n - 1,
                            stride_kv=stride_kv)

        self._build_stages(block, dpr, with_cls_token=lambda i: i == n - 1)

    def patch_stem(self, in_channels, out_channels):
        return PatchEmbed(in_channels, out_channels, *self.patch_kernels[0])

    def patch_downsample(self, i, in_channels, out_channels):
        return PatchEmbed(in_channels, out_channels, *self.patch_kernels[min(i, 2)])


# PVT-T/S/M/L share widths, heads and ratios; CE-PVT-S (Table 7) is PVT-S with stage 3 at 4
_PVT_WIDTHS = dict(embed_dims=[64, 128, 320, 512], num_heads=[1, 2, 5, 8],
                   mlp_ratios=[8, 8, 4, 4], sr_ratios=[8, 4, 2, 1])
_PVT_DEPTHS = {'t': [2, 2, 2, 2], 's': [3, 4, 6, 3], 'm': [3, 4, 18, 3], 'l': [3, 8, 27, 3],
               'ce-s': [3, 4, 4, 3]}


@MODELS.register_module()
class CEPVT(CEBackbone):
    """PVT v1 (Wang et al. 2021) with optional CE (Table 7 CE-PVT-S: stage-3 depth 6 -> 4).

    Args:
        arch: ``'s'`` (PVT-S), ``'ce-s'`` (CE-PVT-S) or a dict with ``embed_dims``, ``depths``,
            ``num_heads``, ``mlp_ratios``, ``sr_ratios``.
        embed: ``'conv'`` or ``'patch'`` (PVT's k=s patch embeddings: the baseline).
        img_size: size the position embeddings are stored for (they are kept with the CE
            [inferred from params]) and resized from for other inputs.
        out_type: ``'cls_token'`` (default), ``'featmap'`` or ``'avg_featmap'``.
        **kwargs: the common arguments of :class:`~hvt.models.backbones.cetnet.CEBackbone`;
            stage 0's position table belongs to the stem.
    """
    arch_zoo = {name: dict(_PVT_WIDTHS, depths=depths) for name, depths in _PVT_DEPTHS.items()}
    arch_keys = ('embed_dims', 'depths', 'num_heads', 'mlp_ratios', 'sr_ratios')
    out_types = ('featmap', 'avg_featmap', 'cls_token')
    final_norm_eps = 1e-6

    def __init__(self, arch='ce-s', img_size=224, qkv_bias=True, qk_scale=None, drop_rate=0.,
                 attn_drop_rate=0., drop_path_rate=0.1, out_type='cls_token', **kwargs):
        super().__init__(arch, out_type=out_type, **kwargs)
        n = len(self.depths)
        img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        a = self.arch

        def block(i, j, drop_path):
            return PVTBlock(self.embed_dims[i], a['num_heads'][i], a['mlp_ratios'][i], qkv_bias,
                            qk_scale, drop_rate, attn_drop_rate, drop_path, a['sr_ratios'][i])

        self._build_stages(
            block, drop_path_rates(drop_path_rate, self.depths),
            with_cls_token=lambda i: i == n - 1,
            pos_hw=lambda i: (img_size[0] // (4 * 2**i), img_size[1] // (4 * 2**i)),
            drop_rate=lambda i: drop_rate)

    def patch_stem(self, in_channels, out_channels):
        return PatchEmbed(in_channels, out_channels, 4, 4)

    def patch_downsample(self, i, in_channels, out_channels):
        return PatchEmbed(in_channels, out_channels, 2, 2)


@MODELS.register_module()
class CECSWin(CEBackbone):
    """CSWin Transformer (Dong et al. 2022) with optional CE (Table 7: stage-3 depth - 1).

    Args:
        arch: ``'t'``, ``'s'``, ``'b'`` (baselines), ``'ce-t'``, ``'ce-s'``, ``'ce-b'`` or a dict
            with ``embed_dims`` (int D or widths), ``depths``, ``num_heads``, ``split_sizes``.
        embed: ``'conv'`` or ``'patch'`` (CSWin's 7x7 s4 conv stem and 3x3 s2 merge blocks).
        out_type: ``'featmap'`` (default) or ``'avg_featmap'`` (the official classifier's
            average of the normed tokens).
        **kwargs: the common arguments of :class:`~hvt.models.backbones.cetnet.CEBackbone`.
        Classification: ``GlobalAveragePooling`` neck (or ``out_type='avg_featmap'``).
    """
    _ts = dict(embed_dims=64, num_heads=[2, 4, 8, 16], split_sizes=[1, 2, 7, 7])
    _b = dict(embed_dims=96, num_heads=[4, 8, 16, 32], split_sizes=[1, 2, 7, 7])
    arch_zoo = {
        't': dict(_ts, depths=[1, 2, 21, 1]),
        's': dict(_ts, depths=[2, 4, 32, 2]),
        'b': dict(_b, depths=[2, 4, 32, 2]),
        'ce-t': dict(_ts, depths=[1, 2, 20, 1]),
        'ce-s': dict(_ts, depths=[2, 4, 31, 2]),
        'ce-b': dict(_b, depths=[2, 4, 31, 2]),
    }
    arch_keys = ('embed_dims', 'depths', 'num_heads', 'split_sizes')

    def __init__(self, arch='ce-t', mlp_ratio=4., qkv_bias=True, qk_scale=None, drop_rate=0.,
                 attn_drop_rate=0., drop_path_rate=0.1, **kwargs):
        super().__init__(arch, **kwargs)
        n = len(self.depths)
        a = self.arch

        def block(i, j, drop_path):
            return CSWinBlock(self.embed_dims[i], a['num_heads'][i], a['split_sizes'][i],
                              i == n - 1, mlp_ratio, qkv_bias, qk_scale, drop_rate,
                              attn_drop_rate, drop_path)

        self._build_stages(block, drop_path_rates(drop_path_rate, self.depths))

    def patch_stem(self, in_channels, out_channels):
        return PatchEmbed(in_channels, out_channels, 7, 4, 2)

    def patch_downsample(self, i, in_channels, out_channels):
        return PatchEmbed(in_channels, out_channels, 3, 2, 1)
