"""Fast-iTPN backbone (docs/design/itpn.md#fast-itpn-backbone) with token migration and token
gathering (docs/fast_itpn.md).

Architecture (official ``fast_itpn/modeling_finetune.py``, ``convmlp=True``, ``naiveswiglu=True``,
``subln=True``): ConvPatchEmbed (stride 4, no norm) -> stage 1 ConvMlpBlocks (C/4) ->
ConvPatchMerge -> stage 2 ConvMlpBlocks (C/2) -> ConvPatchMerge -> + learnable absolute position
embedding -> stage 3 attention blocks (separate q/k/v with q/v biases, SwiGLU with sub-LN, layer
scale 0.1). Classification: token mean -> ``fc_norm`` -> head (``out_type='avg_featmap'``).

The checkpoint keys are the official ones (``patch_embed.proj``, ``blocks.{i}.*`` over the list
[stage-1 blocks, merge, stage-2 blocks, merge, stage-3 blocks], ``pos_embed``, ``fc_norm``), so an
official fine-tuning checkpoint loads with only ``head.*`` renamed.

Acceleration (only for dense downstream fine-tuning; both default off):

* **Token migration** (``migration_ratio``): after selected stage-3 layers, each window's tokens
  are split into A (even positions of the current window order) and B (odd positions); an A token's
  score is its largest similarity to a B token, measured on the head-averaged attention keys of
  that layer; the ``r`` highest-scoring A tokens of every window leave the backbone. Their
  positions and features are stored and scattered back into the full stage-3 map at the end,
  so every output position is filled (kept tokens carry the last layer's features, migrated ones
  the features of the layer where they left).
* **Token gathering** (``attn_mode='gathering'``): stage-3 blocks run window attention over
  ``[g_w; x_w]`` (one gathering token per window) and then every token attends over all gathering
  tokens of its image (O(N*K) instead of O(N^2)), all with the pre-trained ``q/k/v/proj`` weights.
  ``attn_mode='window'`` is plain window attention; ``global_attn_indexes`` keeps some blocks
  global, as in ViTDet. ``window_rpe`` adds Table VII's relative position bias (``'rpe'``: window
  attention and the token -> gathering-token step, ``'hrpe'``: window attention only).

Every design choice the paper leaves open is an argument; see docs/fast_itpn.md.
"""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from hvt.engine.pretrained import (DEFAULT_MAX_MISSING_RATIO, init_with_pretrained,
                                   load_pretrained)
from hvt.models.layers.drop import drop_path_rates
from hvt.models.layers.fast_itpn_blocks import (ConvMlpBlock, ConvPatchEmbed, ConvPatchMerge,
                                                FastiTPNBlock, TokenMigration,
                                                build_migration_schedule, init_gathering_tokens)
from hvt.models.layers.itpn_pyramid import iTPNPyramid
from hvt.models.layers.tokens import resize_pos_embed, square_grid
from hvt.models.layers.weight_init import init_vit_weights
from hvt.models.layers.window import pad_to_multiple, window_partition, window_reverse
from hvt.registry import MODELS

from .base import BackboneContract, parse_arch, parse_out_indices

__all__ = ['FastiTPN', 'FastiTPNDet', 'build_migration_schedule']

_ARCHS = {
    'tiny': dict(embed_dims=384, depths=(1, 1, 12), num_heads=6),
    'small': dict(embed_dims=384, depths=(2, 2, 20), num_heads=6),
    'base': dict(embed_dims=512, depths=(3, 3, 24), num_heads=8),
    'large': dict(embed_dims=768, depths=(2, 2, 40), num_heads=12),
}
_ALIASES = {'t': 'tiny', 's': 'small', 'b': 'base', 'l': 'large'}


