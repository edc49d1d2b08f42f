"""Dual Vision Transformer (Yao, Li, Pan, Wang, Zhang, Mei, "Dual Vision Transformer", TPAMI 2023,
arXiv:2207.04976). Design notes: docs/design/dualvit.md.

One backbone, two modes:

* ``mode='cls'`` (ImageNet): the full network of the official ``classification/dualvit.py``. The
  last stage keeps its semantic tokens and its full Merge blocks; its output is the pair
  ``(pixel map (B, C4, H4, W4) before any norm, semantic tokens (B, m, C4))`` for
  :class:`~hvt.models.heads.dualvit_head.DualViTClsHead`, which holds the class-attention post
  network, ``norm4``, ``head`` and, with token labeling, ``aux_head``. With ``mix_token=True``
  (token-labeling recipe) the training forward applies MixToken on the stem map and appends the
  mix box to that output.
* ``mode='dense'`` (detection / segmentation): the official mmdet/mmseg backbone. The last block
  drops the semantic tokens before its FFN (docs/design/dualvit.md#dense-prediction-backbone);
  outputs are the LayerNorm-ed NCHW maps of
  the requested stages at strides 4/8/16/32.

``mode`` changes the network (the last block, where ``norm4`` lives), so it is not an output
switch: ``out_indices`` and ``out_type`` choose the outputs in both modes, except that the last
stage of the cls network always returns the head's input pair.

Parameter names equal the official ones (``q``, ``q_embed``, ``kv``, ``se``, ``proxy_ln``,
``patch_embed{i}``, ``proxy_embed{i}``, ``block{i}.{j}``, ``norm{i}``, ``norm_proxy{i}``; in the
head ``post_network.0``, ``norm4``, ``head``, ``aux_head``), so the official checkpoints convert by
prefixing only (``tools/model_converters/dualvit2hvt.py``).
"""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from hvt.registry import MODELS
from ..layers.attention import attention
from ..layers.drop import drop_path_rates
from ..layers.dualvit_blocks import (DownSamples, DualBlock, MergeBlock, SemanticEmbed, Stem,
                                     dualvit_init_weights)
from ..layers.tokens import map_to_tokens, tokens_to_map
from .base import BackboneContract, init_backbone_weights, parse_arch


