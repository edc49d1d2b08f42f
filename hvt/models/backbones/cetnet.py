"""CETNet (Wang et al., "Convolutional Embedding Makes Hierarchical Vision Transformer Stronger",
ECCV 2022) and the lean Swin Transformer it is compared with (paper Table 7, CE-Swin).

No official code exists; the contract is ``shared/specs/cetnet.md``. Layout (spec section 1):
four stages, each = one embedding (the stem CE for stage 0, a between-stage CE after it) followed
by LEWin blocks. A LEWin block is Swin's W-MSA / SW-MSA block preceded by a depthwise 3x3
"convolutional projection" on the full token map (spec section 1.4 and A6).

``embed='patch'`` swaps the CEs for Swin's patch embedding / patch merging, and
``conv_proj=False`` drops the depthwise conv, which turns the same class into a plain Swin
Transformer (:class:`CESwin` has those defaults and the Swin / CE-Swin archs of Table 7).
"""

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from hvt.engine.pretrained import init_with_pretrained
from hvt.registry import MODELS
from ..layers.attention import Attention, attention
from ..layers.conv_embed import PatchEmbed, PatchMerging, build_embeddings
from ..layers.drop import DropPath, drop_path_rates
from ..layers.mlp import Mlp
from ..layers.window import RelativePositionBias, window_partition, window_reverse
from ..layers.weight_init import init_vit_weights, set_batchnorm_eval

CONV_PROJ_MODES = ('replace', 'residual', 'attn_only')


def shifted_window_mask(Hp: int, Wp: int, window_size: int, shift_size: int,
                        device=None) -> torch.Tensor:
    """Swin's attention mask for a cyclically shifted ``Hp x Wp`` map: ``(nW, N, N)``, 0 or -100."""
    img_mask = torch.zeros(1, Hp, Wp, 1, device=device)
    cnt = 0
    spans = (slice(0, -window_size), slice(-window_size, -shift_size), slice(-shift_size, None))
    for h in spans:
        for w in spans:
            img_mask[:, h, w, :] = cnt
            cnt += 1
    ids = window_partition(img_mask, window_size).squeeze(-1)
    diff = ids[:, None, :] - ids[:, :, None]
    return diff.masked_fill(diff != 0, -100.).masked_fill(diff == 0, 0.)


def _check_arch(arch, arch_zoo, essential=('embed_dims', 'depths', 'num_heads')):
    if isinstance(arch, str):
        key = arch.lower()
        if key not in arch_zoo:
            raise ValueError(f'arch {arch!r} is not one of {sorted(arch_zoo)}; or pass a dict with '
                             f'keys {essential}')
        return dict(arch_zoo[key])
    if not isinstance(arch, dict) or not set(essential) <= set(arch):
        raise ValueError(f'a custom arch must be a dict with keys {essential}, got {arch!r}')
    return dict(arch)


def stage_dims(embed_dims, num_stages):
    """``D`` -> ``(D, 2D, 4D, ...)``; a list passes through."""
    if isinstance(embed_dims, int):
        return [embed_dims * 2**i for i in range(num_stages)]
    dims = list(embed_dims)
    if len(dims) != num_stages:
        raise ValueError(f'embed_dims {dims} must have one entry per stage ({num_stages})')
    return dims


