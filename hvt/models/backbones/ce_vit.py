"""CETNet's convolutional embeddings applied to CvT, PVT and CSWin (paper section 5.3, Table 7).

Lean, faithful re-implementations of the three baselines (official code: microsoft/CvT,
whai362/PVT, microsoft/CSWin-Transformer), sharing HVT's layers. One switch, ``embed``, selects
the token embeddings: ``'conv'`` (default) uses CETNet's CE (:class:`ConvStem` +
:class:`ConvDownsample` through :func:`build_embeddings`), ``'patch'`` the model's own ones, so
``embed='patch'`` is the Table 7 baseline. The CE archs (``'ce-*'``) carry the depth reductions of
Table 7. Swin and CE-Swin are :class:`hvt.CESwin` in ``cetnet.py``.

Classification follows each official model: CvT and PVT classify from a cls token of the last
stage (``out_type='cls_token'`` returns the normed token, use ``LinearClsHead`` with no neck);
CSWin averages the normed tokens (``GlobalAveragePooling`` neck). ``out_type='featmap'`` returns
NCHW maps of ``out_indices`` for dense tasks.
"""
import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from torch import nn

from hvt.registry import MODELS
from ..layers.attention import attention
from ..layers.conv_embed import PatchEmbed, build_embeddings
from ..layers.drop import DropPath, drop_path_rates
from ..layers.mlp import Mlp
from .cetnet import HierarchicalBackboneMixin, _check_arch

OUT_TYPES = ('featmap', 'cls_token')


def _tokens_to_map(x, hw_shape):
    B, N, C = x.shape
    return x.transpose(1, 2).reshape(B, C, *hw_shape)