@MODELS.register_module()
class DualViT(BackboneContract, BaseModule):
    """Dual-ViT backbone (variants S, B, L).

    Args:
        arch (str | dict): ``'s'``, ``'b'``, ``'l'`` (or ``'small'``, ``'base'``, ``'large'``), or a
            dict with keys ``stem_hidden_dim``, ``embed_dims``, ``depths``, ``num_heads``,
            ``mlp_ratios`` (4 stages; stages 1-2 use Dual blocks, 3-4 Merge blocks).
        mode (str): ``'cls'`` or ``'dense'`` (see the module docstring).
        in_channels (int): input channels.
        out_indices (Sequence[int] | int | None): stages to output (0-3, negative allowed). Default:
            all four in dense mode, ``(3,)`` in cls mode.
        out_type (str): ``'featmap'`` (the LayerNorm-ed NCHW map of each stage) or
            ``'avg_featmap'`` (its average, ``(B, C)``). In cls mode the last stage always
            returns the head's input pair (its tokens have no norm in the backbone).
        drop_path_rate (float): stochastic depth; linear over all blocks.
        layer_scale_init_value (float): init of every layer-scale vector (1e-6 in the paper's
            models).
        norm_eps (float): eps of the block and stage-end LayerNorms (1e-6).
        stem_norm_cfg (dict): the stem's BN (``dict(type='BN')``; the official detection backbone
            uses ``requires_grad=False``, the segmentation one ``SyncBN``).
        num_queries (int): side of the learnable semantic-query grid (8 -> 64 queries).
        semantic_pool (int): average-pool size/stride of the stem map for the semantic tokens (7);
            m = floor(H1/7) * floor(W1/7), i.e. 64 at 224x224 and 169 at 384x384.
        mix_token (bool): MixToken on the stem map in training (cls mode, token-labeling recipe).
        mix_token_scale (int): MixToken grid cell on the stem map (8 = one stride-32 token).
        mix_token_beta (float): the box ratio is drawn from Beta(beta, beta).
        frozen_stages (int): -1 freezes nothing; 0 the stem (``patch_embed1`` and the
            semantic-token initialisation ``q``, ``q_embed``, ``kv``, ``proxy_ln``, ``se``); k the
            stem and stages 0..k-1 (``patch_embed{i+1}``, ``proxy_embed{i+1}``, ``block{i+1}``,
            ``norm{i+1}``, ``norm_proxy{i+1}``).
        norm_eval (bool): keep the stem BN layers in eval mode during training.
        with_cp (bool): gradient checkpointing of every block.
        test_tile_size (int, optional): dense mode only, the official segmentation backbone's
            test-time quirk (docs/design/dualvit.md#test-time-tiling-in-segmentation; 768 in the
            ADE20K configs): in eval mode an input larger
            than this on a side is run whole, then its maps are overwritten by those of
            ``tile x tile`` windows (see :meth:`forward_tiled`). None (default) turns it off;
            training always runs one pass.
        init_cfg (dict | list, optional): mmengine init config; default is the official init.
    """
    arch_zoo = {
        **dict.fromkeys(['s', 'small'], dict(
            stem_hidden_dim=32, embed_dims=[64, 128, 320, 448], depths=[3, 4, 6, 3],
            num_heads=[2, 4, 10, 14], mlp_ratios=[8, 8, 4, 3])),
        **dict.fromkeys(['b', 'base'], dict(
            stem_hidden_dim=64, embed_dims=[64, 128, 320, 512], depths=[3, 4, 15, 3],
            num_heads=[2, 4, 10, 16], mlp_ratios=[8, 8, 4, 3])),
        **dict.fromkeys(['l', 'large'], dict(
            stem_hidden_dim=64, embed_dims=[96, 192, 384, 512], depths=[3, 6, 21, 3],
            num_heads=[3, 6, 12, 16], mlp_ratios=[8, 8, 4, 3])),
    }
    arch_keys = ('stem_hidden_dim', 'embed_dims', 'depths', 'num_heads', 'mlp_ratios')
    modes = ('cls', 'dense')
    out_types = ('featmap', 'avg_featmap')
    num_dual_stages = 2

    def __init__(self,
                 arch: Union[str, dict] = 's',
                 mode: str = 'dense',
                 in_channels: int = 3,
                 out_indices: Optional[Union[int, Sequence[int]]] = None,
                 out_type: str = 'featmap',
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 1e-6,
                 norm_eps: float = 1e-6,
                 stem_norm_cfg: dict = dict(type='BN'),
                 num_queries: int = 8,
                 semantic_pool: int = 7,
                 mix_token: bool = False,
                 mix_token_scale: int = 8,
                 mix_token_beta: float = 1.0,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 test_tile_size: Optional[int] = None,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = parse_arch(arch, self.arch_zoo, self.arch_keys, 'DualViT')
        for k in ('embed_dims', 'depths', 'num_heads', 'mlp_ratios'):
            if len(self.arch_settings[k]) != 4:
                raise ValueError(f'DualViT: arch[{k!r}] needs 4 entries (one per stage), '
                                 f'got {self.arch_settings[k]}')
        if mode not in self.modes:
            raise ValueError(f'DualViT: mode must be one of {self.modes}, got {mode!r}')
        if test_tile_size is not None:
            if mode != 'dense':
                raise ValueError('DualViT: test_tile_size needs mode="dense" (a segmentation '
                                 f'test-time option), got mode={mode!r}')
            if not isinstance(test_tile_size, int) or test_tile_size <= 0 or test_tile_size % 32:
                raise ValueError('DualViT: test_tile_size must be None or a positive multiple of '
                                 f'32 (the total stride), e.g. 768; got {test_tile_size!r}')
            if out_type != 'featmap':
                raise ValueError('DualViT: test_tile_size pastes maps: it needs '
                                 f'out_type="featmap", got {out_type!r}')
        self.test_tile_size = test_tile_size
        if mix_token and mode != 'cls':
            raise ValueError('DualViT: mix_token=True needs mode="cls" (token-labeling recipe)')
        self.mode = mode
        s = self.arch_settings
        dims, depths = s['embed_dims'], s['depths']
        self.embed_dims = list(dims)
        self.depths = list(depths)
        self.num_features = list(dims)

        if out_indices is None:
            out_indices = (3, ) if mode == 'cls' else (0, 1, 2, 3)
        self.init_contract(4, out_indices, frozen_stages, norm_eval, with_cp, out_type)
        self.num_queries = num_queries
        self.mix_token = mix_token
        self.mix_token_scale = mix_token_scale
        self.mix_token_beta = mix_token_beta

        # semantic-token initialisation (docs/design/dualvit.md#semantic-token-initialisation);
        # names as in the official code
        c1 = dims[0]
        self.q = nn.Parameter(torch.empty(num_queries * num_queries, c1))
        self.q_embed = nn.Sequential(nn.LayerNorm(c1), nn.Linear(c1, c1))
        self.pool = nn.AvgPool2d(semantic_pool, stride=semantic_pool)
        self.kv = nn.Linear(c1, 2 * c1)
        self.scale = c1 ** -0.5
        self.proxy_ln = nn.LayerNorm(c1)
        self.se = nn.Sequential(nn.Linear(c1, c1), nn.ReLU(inplace=True), nn.Linear(c1, 2 * c1))
        nn.init.trunc_normal_(self.q, std=.02)

        dpr = drop_path_rates(drop_path_rate, depths)
        ratios = s['mlp_ratios']
        for i in range(self.num_stages):
            if i == 0:
                embed = Stem(in_channels, s['stem_hidden_dim'], dims[0], stem_norm_cfg)
            else:
                embed = DownSamples(dims[i - 1], dims[i])
                self.add_module(f'proxy_embed{i + 1}', SemanticEmbed(dims[i - 1], dims[i]))
            self.add_module(f'patch_embed{i + 1}', embed)
            blocks = []
            for j in range(depths[i]):
                common = dict(dim=dims[i], num_heads=s['num_heads'][i], drop_path=dpr[i][j],
                              layer_scale_init_value=layer_scale_init_value,
                              norm_eps=norm_eps)
                if i < self.num_dual_stages:
                    blocks.append(DualBlock(mlp_ratio=ratios[i], **common))
                else:
                    # the official code alternates 4, 3, 4, ... in stage 3
                    # (docs/design/dualvit.md#stage-3-mlp-ratio-alternation)
                    ratio = ratios[i] - 1 if (i == 2 and j % 2 == 1) else ratios[i]
                    last = (mode == 'dense' and i == self.num_stages - 1 and j == depths[i] - 1)
                    blocks.append(MergeBlock(mlp_ratio=ratio, pixel_only=last, **common))
            self.add_module(f'block{i + 1}', nn.ModuleList(blocks))
            # stage-end norms; in cls mode stage 4 has none (norm4 is in the head, after the
            # class block), and there is never a norm_proxy4
            if mode == 'dense' or i < self.num_stages - 1:
                self.add_module(f'norm{i + 1}', nn.LayerNorm(dims[i], eps=norm_eps))
            if i < self.num_stages - 1:
                self.add_module(f'norm_proxy{i + 1}', nn.LayerNorm(dims[i], eps=norm_eps))

        self._freeze_stages()

    # ------------------------------------------------------------------ contract and init
    def stem_modules(self):
        return [self.patch_embed1, self.q, self.q_embed, self.kv, self.proxy_ln, self.se]

    def stage_modules(self, i: int):
        names = [f'block{i + 1}', f'norm{i + 1}', f'norm_proxy{i + 1}']
        if i > 0:
            names += [f'patch_embed{i + 1}', f'proxy_embed{i + 1}']
        return [getattr(self, n) for n in names if hasattr(self, n)]

    def init_weights(self):
        if init_backbone_weights(self, dualvit_init_weights):
            nn.init.trunc_normal_(self.q, std=.02)

    # ------------------------------------------------------------------ forward pieces
    def semantic_tokens(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """Initial semantic tokens from the stem tokens ``x`` (B, H1*W1, C1)
        (docs/design/dualvit.md#semantic-token-initialisation)."""
        B, _, C = x.shape
        k = self.pool.kernel_size
        if min(hw) < k:
            raise ValueError(f'DualViT: the stem map {hw[0]}x{hw[1]} is smaller than the semantic '
                             f'pool ({k}); inputs must be at least '
                             f'{4 * k - 3} pixels on each side')
        pooled = self.pool(tokens_to_map(x, hw))
        h, w = pooled.shape[-2:]
        pooled = map_to_tokens(pooled)  # (B, m, C)
        k, v = self.kv(pooled).chunk(2, dim=-1)
        g = self.num_queries
        q = self.q
        if (h, w) != (g, g):
            q = q.reshape(g, g, C).permute(2, 0, 1).unsqueeze(0)
            q = F.interpolate(q, size=(h, w), mode='bicubic', align_corners=False)
            q = q[0].permute(1, 2, 0).reshape(h * w, C)
        q = self.q_embed(q).unsqueeze(0).expand(B, -1, -1)
        sem = attention(q, k, v, scale=self.scale)  # single head, no output projection
        gate = self.se((sem + pooled).mean(dim=1)).reshape(B, 2, C).softmax(dim=1)
        z = gate[:, :1] * sem + gate[:, 1:] * pooled
        return self.proxy_ln(z)

    def _mix_tokens(self, x: torch.Tensor, hw: Tuple[int, int]):
        """MixToken (token labeling): replace a box of grid cells of the stem map by the cells of
        the batch-flipped sample. Returns the mixed tokens and the box in cell units
        ``(row1, col1, row2, col2)``; the box is empty when the map has no full cell."""
        B, N, C = x.shape
        s = self.mix_token_scale
        gh, gw = hw[0] // s, hw[1] // s
        lam = torch.distributions.Beta(self.mix_token_beta, self.mix_token_beta).sample().item()
        cut = math.sqrt(1. - lam)
        ch, cw = int(gh * cut), int(gw * cut)
        if gh == 0 or gw == 0:
            return x, (0, 0, 0, 0)
        cy = int(torch.randint(gh, ()).item())
        cx = int(torch.randint(gw, ()).item())
        r1, r2 = min(max(cy - ch // 2, 0), gh), min(max(cy + ch // 2, 0), gh)
        c1, c2 = min(max(cx - cw // 2, 0), gw), min(max(cx + cw // 2, 0), gw)
        xm = x.reshape(B, hw[0], hw[1], C)
        mixed = xm.clone()
        mixed[:, s * r1:s * r2, s * c1:s * c2] = xm.flip(0)[:, s * r1:s * r2, s * c1:s * c2]
        return mixed.reshape(B, N, C), (r1, c1, r2, c2)

    def forward(self, x):
        if self.test_tile_size is None or self.training:
            return self.forward_single(x)
        return self.forward_tiled(x, self.test_tile_size)

    def forward_tiled(self, x, tile: int):
        """The official segmentation ``forward_test``
        (docs/design/dualvit.md#test-time-tiling-in-segmentation), for any tile size.

        Inputs at most ``tile`` on both sides run once. Larger inputs first run whole; then each
        ``tile x tile`` window (row-major; along each axis the windows start at multiples of
        ``tile`` and the last one ends at the image end) runs separately and its maps overwrite
        the whole-image maps: at the sum of the previous windows' map sizes along that axis, or,
        for the last window, aligned to the map end.
        """
        if self.mode != 'dense':
            raise ValueError(f'DualViT.forward_tiled needs mode="dense", got mode={self.mode!r}')
        H, W = x.shape[-2:]
        outs = self.forward_single(x)
        if H <= tile and W <= tile:
            return outs

        def spans(size):
            n = math.ceil(size / tile)
            return [(i * tile, (i + 1) * tile) if i < n - 1 else (max(0, size - tile), size)
                    for i in range(n)]

        rows, cols = spans(H), spans(W)
        outs = [o.clone() for o in outs]
        row_off = [0] * len(outs)
        for r, (h0, h1) in enumerate(rows):
            col_off = [0] * len(outs)
            for c, (w0, w1) in enumerate(cols):
                parts = self.forward_single(x[:, :, h0:h1, w0:w1])
                for j, (full, part) in enumerate(zip(outs, parts)):
                    ph, pw = part.shape[-2:]
                    y0 = full.shape[-2] - ph if r == len(rows) - 1 else row_off[j]
                    x0 = full.shape[-1] - pw if c == len(cols) - 1 else col_off[j]
                    full[:, :, y0:y0 + ph, x0:x0 + pw] = part
                    col_off[j] += pw
            row_off = [off + p.shape[-2] for off, p in zip(row_off, parts)]
        return tuple(outs)

    def forward_single(self, x):
        """One pass over the whole input (the training forward)."""
        outs = {}
        box = None
        x_map = x
        z = None
        for i in range(self.num_stages):
            x, hw = getattr(self, f'patch_embed{i + 1}')(x_map)
            if i == 0:
                if self.mix_token and self.training:
                    x, box = self._mix_tokens(x, hw)
                z = self.semantic_tokens(x, hw)
            else:
                z = getattr(self, f'proxy_embed{i + 1}')(z)
            blocks = getattr(self, f'block{i + 1}')
            if i < self.num_dual_stages:
                for blk in blocks:
                    x, z = self.run_block(blk, x, z, hw)
            else:
                n = hw[0] * hw[1]
                y = torch.cat([x, z], dim=1)
                for blk in blocks:
                    y = self.run_block(blk, y, hw)
                x, z = y[:, :n], y[:, n:]

            last = i == self.num_stages - 1
            if last and self.mode == 'cls':
                x_map = tokens_to_map(x, hw)
                out = (x_map, z) if box is None else (x_map, z, box)
            else:
                x = getattr(self, f'norm{i + 1}')(x)
                x_map = tokens_to_map(x, hw).contiguous()
                if not last:
                    z = getattr(self, f'norm_proxy{i + 1}')(z)
                out = x.mean(1) if self.out_type == 'avg_featmap' else x_map
            if i in self.out_indices:
                outs[i] = out
        return tuple(outs[i] for i in self.out_indices)