class LEWinBlock(nn.Module):
    """Locally enhanced window block (paper eqs. 1-6); with ``conv_proj=False`` a Swin block.

    Args:
        dim, num_heads: token width and heads.
        window_size: attention window (7).
        shift: use the shifted window (SW-MSA, shift ``window_size // 2``).
        conv_proj: depthwise 3x3 conv (with bias) on the token map before the attention.
        conv_proj_mode: how its output is used [spec A6]: ``'replace'`` (literal eq. 1-2:
            ``x = DWConv(z)`` is both the attention input and the residual), ``'residual'``
            (``x = z + DWConv(z)``), ``'attn_only'`` (attention sees ``DWConv(z)``, residual ``z``).
        conv_proj_norm: BatchNorm after the depthwise conv (CvT-style; off by default).
        mlp_ratio, qkv_bias, qk_scale, drop, attn_drop, drop_path: the usual.
    """

    def __init__(self, dim, num_heads, window_size=7, shift=False, mlp_ratio=4., qkv_bias=True,
                 qk_scale=None, drop=0., attn_drop=0., drop_path=0., conv_proj=True,
                 conv_proj_mode='replace', conv_proj_norm=False, with_cp=False):
        super().__init__()
        if conv_proj_mode not in CONV_PROJ_MODES:
            raise ValueError(f'conv_proj_mode {conv_proj_mode!r} is not one of {CONV_PROJ_MODES}')
        self.window_size = window_size
        self.shift_size = window_size // 2 if shift else 0
        self.conv_proj_mode = conv_proj_mode
        self.with_cp = with_cp
        if conv_proj:
            layers = [nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)]
            if conv_proj_norm:
                layers.append(nn.BatchNorm2d(dim))
            self.conv_proj = nn.Sequential(*layers)
        else:
            self.conv_proj = None
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, qk_scale=qk_scale,
                              attn_drop=attn_drop, proj_drop=drop)
        self.relative_position_bias = RelativePositionBias(window_size, num_heads)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def window_attention(self, x, hw_shape):
        """(S)W-MSA on ``(B, H*W, C)`` tokens. Maps are padded to window multiples as in mmdet's
        Swin (padded tokens are zeros after the norm), but ``qkv`` and ``proj`` run on the real
        tokens only: a zero token's qkv is the bias, so the padding is filled with it."""
        B, N, C = x.shape
        H, W = hw_shape
        ws = self.window_size
        attn = self.attn
        qkv = attn.qkv(x).view(B, H, W, -1)
        pad_h, pad_w = (-H) % ws, (-W) % ws
        if pad_h or pad_w:
            b = attn.qkv.bias
            qkv = F.pad(qkv if b is None else qkv - b, (0, 0, 0, pad_w, 0, pad_h))
            qkv = qkv if b is None else qkv + b
        Hp, Wp = H + pad_h, W + pad_w
        # a map that fits in one window gets no shift (Swin's rule for the 7x7 last stage)
        shift = self.shift_size if (H > ws or W > ws) else 0
        bias = self.relative_position_bias()  # (heads, n, n)
        if shift:
            qkv = torch.roll(qkv, (-shift, -shift), (1, 2))
            mask = shifted_window_mask(Hp, Wp, ws, shift, x.device).to(bias.dtype)
            nW, heads, n = mask.shape[0], bias.shape[0], bias.shape[-1]
            bias = (bias[None] + mask[:, None]).unsqueeze(0).expand(B, -1, -1, -1, -1)
            bias = bias.reshape(B * nW, heads, n, n)
        windows = window_partition(qkv, ws)
        Bw, n = windows.shape[:2]
        q, k, v = windows.view(Bw, n, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
        out = attention(q, k, v, bias, attn.attn_drop if self.training else 0., attn.scale)
        out = window_reverse(out.transpose(1, 2).reshape(Bw, n, -1), ws, Hp, Wp)
        if shift:
            out = torch.roll(out, (shift, shift), (1, 2))
        if pad_h or pad_w:
            out = out[:, :H, :W]
        return attn.proj_drop(attn.proj(out.reshape(B, N, -1)))

    def _forward(self, x, hw_shape):
        if self.conv_proj is not None:
            B, N, C = x.shape
            y = self.conv_proj(x.transpose(1, 2).reshape(B, C, *hw_shape))
            y = y.flatten(2).transpose(1, 2)
            if self.conv_proj_mode == 'replace':
                x = attn_in = y
            elif self.conv_proj_mode == 'residual':
                x = attn_in = x + y
            else:
                attn_in = y
        else:
            attn_in = x
        x = x + self.drop_path(self.window_attention(self.norm1(attn_in), hw_shape))
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def forward(self, x, hw_shape):
        if self.with_cp and self.training and x.requires_grad:
            return cp.checkpoint(self._forward, x, hw_shape, use_reentrant=False)
        return self._forward(x, hw_shape)


class CETStage(nn.Module):
    """One stage: an embedding (``embed``: CE or patch embedding/merging) and ``blocks``."""

    def __init__(self, embed, blocks):
        super().__init__()
        self.embed = embed
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x, hw_shape=None):
        x, hw_shape = self.embed(x, hw_shape)
        for blk in self.blocks:
            x = blk(x, hw_shape)
        return x, hw_shape


