"""Vanilla (isotropic) ViTAE: T / 6M / 13M / S (Reduction Cells) and the scaled-up B / L / H.

Papers: "ViTAE: Vision Transformer Advanced by Exploring Intrinsic Inductive Bias" (NeurIPS 2021)
and "ViTAEv2" (IJCV 2023, §3.3, Table 1). Spec: ``shared/specs/vitae.md`` (§1.2, §2, §6).

Structure and key names follow the official code (``layers.{0,1,2}.RC``, ``layers.2.NC.{k}``,
``fc_norm``): three RCs (Performer, Performer, PRM-only) and all NCs after RC3 for the small
models; a 16x16 patch embedding with class token and learned position embedding
(``layers.0.RC.{PRM.proj,cls_token,pos_embed}``) and "shallow" NCs for B/L/H.

This file also holds the official-checkpoint conversion used by the backbones' ``Pretrained``
init and by ``tools/model_converters/vitae2hvt.py``.
"""
import re
from collections import OrderedDict

import torch
from torch import nn

from hvt.registry import MODELS
from ..layers.vitae_cells import NormalCell, PatchEmbedCell, ReductionCell, ViTAEBasicLayer
from ..layers.window import relative_position_index
from .vitaev2 import _cumulative_dpr, _resolve_arch, _ViTAEBase, _vitae_init

_RC_DEFAULTS = dict(
    rc_types=['performer', 'performer', 'performer_less'],
    downsample_ratios=[4, 2, 2],
    kernel_sizes=[7, 3, 3],
    dilations=[[1, 2, 3, 4], [1, 2, 3], [1, 2]],
    rc_heads=[1, 1, 1],
    rc_groups=[1, 1, 1],
)


