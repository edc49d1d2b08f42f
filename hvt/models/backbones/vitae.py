"""Vanilla (isotropic) ViTAE: T / 6M / 13M / S (Reduction Cells) and the scaled-up B / L / H.

Papers: "ViTAE: Vision Transformer Advanced by Exploring Intrinsic Inductive Bias" (NeurIPS 2021)
and "ViTAEv2" (IJCV 2023, Sec. 3.3, Table 1). Design notes: docs/design/vitae.md.

Structure and key names follow the official code (``layers.{0,1,2}.RC``, ``layers.2.NC.{k}``,
``fc_norm``): three RCs (Performer, Performer, PRM-only) and all NCs after RC3 for the small
models; a 16x16 patch embedding with class token and learned position embedding
(``layers.0.RC.{PRM.proj,cls_token,pos_embed}``) and "shallow" NCs for B/L/H.

What both ViTAE families share (contract, initialisation, official-checkpoint conversion) is in
``vitae_common.py``.
"""
import re

import torch
from torch import nn

from hvt.registry import MODELS
from ..layers.drop import drop_path_rates
from ..layers.tokens import tokens_to_map
from ..layers.vitae_cells import NormalCell, PatchEmbedCell, ReductionCell, ViTAEBasicLayer
from .base import parse_arch
from .vitae_common import ViTAEBase

_RC_DEFAULTS = dict(
    rc_types=['performer', 'performer', 'performer_less'],
    downsample_ratios=[4, 2, 2],
    kernel_sizes=[7, 3, 3],
    dilations=[[1, 2, 3, 4], [1, 2, 3], [1, 2]],
    rc_heads=[1, 1, 1],
    rc_groups=[1, 1, 1],
)


