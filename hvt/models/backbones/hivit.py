"""HiViT, the backbone of iTPN (docs/design/itpn.md#hivit-building-blocks,
docs/design/itpn.md#hivit-and-itpn-variants), with raw per-stage block counts.

Stages 1-2 are MLP-only blocks on HiViT's per-patch token layout ``(B, N, h, w, C)`` (h = w = 4, 2),
stage 3 is global-attention ViT blocks on ``(B, N, C)``. Because nothing before stage 3 crosses a
16x16 patch, masked patches can be removed at the input (MAE style, ``ids_keep``).

Checkpoint keys follow the official iTPN code: ``patch_embed.{proj,norm}``, the flat list
``blocks.{i}`` (stage-1 blocks, PatchMerge, stage-2 blocks, PatchMerge, stage-3 blocks; merges at
3 and 7 for iTPN-B), ``absolute_pos_embed``, ``blocks.{i}.attn.relative_position_bias_table``
(or ``blocks.{i}.attn.rel_pos_h`` / ``rel_pos_w`` with ``rpe='decomposed'``), ``fc_norm``
(classification, ``out_type='avg_featmap'``).
"""
import warnings
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from hvt.models.layers import (HiViTBlock, HiViTPatchEmbed, MlpBlock, PatchMerge,
                               drop_path_rates, relative_position_index)
from hvt.models.layers.tokens import (patch_tokens_to_map, resize_pos_embed, sincos_pos_embed_2d,
                                      square_grid)
from hvt.models.layers.weight_init import init_vit_weights
from hvt.engine.pretrained import init_with_pretrained
from hvt.registry import MODELS

from .base import BackboneContract, parse_arch


def resize_pos_table(table: torch.Tensor, grid) -> Optional[torch.Tensor]:
    """A square ``(1, n*n, C)`` position table bicubically resized to ``grid``
    (:func:`~hvt.models.layers.tokens.resize_pos_embed`); None if the table is not square."""
    src = square_grid(table.shape[1])
    return None if src is None else resize_pos_embed(table, src, grid)


def resize_rel_pos_table(table: torch.Tensor, src_hw, dst_hw) -> torch.Tensor:
    """A ``((2h-1)*(2w-1), heads)`` relative position bias table of an ``src_hw`` token grid,
    bicubically resized (in float32, ``size=`` semantics) to the table of ``dst_hw``."""
    (sh, sw), (dh, dw) = src_hw, dst_hw
    heads = table.shape[1]
    t = table.t().reshape(1, heads, 2 * sh - 1, 2 * sw - 1).float()
    t = F.interpolate(t, size=(2 * dh - 1, 2 * dw - 1), mode='bicubic', align_corners=False)
    return t.reshape(heads, -1).t().to(table.dtype)


def random_masking(batch: int, num_patches: int, mask_ratio: float, device=None,
                   generator: Optional[torch.Generator] = None):
    """MAE random masking. Keeps ``int(N * (1 - mask_ratio))`` patches per sample.

    Returns ``ids_keep (B, L)``, ``mask (B, N)`` (1 = removed, in original order) and
    ``ids_restore (B, N)``.
    """
    len_keep = int(num_patches * (1 - mask_ratio))
    noise = torch.rand(batch, num_patches, device=device, generator=generator)
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    mask = torch.ones(batch, num_patches, device=device)
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return ids_keep, mask, ids_restore