@MODELS.register_module()
class ViTAE(_ViTAEBase):
    """Vanilla ViTAE backbone (``type='hvt.ViTAE'``).

    Args:
        arch (str | dict): ``'t'``, ``'6m'``, ``'13m'``, ``'s'``, ``'s-neurips'`` (the NeurIPS
            repo's ViTAE-S with token widths 64,64,384; spec §6.4), ``'b'``, ``'l'``, ``'h'``,
            or a dict. RC archs need ``embed_dims``/``token_dims`` (3 per-RC lists), ``depth``,
            ``num_heads``, ``nc_groups``, ``mlp_ratio`` and optionally ``rc_types``,
            ``downsample_ratios``, ``kernel_sizes``, ``dilations``, ``rc_heads``, ``rc_groups``.
            Patch archs (``patch_size`` key present) need ``embed_dims`` (int), ``depth``,
            ``num_heads``, ``nc_groups``, ``mlp_ratio``.
        img_size (int): training size; sets the length of the B/L/H position embedding (it is
            resized bicubically at other input sizes).
        patch_size (int, optional): overrides the arch's patch size (B/L/H). The official code
            registers 16 for every model; the paper's ViTAE-H numbers match 14 (spec §6.7).
        in_channels (int): input channels.
        out_indices (Sequence[int]): official layers ``0..2`` whose outputs are returned
            (strides 4, 8, 16 for RC archs; all stride ``patch_size`` for B/L/H).
        out_type (str): ``'featmap'`` (NCHW maps; the class token is dropped) or
            ``'avg_featmap'`` (mean over patch tokens, then ``fc_norm`` for the last layer when
            ``final_norm``), which is the official classification feature.
        final_norm (bool, optional): build ``fc_norm`` (LayerNorm eps 1e-6 on the pooled
            feature). Defaults to True for B/L/H and False for T/6M/13M/S (no final norm in the
            official code; spec §6.2).
        frozen_stages (int): layers ``0 .. frozen_stages - 1`` are frozen (eval, no grad).
        norm_eval (bool): keep the PCM BatchNorms in eval mode while training.
        drop_path_rate (float): maximum stochastic depth over the NCs (RCs get none).
        pcm_kernel_size (int): NC PCM kernel; 3 (default) or 1, as in the MAE pre-training of
            B/L/H (spec §4.2, Table 7). ``tools/model_converters/vitae2hvt.py --pad-pcm`` turns
            1x1 kernels into zero-padded 3x3 ones.
        drop_rate, attn_drop_rate (float): dropout rates of the NCs.
        with_cp (bool): activation checkpointing of every NC (useful for L/H).
        paper_cls_token (bool): the paper's description of the small models instead of the
            official code (spec §6.2): after RC3 a class token (``cls_token``, zeros) is
            prepended and a fixed 1-D sinusoid position encoding (T2T-ViT style, computed for
            the current token count, no parameters) is added; the NCs skip the class token in
            their PCM, and ``avg_featmap`` returns ``norm(class token)`` (LayerNorm eps 1e-6).
            Adds ``3 * C`` parameters. Official weights are trained without it (default False).
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...)`` loads official or
            converted checkpoints (see :func:`convert_official_vitae`).

    Decisions from spec §6: no class token, position embedding or final norm for the small
    models, mean pooling of all tokens (§6.2); RC3 is the PRM alone (§6.3); ViTAE-S uses token
    widths 96,192,384 (§6.4); 13M and all heads follow the code (§6.5, §6.6); ViTAE-H is 32 NCs
    x 1280 with patch 16 by default (§6.7); the Performer RCs keep their hard-coded dropout 0.1
    (§6.15). The Performer random-feature matrices ``w`` are frozen parameters: saved, counted
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

    def __init__(self, arch='t', img_size=224, patch_size=None, in_channels=3, out_indices=(2, ),
                 out_type='featmap', final_norm=None, frozen_stages=-1, norm_eval=False,
                 drop_path_rate=0.1, pcm_kernel_size=3, drop_rate=0., attn_drop_rate=0.,
                 with_cp=False, paper_cls_token=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        is_patch = isinstance(arch, dict) and 'patch_size' in arch or (
            isinstance(arch, str) and 'patch_size' in self.arch_zoo.get(arch.lower(), {}))
        a = _resolve_arch(arch, self.arch_zoo, {} if is_patch else _RC_DEFAULTS,
                          self._required + (() if is_patch else ('token_dims', )), 'ViTAE')
        if patch_size is not None:
            if not is_patch:
                raise ValueError('ViTAE: patch_size only applies to the patch archs (B/L/H)')
            a['patch_size'] = patch_size
        self.arch_settings = a
        self.is_patch = is_patch
        if out_type not in ('featmap', 'avg_featmap'):
            raise ValueError(f"ViTAE: out_type must be 'featmap' or 'avg_featmap', got "
                             f'{out_type!r}')
        self.out_type = out_type
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        out_indices = [i + 3 if i < 0 else i for i in out_indices]
        for i in out_indices:
            if not 0 <= i < 3:
                raise ValueError(f'ViTAE: out_indices {i} out of range for 3 layers')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.final_norm = is_patch if final_norm is None else final_norm
        if paper_cls_token and is_patch:
            raise ValueError('ViTAE: paper_cls_token applies to the RC archs (T/6M/13M/S); the '
                             'patch archs always have a class token')
        self.paper_cls_token = paper_cls_token
        self.has_cls = is_patch or paper_cls_token

        depth = a['depth']
        dpr = _cumulative_dpr(drop_path_rate, [depth])[0]
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
        self.apply(_vitae_init)
        self._freeze_stages()

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
        patches = x[:, 1:] if self.has_cls and x.shape[1] != hw[0] * hw[1] else x
        if self.out_type == 'avg_featmap':
            if last and self.paper_cls_token:
                return self.norm(x[:, 0])
            feat = patches.mean(dim=1)
            if last and self.final_norm:
                feat = self.fc_norm(feat)
            return feat
        B, _, C = patches.shape
        return patches.transpose(1, 2).reshape(B, C, *hw)

    def forward(self, x):
        outs, hw = [], None
        for i, layer in enumerate(self.layers):
            pre_nc = self._add_paper_cls if self.paper_cls_token and i == 2 else None
            x, hw = layer(x, hw, pre_nc=pre_nc)
            if i in self.out_indices:
                outs.append(self._format(x, hw, i == len(self.layers) - 1))
            if i < len(self.layers) - 1 and not self.is_patch:
                x = x.transpose(1, 2).reshape(x.shape[0], -1, *hw)
        return tuple(outs)


# --------------------------------------------------------------------------------------------
# Official checkpoint conversion
# --------------------------------------------------------------------------------------------
_STATE_KEYS = _ViTAEBase.pretrained_state_keys


def select_state_dict(ckpt, use_ema=True):
    """The weights of a checkpoint: ``state_dict_ema`` (preferred when ``use_ema``), ``model``,
    ``state_dict`` ... or the dict itself when it already maps names to tensors. Returns the dict
    and the name of the key it came from (``None`` for a bare state dict)."""
    if not isinstance(ckpt, dict):
        raise TypeError(f'checkpoint must be a dict, got {type(ckpt).__name__}')
    keys = _STATE_KEYS if use_ema else tuple(k for k in _STATE_KEYS if 'ema' not in k)
    for key in keys:
        if isinstance(ckpt.get(key), dict) and ckpt[key]:
            return ckpt[key], key
    if all(torch.is_tensor(v) for v in ckpt.values()):
        return ckpt, None
    raise KeyError(f'no state dict found in the checkpoint; top-level keys: {sorted(ckpt)}; '
                   f'expected one of {list(keys)}')


def convert_official_vitae(ckpt, prefix=None, use_ema=True):
    """Official ViTAE / ViTAEv2 weights -> HVT backbone + ``head.*`` weights.

    * picks ``state_dict_ema`` / ``model`` / ``state_dict`` (:func:`select_state_dict`);
    * strips ``module.``; with ``prefix`` (e.g. ``'backbone.'``) keeps only keys under it;
    * drops the ``relative_position_index`` / ``attn_mask`` buffers of the window attentions
      (HVT rebuilds them; they are not persistent);
    * renames ``attn.relative_position_bias_table`` (official RPE, unused by the paper models)
      to ``attn.rel_pos_bias.relative_position_bias_table``.

    Every other key is already identical. Returns an ``OrderedDict``.
    """
    state, _ = select_state_dict(ckpt, use_ema)
    out = OrderedDict()
    for k, v in state.items():
        if k.startswith('module.'):
            k = k[len('module.'):]
        if prefix:
            if not k.startswith(prefix):
                continue
            k = k[len(prefix):]
        if k.endswith('relative_position_index') or k.endswith('attn_mask'):
            continue
        k = re.sub(r'attn\.relative_position_bias_table$',
                   'attn.rel_pos_bias.relative_position_bias_table', k)
        out[k] = v
    return out


def add_relative_position_index(state, window_size=7, stages=(0, 1)):
    """Re-create the official (unused) ``relative_position_index`` buffers of the window
    attentions of ``stages`` (HVT -> official direction)."""
    out = OrderedDict()
    pat = re.compile(r'^(layers\.(\d+)\.(?:RC\.attn\.attn|NC\.\d+\.attn))\.qkv\.weight$')
    for k, v in state.items():
        out[k] = v
        m = pat.match(k)
        if m and int(m.group(2)) in stages:
            out[f'{m.group(1)}.relative_position_index'] = relative_position_index(window_size)
    return out
