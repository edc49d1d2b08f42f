"""CETNet (Wang et al., "Convolutional Embedding Makes Hierarchical Vision Transformer Stronger",
ECCV 2022) and the lean Swin Transformer it is compared with (paper Table 7, CE-Swin).

No official code exists; how every detail was fixed is in
docs/design/cetnet.md#no-official-code-how-the-design-was-fixed. Layout
(docs/design/cetnet.md#macro-layout):
four stages, each = one embedding (the stem CE for stage 0, a between-stage CE after it) followed
by LEWin blocks. A LEWin block is Swin's W-MSA / SW-MSA block preceded by a depthwise 3x3
"convolutional projection" on the full token map
(docs/design/cetnet.md#lewin-block-and-the-convolutional-projection).

``embed='patch'`` swaps the CEs for Swin's patch embedding / patch merging, and
``conv_proj=False`` drops the depthwise conv, which turns the same class into a plain Swin
Transformer (:class:`CESwin` has those defaults and the Swin / CE-Swin archs of Table 7).
"""

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from hvt.registry import MODELS
from ..layers.attention import Attention, attention
from ..layers.conv_embed import PatchEmbed, PatchMerging, build_embeddings
from ..layers.drop import DropPath, drop_path_rates
from ..layers.mlp import Mlp
from ..layers.tokens import map_to_tokens, resize_pos_embed, tokens_to_map
from ..layers.window import RelativePositionBias, window_partition, window_reverse
from ..layers.weight_init import init_vit_weights
from .base import BackboneContract, init_backbone_weights, parse_arch

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
        conv_proj_mode: how its output is used
            [docs/design/cetnet.md#lewin-block-and-the-convolutional-projection]: ``'replace'``
            (literal eq. 1-2:
            ``x = DWConv(z)`` is both the attention input and the residual), ``'residual'``
            (``x = z + DWConv(z)``), ``'attn_only'`` (attention sees ``DWConv(z)``, residual ``z``).
        conv_proj_norm: BatchNorm after the depthwise conv (CvT-style; off by default).
        mlp_ratio, qkv_bias, qk_scale, drop, attn_drop, drop_path: the usual.
    """

    def __init__(self, dim, num_heads, window_size=7, shift=False, mlp_ratio=4., qkv_bias=True,
                 qk_scale=None, drop=0., attn_drop=0., drop_path=0., conv_proj=True,
                 conv_proj_mode='replace', conv_proj_norm=False):
        super().__init__()
        if conv_proj_mode not in CONV_PROJ_MODES:
            raise ValueError(f'conv_proj_mode {conv_proj_mode!r} is not one of {CONV_PROJ_MODES}')
        self.window_size = window_size
        self.shift_size = window_size // 2 if shift else 0
        self.conv_proj_mode = conv_proj_mode
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

    def forward(self, x, hw_shape):
        if self.conv_proj is not None:
            y = map_to_tokens(self.conv_proj(tokens_to_map(x, hw_shape)))
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


class TokenStage(nn.Module):
    """One stage: ``embed`` (a CE or the model's own embedding) -> [class token] -> [+ position
    table] -> ``blocks``. The backbone runs the blocks (``blk(x, hw_shape)``), so that every block
    goes through :meth:`BackboneContract.run_block`.

    ``pos_embed`` (PVT) is stored for ``pos_hw`` and resized bilinearly, in its own dtype, to
    other grids (the official PVT behaviour).
    """

    def __init__(self, embed, blocks, with_cls_token=False, pos_hw=None, drop_rate=0.):
        super().__init__()
        self.embed = embed
        self.blocks = nn.ModuleList(blocks)
        dim = embed.out_channels
        self.num_extra_tokens = int(with_cls_token)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if with_cls_token else None
        if pos_hw is not None:
            self.pos_hw = tuple(pos_hw)
            n = pos_hw[0] * pos_hw[1] + self.num_extra_tokens
            self.pos_embed = nn.Parameter(torch.zeros(1, n, dim))
            self.pos_drop = nn.Dropout(drop_rate)
        else:
            self.pos_embed = None

    def reset_extra_parameters(self):
        for p in (self.cls_token, self.pos_embed):
            if p is not None:
                nn.init.trunc_normal_(p, std=.02)

    def tokens(self, x, hw_shape=None):
        """The embedded input with its class token and position table: ``(x, hw_shape)``."""
        x, hw_shape = self.embed(x, hw_shape)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1)
        if self.pos_embed is not None:
            pos = resize_pos_embed(self.pos_embed, self.pos_hw, hw_shape, self.num_extra_tokens,
                                   mode='bilinear', upcast=False)
            x = self.pos_drop(x + pos)
        return x, hw_shape


def init_conv_vit_weights(m):
    """trunc-normal(0.02) Linear, LN/BN (1, 0), Kaiming fan-out convs
    [docs/design/cetnet.md#initialisation-and-unstated-block-options]."""
    if isinstance(m, (nn.Linear, nn.LayerNorm, _BatchNorm, nn.GroupNorm)):
        init_vit_weights(m)
    elif isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class CEBackbone(BackboneContract, BaseModule):
    """What CETNet, CE-Swin and the CE-ViTs (``ce_vit.py``) share: arch parsing, the ``embed``
    switch, :class:`TokenStage` stages with optional output norms ``norm{i}``, the forward, the
    contract and the initialisation.

    The stem (``frozen_stages=0``) is stage 0's embedding (the CE stem or the model's own patch
    embedding) with the position table / class token added before stage 0's blocks; stage ``i``
    is ``stages[i]`` (its between-stage embedding included) and ``norm{i}``. A class token, where
    the model has one (CvT, PVT), is on the last stage. Subclasses build the blocks in
    ``__init__`` and call :meth:`_build_stages`.

    Args:
        arch: a key of ``arch_zoo`` or a dict with at least ``arch_keys``.
        in_channels: image channels.
        embed: ``'conv'`` (CETNet's CE) or ``'patch'`` (the model's own embeddings).
        stem_cfg, downsample_cfg: keyword overrides for :class:`ConvStem` /
            :class:`ConvDownsample` (depth, expand_ratio, norm_cfg, act_cfg, se_ratio, ...).
        out_indices: stages whose outputs are returned, in this order (negatives count from the
            last stage; default: the last).
        out_type: ``'featmap'`` (NCHW maps), ``'avg_featmap'`` (the average of each returned
            map, ``(B, C)``: what a ``GlobalAveragePooling`` neck computes from the maps) or,
            where the model has a class token, ``'cls_token'`` (the normed token, last stage).
        frozen_stages: -1 freezes nothing, 0 the stem, ``k`` the stem and stages ``0..k-1``.
        norm_eval: keep BatchNorms (in the CEs) in eval mode while training.
        with_cp: activation checkpointing of every block while training.
        init_cfg: mmengine init config (e.g. Pretrained).
    """
    arch_zoo = {}
    arch_keys = ('embed_dims', 'depths', 'num_heads')
    out_types = ('featmap', 'avg_featmap')
    final_norm_eps = 1e-5

    def __init__(self, arch, in_channels=3, embed='conv', stem_cfg=None, downsample_cfg=None,
                 out_indices=-1, out_type='featmap', frozen_stages=-1, norm_eval=False,
                 with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        self.arch = parse_arch(arch, self.arch_zoo, self.arch_keys, name)
        self.depths = list(self.arch['depths'])
        num_stages = len(self.depths)
        self.embed_dims = stage_dims(self.arch['embed_dims'], num_stages)
        self.num_features = self.embed_dims
        for key in self.arch_keys[1:]:
            if len(self.arch[key]) != num_stages:
                raise ValueError(f'{name}: arch[{key!r}] = {self.arch[key]} needs {num_stages} '
                                 'entries (one per stage)')
        self.init_contract(num_stages, out_indices, frozen_stages, norm_eval, with_cp, out_type)
        if self.out_type == 'cls_token' and set(self.out_indices) != {num_stages - 1}:
            raise ValueError(f'{name}: out_type="cls_token" needs out_indices on the last stage '
                             f'(the only one with a class token), got {self.out_indices}')
        # a plain tuple: the modules are registered once, inside their stages
        self._embeddings = build_embeddings(
            embed, in_channels, self.embed_dims, self.patch_stem, self.patch_downsample,
            stem_cfg, downsample_cfg)

    def patch_stem(self, in_channels, out_channels):
        raise NotImplementedError

    def patch_downsample(self, i, in_channels, out_channels):
        raise NotImplementedError

    def _build_stages(self, make_block, drop_path, out_norm=True, **stage_kwargs):
        """``make_block(i, j, drop_path)`` builds block ``j`` of stage ``i``; ``drop_path[i][j]``
        its rate; ``stage_kwargs`` values are functions of the stage index."""
        stem, downs = self._embeddings
        del self._embeddings
        self.stages = nn.ModuleList()
        for i, depth in enumerate(self.depths):
            blocks = [make_block(i, j, drop_path[i][j]) for j in range(depth)]
            kwargs = {k: f(i) for k, f in stage_kwargs.items()}
            self.stages.append(TokenStage(stem if i == 0 else downs[i], blocks, **kwargs))
        if out_norm:
            for i in self.out_indices:
                self.add_module(f'norm{i}',
                                nn.LayerNorm(self.embed_dims[i], eps=self.final_norm_eps))
        self._freeze_stages()

    def stem_modules(self):
        first = self.stages[0]
        return [first.embed, first.cls_token, first.pos_embed]

    def stage_modules(self, i):
        return [self.stages[i], getattr(self, f'norm{i}', None)]

    def init_weights(self):
        if init_backbone_weights(self, init_conv_vit_weights):
            for m in self.modules():
                if isinstance(m, TokenStage):
                    m.reset_extra_parameters()
                if isinstance(m, RelativePositionBias):
                    nn.init.trunc_normal_(m.relative_position_bias_table, std=.02)

    def forward(self, x):
        outs, hw = {}, None
        for i, stage in enumerate(self.stages):
            x, hw = stage.tokens(x, hw)
            for blk in stage.blocks:
                x = self.run_block(blk, x, hw)
            extra = stage.num_extra_tokens
            if i in self.out_indices:
                outs[i] = self._stage_output(i, x, hw, extra)
            x = x[:, extra:]
        return tuple(outs[i] for i in self.out_indices)

    def _stage_output(self, i, x, hw, extra):
        """Stage ``i``'s tokens ``x`` (``extra`` class tokens first) as ``out_type`` says, after
        its output norm where it has one."""
        norm = getattr(self, f'norm{i}', None)
        cls_out = self.out_type == 'cls_token' and extra
        out = x[:, 0] if cls_out else x[:, extra:]
        out = out if norm is None else norm(out)
        if cls_out:
            return out
        if self.out_type == 'avg_featmap':
            return out.mean(1)
        return tokens_to_map(out, hw).contiguous()


@MODELS.register_module()
class CETNet(CEBackbone):
    """CETNet backbone (docs/design/cetnet.md#cetnet-variants).

    Args:
        arch: ``'t'``, ``'s'``, ``'b'`` or a dict with ``embed_dims`` (int D or 4 widths),
            ``depths`` and ``num_heads``. S/B depths and widths are [inferred]
            (docs/design/cetnet.md#cetnet-variants).
        window_size: attention window (7; also at 384, docs/design/cetnet.md#window-size-at-384).
        mlp_ratio, qkv_bias, qk_scale, drop_rate, attn_drop_rate: block options.
        drop_path_rate: stochastic depth, linear over all blocks.
        conv_proj: LEWin's depthwise conv (False: plain Swin blocks, "Without LEAtten").
        conv_proj_mode, conv_proj_norm: see :class:`LEWinBlock`
            [docs/design/cetnet.md#lewin-block-and-the-convolutional-projection].
        out_norm: LayerNorm on every returned stage (``norm{i}``; with ``out_indices=(3,)`` this
            is the classifier's final norm).
        **kwargs: ``in_channels``, ``embed`` (``'conv'``: CE, default; ``'patch'``: Swin patch
            embedding + patch merging), ``stem_cfg``, ``downsample_cfg``, ``out_indices``
            (default: the last stage), ``out_type``, ``frozen_stages``, ``norm_eval``,
            ``with_cp``, ``init_cfg``: see :class:`CEBackbone`.
    """
    arch_zoo = {
        't': dict(embed_dims=64, depths=[2, 2, 18, 2], num_heads=[2, 4, 8, 16]),
        's': dict(embed_dims=64, depths=[2, 4, 31, 2], num_heads=[2, 4, 8, 16]),
        'b': dict(embed_dims=96, depths=[2, 4, 31, 2], num_heads=[3, 6, 12, 24]),
    }
    default_conv_proj = True

    def __init__(self, arch='t', window_size=7, mlp_ratio=4., qkv_bias=True, qk_scale=None,
                 drop_rate=0., attn_drop_rate=0., drop_path_rate=0.1, conv_proj=None,
                 conv_proj_mode='replace', conv_proj_norm=False, out_norm=True, **kwargs):
        super().__init__(arch, **kwargs)
        dims, self.num_heads = self.embed_dims, list(self.arch['num_heads'])
        conv_proj = self.default_conv_proj if conv_proj is None else conv_proj

        def block(i, j, drop_path):
            return LEWinBlock(dims[i], self.num_heads[i], window_size, shift=j % 2 == 1,
                              mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, qk_scale=qk_scale,
                              drop=drop_rate, attn_drop=attn_drop_rate, drop_path=drop_path,
                              conv_proj=conv_proj, conv_proj_mode=conv_proj_mode,
                              conv_proj_norm=conv_proj_norm)

        self._build_stages(block, drop_path_rates(drop_path_rate, self.depths), out_norm)

    def patch_stem(self, in_channels, out_channels):
        return PatchEmbed(in_channels, out_channels, 4, 4)

    def patch_downsample(self, i, in_channels, out_channels):
        return PatchMerging(in_channels, out_channels)


@MODELS.register_module()
class CESwin(CETNet):
    """Swin Transformer with CETNet's CE (paper Table 7), built from :class:`CETNet`'s blocks
    with ``conv_proj=False``. ``embed='patch'`` gives the Swin baseline.

    Archs: ``'t'``, ``'s'``, ``'b'`` are Swin-T/S/B (the baselines); ``'ce-s'``/``'ce-b'`` are the
    Table 7 CE rows (stage-3 depth reduced by 2); ``'ce-t'`` is CE-Swin-T read as D=64 [2,2,18,2]
    (docs/design/cetnet.md#ce-swin-t-reading, = Table 4 "Without LEAtten"); ``'ce-t-printed'`` is
    Table 7's literal 96/[2,2,4,2].
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