@MODELS.register_module()
class FastiTPN(BackboneContract, BaseModule):
    """Fast-iTPN backbone.

    Args:
        arch: ``'tiny'|'small'|'base'|'large'`` (or ``t/s/b/l``), or a dict with ``embed_dims``,
            ``depths`` (3 stage block counts), ``num_heads`` and optionally ``mlp_ratio`` and
            ``bridge_mlp_ratio`` (both 3).
        img_size: pre-training size; fixes the ``pos_embed`` grid (bicubically resized for other
            inputs).
        patch_size, inner_patches, in_channels: 16, 4, 3.
        qkv_bias: learnable ``q_bias`` / ``v_bias``.
        drop_rate, attn_drop_rate, drop_path_rate: dropout / stochastic depth (linear over all
            MLP and attention blocks, merges excluded).
        layer_scale_init_value: stage-3 layer scale init (0.1); 0 disables it.
        subln: sub-LN in ConvMLP and SwiGLU.
        out_indices: stages to return (0: stride 4, C/4; 1: stride 8, C/2; 2: stride 16, C;
            negatives from the end), in the order given.
        out_type: ``'featmap'`` (NCHW maps) or ``'avg_featmap'`` (one ``(B, C)`` token mean per
            entry; stage 3's is followed by ``fc_norm``, the official classification pooling).
        use_mask_token: create the ``(1, 1, 4C)`` per-patch ``mask_token`` for masked pre-training;
            ``forward(x, mask)`` then replaces masked 16x16 patches at the patch-embed level.
        frozen_stages: -1 none; 0 the stem (``patch_embed`` and ``mask_token``); k the stem and
            the first k stages. A stage owns the ConvPatchMerge in front of it; stage 3 also owns
            ``pos_embed``, ``gathering_token`` and ``fc_norm`` (as in :class:`HiViT`).
        norm_eval: BatchNorm layers in eval mode while training (Fast-iTPN has none; the
            contract's, meaningful for modules added around it).
        with_cp: activation checkpointing of every block while training (window / gathering
            blocks included).
        migration_ratio: fraction of each window's tokens migrated out of stage 3 (0..0.5).
        drop_layers: stage-3 layers after which tokens are dropped: an int n (the first n layers),
            a list of indices, or None (all layers).
        migration_schedule: ``'cumulative'`` or ``'floor'`` (see :func:`build_migration_schedule`).
        migration_metric: ``'cosine'`` (default) or ``'dot'`` similarity of head-averaged keys.
        migration_point: ``'block'`` (drop after the whole block, the default) or ``'attn'`` (after the
            attention residual, before the MLP; the MLP then skips the dropped tokens).
        attn_mode: ``'global'`` (plain), ``'window'`` or ``'gathering'``.
        window_size: window side in stride-16 tokens (used for migration groups as well). Inputs
            whose grid is not a multiple are padded (bottom/right), padded keys are masked out.
        global_attn_indexes: stage-3 blocks that stay global when ``attn_mode`` is not global.
        window_rpe: None, ``'rpe'`` or ``'hrpe'`` (new zero-initialised per-block tables
            ``blocks.{i}.attn.relative_position_bias_table`` of ``(2w-1)^2 x heads``).
        gathering_init: ``'mean'`` (mean of the window's tokens at the first gathering block, no
            parameters) or ``'learnable'`` (one ``gathering_token`` of C parameters).
        gathering_query: ``'input'`` (the token queries of the window step also query the
            gathering tokens; one ``proj`` on the sum) or ``'updated'`` (queries recomputed after
            the window step; a second ``proj``).
    """
    arch_zoo = {**_ARCHS, **{k: _ARCHS[v] for k, v in _ALIASES.items()}}

    def __init__(self, arch='base', img_size=224, patch_size=16, inner_patches=4, in_channels=3,
                 qkv_bias=True, qk_scale=None, drop_rate=0., attn_drop_rate=0., drop_path_rate=0.,
                 layer_scale_init_value=0.1, subln=True, norm_eps=1e-6, out_indices=(2, ),
                 out_type='featmap', use_mask_token=False, frozen_stages=-1, norm_eval=False,
                 with_cp=False, migration_ratio=0., drop_layers=None,
                 migration_schedule='cumulative', migration_metric='cosine',
                 migration_point='block', attn_mode='global', window_size=7,
                 global_attn_indexes=(), window_rpe=None, gathering_init='mean',
                 gathering_query='input', init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        arch = parse_arch(arch, self.arch_zoo, ('embed_dims', 'depths', 'num_heads'), 'FastiTPN')
        if len(arch['depths']) != 3:
            raise ValueError(f"FastiTPN: arch depths needs 3 stage block counts, got {arch['depths']}")
        C = self.embed_dims = arch['embed_dims']
        self.depths = tuple(arch['depths'])
        self.num_heads = arch['num_heads']
        mlp_ratio = arch.get('mlp_ratio', 3.)
        bridge_mlp_ratio = arch.get('bridge_mlp_ratio', 3.)
        if C % 4:
            raise ValueError(f'FastiTPN: embed_dims {C} must be a multiple of 4')
        self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.patch_size = patch_size
        self.init_contract(3, out_indices, frozen_stages, norm_eval, with_cp, out_type)

        dims = self.stage_channels = (C // 4, C // 2, C)
        self.rpe = False  # no stage-3 relative position bias (paper Table II); see window_rpe
        self.patch_embed = ConvPatchEmbed(in_channels, dims[0], patch_size, inner_patches)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, 4 * C)) if use_mask_token else None
        grid = (self.img_size[0] // patch_size, self.img_size[1] // patch_size)
        self.pos_grid = grid
        self.pos_embed = nn.Parameter(torch.zeros(1, grid[0] * grid[1], C))
        self.pos_drop = nn.Dropout(drop_rate)

        d1, d2, d3 = self.depths
        # -- acceleration options -------------------------------------------------------------
        if attn_mode not in ('global', 'window', 'gathering'):
            raise ValueError(f"attn_mode must be 'global', 'window' or 'gathering', got {attn_mode!r}")
        if window_rpe not in (None, 'rpe', 'hrpe'):
            raise ValueError(f"window_rpe must be None, 'rpe' or 'hrpe', got {window_rpe!r}")
        if gathering_init not in ('mean', 'learnable'):
            raise ValueError(f"gathering_init must be 'mean' or 'learnable', got {gathering_init!r}")
        if gathering_query not in ('input', 'updated'):
            raise ValueError(f"gathering_query must be 'input' or 'updated', got {gathering_query!r}")
        if migration_point not in ('block', 'attn'):
            raise ValueError(f"migration_point must be 'block' or 'attn', got {migration_point!r}")
        if not 0 <= migration_ratio <= 0.5:
            raise ValueError(f'migration_ratio must be in [0, 0.5] (only the A half of a window '
                             f'can be dropped), got {migration_ratio}')
        self.migration = TokenMigration(migration_metric)
        self.attn_mode = attn_mode
        self.window_size = int(window_size)
        self.global_attn_indexes = tuple(i % d3 for i in global_attn_indexes)
        self.block_modes = ['global' if attn_mode == 'global' or i in self.global_attn_indexes
                            else attn_mode for i in range(d3)]
        self.window_rpe = window_rpe
        self.gathering_init = gathering_init
        self.gathering_query = gathering_query
        self.migration_ratio = migration_ratio
        self.migration_point = migration_point
        if drop_layers is None:
            drop_layers = list(range(d3))
        elif isinstance(drop_layers, int):
            drop_layers = list(range(min(drop_layers, d3)))
        else:
            drop_layers = [i % d3 for i in drop_layers]
        self.drop_layers = drop_layers
        self.drop_schedule = build_migration_schedule(
            migration_ratio, self.window_size ** 2, drop_layers, d3, migration_schedule)
        self.accelerated = any(self.drop_schedule) or any(m != 'global' for m in self.block_modes)
        if self.accelerated and self.window_size < 2:
            raise ValueError('window_size must be >= 2 for migration / window attention')

        # linear stochastic depth over the MLP and attention blocks (merges excluded)
        dpr = drop_path_rates(drop_path_rate, self.depths)
        blocks = [ConvMlpBlock(dims[0], bridge_mlp_ratio, drop_rate, dpr[0][i], subln, norm_eps)
                  for i in range(d1)]
        blocks.append(ConvPatchMerge(dims[0], norm_eps))
        blocks += [ConvMlpBlock(dims[1], bridge_mlp_ratio, drop_rate, dpr[1][i], subln, norm_eps)
                   for i in range(d2)]
        blocks.append(ConvPatchMerge(dims[1], norm_eps))
        blocks += [FastiTPNBlock(C, self.num_heads, mlp_ratio, qkv_bias, qk_scale, drop_rate,
                                 attn_drop_rate, dpr[2][i], layer_scale_init_value, subln,
                                 norm_eps, attn_mode=self.block_modes[i],
                                 window_size=self.window_size, window_rpe=window_rpe,
                                 gathering_query=gathering_query) for i in range(d3)]
        self.blocks = nn.ModuleList(blocks)
        self.num_early = d1 + d2 + 2

        if attn_mode == 'gathering' and gathering_init == 'learnable':
            self.gathering_token = nn.Parameter(torch.zeros(1, 1, C))
        else:
            self.gathering_token = None

        self.fc_norm = nn.LayerNorm(C, eps=norm_eps) if out_type == 'avg_featmap' else None

        # official init: Linear trunc_normal(0.02), LayerNorm (1, 0), convs PyTorch default
        nn.init.trunc_normal_(self.pos_embed, std=.02)
        if self.mask_token is not None:
            nn.init.trunc_normal_(self.mask_token, std=.02)
        if self.gathering_token is not None:
            nn.init.trunc_normal_(self.gathering_token, std=.02)
        self.apply(init_vit_weights)
        self._freeze_stages()

    # ------------------------------------------------------------------------------------------
    @property
    def stage3_blocks(self):
        return self.blocks[self.num_early:]

    def init_weights(self):
        # the layers were initialised in __init__ (official scheme); this runs init_cfg and the
        # children's own init_weights (the pyramid of FastiTPNDet). A 'Pretrained' init_cfg is
        # loaded through convert_pretrained_state (official / HVT / mmpretrain layouts,
        # pos_embed resizing) and checked by hvt.engine.pretrained.
        if init_with_pretrained(self):
            return
        super().init_weights()

    def convert_pretrained_state(self, sd):
        """The official layout (top-level ``patch_embed.*``, ``blocks.*``, ``pos_embed``) or the
        HVT / mmpretrain ones (``backbone.*``, plus the pyramid as ``neck.*`` for
        :class:`FastiTPNDet`) -> this module's names; ``pos_embed`` bicubically resized to this
        model's grid."""
        if any(k.startswith('backbone.') for k in sd):
            new = {}
            for k, v in sd.items():
                if k.startswith('backbone.'):
                    new[k[len('backbone.'):]] = v
                elif k.startswith('neck.') and hasattr(self, 'pyramid'):
                    new['pyramid.' + k[len('neck.'):]] = v
            sd = new
        v = sd.get('pos_embed')
        if v is not None and v.shape != self.pos_embed.shape:
            sd['pos_embed'] = resize_pos_embed(v, square_grid(v.shape[1]), self.pos_grid)
        return sd

    def load_pretrained(self, checkpoint, max_missing_ratio=DEFAULT_MAX_MISSING_RATIO):
        """Load a checkpoint (path or state dict) into this model; returns the missing keys.
        Keys of other shapes (e.g. the head) are skipped and reported."""
        return load_pretrained(self, checkpoint, max_missing_ratio=max_missing_ratio).not_loaded

    def stem_modules(self):
        return [self.patch_embed, self.mask_token]

    def stage_modules(self, i):
        d1, d2, _ = self.depths
        bounds = (0, d1, d1 + d2 + 1, len(self.blocks))  # stage i: its merge (i > 0) + blocks
        mods = list(self.blocks[bounds[i]:bounds[i + 1]])
        if i == 2:
            mods += [self.pos_embed, self.gathering_token, self.fc_norm]
        return mods

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer id for layer-wise lr decay, numbered as the official Fast-iTPN code does.

        ``patch_embed`` / ``pos_embed`` / ``mask_token`` / ``gathering_token`` -> 0,
        ``blocks.{i}`` -> i + 1 (the two merges count as entries), everything else (``fc_norm``,
        the head) -> ``len(blocks) + 1``. Returns ``(layer_id, num_layers)`` with
        ``num_layers = len(blocks) + 1``, so ``decay ** (num_layers - layer_id)`` (HVT's
        ``LayerDecayOptimWrapperConstructor``) is the official ``ld ** (L + 1 - id)``. The merges
        always count, so there is no ``layer_decay_mode`` here.
        """
        num_layers = len(self.blocks) + 1
        if not param_name.startswith(prefix):
            return num_layers, num_layers
        name = param_name[len(prefix):]
        if name.startswith(('patch_embed', 'pos_embed', 'mask_token', 'gathering_token')):
            return 0, num_layers
        if name.startswith('blocks.'):
            return int(name.split('.')[1]) + 1, num_layers
        return num_layers, num_layers

    def resized_pos_embed(self, hp, wp):
        """``pos_embed`` as a channel-last ``(1, hp, wp, C)`` map (bicubic for other grids)."""
        return resize_pos_embed(self.pos_embed, self.pos_grid, (hp, wp)).reshape(1, hp, wp, -1)

    # ------------------------------------------------------------------------------------------
    def forward_features(self, x, mask=None, return_migration=False):
        """Channel-last stage features ``(f4, f8, f16)``: ``(B, H/4, W/4, C/4)``,
        ``(B, H/8, W/8, C/2)`` and the full stage-3 map ``(B, H/16, W/16, C)`` (migrated tokens
        replenished). With ``return_migration`` also the migration record (see :meth:`stage3`).
        """
        feats, x = self.forward_early(x, mask)
        B, hp, wp, _ = x.shape
        x = self.pos_drop(x + self.resized_pos_embed(hp, wp))
        x, record = self.stage3(x)
        feats.append(x)
        return (tuple(feats), record) if return_migration else tuple(feats)

    def forward_tokens(self, x, ids_keep=None, mask=None, return_hidden=()):
        """The HiViT token-layout API used by iTPN pre-training (``hvt.iTPNPretrain``).

        Returns ``(U1, U2, U3), (hp, wp)`` with U1 ``(B, N, 4, 4, C/4)``, U2 ``(B, N, 2, 2, C/2)``,
        U3 ``(B, N, C)``, plus a dict of stage-3 block outputs ``(B, N, C)`` if ``return_hidden``.
        Fast-iTPN masks BEiT-style at the patch embed (``mask`` ``(B, N)``, True = masked, needs
        ``use_mask_token=True``); MAE-style patch removal (``ids_keep``) is not supported because
        the stride-2 merges are convolutions over the full map.
        """
        if ids_keep is not None:
            raise ValueError('FastiTPN does not drop patches (ids_keep); use a BEiT-style mask')
        feats, x = self.forward_early(x, mask)
        B, hp, wp, _ = x.shape
        x = self.pos_drop(x + self.resized_pos_embed(hp, wp))
        x, hidden = self.stage3(x, return_hidden=tuple(return_hidden))
        p = self.patch_embed.inner_patches
        toks = []
        for f, s in zip(feats, (p, p // 2)):
            c = f.shape[-1]
            toks.append(f.reshape(B, hp, s, wp, s, c).permute(0, 1, 3, 2, 4, 5).reshape(
                B, hp * wp, s, s, c))
        toks.append(x.reshape(B, hp * wp, -1))
        if return_hidden:
            return tuple(toks), (hp, wp), {j: h for j, h in hidden.items()}
        return tuple(toks), (hp, wp)

    def forward_early(self, x, mask=None):
        """Patch embed, stages 1 and 2 and both merges on channel-last maps.

        Returns ``([f4, f8], x16)``: the stage-1/2 outputs (taken right before each merge) and the
        stage-3 input before the position embedding.
        """
        if mask is not None and self.mask_token is None:
            raise ValueError('FastiTPN: forward with a mask needs use_mask_token=True')
        x = self.patch_embed(x, mask, self.mask_token)
        d1, d2, _ = self.depths
        feats = []
        for i, blk in enumerate(self.blocks[:self.num_early]):
            if i in (d1, d1 + d2 + 1):  # a merge: keep the stage output just before it
                feats.append(x)
            x = self.run_block(blk, x)
        return feats, x

    def forward(self, x, mask=None):
        feats = self.forward_features(x, mask)
        if self.out_type == 'avg_featmap':
            return tuple(self._pooled(feats[i], i) for i in self.out_indices)
        return tuple(feats[i].permute(0, 3, 1, 2) for i in self.out_indices)

    def _pooled(self, fmap, i):
        """Mean of stage ``i``'s channel-last map -> ``(B, C)``; ``fc_norm`` after the last stage
        (the official classification pooling)."""
        pooled = fmap.mean(dim=(1, 2))
        return self.fc_norm(pooled) if i == 2 else pooled

    # -- stage 3 -----------------------------------------------------------------------------
    def stage3(self, x, return_hidden=()):
        """Stage 3 on a channel-last ``(B, Hp, Wp, C)`` map; returns ``(map, record)``.

        ``record`` is None for the plain model, else a dict with the window geometry and, per
        window, the positions (window-raster index ``0..w*w-1``) of the kept tokens and of the
        tokens migrated after each drop layer with their features.
        """
        B, hp, wp, C = x.shape
        if not self.accelerated:
            t = x.reshape(B, hp * wp, C)
            hidden = {}
            for j, blk in enumerate(self.stage3_blocks):
                t = self.run_block(blk, t)
                if j in return_hidden:
                    hidden[j] = t
            if return_hidden:
                return t.reshape(B, hp, wp, C), hidden
            return t.reshape(B, hp, wp, C), None
        if return_hidden:
            raise ValueError('FastiTPN: return_hidden needs the plain model (no migration / '
                             'window attention)')

        ws = self.window_size
        xp, (ph, pw) = pad_to_multiple(x, ws)
        Hq, Wq = xp.shape[1:3]
        nh, nw = Hq // ws, Wq // ws
        nW, T = nh * nw, ws * ws
        xw = window_partition(xp, ws).reshape(B, nW, T, C)
        pos = torch.arange(T, device=x.device).expand(B, nW, T)
        valid = None
        if ph or pw:
            m = torch.zeros(1, Hq, Wq, 1, device=x.device)
            m[:, :hp, :wp] = 1
            valid = window_partition(m, ws).reshape(1, nW, T).bool().expand(B, nW, T)
        migrated = False
        g = None
        stored_pos, stored_feat = [], []
        for i, blk in enumerate(self.stage3_blocks):
            r = self.drop_schedule[i]
            gathering = blk.attn_mode == 'gathering'
            if gathering and g is None:
                g = init_gathering_tokens(xw, valid, self.gathering_token)
            geo = dict(ws=ws, nh=nh, nw=nw, migrated=migrated)
            xw, g, keys = self.run_block(blk.forward_windows, xw, g, pos, valid, geo, r > 0)
            if r and self.migration_point == 'attn':
                xw, pos, valid, dp, df = self.migration(xw, keys, pos, valid, r)
                stored_pos.append(dp)
                stored_feat.append(df)
                migrated = True
            xw = self.run_block(blk.mlp_residual, xw)
            if g is not None and gathering:
                g = self.run_block(blk.mlp_residual, g)
            if r and self.migration_point == 'block':
                xw, pos, valid, dp, df = self.migration(xw, keys, pos, valid, r)
                stored_pos.append(dp)
                stored_feat.append(df)
                migrated = True

        all_pos = torch.cat([pos] + stored_pos, dim=2)
        all_feat = torch.cat([xw] + stored_feat, dim=2)
        full = all_feat.new_zeros(B, nW, T, C).scatter(
            2, all_pos.unsqueeze(-1).expand(-1, -1, -1, C), all_feat)
        out = window_reverse(full.reshape(B * nW, T, C), ws, Hq, Wq)[:, :hp, :wp]
        record = dict(window_size=ws, grid=(Hq, Wq), kept_pos=pos, kept_feat=xw,
                      dropped_pos=stored_pos, dropped_feat=stored_feat)
        return out.contiguous(), record



@MODELS.register_module()
class FastiTPNDet(FastiTPN):
    """Fast-iTPN + the iTPN pyramid replacing FPN, for mmdet (``neck=None``) and similar.

    The pyramid (docs/design/itpn.md#feature-pyramid, the shared :class:`iTPNPyramid`, keys
    ``pyramid.*``) takes the stage-1
    and stage-2 outputs and the full stage-3 map (migrated tokens already replenished), so token
    migration and gathering work unchanged underneath. Its per-pixel MLP blocks are exactly 1x1
    ConvMLPs (docs/design/itpn.md#fast-itpn-downstream-configs [R]).

    Args:
        fpn_dim, fpn_depth, pyramid_mlp_ratio: pyramid width (256), blocks per top-down step
            (1, as the official COCO configs), MLP ratio (4).
        out_strides: any increasing subset of (4, 8, 16, 32, 64); stride 32 / 64 are 2x2 pools
            of the level above (docs/design/itpn.md#fast-itpn-downstream-configs: 5 scales 4-64 for
            Mask R-CNN, 4 scales 8-64 for DINO).
        extra_pool: ``'avg'`` (detection, official) or ``'max'`` (segmentation).
        **kwargs: :class:`FastiTPN` arguments (migration, gathering, drop path, ...).

    The outputs are pyramid levels, so ``out_indices`` is fixed to ``(0, 1, 2)`` (the stages the
    pyramid reads) and ``out_type`` to ``'featmap'``; ``frozen_stages`` freezes the Fast-iTPN part
    (the pyramid stays trainable).
    """
    out_types = ('featmap', )

    def __init__(self, arch='base', fpn_dim=256, fpn_depth=1, pyramid_mlp_ratio=4.,
                 out_strides=(4, 8, 16, 32, 64), extra_pool='avg', **kwargs):
        out_indices = kwargs.setdefault('out_indices', (0, 1, 2))
        if parse_out_indices(out_indices, 3, 'FastiTPNDet') != [0, 1, 2]:
            raise ValueError('FastiTPNDet: out_indices is fixed to (0, 1, 2), the stages its '
                             f'pyramid reads; got {out_indices!r}')
        super().__init__(arch=arch, **kwargs)
        C = self.embed_dims
        self.pyramid = iTPNPyramid((C // 4, C // 2, C), fpn_dim=fpn_dim, fpn_depth=fpn_depth,
                                   mlp_ratio=pyramid_mlp_ratio)
        out_strides = tuple(out_strides)
        if (not out_strides or any(s not in (4, 8, 16, 32, 64) for s in out_strides)
                or list(out_strides) != sorted(set(out_strides))):
            raise ValueError(f'FastiTPNDet: out_strides must be an increasing subset of '
                             f'(4, 8, 16, 32, 64), got {out_strides}')
        if extra_pool not in ('avg', 'max'):
            raise ValueError(f"FastiTPNDet: extra_pool must be 'avg' or 'max', got {extra_pool!r}")
        self.out_strides = out_strides
        self.extra_pool = extra_pool

    def forward(self, x):
        f4, f8, f16 = self.forward_features(x)
        o4, o8, o16 = self.pyramid.forward_channel_last(f4, f8, f16)
        maps = {4: o4.permute(0, 3, 1, 2), 8: o8.permute(0, 3, 1, 2),
                16: o16.permute(0, 3, 1, 2)}
        pool = F.avg_pool2d if self.extra_pool == 'avg' else F.max_pool2d
        if self.out_strides[-1] >= 32:
            maps[32] = pool(maps[16], kernel_size=2, stride=2)
        if self.out_strides[-1] >= 64:
            maps[64] = pool(maps[32], kernel_size=2, stride=2)
        return tuple(maps[s].contiguous() for s in self.out_strides)