def init_conv_vit_weights(m):
    """trunc-normal(0.02) Linear, LN/BN (1, 0), Kaiming fan-out convs [spec A8]."""
    if isinstance(m, (nn.Linear, nn.LayerNorm, _BatchNorm, nn.GroupNorm)):
        init_vit_weights(m)
    elif isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class HierarchicalBackboneMixin:
    """``out_indices`` / ``frozen_stages`` / ``norm_eval`` / ``init_weights`` shared by the CETNet
    file's backbones and the CE-ViTs. Expects ``self.stages`` (each with ``embed``) and output
    norms ``norm{i}``."""

    def _parse_out_indices(self, out_indices, num_stages):
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        out = []
        for i in out_indices:
            j = i + num_stages if i < 0 else i
            if not 0 <= j < num_stages:
                raise ValueError(f'out_indices entry {i} is out of range for {num_stages} stages')
            out.append(j)
        return tuple(out)

    def _freeze_stages(self):
        for i in range(self.frozen_stages + 1):
            mods = [self.stages[i]] + ([getattr(self, f'norm{i}')]
                                       if hasattr(self, f'norm{i}') else [])
            for m in mods:
                m.eval()
                for p in m.parameters():
                    p.requires_grad = False

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            set_batchnorm_eval(self)
        return self

    def init_weights(self):
        if init_with_pretrained(self):  # checked load (hvt.engine.pretrained)
            return
        if self.init_cfg is not None:
            super().init_weights()
            return
        self.apply(init_conv_vit_weights)
        for m in self.modules():
            if hasattr(m, 'reset_extra_parameters'):
                m.reset_extra_parameters()
            if isinstance(m, RelativePositionBias):
                nn.init.trunc_normal_(m.relative_position_bias_table, std=.02)