def _heads(x, num_heads):
    """``(B, N, C)`` -> ``(B, heads, N, C // heads)``."""
    B, N, C = x.shape
    return x.view(B, N, num_heads, C // num_heads).transpose(1, 2)


def _merge_heads(x):
    B, h, N, d = x.shape
    return x.transpose(1, 2).reshape(B, N, h * d)


class TokenStage(nn.Module):
    """``embed`` -> [cls token] -> [+ position embedding] -> ``blocks``.

    Blocks are called as ``blk(x, hw_shape)``; with a cls token it is ``x[:, 0]``.
    ``pos_embed`` (PVT) is stored for ``pos_hw`` and bilinearly resized to other sizes.
    """

    def __init__(self, embed, blocks, with_cls_token=False, pos_hw=None, drop_rate=0.,
                 with_cp=False):
        super().__init__()
        self.embed = embed
        self.blocks = nn.ModuleList(blocks)
        dim = embed.out_channels
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if with_cls_token else None
        if pos_hw is not None:
            self.pos_hw = tuple(pos_hw)
            n = pos_hw[0] * pos_hw[1] + int(with_cls_token)
            self.pos_embed = nn.Parameter(torch.zeros(1, n, dim))
            self.pos_drop = nn.Dropout(drop_rate)
        else:
            self.pos_embed = None
        self.with_cp = with_cp

    def reset_extra_parameters(self):
        for p in (self.cls_token, self.pos_embed):
            if p is not None:
                nn.init.trunc_normal_(p, std=.02)

    def _pos_embed(self, hw):
        pos = self.pos_embed
        n_cls = int(self.cls_token is not None)
        if tuple(hw) == self.pos_hw:
            return pos
        grid = pos[:, n_cls:].reshape(1, *self.pos_hw, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=tuple(hw), mode='bilinear', align_corners=False)
        return torch.cat([pos[:, :n_cls], grid.flatten(2).transpose(1, 2)], 1)

    def forward(self, x, hw_shape=None):
        """Returns ``(tokens without cls, hw_shape, cls token (B, C) or None)``."""
        x, hw_shape = self.embed(x, hw_shape)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1)
        if self.pos_embed is not None:
            x = self.pos_drop(x + self._pos_embed(hw_shape))
        for blk in self.blocks:
            if self.with_cp and self.training and x.requires_grad:
                x = cp.checkpoint(blk, x, hw_shape, use_reentrant=False)
            else:
                x = blk(x, hw_shape)
        if self.cls_token is not None:
            return x[:, 1:], hw_shape, x[:, 0]
        return x, hw_shape, None


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
        fmap = _tokens_to_map(x, hw_shape)
        q, k, v = (p(fmap).flatten(2).transpose(1, 2)
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
            fmap = _tokens_to_map(x[:, n_cls:], hw_shape)
            pad_h, pad_w = (-hw_shape[0]) % self.sr_ratio, (-hw_shape[1]) % self.sr_ratio
            if pad_h or pad_w:
                fmap = F.pad(fmap, (0, pad_w, 0, pad_h))
            x = self.norm(self.sr(fmap).flatten(2).transpose(1, 2))
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
        lepe = self.get_v(v.transpose(1, 2).reshape(-1, C, hs, ws)).flatten(2).transpose(1, 2)
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
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        n = 1 if last_stage else 2
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
class _CEViT(HierarchicalBackboneMixin, BaseModule):
    """Common skeleton: arch parsing, the ``embed`` switch, stages, output norms, forward."""
    arch_zoo = {}
    essential_keys = ('embed_dims', 'depths', 'num_heads')
    default_out_type = 'featmap'
    cls_token_stage = None  # index of the stage that carries a cls token, if any
    final_norm_eps = 1e-5

    def __init__(self, arch, in_channels=3, embed='conv', stem_cfg=None, downsample_cfg=None,
                 out_indices=-1, out_type=None, frozen_stages=-1, norm_eval=False, with_cp=False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.arch = _check_arch(arch, self.arch_zoo, self.essential_keys)
        self.depths = list(self.arch['depths'])
        num_stages = len(self.depths)
        dims = self.arch['embed_dims']
        self.embed_dims = [dims * 2**i for i in range(num_stages)] if isinstance(dims, int) \
            else list(dims)
        for key in self.essential_keys[1:]:
            if len(self.arch[key]) != num_stages:
                raise ValueError(f'arch[{key!r}] = {self.arch[key]} needs {num_stages} entries')
        out_type = out_type or self.default_out_type
        if out_type not in OUT_TYPES:
            raise ValueError(f'out_type {out_type!r} is not one of {OUT_TYPES}')
        if out_type == 'cls_token' and self.cls_token_stage is None:
            raise ValueError(f'{type(self).__name__} has no cls token; use out_type="featmap"')
        self.out_type = out_type
        self.out_indices = self._parse_out_indices(out_indices, num_stages)
        self.frozen_stages, self.norm_eval, self.with_cp = frozen_stages, norm_eval, with_cp
        # a plain tuple: the modules are registered once, inside their stages
        self._embeddings = build_embeddings(
            embed, in_channels, self.embed_dims, self.patch_stem, self.patch_downsample,
            stem_cfg, downsample_cfg)

    def patch_stem(self, in_channels, out_channels):
        raise NotImplementedError

    def patch_downsample(self, i, in_channels, out_channels):
        raise NotImplementedError

    def _finish(self, stages):
        self.stages = nn.ModuleList(stages)
        del self._embeddings
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.embed_dims[i], eps=self.final_norm_eps))
        self._freeze_stages()

    def embedding(self, i):
        stem, downs = self._embeddings
        return stem if i == 0 else downs[i]

    def forward(self, x):
        outs, hw = [], None
        for i, stage in enumerate(self.stages):
            x, hw, cls = stage(x, hw)
            if i in self.out_indices:
                norm = getattr(self, f'norm{i}')
                if self.out_type == 'cls_token' and cls is not None:
                    outs.append(norm(cls))
                else:
                    outs.append(_tokens_to_map(norm(x), hw).contiguous())
        return tuple(outs)


