"""ViTAEv2: the four-stage (pyramid) ViTAE backbone.

Paper: "ViTAEv2: Vision Transformer Advanced by Exploring Inductive Bias for Image Recognition and
Beyond" (Zhang, Xu, Zhang, Tao; IJCV 2023). Design notes: docs/design/vitae.md.

Each stage ``layers.{i}`` is a Reduction Cell ``RC`` (PRM + window/full attention + PCM + FFN)
followed by Normal Cells ``NC.{k}``; key names are the official ones, so official checkpoints load
after ``tools/model_converters/vitae2hvt.py`` (or directly through ``init_cfg=dict(
type='Pretrained', checkpoint=...)``, which applies the same conversion).
"""
import torch
from torch import nn

from hvt.registry import MODELS
from ..layers.chunk import cpu_tuned
from ..layers.drop import drop_path_rates
from ..layers.tokens import tokens_to_map
from ..layers.vitae_cells import NormalCell, ReductionCell, ViTAEBasicLayer
from .base import parse_arch
from .vitae_common import ViTAEBase, official_drop_path_rates

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


@MODELS.register_module()
class ViTAEv2(ViTAEBase):
    """ViTAEv2 backbone (``type='hvt.ViTAEv2'``).

    Args:
        arch (str | dict): ``'s'``, ``'48m'`` or ``'b'``
            (docs/design/vitae.md#model-variants-and-hyper-parameters), or a dict with keys
            ``embed_dims``, ``token_dims``, ``depths``, ``rc_heads``, ``nc_heads`` (4 per-stage
            lists) and optionally ``downsample_ratios``, ``kernel_sizes``, ``dilations``,
            ``attn_types`` (``'window'`` | ``'transformer'`` per stage), ``rc_groups``,
            ``nc_groups``, ``mlp_ratio``, ``rc_mlp_ratio``.
        in_channels (int): input channels.
        out_indices (Sequence[int]): stages whose outputs are returned, in the order given
            (negatives count from the end; strides 4, 8, 16, 32). Defaults to ``(3,)`` for
            classification; use ``(0, 1, 2, 3)`` for dense tasks.
        out_type (str): ``'featmap'`` (NCHW maps, default) or ``'avg_featmap'`` (one ``(B, C)``
            vector per entry of ``out_indices``: the mean of the stage's tokens; ViTAEv2 has no
            final norm).
        frozen_stages (int): -1 freezes nothing; 0 the stem, the PRM of the first RC
            (``layers.0.RC.PRM``, the image-to-token convolutions); ``k`` the stem and stages
            ``0 .. k - 1`` (RC and NCs). Frozen modules stay in eval mode and get
            ``requires_grad=False``.
        norm_eval (bool): keep every BatchNorm of the PCMs in eval mode while training.
        drop_path_rate (float): maximum stochastic depth (NCs only; RCs never get drop path).
        official_dpr_slicing (bool): reproduce the official per-stage slicing of the drop-path
            rates (stage ``i`` takes ``dpr[d_{i-1}: d_{i-1} + d_i]``,
            docs/design/vitae.md#stochastic-depth-slicing). ``False`` uses
            the usual cumulative slicing. Only affects training.
        window_size (int): NC window size in window stages (7).
        rc_window_size (int): RC window size (hard-wired to 7 in the official code,
            docs/design/vitae.md#window-attention-details).
        use_rel_pos_bias (bool): Swin relative position bias in the window attentions. ``False`` in
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
    stride-4 stem disagree otherwise, docs/design/vitae.md#input-sizes-and-the-stride-4-stem) and
    returns NCHW maps with
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
        # Code values for the heads (Table 1 prints 1,1,2,4 / 1,2,4,8;
        # docs/design/vitae.md#attention-heads-follow-the-code).
        **dict.fromkeys(['b', 'base'], dict(
            embed_dims=[96, 96, 256, 512], token_dims=[128, 256, 512, 1024], depths=[2, 2, 12, 2],
            rc_heads=[1, 1, 4, 8], nc_heads=[1, 4, 8, 16])),
    }
    _required = ('embed_dims', 'token_dims', 'depths', 'rc_heads', 'nc_heads')

    def __init__(self, arch='s', in_channels=3, out_indices=(3, ), out_type='featmap',
                 frozen_stages=-1, norm_eval=False, drop_path_rate=0.1, official_dpr_slicing=True,
                 window_size=7, rc_window_size=7, use_rel_pos_bias=False, drop_rate=0.,
                 attn_drop_rate=0., with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = a = parse_arch(arch, self.arch_zoo, self._required, 'ViTAEv2',
                                            defaults=_V2_DEFAULTS)
        num_stages = len(a['depths'])
        for k in ('embed_dims', 'token_dims', 'rc_heads', 'nc_heads', 'downsample_ratios',
                  'kernel_sizes', 'dilations', 'attn_types', 'rc_groups', 'nc_groups'):
            if len(a[k]) != num_stages:
                raise ValueError(f'ViTAEv2: arch[{k!r}] has {len(a[k])} entries, expected '
                                 f'{num_stages} (one per stage)')
        self.init_contract(num_stages, out_indices, frozen_stages, norm_eval, with_cp, out_type)
        self.total_stride = 1
        for r in a['downsample_ratios']:
            self.total_stride *= r
        self.token_dims = list(a['token_dims'])

        dpr_fn = official_drop_path_rates if official_dpr_slicing else drop_path_rates
        dprs = dpr_fn(drop_path_rate, a['depths'])
        layers = []
        in_ch = in_channels
        for i in range(num_stages):
            attn_type = a['attn_types'][i]
            rc = ReductionCell(
                in_ch, a['embed_dims'][i], a['token_dims'][i], a['downsample_ratios'][i],
                a['kernel_sizes'][i], a['dilations'][i], a['rc_heads'][i], attn_type,
                pcm_layout='v2', groups=a['rc_groups'][i], mlp_ratio=a['rc_mlp_ratio'],
                window_size=rc_window_size, use_rel_pos_bias=use_rel_pos_bias)  # RCs: no dropout
            ncs = [
                NormalCell(a['token_dims'][i], a['nc_heads'][i], a['mlp_ratio'], qkv_bias=True,
                           drop=drop_rate, attn_drop=attn_drop_rate, drop_path=dprs[i][k],
                           attn_type=attn_type, window_size=window_size,
                           groups=a['nc_groups'][i], pcm_layout='v2',
                           use_rel_pos_bias=use_rel_pos_bias)
                for k in range(a['depths'][i])
            ]
            layers.append(ViTAEBasicLayer(rc, ncs, with_cp=with_cp))
            in_ch = a['token_dims'][i]
        self.layers = nn.ModuleList(layers)
        self.init_official()

    def forward(self, x):
        H, W = x.shape[-2:]
        if H % self.total_stride or W % self.total_stride:
            raise ValueError(f'ViTAEv2 needs input sides that are multiples of '
                             f'{self.total_stride}, got {H}x{W} '
                             "(pad them, e.g. mmdet's Pad size_divisor=32)")
        # NHWC input: every PRM/PCM convolution takes mkldnn's channels-last path and its output
        # flattens to tokens without a copy (about 8% faster inference on CPU, same outputs).
        # A oneDNN choice: other devices keep the layout they were given.
        if cpu_tuned(x):
            x = x.contiguous(memory_format=torch.channels_last)
        outs, hw = {}, None
        for i, layer in enumerate(self.layers):
            x, hw = layer(x, hw)
            if i in self.out_indices and self.out_type == 'avg_featmap':
                outs[i] = x.mean(dim=1)
            x = tokens_to_map(x, hw)
            if i in self.out_indices and self.out_type == 'featmap':
                outs[i] = x
        return tuple(outs[i] for i in self.out_indices)