@MODELS.register_module()
class CETNet(HierarchicalBackboneMixin, BaseModule):
    """CETNet backbone (spec section 2).

    Args:
        arch: ``'t'``, ``'s'``, ``'b'`` or a dict with ``embed_dims`` (int D or 4 widths),
            ``depths`` and ``num_heads``. S/B depths and widths are [inferred] in the spec.
        in_channels: image channels.
        window_size: attention window (7; also at 384, spec A3).
        mlp_ratio, qkv_bias, qk_scale, drop_rate, attn_drop_rate: block options.
        drop_path_rate: stochastic depth, linear over all blocks.
        embed: ``'conv'`` (CE, default) or ``'patch'`` (Swin patch embedding + patch merging).
        stem_cfg, downsample_cfg: keyword overrides for :class:`ConvStem` /
            :class:`ConvDownsample` (depth, expand_ratio, norm_cfg, act_cfg, se_ratio, ...).
        conv_proj: LEWin's depthwise conv (False: plain Swin blocks, "Without LEAtten").
        conv_proj_mode, conv_proj_norm: see :class:`LEWinBlock` [spec A6].
        out_indices: stages whose maps are returned (strides 4, 8, 16, 32).
        out_norm: LayerNorm on every returned map (``norm{i}``; with ``out_indices=(3,)`` this is
            the classifier's final norm).
        frozen_stages: stages ``0..frozen_stages`` (embedding, blocks and their output norm)
            are frozen; -1 freezes nothing.
        norm_eval: keep BatchNorms (in the CEs) in eval mode while training.
        with_cp: gradient checkpointing of every block.
        init_cfg: mmengine init config (e.g. Pretrained).
    """
    arch_zoo = {
        't': dict(embed_dims=64, depths=[2, 2, 18, 2], num_heads=[2, 4, 8, 16]),
        's': dict(embed_dims=64, depths=[2, 4, 31, 2], num_heads=[2, 4, 8, 16]),
        'b': dict(embed_dims=96, depths=[2, 4, 31, 2], num_heads=[3, 6, 12, 24]),
    }
    default_conv_proj = True

    def __init__(self, arch='t', in_channels=3, window_size=7, mlp_ratio=4., qkv_bias=True,
                 qk_scale=None, drop_rate=0., attn_drop_rate=0., drop_path_rate=0.1,
                 embed='conv', stem_cfg=None, downsample_cfg=None, conv_proj=None,
                 conv_proj_mode='replace', conv_proj_norm=False, out_indices=(3, ),
                 out_norm=True, frozen_stages=-1, norm_eval=False, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        arch = _check_arch(arch, self.arch_zoo)
        depths, num_heads = list(arch['depths']), list(arch['num_heads'])
        num_stages = len(depths)
        if len(num_heads) != num_stages:
            raise ValueError(f'num_heads {num_heads} and depths {depths} differ in length')
        dims = stage_dims(arch['embed_dims'], num_stages)
        self.embed_dims, self.depths, self.num_heads = dims, depths, num_heads
        self.num_features = dims
        self.out_indices = self._parse_out_indices(out_indices, num_stages)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        conv_proj = self.default_conv_proj if conv_proj is None else conv_proj

        stem, downs = build_embeddings(
            embed, in_channels, dims,
            patch_stem=lambda cin, cout: PatchEmbed(cin, cout, 4, 4),
            patch_downsample=lambda i, cin, cout: PatchMerging(cin, cout),
            stem_cfg=stem_cfg, downsample_cfg=downsample_cfg)
        dpr = drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList()
        for i in range(num_stages):
            blocks = [
                LEWinBlock(dims[i], num_heads[i], window_size, shift=j % 2 == 1,
                           mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, qk_scale=qk_scale,
                           drop=drop_rate, attn_drop=attn_drop_rate, drop_path=dpr[i][j],
                           conv_proj=conv_proj, conv_proj_mode=conv_proj_mode,
                           conv_proj_norm=conv_proj_norm, with_cp=with_cp)
                for j in range(depths[i])
            ]
            self.stages.append(CETStage(stem if i == 0 else downs[i], blocks))
        if out_norm:
            for i in self.out_indices:
                self.add_module(f'norm{i}', nn.LayerNorm(dims[i]))
        self._freeze_stages()

    def forward(self, x):
        outs = []
        hw = None
        for i, stage in enumerate(self.stages):
            x, hw = stage(x, hw)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(x) if hasattr(self, f'norm{i}') else x
                outs.append(out.transpose(1, 2).reshape(x.shape[0], -1, *hw).contiguous())
        return tuple(outs)


@MODELS.register_module()
class CESwin(CETNet):
    """Swin Transformer with CETNet's CE (paper Table 7), built from :class:`CETNet`'s blocks
    with ``conv_proj=False``. ``embed='patch'`` gives the Swin baseline.

    Archs: ``'t'``, ``'s'``, ``'b'`` are Swin-T/S/B (the baselines); ``'ce-s'``/``'ce-b'`` are the
    Table 7 CE rows (stage-3 depth reduced by 2); ``'ce-t'`` is CE-Swin-T read as D=64 [2,2,18,2]
    (spec A4, = Table 4 "Without LEAtten"); ``'ce-t-printed'`` is Table 7's literal 96/[2,2,4,2].
    """
    arch_zoo = {
        't': dict(embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24]),
        's': dict(embed_dims=96, depths=[2, 2, 18, 2], num_heads=[3, 6, 12, 24]),
        'b': dict(embed_dims=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32]),
        'ce-t': dict(embed_dims=64, depths=[2, 2, 18, 2], num_heads=[2, 4, 8, 16]),
        'ce-t-printed': dict(embed_dims=96, depths=[2, 2, 4, 2], num_heads=[3, 6, 12, 24]),
        'ce-s': dict(embed_dims=96, depths=[2, 2, 16, 2], num_heads=[3, 6, 12, 24]),
        'ce-b': dict(embed_dims=128, depths=[2, 2, 16, 2], num_heads=[4, 8, 16, 32]),
    }
    default_conv_proj = False