@MODELS.register_module()
class HiViT(BackboneContract, BaseModule):
    """HiViT / iTPN backbone.

    Args:
        arch: a key of :attr:`arch_zoo` or a dict with ``embed_dims``, ``depths`` (3 raw stage
            block counts, nothing doubled) and ``num_heads`` (optionally ``stem_mlp_ratio``,
            ``mlp_ratio``).
        img_size: pre-training / reference size (sets the ape and rpe grid, 224 -> 14x14).
        patch_size, inner_patches: 16 and 4 (stride-4 stem).
        stem_mlp_ratio, mlp_ratio: MLP ratios of stages 1-2 (3) and stage 3 (4).
        ape: absolute position embedding ``absolute_pos_embed`` (1, N, C) added at the stage-3 input.
        pos_embed_interp: how ``absolute_pos_embed`` meets other input sizes.
            ``'resize'`` (default; classification and pre-training): the table lives on the
            ``img_size`` grid and is bicubically resized to the actual grid (``size=`` semantics,
            align_corners False) when the two differ; checkpoints with another grid are resized
            once at load. ``'per-forward'`` (the official iTPN detection / segmentation code): the
            table stays on the ``pretrain_img_size`` grid (14x14 for 224, as in the pre-trained
            file) and every forward at another grid interpolates it bicubically with
            ``scale_factor=((hp + 0.1) / 14, (wp + 0.1) / 14)`` (align_corners False, the scale
            factor used as given, i.e. source coordinate ``(i + 0.5) * 14 / (hp + 0.1) - 0.5``),
            which is what ``F.interpolate`` does in the official ``interpolate_pos_encoding``.
            The trained parameter is then the 14x14 table itself. See docs/design/itpn.md.
        pretrain_img_size: image size of the position table with ``pos_embed_interp='per-forward'``
            (224 -> 14x14); ignored with ``'resize'``.
        ape_init: ``'trunc_normal'`` (CLIP / fine-tuning) or ``'sincos'`` (pixel pre-training).
        ape_trainable: official code keeps it trainable; mmpretrain freezes the sin-cos one.
        rpe: stage-3 relative positions. ``True`` / ``'table'``: per-block relative position bias
            table over the stage-3 grid; under masking the bias of the kept tokens is gathered, at
            other grid sizes the table is bicubically resized. ``'decomposed'``: ViTDet's
            decomposed relative position of the official iTPN-L CLIP detector (per-block
            ``rel_pos_h`` / ``rel_pos_w`` of ``(2 * 14 - 1, head_dim)`` at 224, linearly resized
            to the actual grid; no masking). ``False`` / ``None``: none.
        layer_scale_init_value: gamma_1 / gamma_2 init (0 = no layer scale).
        use_mask_token: add ``mask_token`` (1, 1, C) replacing masked stage-3 input tokens
            (BEiT-style masking of CLIP pre-training).
        out_indices: stage indices (0: stride 4, 1: stride 8, 2: stride 16; negatives from the
            end), in the order given. Stage outputs are taken right before each PatchMerge (U1,
            U2) and after stage 3 (U3).
        out_type: ``'featmap'`` (NCHW maps) or ``'avg_featmap'`` (one ``(B, C)`` token mean per
            entry; stage 3's is followed by ``fc_norm``, the official classification pooling).
        frozen_stages: -1 none; 0 the stem (``patch_embed``); k the stem and the first k stages.
            A stage owns the PatchMerge in front of it; stage 3 also owns ``absolute_pos_embed``,
            ``mask_token`` (both added at its input) and ``fc_norm``.
        norm_eval: BatchNorm layers in eval mode while training (HiViT has none; the contract's).
        drop_path_rate: linear over all MLP and attention blocks (merges excluded).
        with_cp: activation checkpointing of every block while training.
    """
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(embed_dims=384, depths=[2, 2, 10], num_heads=6)),
        **dict.fromkeys(['s', 'small'], dict(embed_dims=384, depths=[4, 4, 20], num_heads=6)),
        **dict.fromkeys(['b', 'base', 'itpn-b'],
                        dict(embed_dims=512, depths=[3, 3, 24], num_heads=8)),
        **dict.fromkeys(['l', 'large', 'itpn-l'],
                        dict(embed_dims=768, depths=[2, 2, 40], num_heads=12)),
        **dict.fromkeys(['hivit-b', 'hivit-base'],
                        dict(embed_dims=512, depths=[4, 4, 20], num_heads=8)),
    }
    out_types = ('featmap', 'avg_featmap')

    def __init__(self, arch='base', img_size=224, patch_size=16, inner_patches=4, in_channels=3,
                 stem_mlp_ratio=3., mlp_ratio=4., qkv_bias=True, qk_scale=None, drop_rate=0.,
                 attn_drop_rate=0., drop_path_rate=0., ape=True, ape_init='trunc_normal',
                 ape_trainable=True, rpe=False, patch_norm=True, layer_scale_init_value=0.,
                 use_mask_token=False, out_indices: Sequence[int] = (2, ), out_type='featmap',
                 frozen_stages=-1, norm_eval=False, norm_eps=1e-6, with_cp=False,
                 pos_embed_interp='resize', pretrain_img_size=224, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        arch = parse_arch(arch, self.arch_zoo, ('embed_dims', 'depths', 'num_heads'), 'HiViT')
        self.arch_settings = arch
        C = self.embed_dims = arch['embed_dims']
        self.depths = list(arch['depths'])
        if len(self.depths) != 3:
            raise ValueError(f'HiViT: depths must have 3 entries, got {self.depths}')
        self.num_heads = arch['num_heads']
        stem_mlp_ratio = arch.get('stem_mlp_ratio', stem_mlp_ratio)
        mlp_ratio = arch.get('mlp_ratio', mlp_ratio)
        if C % 4:
            raise ValueError(f'HiViT: embed_dims must be divisible by 4, got {C}')
        if inner_patches != 4:
            raise ValueError('HiViT has two merges, so inner_patches must be 4')
        self.stage_channels = (C // 4, C // 2, C)
        self.init_contract(3, out_indices, frozen_stages, norm_eval, with_cp, out_type)
        self.patch_size = patch_size
        self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.grid = (self.img_size[0] // patch_size, self.img_size[1] // patch_size)
        self.num_patches = self.grid[0] * self.grid[1]
        if pos_embed_interp not in ('resize', 'per-forward'):
            raise ValueError("HiViT: pos_embed_interp must be 'resize' or 'per-forward', got "
                             f'{pos_embed_interp!r}')
        self.pos_embed_interp = pos_embed_interp
        if pos_embed_interp == 'per-forward':
            pre = ((pretrain_img_size, pretrain_img_size) if isinstance(pretrain_img_size, int)
                   else tuple(pretrain_img_size))
            self.pos_embed_grid = (pre[0] // patch_size, pre[1] // patch_size)
        else:
            self.pos_embed_grid = self.grid
        rpe_modes = {False: None, None: None, True: 'table', 'table': 'table',
                     'decomposed': 'decomposed'}
        if not isinstance(rpe, (bool, str, type(None))) or rpe not in rpe_modes:
            raise ValueError("HiViT: rpe must be False, True, 'table' or 'decomposed', "
                             f'got {rpe!r}')
        self.rpe_mode = rpe_modes[rpe]
        self.ape, self.rpe = ape, self.rpe_mode == 'table'
        self.ape_init = ape_init
        if ape_init not in ('trunc_normal', 'sincos'):
            raise ValueError(f"HiViT: ape_init must be 'trunc_normal' or 'sincos', got {ape_init!r}")

        self.patch_embed = HiViTPatchEmbed(patch_size, inner_patches, in_channels, C // 4,
                                           patch_norm, norm_eps)
        if ape:
            n_pos = self.pos_embed_grid[0] * self.pos_embed_grid[1]
            self.absolute_pos_embed = nn.Parameter(torch.zeros(1, n_pos, C),
                                                   requires_grad=ape_trainable)
        else:
            self.absolute_pos_embed = None
        if use_mask_token:
            self.mask_token = nn.Parameter(torch.zeros(1, 1, C))
        else:
            self.mask_token = None
        if self.rpe:
            self.register_buffer('relative_position_index',
                                 relative_position_index(self.grid), persistent=False)
        self.pos_drop = nn.Dropout(drop_rate)

        dpr = drop_path_rates(drop_path_rate, self.depths)
        blocks = []
        self.stage_slices = []
        for s, (dim, depth) in enumerate(zip(self.stage_channels, self.depths)):
            start = len(blocks)
            for i in range(depth):
                if s < 2:
                    blocks.append(MlpBlock(dim, stem_mlp_ratio, drop_rate, dpr[s][i],
                                           layer_scale_init_value, norm_eps))
                else:
                    blocks.append(HiViTBlock(dim, self.num_heads, mlp_ratio, qkv_bias, qk_scale,
                                             drop_rate, attn_drop_rate, dpr[s][i],
                                             self.grid if self.rpe else None,
                                             layer_scale_init_value, norm_eps,
                                             rel_pos_size=self.grid if self.rpe_mode ==
                                             'decomposed' else None))
            self.stage_slices.append((start, len(blocks)))
            if s < 2:
                blocks.append(PatchMerge(dim, norm_eps))
        self.blocks = nn.ModuleList(blocks)
        self.num_layers = len(self.blocks)
        self.fc_norm = nn.LayerNorm(C, eps=norm_eps) if out_type == 'avg_featmap' else None
        self._freeze_stages()

    # ------------------------------------------------------------------ init / freezing
    def init_weights(self):
        if init_with_pretrained(self):  # checked load (hvt.engine.pretrained)
            return
        self.apply(init_vit_weights)
        for blk in self.blocks[self.stage_slices[2][0]:]:
            blk.attn.init_rel_pos()
        if self.absolute_pos_embed is not None:
            with torch.no_grad():
                if self.ape_init == 'sincos':
                    self.absolute_pos_embed.copy_(
                        sincos_pos_embed_2d(self.embed_dims, *self.pos_embed_grid))
                else:
                    nn.init.trunc_normal_(self.absolute_pos_embed, std=.02)
        if self.mask_token is not None:
            nn.init.trunc_normal_(self.mask_token, std=.02)
        if self.init_cfg is not None:
            super().init_weights()

    def stem_modules(self):
        return [self.patch_embed]

    def stage_modules(self, i):
        start, end = self.stage_slices[i]
        mods = list(self.blocks[start:end])
        if i > 0:
            mods.insert(0, self.blocks[start - 1])  # the merge in front of the stage
        if i == 2:
            mods += [self.absolute_pos_embed, self.mask_token, self.fc_norm]
        return mods

    # ------------------------------------------------------------------ helpers
    def no_weight_decay(self):
        return {'absolute_pos_embed', 'mask_token'}

    def _pos_embed(self, hp, wp):
        """``absolute_pos_embed`` for an ``hp x wp`` grid (see ``pos_embed_interp``)."""
        gh, gw = self.pos_embed_grid
        scale = None
        if self.pos_embed_interp == 'per-forward':
            # the official det/seg call: the scale factor (not the size) drives the sampling
            scale = ((hp + 0.1) / gh, (wp + 0.1) / gw)
        return resize_pos_embed(self.absolute_pos_embed, (gh, gw), (hp, wp), scale_factor=scale)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # 'per-forward' models only: a square ``absolute_pos_embed`` of another grid (e.g. the
        # 32x32 table of a segmentation checkpoint written with pos_embed_interp='resize') is
        # resized to this model's table grid, so whole-model checkpoints keep loading
        key = prefix + 'absolute_pos_embed'
        if (self.pos_embed_interp == 'per-forward' and self.absolute_pos_embed is not None
                and key in state_dict):
            v = state_dict[key]
            if v.dim() == 3 and v.shape[1] != self.absolute_pos_embed.shape[1]:
                resized = resize_pos_table(v, self.pos_embed_grid)
                if resized is not None:
                    warnings.warn(
                        f'HiViT: {key} of {v.shape[1]} positions resized to the model table '
                        f'{self.pos_embed_grid} (pos_embed_interp={self.pos_embed_interp!r}); '
                        'to reproduce a checkpoint trained with another table, build the model '
                        'with the pos_embed_interp / img_size it was trained with')
                    state_dict[key] = resized
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _rpe_index(self, hp, wp, ids_keep):
        if (hp, wp) == self.grid:
            index = self.relative_position_index
        else:
            index = relative_position_index((hp, wp)).to(self.relative_position_index.device)
        if ids_keep is not None:
            L = ids_keep.shape[1]
            index = torch.gather(index[ids_keep], 2, ids_keep[:, None, :].expand(-1, L, -1))
        return index

    def _rpe_table(self, blk, hp, wp):
        if (hp, wp) == self.grid:
            return None
        return resize_rel_pos_table(blk.attn.relative_position_bias_table, self.grid, (hp, wp))

    # ------------------------------------------------------------------ forward
    def forward_tokens(self, x, ids_keep=None, mask=None, return_hidden=()):
        """Run the backbone in token layout.

        Args:
            x: images ``(B, 3, H, W)``.
            ids_keep: ``(B, L)`` indices of the patches to keep (MAE style); removed patches are
                never computed.
            mask: ``(B, N)`` bool, BEiT-style: stage-3 input tokens at True positions are replaced
                by ``mask_token`` (needs ``use_mask_token=True``).
            return_hidden: stage-3 block indices (0-based within stage 3) whose outputs are
                returned in a dict as well.

        Returns:
            ``(U1, U2, U3), (hp, wp)`` with U1 ``(B, L, 4, 4, C/4)``, U2 ``(B, L, 2, 2, C/2)``,
            U3 ``(B, L, C)``; plus the hidden dict if ``return_hidden``.
        """
        x, (hp, wp) = self.patch_embed(x)
        B = x.shape[0]
        if ids_keep is not None:
            x = torch.gather(x, 1, ids_keep[:, :, None, None, None].expand(-1, -1, *x.shape[2:]))
        feats = []
        s1, s2 = self.stage_slices[0][1], self.stage_slices[1][1]
        for i in range(self.stage_slices[2][0]):
            blk = self.blocks[i]
            if i in (s1, s2):
                feats.append(x)
            x = self.run_block(blk, x)
        x = x[:, :, 0, 0, :]
        if mask is not None:
            if self.mask_token is None:
                raise ValueError('HiViT: a stage-3 mask needs use_mask_token=True')
            w = mask.flatten(1).to(x.dtype).unsqueeze(-1)
            x = x * (1 - w) + self.mask_token.to(x.dtype) * w
        if self.absolute_pos_embed is not None:
            pe = self._pos_embed(hp, wp)
            if ids_keep is not None:
                pe = torch.gather(pe.expand(B, -1, -1), 1,
                                  ids_keep[:, :, None].expand(-1, -1, pe.shape[-1]))
            x = x + pe
        x = self.pos_drop(x)
        rpe_index = self._rpe_index(hp, wp, ids_keep) if self.rpe else None
        decomposed = self.rpe_mode == 'decomposed'
        if decomposed and ids_keep is not None:
            raise ValueError("HiViT: rpe='decomposed' needs the full token grid; it does not "
                             'support ids_keep (MAE masking)')
        hidden = {}
        start = self.stage_slices[2][0]
        for j, blk in enumerate(self.blocks[start:]):
            if rpe_index is not None:
                x = self.run_block(blk, x, rpe_index, self._rpe_table(blk, hp, wp))
            elif decomposed:
                x = self.run_block(blk, x, None, None, (hp, wp))
            else:
                x = self.run_block(blk, x)
            if j in return_hidden:
                hidden[j] = x
        feats.append(x)
        if return_hidden:
            return tuple(feats), (hp, wp), hidden
        return tuple(feats), (hp, wp)

    def forward(self, x):
        feats, (hp, wp) = self.forward_tokens(x)
        if self.out_type == 'avg_featmap':
            return tuple(self._pooled(feats[i], i) for i in self.out_indices)
        return tuple(patch_tokens_to_map(feats[i], hp, wp).contiguous() for i in self.out_indices)

    def _pooled(self, tokens, i):
        """Mean of stage ``i``'s tokens ``(B, N[, h, w], C)`` -> ``(B, C)``; ``fc_norm`` after
        the last stage (the official classification pooling)."""
        if i == 2:
            return self.fc_norm(tokens.mean(1))
        return tokens.flatten(1, -2).mean(1)

    # ------------------------------------------------------------------ layer decay
    def get_layer_depth(self, param_name: str, prefix: str = '', mode: str = 'official'):
        """Layer id for layer-wise lr decay (docs/design/itpn.md#layer-wise-learning-rate-decay).

        ``mode='official'``: merges are not counted, a merge shares the id of the block before it,
        ``num_layers = #MLP/attention blocks + 1``. ``mode='count_merge'``: every entry of
        ``blocks`` counts (``num_layers = len(blocks) + 1``). ids: 0 for patch_embed, position
        embedding and mask token, ``k + 1`` for block k, ``num_layers`` for everything else.

        Returns ``(layer_id, num_layers)``; ``num_layers + 1`` distinct ids exist.
        """
        if mode not in ('official', 'count_merge'):
            raise ValueError(f"layer-decay mode must be 'official' or 'count_merge', got {mode!r}")
        merges = {self.stage_slices[0][1], self.stage_slices[1][1]}
        if mode == 'official':
            main = [i for i in range(len(self.blocks)) if i not in merges]
        else:
            main = list(range(len(self.blocks)))
        num_layers = len(main) + 1
        if not param_name.startswith(prefix):
            return num_layers, num_layers
        name = param_name[len(prefix):]
        if name.split('.')[0] in ('absolute_pos_embed', 'pos_embed', 'mask_token', 'cls_token',
                                  'patch_embed'):
            return 0, num_layers
        if name.startswith('blocks.'):
            i = int(name.split('.')[1])
            while i >= 0 and i not in main:
                i -= 1
            return (main.index(i) + 1 if i >= 0 else 0), num_layers
        return num_layers, num_layers