@MODELS.register_module()
class CECvT(_CEViT):
    """CvT (Wu et al. 2021) with optional CE (Table 7 CE-CvT-13: same depths, D=64).

    Args:
        arch: ``'13'``, ``'21'`` or a dict with ``embed_dims`` (3 widths), ``depths``,
            ``num_heads``. The CE swaps CvT's convolutional token embeddings (7x7 s4, 3x3 s2,
            3x3 s2, each + LN); its 1x1 convs do the 64->192->384 widening.
        embed: ``'conv'`` (CE) or ``'patch'`` (CvT's own embeddings = the baseline).
        drop_path_rate: per stage list (CvT: ``[0, 0, 0.1]``) or one float for the last stage.
        out_type: ``'cls_token'`` (default; the normed cls token of the last stage, for
            ``LinearClsHead``) or ``'featmap'``.
        Others as :class:`hvt.CETNet`.
    """
    arch_zoo = {
        '13': dict(embed_dims=[64, 192, 384], depths=[1, 2, 10], num_heads=[1, 3, 6]),
        '21': dict(embed_dims=[64, 192, 384], depths=[1, 4, 16], num_heads=[1, 3, 6]),
    }
    arch_zoo['ce-13'] = arch_zoo['13']
    default_out_type = 'cls_token'
    cls_token_stage = 2
    patch_kernels = ((7, 4, 2), (3, 2, 1), (3, 2, 1))

    def __init__(self, arch='ce-13', in_channels=3, embed='conv', mlp_ratio=4., qkv_bias=True,
                 drop_rate=0., attn_drop_rate=0., drop_path_rate=(0., 0., 0.1), stride_kv=2,
                 stem_cfg=None, downsample_cfg=None, out_indices=-1, out_type=None,
                 frozen_stages=-1, norm_eval=False, with_cp=False, init_cfg=None):
        super().__init__(arch, in_channels, embed, stem_cfg, downsample_cfg, out_indices,
                         out_type, frozen_stages, norm_eval, with_cp, init_cfg)
        n = len(self.depths)
        if isinstance(drop_path_rate, (int, float)):
            drop_path_rate = [0.] * (n - 1) + [float(drop_path_rate)]
        stages = []
        for i, (dim, depth, heads) in enumerate(
                zip(self.embed_dims, self.depths, self.arch['num_heads'])):
            cls = i == n - 1
            dpr = drop_path_rates(drop_path_rate[i], [depth])[0]
            blocks = [CvTBlock(dim, heads, mlp_ratio, qkv_bias, drop_rate, attn_drop_rate, dpr[j],
                               with_cls_token=cls, stride_kv=stride_kv) for j in range(depth)]
            stages.append(TokenStage(self.embedding(i), blocks, with_cls_token=cls,
                                     with_cp=with_cp))
        self._finish(stages)

    def patch_stem(self, in_channels, out_channels):
        return PatchEmbed(in_channels, out_channels, *self.patch_kernels[0])

    def patch_downsample(self, i, in_channels, out_channels):
        return PatchEmbed(in_channels, out_channels, *self.patch_kernels[min(i, 2)])