@MODELS.register_module()
class ViTAE(ViTAEBase):
    """Vanilla ViTAE backbone (``type='hvt.ViTAE'``).

    Args:
        arch (str | dict): ``'t'``, ``'6m'``, ``'13m'``, ``'s'``, ``'s-neurips'`` (the NeurIPS
            repo's ViTAE-S with token widths 64,64,384; docs/design/vitae.md#vitae-s-token-widths),
            ``'b'``, ``'l'``, ``'h'``,
            or a dict. RC archs need ``embed_dims``/``token_dims`` (3 per-RC lists), ``depth``,
            ``num_heads``, ``nc_groups``, ``mlp_ratio`` and optionally ``rc_types``,
            ``downsample_ratios``, ``kernel_sizes``, ``dilations``, ``rc_heads``, ``rc_groups``.
            Patch archs (``patch_size`` key present) need ``embed_dims`` (int), ``depth``,
            ``num_heads``, ``nc_groups``, ``mlp_ratio``.
        img_size (int): training size; sets the length of the B/L/H position embedding (it is
            resized bicubically at other input sizes).
        patch_size (int, optional): overrides the arch's patch size (B/L/H). The official code
            registers 16 for every model; the paper's ViTAE-H numbers match 14
            (docs/design/vitae.md#vitae-h-patch-size).
        in_channels (int): input channels.
        out_indices (Sequence[int]): official layers ``0..2`` whose outputs are returned, in the
            order given (negatives count from the end; strides 4, 8, 16 for RC archs; all stride
            ``patch_size`` for B/L/H).
        out_type (str): ``'featmap'`` (NCHW maps; the class token is dropped) or
            ``'avg_featmap'``: one ``(B, C)`` vector per entry of ``out_indices``, the mean of
            the stage's patch tokens (class token left out), followed by ``fc_norm`` for the last
            layer when ``final_norm``. For the last layer this is the official classification
            feature; with ``paper_cls_token`` the last layer gives ``norm(class token)``.
        final_norm (bool, optional): build ``fc_norm`` (LayerNorm eps 1e-6 on the pooled
            feature). Defaults to True for B/L/H and False for T/6M/13M/S (no final norm in the
            official code; docs/design/vitae.md#class-token-position-embedding-and-final-norm).
        frozen_stages (int): -1 freezes nothing; 0 the stem: the PRM of the first RC
            (``layers.0.RC.PRM``), or for B/L/H the patch-embedding cell ``layers.0.RC`` with its
            class token and position embedding; ``k`` the stem and layers ``0 .. k - 1``
            (``fc_norm``, and the paper class token with its ``norm``, belong to layer 2).
            Frozen modules get no gradient and stay in eval mode.
        norm_eval (bool): keep the PCM BatchNorms in eval mode while training.
        drop_path_rate (float): maximum stochastic depth over the NCs (RCs get none).
        pcm_kernel_size (int): NC PCM kernel; 3 (default) or 1, as in the MAE pre-training of
            B/L/H (docs/design/vitae.md#fine-tuning-of-the-scaled-up-models, Table 7).
            ``tools/model_converters/vitae2hvt.py --pad-pcm`` turns
            1x1 kernels into zero-padded 3x3 ones.
        drop_rate, attn_drop_rate (float): dropout rates of the NCs.
        with_cp (bool): activation checkpointing of every NC (useful for L/H).
        paper_cls_token (bool): the paper's description of the small models instead of the
            official code (docs/design/vitae.md#class-token-position-embedding-and-final-norm):
                after RC3 a class token (``cls_token``, zeros) is
            prepended and a fixed 1-D sinusoid position encoding (T2T-ViT style, computed for
            the current token count, no parameters) is added; the NCs skip the class token in
            their PCM, and ``avg_featmap`` returns ``norm(class token)`` (LayerNorm eps 1e-6).
            Adds ``3 * C`` parameters. Official weights are trained without it (default False).
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...)`` loads official or
            converted checkpoints (see :func:`convert_official_vitae`).

    Decisions (docs/design/vitae.md#where-the-paper-and-the-official-code-disagree): no class token,
        position embedding or final norm for the small
    models, mean pooling of all tokens
    (docs/design/vitae.md#class-token-position-embedding-and-final-norm); RC3 is the PRM alone
    (docs/design/vitae.md#third-reduction-cell-is-the-prm-alone); ViTAE-S uses token
    widths 96,192,384 (docs/design/vitae.md#vitae-s-token-widths); 13M and all heads follow the code
    (docs/design/vitae.md#vitae-13m-follows-the-code,
    docs/design/vitae.md#attention-heads-follow-the-code); ViTAE-H is 32 NCs
    x 1280 with patch 16 by default (docs/design/vitae.md#vitae-h-patch-size); the Performer RCs
    keep their hard-coded dropout 0.1
    (docs/design/vitae.md#performer-dropout-and-layernorm-eps). The Performer random-feature
    matrices ``w`` are frozen parameters: saved, counted
    and never trained.
    """
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(
            embed_dims=[64, 64, 128], token_dims=[64, 64, 256], depth=7, num_heads=4,
            nc_groups=64, mlp_ratio=2.)),
        '6m': dict(embed_dims=[64, 64, 128], token_dims=[64, 64, 256], depth=10, num_heads=4,
                   nc_groups=64, mlp_ratio=2.),
        '13m': dict(embed_dims=[64, 64, 160], token_dims=[64, 64, 320], depth=11, num_heads=5,
                    nc_groups=64, mlp_ratio=2.),
        **dict.fromkeys(['s', 'small'], dict(
            embed_dims=[64, 64, 192], token_dims=[96, 192, 384], depth=14, num_heads=6,
            nc_groups=96, mlp_ratio=3.)),
        's-neurips': dict(embed_dims=[64, 64, 192], token_dims=[64, 64, 384], depth=14,
                          num_heads=6, nc_groups=96, mlp_ratio=3.),
        **dict.fromkeys(['b', 'base'], dict(
            patch_size=16, embed_dims=768, depth=12, num_heads=12, nc_groups=192, mlp_ratio=4.)),
        **dict.fromkeys(['l', 'large'], dict(
            patch_size=16, embed_dims=1024, depth=24, num_heads=16, nc_groups=256,
            mlp_ratio=4.)),
        **dict.fromkeys(['h', 'huge'], dict(
            patch_size=16, embed_dims=1280, depth=32, num_heads=16, nc_groups=320,
            mlp_ratio=4.)),
    }
    _required = ('embed_dims', 'depth', 'num_heads', 'nc_groups', 'mlp_ratio')
    _last_stage_extras = ('fc_norm', 'cls_token', 'norm')
    fixed_parameters = ('attn.w', )  # the Performer random features (never trained)

    def __init__(self, arch='t', img_size=224, patch_size=None, in_channels=3, out_indices=(2, ),
                 out_type='featmap', final_norm=None, frozen_stages=-1, norm_eval=False,
                 drop_path_rate=0.1, pcm_kernel_size=3, drop_rate=0., attn_drop_rate=0.,
                 with_cp=False, paper_cls_token=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        is_patch = isinstance(arch, dict) and 'patch_size' in arch or (
            isinstance(arch, str) and 'patch_size' in self.arch_zoo.get(arch.lower(), {}))
        a = parse_arch(arch, self.arch_zoo, self._required + (() if is_patch else ('token_dims', )),
                       'ViTAE', defaults=None if is_patch else _RC_DEFAULTS)
        if patch_size is not None:
            if not is_patch:
                raise ValueError('ViTAE: patch_size only applies to the patch archs (B/L/H)')
            a['patch_size'] = patch_size
        self.arch_settings = a
        self.is_patch = is_patch
        self.init_contract(3, out_indices, frozen_stages, norm_eval, with_cp, out_type)
        self.final_norm = is_patch if final_norm is None else final_norm
        if paper_cls_token and is_patch:
            raise ValueError('ViTAE: paper_cls_token applies to the RC archs (T/6M/13M/S); the '
                             'patch archs always have a class token')
        self.paper_cls_token = paper_cls_token
        self.has_cls = is_patch or paper_cls_token

        depth = a['depth']
        dpr = drop_path_rates(drop_path_rate, [depth])[0]
        if is_patch:
            dim = a['embed_dims']
            self.embed_dims = [dim, dim, dim]
            ncs = [
                NormalCell(dim, a['num_heads'], a['mlp_ratio'], qkv_bias=True, drop=drop_rate,
                           attn_drop=attn_drop_rate, drop_path=dpr[k], groups=a['nc_groups'],
                           pcm_layout='shallow', pcm_kernel_size=pcm_kernel_size,
                           class_token=True) for k in range(depth)
            ]
            layers = [
                ViTAEBasicLayer(PatchEmbedCell(in_channels, dim, a['patch_size'], img_size), []),
                ViTAEBasicLayer(None, []),
                ViTAEBasicLayer(None, ncs, with_cp=with_cp),
            ]
        else:
            for k in ('embed_dims', 'token_dims', 'rc_types', 'downsample_ratios',
                      'kernel_sizes', 'dilations', 'rc_heads', 'rc_groups'):
                if len(a[k]) != 3:
                    raise ValueError(f'ViTAE: arch[{k!r}] needs 3 entries (one per RC)')
            self.embed_dims = list(a['token_dims'])
            layers, in_ch = [], in_channels
            for i in range(3):
                rc = ReductionCell(in_ch, a['embed_dims'][i], a['token_dims'][i],
                                   a['downsample_ratios'][i], a['kernel_sizes'][i],
                                   a['dilations'][i], a['rc_heads'][i], a['rc_types'][i],
                                   pcm_layout='vanilla_rc', groups=a['rc_groups'][i])
                ncs = []
                if i == 2:
                    ncs = [
                        NormalCell(a['token_dims'][2], a['num_heads'], a['mlp_ratio'],
                                   qkv_bias=True, drop=drop_rate, attn_drop=attn_drop_rate,
                                   drop_path=dpr[k], groups=a['nc_groups'], pcm_layout='vanilla',
                                   pcm_kernel_size=pcm_kernel_size,
                                   class_token=paper_cls_token) for k in range(depth)
                    ]
                layers.append(ViTAEBasicLayer(rc, ncs, with_cp=with_cp))
                in_ch = a['token_dims'][i]
        self.layers = nn.ModuleList(layers)
        if self.final_norm:
            self.fc_norm = nn.LayerNorm(self.embed_dims[-1], eps=1e-6)
        if paper_cls_token:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims[-1]))
            self.norm = nn.LayerNorm(self.embed_dims[-1], eps=1e-6)
        self.init_official()

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer id for layer-wise lr decay (BEiT/MAE numbering): the stem and the RCs
        (``layers.0/1``) are 0, NC ``k`` is ``k + 1``; ``fc_norm`` and everything outside the
        backbone get ``num_layers = depth + 1``. Returns ``(layer_id, num_layers)``."""
        num_layers = self.arch_settings['depth'] + 1
        if not param_name.startswith(prefix):
            return num_layers, num_layers
        name = param_name[len(prefix):]
        m = re.match(r'layers\.2\.NC\.(\d+)\.', name)
        if m:
            return int(m.group(1)) + 1, num_layers
        if name.startswith('layers.'):
            return 0, num_layers
        return num_layers, num_layers

    @staticmethod
    def sinusoid_encoding(n, dim, device=None, dtype=None):
        """T2T-ViT's 1-D sinusoid table ``(1, n, dim)``: sin on even, cos on odd channels."""
        pos = torch.arange(n, device=device, dtype=torch.float64)[:, None]
        j = torch.arange(dim, device=device)
        angle = pos / torch.pow(10000., (2 * (j // 2)).double() / dim)
        table = torch.where(j % 2 == 0, torch.sin(angle), torch.cos(angle))
        return table[None].to(dtype or torch.float32)

    def _add_paper_cls(self, x):
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return x + self.sinusoid_encoding(x.shape[1], x.shape[2], x.device, x.dtype)

    def _format(self, x, hw, last):
        """Layer output tokens -> the ``out_type`` feature of that layer."""
        patches = x[:, 1:] if self.has_cls and x.shape[1] != hw[0] * hw[1] else x
        if self.out_type == 'featmap':
            return tokens_to_map(patches, hw)
        if last and self.paper_cls_token:
            return self.norm(x[:, 0])
        feat = patches.mean(dim=1)
        return self.fc_norm(feat) if last and self.final_norm else feat

    def forward(self, x):
        outs, hw = {}, None
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            pre_nc = self._add_paper_cls if self.paper_cls_token and i == 2 else None
            x, hw = layer(x, hw, pre_nc=pre_nc)
            if i in self.out_indices:
                outs[i] = self._format(x, hw, i == last)
            if i < last and not self.is_patch:
                x = tokens_to_map(x, hw)
        return tuple(outs[i] for i in self.out_indices)
