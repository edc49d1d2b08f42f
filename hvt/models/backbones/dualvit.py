"""Dual Vision Transformer (Yao, Li, Pan, Wang, Zhang, Mei, "Dual Vision Transformer", TPAMI 2023,
arXiv:2207.04976). Contract: ``shared/specs/dualvit.md``.

One backbone, two modes:

* ``mode='cls'`` (ImageNet): the full network of the official ``classification/dualvit.py``. The
  last stage keeps its semantic tokens and its full Merge blocks; its output is the pair
  ``(pixel map (B, C4, H4, W4) before any norm, semantic tokens (B, m, C4))`` for
  :class:`DualViTClsHead`, which holds the class-attention post network, ``norm4``, ``head`` and,
  with token labeling, ``aux_head``. With ``mix_token=True`` (token-labeling recipe) the training
  forward applies MixToken on the stem map and appends the mix box to that output.
* ``mode='dense'`` (detection / segmentation): the official mmdet/mmseg backbone. The last block
  drops the semantic tokens before its FFN (spec 2.9); outputs are the LayerNorm-ed NCHW maps of
  the requested stages at strides 4/8/16/32.

Parameter names equal the official ones (``q``, ``q_embed``, ``kv``, ``se``, ``proxy_ln``,
``patch_embed{i}``, ``proxy_embed{i}``, ``block{i}.{j}``, ``norm{i}``, ``norm_proxy{i}``; in the
head ``post_network.0``, ``norm4``, ``head``, ``aux_head``), so the official checkpoints convert by
prefixing only (``tools/model_converters/dualvit2hvt.py``).
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from torch import nn

from hvt.engine.pretrained import init_with_pretrained
from hvt.registry import MODELS
from ..layers.attention import attention
from ..layers.drop import drop_path_rates
from ..layers.weight_init import set_batchnorm_eval
from ..layers.dualvit_blocks import (ClassBlock, DownSamples, DualBlock, MergeBlock, SemanticEmbed,
                                     Stem, dualvit_init_weights)

try:  # the classification head needs mmpretrain; the backbone alone does not
    from mmpretrain.models.heads import ClsHead
except ImportError:  # pragma: no cover - mmpretrain is part of the supported stack
    ClsHead = None


@MODELS.register_module()
class DualViT(BaseModule):
    """Dual-ViT backbone (variants S, B, L).

    Args:
        arch (str | dict): ``'s'``, ``'b'``, ``'l'`` (or ``'small'``, ``'base'``, ``'large'``), or a
            dict with keys ``stem_hidden_dim``, ``embed_dims``, ``depths``, ``num_heads``,
            ``mlp_ratios`` (4 stages; stages 1-2 use Dual blocks, 3-4 Merge blocks).
        mode (str): ``'cls'`` or ``'dense'`` (see the module docstring).
        in_channels (int): input channels.
        out_indices (Sequence[int] | int | None): stages to output (0-3, negative allowed). Default:
            all four in dense mode, ``(3,)`` in cls mode.
        drop_path_rate (float): stochastic depth; linear over all blocks.
        layer_scale_init (float): init of every layer-scale vector (1e-6 in the paper's models).
        norm_eps (float): eps of the block and stage-end LayerNorms (1e-6).
        stem_norm_cfg (dict): the stem's BN (``dict(type='BN')``; the official detection backbone
            uses ``requires_grad=False``, the segmentation one ``SyncBN``).
        num_queries (int): side of the learnable semantic-query grid (8 -> 64 queries).
        semantic_pool (int): average-pool size/stride of the stem map for the semantic tokens (7);
            m = floor(H1/7) * floor(W1/7), i.e. 64 at 224x224 and 169 at 384x384.
        mix_token (bool): MixToken on the stem map in training (cls mode, token-labeling recipe).
        mix_token_scale (int): MixToken grid cell on the stem map (8 = one stride-32 token).
        mix_token_beta (float): the box ratio is drawn from Beta(beta, beta).
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem and the semantic-token
            initialisation; k >= 1 also freezes stages 1..k (embeddings, blocks, stage norms).
        norm_eval (bool): keep the stem BN layers in eval mode during training.
        with_cp (bool): gradient checkpointing of every block.
        test_tile_size (int, optional): dense mode only, the official segmentation backbone's
            test-time quirk (spec 2.9; 768 in the ADE20K configs): in eval mode an input larger
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
    num_stages = 4
    num_dual_stages = 2

    def __init__(self,
                 arch: Union[str, dict] = 's',
                 mode: str = 'dense',
                 in_channels: int = 3,
                 out_indices: Optional[Union[int, Sequence[int]]] = None,
                 drop_path_rate: float = 0.,
                 layer_scale_init: float = 1e-6,
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
        self.arch_settings = self._parse_arch(arch)
        if mode not in self.modes:
            raise ValueError(f'DualViT: mode must be one of {self.modes}, got {mode!r}')
        if test_tile_size is not None:
            if mode != 'dense':
                raise ValueError('DualViT: test_tile_size needs mode="dense" (a segmentation '
                                 f'test-time option), got mode={mode!r}')
            if not isinstance(test_tile_size, int) or test_tile_size <= 0 or test_tile_size % 32:
                raise ValueError('DualViT: test_tile_size must be None or a positive multiple of '
                                 f'32 (the total stride), e.g. 768; got {test_tile_size!r}')
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
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        self.out_indices = []
        for i in out_indices:
            j = i + self.num_stages if i < 0 else i
            if not 0 <= j < self.num_stages:
                raise ValueError(f'DualViT: out_indices entry {i} is not a valid stage (0-3)')
            self.out_indices.append(j)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.num_queries = num_queries
        self.mix_token = mix_token
        self.mix_token_scale = mix_token_scale
        self.mix_token_beta = mix_token_beta

        # semantic-token initialisation (spec 2.3); names as in the official code
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
                              layer_scale_init=layer_scale_init, norm_eps=norm_eps)
                if i < self.num_dual_stages:
                    blocks.append(DualBlock(mlp_ratio=ratios[i], **common))
                else:
                    # the official code alternates 4, 3, 4, ... in stage 3 (spec 2.6, 6.8)
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

    # ------------------------------------------------------------------ construction helpers
    def _parse_arch(self, arch):
        if isinstance(arch, str):
            key = arch.lower()
            if key not in self.arch_zoo:
                raise ValueError(f'DualViT: unknown arch {arch!r}; valid: {sorted(self.arch_zoo)} '
                                 f'or a dict with keys {list(self.arch_keys)}')
            return {k: list(v) if isinstance(v, list) else v
                    for k, v in self.arch_zoo[key].items()}
        if not isinstance(arch, dict):
            raise TypeError(f'DualViT: arch must be a str or a dict, got {type(arch).__name__}')
        missing = [k for k in self.arch_keys if k not in arch]
        if missing:
            raise ValueError(f'DualViT: arch dict is missing keys {missing}; '
                             f'needs {list(self.arch_keys)}')
        for k in ('embed_dims', 'depths', 'num_heads', 'mlp_ratios'):
            if len(arch[k]) < self.num_stages:
                raise ValueError(f'DualViT: arch[{k!r}] needs {self.num_stages} entries, '
                                 f'got {arch[k]}')
        return dict(arch)

    def init_weights(self):
        if init_with_pretrained(self):  # checked load (hvt.engine.pretrained)
            return
        if self.init_cfg is not None:
            super().init_weights()
            return
        self.apply(dualvit_init_weights)
        nn.init.trunc_normal_(self.q, std=.02)

    def _stage_modules(self, i: int) -> List[nn.Module]:
        """Modules of stage ``i`` (0-based); stage 0 also owns the stem and the semantic init."""
        names = [f'patch_embed{i + 1}', f'block{i + 1}', f'norm{i + 1}', f'norm_proxy{i + 1}']
        if i == 0:
            names += ['q_embed', 'kv', 'proxy_ln', 'se']
        else:
            names.append(f'proxy_embed{i + 1}')
        return [getattr(self, n) for n in names if hasattr(self, n)]

    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        self.q.requires_grad = False
        for i in range(min(self.frozen_stages, self.num_stages - 1) + 1):
            for m in self._stage_modules(i):
                m.eval()
                for p in m.parameters():
                    p.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            set_batchnorm_eval(self)
        return self

    # ------------------------------------------------------------------ forward pieces
    def semantic_tokens(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """Initial semantic tokens from the stem tokens ``x`` (B, H1*W1, C1) (spec 2.3)."""
        B, _, C = x.shape
        k = self.pool.kernel_size
        if min(hw) < k:
            raise ValueError(f'DualViT: the stem map {hw[0]}x{hw[1]} is smaller than the semantic '
                             f'pool ({k}); inputs must be at least '
                             f'{4 * k - 3} pixels on each side')
        pooled = self.pool(x.transpose(1, 2).reshape(B, C, hw[0], hw[1]))
        h, w = pooled.shape[-2:]
        pooled = pooled.flatten(2).transpose(1, 2)  # (B, m, C)
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

    def _run(self, blk, *args):
        if self.with_cp and self.training and torch.is_grad_enabled():
            return cp.checkpoint(blk, *args, use_reentrant=False)
        return blk(*args)

    def forward(self, x):
        if self.test_tile_size is None or self.training:
            return self.forward_single(x)
        return self.forward_tiled(x, self.test_tile_size)

    def forward_tiled(self, x, tile: int):
        """The official segmentation ``forward_test`` (spec 2.9), for any tile size.

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
        B = x.shape[0]
        outs = []
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
                    x, z = self._run(blk, x, z, hw)
            else:
                n = hw[0] * hw[1]
                y = torch.cat([x, z], dim=1)
                for blk in blocks:
                    y = self._run(blk, y, hw)
                x, z = y[:, :n], y[:, n:]

            last = i == self.num_stages - 1
            if last and self.mode == 'cls':
                x_map = x.transpose(1, 2).reshape(B, -1, hw[0], hw[1])
                out = (x_map, z) if box is None else (x_map, z, box)
            else:
                x = getattr(self, f'norm{i + 1}')(x)
                x_map = x.transpose(1, 2).reshape(B, -1, hw[0], hw[1]).contiguous()
                if not last:
                    z = getattr(self, f'norm_proxy{i + 1}')(z)
                out = x_map
            if i in self.out_indices:
                outs.append(out)
        return tuple(outs)


def _soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    # fp32 under mixed precision: a log-softmax over 1000 classes and its mean (mixed_precision.md)
    return torch.sum(-target.float() * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()


if ClsHead is not None:

    @MODELS.register_module()
    class DualViTClsHead(ClsHead):
        """Classification head of Dual-ViT: class-attention post network, ``norm4``, ``head`` and,
        for token labeling, ``aux_head`` (spec 2.7). Takes the output of
        ``DualViT(mode='cls')``.

        The cls token is the mean of all stage-4 tokens (pixel + semantic); one class-attention
        block refines it, ``norm4`` normalises, ``head`` classifies. With ``token_label=True`` the
        pixel tokens after ``norm4`` also go through ``aux_head``; inference returns
        ``logits + aux_eval_weight * max_over_tokens(aux)``, and training adds
        ``aux_loss_weight * soft-CE(aux, dense token labels)``. The dense labels (e.g. the NFNet
        label maps of LV-ViT/VOLO) must be attached to every data sample as ``gt_token_label``:
        a ``(num_classes, h, w)`` score map or an ``(h, w)`` class-index map, area-resized to the
        stage-4 grid. HVT does not ship such maps or their loader; without them the token-label
        loss raises an error. If the backbone applied MixToken, the aux predictions are un-mixed
        and the class target is mixed with lambda = 1 - box area / tokens.

        Args:
            num_classes (int): classes.
            in_channels (int): C4 of the backbone.
            num_heads (int): heads of the class-attention block (= stage-4 heads).
            mlp_ratio (float): FFN ratio of the class block (2).
            token_label (bool): build ``aux_head`` and use the token-labeling objective.
            aux_loss_weight (float): weight of the dense token-label loss (0.5). With 0 the
                dense loss is skipped and no label maps are needed (``aux_head`` then gets no
                gradient: set ``find_unused_parameters`` when training distributed).
            aux_eval_weight (float): weight of ``max(aux)`` added at inference (0.5).
            aux_label_smoothing (float): label smoothing of the dense targets (0.1 officially).
            norm_eps (float): eps of the block norms and ``norm4`` (1e-6).
            loss (dict): class loss; must accept soft targets when Mixup/CutMix or MixToken is on.
        """

        def __init__(self,
                     num_classes: int,
                     in_channels: int,
                     num_heads: int,
                     mlp_ratio: float = 2.,
                     token_label: bool = False,
                     aux_loss_weight: float = 0.5,
                     aux_eval_weight: float = 0.5,
                     aux_label_smoothing: float = 0.,
                     norm_eps: float = 1e-6,
                     loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                     init_cfg=None,
                     **kwargs):
            super().__init__(loss=loss, init_cfg=init_cfg, **kwargs)
            if num_classes <= 0:
                raise ValueError(f'DualViTClsHead: num_classes={num_classes} must be positive')
            self.num_classes = num_classes
            self.in_channels = in_channels
            self.token_label = token_label
            self.aux_loss_weight = aux_loss_weight
            self.aux_eval_weight = aux_eval_weight
            self.aux_label_smoothing = aux_label_smoothing
            self.post_network = nn.ModuleList([ClassBlock(in_channels, num_heads, mlp_ratio,
                                                          norm_eps)])
            self.norm4 = nn.LayerNorm(in_channels, eps=norm_eps)
            self.head = nn.Linear(in_channels, num_classes)
            if token_label:
                self.aux_head = nn.Linear(in_channels, num_classes)

        def init_weights(self):
            if self.init_cfg is not None:
                super().init_weights()
                return
            self.apply(dualvit_init_weights)

        @staticmethod
        def _unpack(feats):
            out = feats[-1] if isinstance(feats, (tuple, list)) else feats
            if not (isinstance(out, (tuple, list)) and len(out) in (2, 3)
                    and out[0].dim() == 4 and out[1].dim() == 3):
                raise TypeError('DualViTClsHead expects the last output of DualViT(mode="cls"): '
                                '(pixel map (B, C, H, W), semantic tokens (B, m, C)[, mix box])')
            return out[0], out[1], (out[2] if len(out) == 3 else None)

        def _tokens(self, feats):
            x_map, z, box = self._unpack(feats)
            B, C, H, W = x_map.shape
            t = torch.cat([x_map.flatten(2).transpose(1, 2), z], dim=1)
            t = torch.cat([t.mean(dim=1, keepdim=True), t], dim=1)
            for blk in self.post_network:
                t = blk(t)
            if self.token_label:
                t = self.norm4(t)
                return t[:, 0], t[:, 1:1 + H * W], (H, W), box
            return self.norm4(t[:, 0]), None, (H, W), box

        def pre_logits(self, feats):
            """The normalised class token (B, C4)."""
            return self._tokens(feats)[0]

        def forward(self, feats):
            """Inference logits: ``head(cls)`` (+ ``aux_eval_weight * max(aux)`` with TL)."""
            cls, pix, _, _ = self._tokens(feats)
            logits = self.head(cls)
            if self.token_label:
                logits = logits + self.aux_eval_weight * self.aux_head(pix).max(dim=1)[0]
            return logits

        def _targets(self, data_samples):
            if 'gt_score' in data_samples[0]:
                return torch.stack([ds.gt_score for ds in data_samples])
            return torch.cat([ds.gt_label for ds in data_samples])

        def _dense_targets(self, data_samples, hw, device):
            maps = []
            for ds in data_samples:
                if 'gt_token_label' not in ds:
                    raise KeyError(
                        'DualViTClsHead(token_label=True) needs dense token labels: attach a '
                        '(num_classes, h, w) score map or an (h, w) index map as '
                        '`gt_token_label` to every data sample (e.g. the NFNet label maps of '
                        'LV-ViT/VOLO). HVT does not ship them; train with token_label=False '
                        '(the Dual-ViT-S 83.4% recipe) if you do not have them.')
                t = torch.as_tensor(ds.gt_token_label, device=device)
                if not t.is_floating_point():
                    t = F.one_hot(t.long(), self.num_classes).permute(2, 0, 1).float()
                if t.dim() != 3 or t.shape[0] != self.num_classes:
                    raise ValueError(f'gt_token_label must be (num_classes={self.num_classes}, '
                                     f'h, w) or (h, w) indices, got {tuple(t.shape)}')
                maps.append(F.adaptive_avg_pool2d(t[None].float(), hw)[0])
            t = torch.stack(maps).flatten(2).transpose(1, 2)  # (B, H*W, K)
            t = t / t.sum(dim=-1, keepdim=True).clamp_min(1e-12)
            eps = self.aux_label_smoothing
            return t * (1 - eps) + eps / self.num_classes

        def loss(self, feats, data_samples, **kwargs):
            cls, pix, hw, box = self._tokens(feats)
            logits = self.head(cls)
            target = self._targets(data_samples)
            losses = {}
            if box is not None:
                # MixToken: the class target mixes with the flipped batch by the unmixed area
                if target.dim() == 1:
                    target = F.one_hot(target.long(), self.num_classes).to(logits.dtype)
                r1, c1, r2, c2 = box
                lam = 1. - (r2 - r1) * (c2 - c1) / float(hw[0] * hw[1])
                target = lam * target + (1. - lam) * target.flip(0)
            losses['loss'] = self.loss_module(logits, target, avg_factor=logits.size(0),
                                              **kwargs)
            if self.token_label and self.aux_loss_weight > 0:
                aux = self.aux_head(pix)
                if box is not None:
                    r1, c1, r2, c2 = box
                    B, _, K = aux.shape
                    a = aux.reshape(B, hw[0], hw[1], K)
                    un = a.clone()
                    un[:, r1:r2, c1:c2] = a.flip(0)[:, r1:r2, c1:c2]
                    aux = un.reshape(B, -1, K)
                dense = self._dense_targets(data_samples, hw, aux.device)
                losses['loss_aux'] = self.aux_loss_weight * _soft_cross_entropy(
                    aux.flatten(0, 1), dense.flatten(0, 1).to(aux.dtype))
            return losses