@MODELS.register_module()
class CEPVT(_CEViT):
    """PVT v1 (Wang et al. 2021) with optional CE (Table 7 CE-PVT-S: stage-3 depth 6 -> 4).

    Args:
        arch: ``'s'`` (PVT-S), ``'ce-s'`` (CE-PVT-S) or a dict with ``embed_dims``, ``depths``,
            ``num_heads``, ``mlp_ratios``, ``sr_ratios``.
        embed: ``'conv'`` or ``'patch'`` (PVT's k=s patch embeddings: the baseline).
        img_size: size the position embeddings are stored for (they are kept with the CE
            [inferred from params]) and resized from for other inputs.
        out_type: ``'cls_token'`` (default) or ``'featmap'``.
    """
    _pvt = dict(embed_dims=[64, 128, 320, 512], num_heads=[1, 2, 5, 8], mlp_ratios=[8, 8, 4, 4],
                sr_ratios=[8, 4, 2, 1])
    arch_zoo = {
        't': dict(_pvt, depths=[2, 2, 2, 2]),
        's': dict(_pvt, depths=[3, 4, 6, 3]),
        'm': dict(_pvt, depths=[3, 4, 18, 3]),
        'l': dict(_pvt, depths=[3, 8, 27, 3]),
        'ce-s': dict(_pvt, depths=[3, 4, 4, 3]),
    }
    essential_keys = ('embed_dims', 'depths', 'num_heads', 'mlp_ratios', 'sr_ratios')
    default_out_type = 'cls_token'
    cls_token_stage = 3
    final_norm_eps = 1e-6

    def __init__(self, arch='ce-s', in_channels=3, embed='conv', img_size=224, qkv_bias=True,
                 qk_scale=None, drop_rate=0., attn_drop_rate=0., drop_path_rate=0.1,
                 stem_cfg=None, downsample_cfg=None, out_indices=-1, out_type=None,
                 frozen_stages=-1, norm_eval=False, with_cp=False, init_cfg=None):
        super().__init__(arch, in_channels, embed, stem_cfg, downsample_cfg, out_indices,
                         out_type, frozen_stages, norm_eval, with_cp, init_cfg)
        n = len(self.depths)
        img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        dpr = drop_path_rates(drop_path_rate, self.depths)
        stages = []
        for i in range(n):
            dim, depth = self.embed_dims[i], self.depths[i]
            blocks = [
                PVTBlock(dim, self.arch['num_heads'][i], self.arch['mlp_ratios'][i], qkv_bias,
                         qk_scale, drop_rate, attn_drop_rate, dpr[i][j], self.arch['sr_ratios'][i])
                for j in range(depth)
            ]
            stride = 4 * 2**i
            stages.append(TokenStage(self.embedding(i), blocks, with_cls_token=i == n - 1,
                                     pos_hw=(img_size[0] // stride, img_size[1] // stride),
                                     drop_rate=drop_rate, with_cp=with_cp))
        self._finish(stages)

    def patch_stem(self, in_channels, out_channels):
        return PatchEmbed(in_channels, out_channels, 4, 4)

    def patch_downsample(self, i, in_channels, out_channels):
        return PatchEmbed(in_channels, out_channels, 2, 2)


@MODELS.register_module()
class CECSWin(_CEViT):
    """CSWin Transformer (Dong et al. 2022) with optional CE (Table 7: stage-3 depth - 1).

    Args:
        arch: ``'t'``, ``'s'``, ``'b'`` (baselines), ``'ce-t'``, ``'ce-s'``, ``'ce-b'`` or a dict
            with ``embed_dims`` (int D or widths), ``depths``, ``num_heads``, ``split_sizes``.
        embed: ``'conv'`` or ``'patch'`` (CSWin's 7x7 s4 conv stem and 3x3 s2 merge blocks).
        Others as :class:`hvt.CETNet`. Classification: ``GlobalAveragePooling`` neck.
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
    essential_keys = ('embed_dims', 'depths', 'num_heads', 'split_sizes')

    def __init__(self, arch='ce-t', in_channels=3, embed='conv', mlp_ratio=4., qkv_bias=True,
                 qk_scale=None, drop_rate=0., attn_drop_rate=0., drop_path_rate=0.1,
                 stem_cfg=None, downsample_cfg=None, out_indices=-1, frozen_stages=-1,
                 norm_eval=False, with_cp=False, init_cfg=None):
        super().__init__(arch, in_channels, embed, stem_cfg, downsample_cfg, out_indices,
                         'featmap', frozen_stages, norm_eval, with_cp, init_cfg)
        n = len(self.depths)
        dpr = drop_path_rates(drop_path_rate, self.depths)
        stages = []
        for i in range(n):
            blocks = [
                CSWinBlock(self.embed_dims[i], self.arch['num_heads'][i],
                           self.arch['split_sizes'][i], i == n - 1, mlp_ratio, qkv_bias,
                           qk_scale, drop_rate, attn_drop_rate, dpr[i][j])
                for j in range(self.depths[i])
            ]
            stages.append(TokenStage(self.embedding(i), blocks, with_cp=with_cp))
        self._finish(stages)

    def patch_stem(self, in_channels, out_channels):
        return PatchEmbed(in_channels, out_channels, 7, 4, 2)

    def patch_downsample(self, i, in_channels, out_channels):
        return PatchEmbed(in_channels, out_channels, 3, 2, 1)
