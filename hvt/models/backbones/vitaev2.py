"""ViTAEv2: the four-stage (pyramid) ViTAE backbone.

Paper: "ViTAEv2: Vision Transformer Advanced by Exploring Inductive Bias for Image Recognition and
Beyond" (Zhang, Xu, Zhang, Tao; IJCV 2023). Spec: ``shared/specs/vitae.md`` (§1.2, §2, §3.1, §6).

Each stage ``layers.{i}`` is a Reduction Cell ``RC`` (PRM + window/full attention + PCM + FFN)
followed by Normal Cells ``NC.{k}``; key names are the official ones, so official checkpoints load
after ``tools/model_converters/vitae2hvt.py`` (or directly through ``init_cfg=dict(
type='Pretrained', checkpoint=...)``, which applies the same conversion).
"""
import copy

import torch
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from torch import nn

from hvt.engine.pretrained import init_with_pretrained
from hvt.registry import MODELS
from ..layers.chunk import cpu_tuned
from ..layers.vitae_cells import NormalCell, ReductionCell, ViTAEBasicLayer
from ..layers.weight_init import set_batchnorm_eval

_V2_DEFAULTS = dict(
    downsample_ratios=[4, 2, 2, 2],
    kernel_sizes=[7, 3, 3, 3],
    dilations=[[1, 2, 3, 4], [1, 2, 3], [1, 2], [1, 2]],
    attn_types=['window', 'window', 'transformer', 'transformer'],
    rc_groups=[1, 16, 32, 64],
    nc_groups=[1, 32, 64, 128],
    mlp_ratio=4.,
    rc_mlp_ratio=1.,
)


def _official_dpr(drop_path_rate, depths):
    """Stochastic-depth rates with the official slicing quirk (spec §2.5, §6.14).

    ``dpr = linspace(0, rate, sum(depths))`` and stage ``i`` takes ``dpr[d_{i-1} : d_{i-1} + d_i]``
    (offset by the *previous stage's depth*, not the cumulative sum).
    """
    total = sum(depths)
    dpr = torch.linspace(0, drop_path_rate, total, device='cpu').tolist() if total else []
    out = []
    for i, d in enumerate(depths):
        start = 0 if i == 0 else depths[i - 1]
        out.append(dpr[start:start + d])
    return out


def _cumulative_dpr(drop_path_rate, depths):
    total = sum(depths)
    dpr = torch.linspace(0, drop_path_rate, total, device='cpu').tolist() if total else []
    out, start = [], 0
    for d in depths:
        out.append(dpr[start:start + d])
        start += d
    return out


def _vitae_init(m):
    """Classification init of the official code: Linear trunc-normal(0.02)/0, LayerNorm 1/0;
    convolutions and BN keep the PyTorch defaults."""
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=.02)
        if m.bias is not None:
            nn.init.constant_(m.bias, 0)
    elif isinstance(m, nn.LayerNorm):
        nn.init.constant_(m.weight, 1.0)
        nn.init.constant_(m.bias, 0)


def _resolve_arch(arch, arch_zoo, defaults, required, name):
    if isinstance(arch, str):
        key = arch.lower()
        if key not in arch_zoo:
            raise ValueError(f'{name}: unknown arch {arch!r}; valid archs: {sorted(arch_zoo)}')
        arch = arch_zoo[key]
    elif not isinstance(arch, dict):
        raise TypeError(f'{name}: arch must be a str or a dict, got {type(arch).__name__}')
    missing = set(required) - set(arch)
    if missing:
        raise ValueError(f'{name}: custom arch dict misses keys {sorted(missing)}; '
                         f'required: {sorted(required)}')
    out = copy.deepcopy(defaults)
    out.update(copy.deepcopy(arch))
    return out


class _ViTAEBase(BaseModule):
    """Shared behaviour: frozen stages, norm_eval, Pretrained loading of official checkpoints."""

    def _freeze_stages(self):
        for i in range(min(self.frozen_stages, len(self.layers))):
            m = self.layers[i]
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
        super().init_weights()

    # official releases hold EMA weights next to the raw ones: prefer them
    pretrained_state_keys = ('state_dict_ema', 'model_ema', 'model', 'state_dict', 'module')

    def convert_pretrained_state(self, state):
        """Official ViTAE / ViTAEv2 key names -> HVT's (see :func:`convert_official_vitae`)."""
        from .vitae import convert_official_vitae
        return convert_official_vitae(state)


@MODELS.register_module()
class ViTAEv2(_ViTAEBase):
    """ViTAEv2 backbone (``type='hvt.ViTAEv2'``).

    Args:
        arch (str | dict): ``'s'``, ``'48m'`` or ``'b'`` (spec §1.2), or a dict with keys
            ``embed_dims``, ``token_dims``, ``depths``, ``rc_heads``, ``nc_heads`` (4 per-stage
            lists) and optionally ``downsample_ratios``, ``kernel_sizes``, ``dilations``,
            ``attn_types`` (``'window'`` | ``'transformer'`` per stage), ``rc_groups``,
            ``nc_groups``, ``mlp_ratio``, ``rc_mlp_ratio``.
        in_channels (int): input channels.
        out_indices (Sequence[int]): stages whose NCHW maps are returned (strides 4, 8, 16, 32).
            Defaults to ``(3,)`` for classification; use ``(0, 1, 2, 3)`` for dense tasks.
        frozen_stages (int): stages ``0 .. frozen_stages - 1`` (RC and NCs) are set to eval and
            get ``requires_grad=False``. -1 freezes nothing.
        norm_eval (bool): keep every BatchNorm of the PCMs in eval mode while training.
        drop_path_rate (float): maximum stochastic depth (NCs only; RCs never get drop path).
        official_dpr_slicing (bool): reproduce the official per-stage slicing of the drop-path
            rates (stage ``i`` takes ``dpr[d_{i-1}: d_{i-1} + d_i]``, spec §6.14). ``False`` uses
            the usual cumulative slicing. Only affects training.
        window_size (int): NC window size in window stages (7).
        rc_window_size (int): RC window size (hard-wired to 7 in the official code, §6.13).
        relative_pos (bool): Swin relative position bias in the window attentions. ``False`` in
            every paper model (Table 9); the official classification checkpoints still carry
            unused ``relative_position_index`` buffers, which the converter drops.
        drop_rate, attn_drop_rate (float): dropout after projections/FFN and on attention maps
            of the NCs (the official code passes neither to the RCs).
        with_cp (bool): activation checkpointing of every NC.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained', checkpoint=path)``; official
            checkpoints (``model`` / ``state_dict_ema`` keys, EMA preferred) are converted on the
            fly, and ``prefix='backbone.'`` selects a sub-dict of an mmpretrain checkpoint.
            Files are read weights-only; official checkpoints that also pickle Python objects
            (``args``) need ``trust_pickle=True`` in the init_cfg, or a conversion with
            ``vitae2hvt.py --trust-pickle``.

    The backbone runs at any input whose sides are multiples of 32 (the PRM and PCM of the
    stride-4 stem disagree otherwise, spec §6.19) and returns NCHW maps with
    ``token_dims`` channels: S 64/128/256/512, 48M 96/192/384/768, B 128/256/512/1024.
    There is no output norm, class token or position embedding.
    """
    arch_zoo = {
        **dict.fromkeys(['s', 'small'], dict(
            embed_dims=[64, 64, 128, 256], token_dims=[64, 128, 256, 512], depths=[2, 2, 8, 2],
            rc_heads=[1, 1, 2, 4], nc_heads=[1, 2, 4, 8])),
        '48m': dict(
            embed_dims=[64, 64, 192, 384], token_dims=[96, 192, 384, 768], depths=[2, 2, 11, 2],
            rc_heads=[1, 1, 2, 4], nc_heads=[1, 2, 4, 8]),
        # Code values for the heads (Table 1 prints 1,1,2,4 / 1,2,4,8; spec §6.6).
        **dict.fromkeys(['b', 'base'], dict(
            embed_dims=[96, 96, 256, 512], token_dims=[128, 256, 512, 1024], depths=[2, 2, 12, 2],
            rc_heads=[1, 1, 4, 8], nc_heads=[1, 4, 8, 16])),
    }
    _required = ('embed_dims', 'token_dims', 'depths', 'rc_heads', 'nc_heads')

    def __init__(self, arch='s', in_channels=3, out_indices=(3, ), frozen_stages=-1,
                 norm_eval=False, drop_path_rate=0.1, official_dpr_slicing=True, window_size=7,
                 rc_window_size=7, relative_pos=False, drop_rate=0., attn_drop_rate=0.,
                 with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = a = _resolve_arch(arch, self.arch_zoo, _V2_DEFAULTS, self._required,
                                               'ViTAEv2')
        num_stages = len(a['depths'])
        for k in ('embed_dims', 'token_dims', 'rc_heads', 'nc_heads', 'downsample_ratios',
                  'kernel_sizes', 'dilations', 'attn_types', 'rc_groups', 'nc_groups'):
            if len(a[k]) != num_stages:
                raise ValueError(f'ViTAEv2: arch[{k!r}] has {len(a[k])} entries, expected '
                                 f'{num_stages} (one per stage)')
        self.num_stages = num_stages
        self.total_stride = 1
        for r in a['downsample_ratios']:
            self.total_stride *= r
        self.token_dims = list(a['token_dims'])
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        out_indices = [i + num_stages if i < 0 else i for i in out_indices]
        for i in out_indices:
            if not 0 <= i < num_stages:
                raise ValueError(f'ViTAEv2: out_indices {i} out of range for {num_stages} stages')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp

        dpr_fn = _official_dpr if official_dpr_slicing else _cumulative_dpr
        dprs = dpr_fn(drop_path_rate, a['depths'])
        layers = []
        in_ch = in_channels
        for i in range(num_stages):
            attn_type = a['attn_types'][i]
            rc = ReductionCell(
                in_ch, a['embed_dims'][i], a['token_dims'][i], a['downsample_ratios'][i],
                a['kernel_sizes'][i], a['dilations'][i], a['rc_heads'][i], attn_type,
                pcm_layout='v2', groups=a['rc_groups'][i], mlp_ratio=a['rc_mlp_ratio'],
                window_size=rc_window_size, relative_pos=relative_pos)  # RCs: no dropout
            ncs = [
                NormalCell(a['token_dims'][i], a['nc_heads'][i], a['mlp_ratio'], qkv_bias=True,
                           drop=drop_rate, attn_drop=attn_drop_rate, drop_path=dprs[i][k],
                           attn_type=attn_type, window_size=window_size,
                           groups=a['nc_groups'][i], pcm_layout='v2', relative_pos=relative_pos)
                for k in range(a['depths'][i])
            ]
            layers.append(ViTAEBasicLayer(rc, ncs, with_cp=with_cp))
            in_ch = a['token_dims'][i]
        self.layers = nn.ModuleList(layers)
        self.apply(_vitae_init)
        self._freeze_stages()

    def forward(self, x):
        B, _, H, W = x.shape
        if H % self.total_stride or W % self.total_stride:
            raise ValueError(f'ViTAEv2 needs input sides that are multiples of '
                             f'{self.total_stride}, got {H}x{W} '
                             "(pad them, e.g. mmdet's Pad size_divisor=32)")
        # NHWC input: every PRM/PCM convolution takes mkldnn's channels-last path and its output
        # flattens to tokens without a copy (about 8% faster inference on CPU, same outputs).
        # A oneDNN choice: other devices keep the layout they were given.
        if cpu_tuned(x):
            x = x.contiguous(memory_format=torch.channels_last)
        outs = []
        hw = None
        for i, layer in enumerate(self.layers):
            x, hw = layer(x, hw)
            x = x.transpose(1, 2).reshape(B, -1, *hw)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
