"""Cells of ViTAE (isotropic) and ViTAEv2 (pyramid).

Design notes: docs/design/vitae.md. Module and parameter names follow the official code
(``ViTAE-Transformer/ViTAE-Transformer`` and ``Annbless/ViTAE``) so that official checkpoints load
with (almost) no renaming:

* :class:`PRM` (``PRM.convs.{j}.0``), the Pyramid Reduction Module with dilated convolutions;
* :class:`PCM` (an ``nn.Sequential`` whose indices match the official layouts), the Parallel
  Convolutional Module;
* three attention blocks used inside a Reduction Cell (``RC.attn``):
  :class:`RCWindowBlock` (ViTAEv2 stages 1-2), :class:`TokenTransformer` (ViTAEv2 stages 3-4)
  and :class:`TokenPerformer` (vanilla ViTAE RC1/RC2);
* :class:`WindowAttention` (Swin-style, with an optional relative position bias) and
  :class:`TokenAttention` (T2T-style attention that changes width and uses ``v`` as residual);
* :class:`ReductionCell`, :class:`NormalCell`, :class:`PatchEmbedCell` (ViTAE-B/L/H stem) and
  :class:`ViTAEBasicLayer` (one RC followed by its NCs, ``layers.{i}`` in the official code).

All cells work on token sequences ``(B, N, C)`` together with the map size ``hw = (H, W)``,
so that they run at any (also non-square) resolution.
"""
import contextlib
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .attention import Attention, attention
from .checkpoint import run_checkpointed
from .chunk import chunked
from .drop import DropPath
from .mlp import Mlp
from .tokens import map_to_tokens, resize_pos_embed, tokens_to_map
from .window import RelativePositionBias, window_partition, window_reverse

__all__ = [
    'PRM', 'PCM', 'pcm_strides', 'WindowAttention', 'window_attention', 'TokenAttention',
    'TokenTransformer', 'TokenPerformer', 'RCWindowBlock', 'ReductionCell', 'NormalCell',
    'PatchEmbedCell', 'ViTAEBasicLayer'
]


# --------------------------------------------------------------------------------------------
# PRM
# --------------------------------------------------------------------------------------------
class PRM(nn.Module):
    """Pyramid Reduction Module (docs/design/vitae.md#pyramid-reduction-module).

    ``len(dilations)`` parallel ``kernel_size`` x ``kernel_size`` convolutions with stride
    ``stride``, each followed by its own exact GELU, fused by channel concatenation in dilation
    order (``op='cat'``, the official default) or by summation (``op='sum'``).

    Padding is ``ceil(((k - 1) * d + 1 - stride) / 2)`` as in the official code, so the output is
    ``floor((H - 3) / 4) + 1`` for the 7x7/4 stem and ``ceil(H / 2)`` for 3x3/2 cells.

    Returns tokens ``(B, H' * W', out_channels)`` and ``(H', W')``.
    """

    def __init__(self, in_channels: int, embed_dims: int, kernel_size: int = 7, stride: int = 4,
                 dilations: Sequence[int] = (1, 2, 3, 4), op: str = 'cat'):
        super().__init__()
        if op not in ('cat', 'sum'):
            raise ValueError(f"PRM op must be 'cat' or 'sum', got {op!r}")
        self.dilations = tuple(dilations)
        self.kernel_size = kernel_size
        self.stride = stride
        self.op = op
        self.convs = nn.ModuleList()
        for d in self.dilations:
            padding = math.ceil(((kernel_size - 1) * d + 1 - stride) / 2)
            self.convs.append(
                nn.Sequential(
                    nn.Conv2d(in_channels, embed_dims, kernel_size, stride=stride, padding=padding,
                              dilation=d), nn.GELU()))
        self.out_channels = embed_dims * len(self.dilations) if op == 'cat' else embed_dims

    def forward(self, x: torch.Tensor):
        ys = [conv(x) for conv in self.convs]
        y = torch.cat(ys, dim=1) if self.op == 'cat' else torch.stack(ys, 0).sum(0)
        hw = tuple(y.shape[-2:])
        return map_to_tokens(y), hw


# --------------------------------------------------------------------------------------------
# PCM
# --------------------------------------------------------------------------------------------
def pcm_strides(downsample_ratio: int):
    """Strides of the three PCM convolutions: each gets 2 while the remaining ratio is > 1."""
    strides, residual = [], downsample_ratio // 2
    for _ in range(3):
        strides.append(2 if residual > 0 else 1)
        residual //= 2
    if residual != 0 or 2**sum(s == 2 for s in strides) != max(downsample_ratio, 1):
        raise ValueError(f'PCM supports downsample ratios 1, 2, 4 and 8, got {downsample_ratio}')
    return strides


class _SiLU(nn.SiLU):
    """SiLU in place only where autograd does not record it.

    An in-place SiLU under autograd makes autograd clone its input (the backward needs it), which
    costs more than writing a new output; at inference in place saves the allocation. No
    parameters, so the PCM index layouts (state-dict keys) are unchanged."""

    def forward(self, x):
        return F.silu(x, inplace=not (torch.is_grad_enabled() and x.requires_grad))


class PCM(nn.Sequential):
    """Parallel Convolutional Module: stacked grouped convolutions, official index layouts.

    Layouts (``c`` conv, ``b`` BatchNorm, ``s`` SiLU),
    docs/design/vitae.md#parallel-convolutional-module-layouts,
    docs/design/vitae.md#normal-cell-and-early-fusion:

    * ``'v2'``: ``c b s c b s c`` (ViTAEv2 RC and NC; conv indices 0, 3, 6, BN 1, 4);
    * ``'vanilla_rc'``: ``c s c b s c s`` (vanilla ViTAE RC1/RC2; conv 0, 2, 5, BN 3);
    * ``'vanilla'``: ``c b s c b s c s`` (vanilla ViTAE-T/6M/13M/S NC, trailing SiLU);
    * ``'shallow'``: ``c b s c`` (vanilla ViTAE-B/L/H NC, two convolutions).

    Channels: ``in -> hidden -> (hidden if RC else out) -> out``. For the NC layouts the second
    conv maps ``hidden -> out`` and the third ``out -> out``; for ``'vanilla_rc'``/``'v2'`` in an
    RC (``rc=True``) the second conv maps ``hidden -> hidden`` and the third ``hidden -> out``.

    Args:
        in_channels, hidden_channels, out_channels: widths.
        strides: strides of the three convolutions (see :func:`pcm_strides`).
        groups: groups of every convolution.
        layout: one of the layouts above.
        rc: True for the RC channel plan (``in -> hidden -> hidden -> out``).
        kernel_size: 3 (default); 1 for MAE pre-training of ViTAE-B/L/H
            (docs/design/vitae.md#fine-tuning-of-the-scaled-up-models).
    """
    LAYOUTS = ('v2', 'vanilla_rc', 'vanilla', 'shallow')

    def __init__(self, in_channels, hidden_channels, out_channels, strides=(1, 1, 1), groups=1,
                 layout='v2', rc=False, kernel_size=3):
        if layout not in self.LAYOUTS:
            raise ValueError(f'unknown PCM layout {layout!r}; valid: {self.LAYOUTS}')
        p = kernel_size // 2
        mid = hidden_channels if rc else out_channels
        s0, s1, s2 = strides

        def conv(i, o, s):
            return nn.Conv2d(i, o, kernel_size, stride=s, padding=p, groups=groups)

        if layout == 'v2':
            mods = [conv(in_channels, hidden_channels, s0), nn.BatchNorm2d(hidden_channels),
                    _SiLU(), conv(hidden_channels, mid, s1), nn.BatchNorm2d(mid),
                    _SiLU(), conv(mid, out_channels, s2)]
        elif layout == 'vanilla_rc':
            mods = [conv(in_channels, hidden_channels, s0), _SiLU(),
                    conv(hidden_channels, mid, s1), nn.BatchNorm2d(mid), _SiLU(),
                    conv(mid, out_channels, s2), _SiLU()]
        elif layout == 'vanilla':
            mods = [conv(in_channels, hidden_channels, s0), nn.BatchNorm2d(hidden_channels),
                    _SiLU(), conv(hidden_channels, mid, s1), nn.BatchNorm2d(mid),
                    _SiLU(), conv(mid, out_channels, s2), _SiLU()]
        else:  # shallow: two convolutions, strides must be 1
            if tuple(strides) != (1, 1, 1):
                raise ValueError('the shallow PCM layout does not downsample')
            mods = [conv(in_channels, hidden_channels, 1), nn.BatchNorm2d(hidden_channels),
                    _SiLU(), conv(hidden_channels, out_channels, 1)]
        super().__init__(*mods)


def _no_autocast(x):
    """A context that disables autocast for ``x``'s device (a no-op where autocast does not
    exist, e.g. the meta device)."""
    if x.device.type in ('cuda', 'cpu', 'xpu', 'mps'):
        try:
            return torch.autocast(device_type=x.device.type, enabled=False)
        except RuntimeError:
            pass
    return contextlib.nullcontext()


# --------------------------------------------------------------------------------------------
# Attentions
# --------------------------------------------------------------------------------------------
class _WidthAttention(nn.Module):
    """Multi-head attention from ``dim`` to ``width`` channels (keys ``qkv``, ``proj``): the
    common part of :class:`WindowAttention` and :class:`TokenAttention`.

    ``qkv = Linear(dim, 3 * width)``, head_dim = width // num_heads, scale head_dim ** -0.5
    (docs/design/vitae.md#attention-scale); the numerical core is the shared :func:`attention`.
    """

    def __init__(self, dim, width, num_heads=1, qkv_bias=True, qk_scale=None, attn_drop=0.,
                 proj_drop=0.):
        super().__init__()
        self.head_dim, rest = divmod(width, num_heads)
        if rest:
            raise ValueError(f'{type(self).__name__}: width {width} is not divisible by '
                             f'num_heads {num_heads}')
        self.num_heads, self.width, self.attn_drop = num_heads, width, attn_drop
        self.scale = qk_scale or self.head_dim**-0.5
        # qkv changes the width (dim -> width); proj keeps it
        self.qkv = nn.Linear(dim, width * 3, bias=qkv_bias)
        self.proj = nn.Linear(width, width)
        self.proj_drop = nn.Dropout(proj_drop)

    def attend(self, x, bias=None):
        """``(proj(attention(q, k, v)), v)``: ``(B, N, width)`` and the values per head
        ``(B, num_heads, N, head_dim)``."""
        B, N, _ = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        y = attention(q, k, v, bias, self.attn_drop if self.training else 0., self.scale)
        y = self.proj_drop(self.proj(y.transpose(1, 2).reshape(B, N, self.width)))
        return y, v


class WindowAttention(_WidthAttention):
    """Multi-head attention inside non-overlapping windows (keys ``qkv``, ``proj``).

    Maps ``(B * nW, ws * ws, in_dim)`` window tokens to ``out_dim`` (the ViTAEv2 RC window
    attention changes width: ``qkv = Linear(in_dim, 3 * out_dim)``).

    Args:
        in_dim, out_dim: input and output widths (``out_dim`` defaults to ``in_dim``).
        num_heads: heads; head_dim = out_dim // num_heads; scale head_dim ** -0.5
            (docs/design/vitae.md#attention-scale).
        window_size: window side; used by the relative position bias only.
        qkv_bias: bias of ``qkv`` (True in all ViTAEv2 window attentions).
        use_rel_pos_bias: add a Swin relative position bias (the shared
            :class:`RelativePositionBias`, stored as ``rel_pos_bias``). Off in every paper model
            (docs/design/vitae.md#window-attention-details, Table 9); official RPE tables
            ``attn.relative_position_bias_table``
            are renamed by ``tools/model_converters/vitae2hvt.py``.
        attn_drop, proj_drop: dropout rates.
    """

    def __init__(self, in_dim, out_dim=None, num_heads=1, window_size=7, qkv_bias=True,
                 qk_scale=None, attn_drop=0., proj_drop=0., use_rel_pos_bias=False):
        super().__init__(in_dim, out_dim or in_dim, num_heads, qkv_bias, qk_scale, attn_drop,
                         proj_drop)
        self.window_size = window_size
        self.use_rel_pos_bias = use_rel_pos_bias
        self.rel_pos_bias = (RelativePositionBias(window_size, num_heads)
                             if use_rel_pos_bias else None)

    def forward(self, x):
        bias = None
        if self.rel_pos_bias is not None:
            if x.shape[1] != self.window_size**2:
                raise ValueError(f'relative position bias built for window {self.window_size}, '
                                 f'got {x.shape[1]} tokens per window')
            bias = self.rel_pos_bias().unsqueeze(0)
        return self.attend(x, bias)[0]


def window_attention(attn: nn.Module, x: torch.Tensor, hw: Tuple[int, int], window_size: int,
                     shrink: bool = True) -> torch.Tensor:
    """Run ``attn`` on non-overlapping windows of the token map ``x`` ``(B, H*W, C)``.

    ViTAEv2 semantics (docs/design/vitae.md#reduction-cell-semantics): zero padding to multiples of
        the window, **centred**
    (top = pad_h // 2, left = pad_w // 2), applied after the LayerNorm, no shift and no padding
    mask; the padding is cropped after the window reverse. If ``shrink`` and the map is not
    larger than the window, the window shrinks to ``min(H, W)`` (the official construction-time
    rule, applied here at run time so that any resolution works).

    On the CPU, images are processed in cache-sized groups
    (:func:`~hvt.models.layers.chunk.chunked`; the window partition, ``qkv`` and window reverse
    of a 56x56 map are tens of MiB at batch 16); elsewhere all windows go to one attention call.
    """
    B, N, C = x.shape
    H, W = hw
    if N != H * W:
        raise ValueError(f'token count {N} does not match the map size {H}x{W}')
    widest = max(C, getattr(getattr(attn, 'qkv', None), 'out_features', C))
    return chunked(lambda t: _window_attention(attn, t, hw, window_size, shrink), x,
                   N * widest * x.element_size())


def _window_attention(attn, x, hw, window_size, shrink):
    B, N, C = x.shape
    H, W = hw
    ws = min(window_size, H, W) if shrink else window_size
    x = x.view(B, H, W, C)
    pad_h, pad_w = (ws - H % ws) % ws, (ws - W % ws) % ws
    top, left = pad_h // 2, pad_w // 2
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, left, pad_w - left, top, pad_h - top))
    Hp, Wp = H + pad_h, W + pad_w
    out = attn(window_partition(x, ws))
    out = window_reverse(out, ws, Hp, Wp)
    if pad_h or pad_w:
        out = out[:, top:top + H, left:left + W, :]
    return out.reshape(B, H * W, out.shape[-1])


class TokenAttention(_WidthAttention):
    """T2T-style full attention that changes width: ``v + proj(softmax(q k^T * s) v)``.

    ``qkv = Linear(dim, 3 * in_dim)`` (no bias in ViTAEv2 RC3/RC4), head_dim = in_dim // heads,
    and the merged value tensor ``v`` ``(B, N, in_dim)`` is the residual
    (docs/design/vitae.md#reduction-cell-semantics).
    """

    def __init__(self, dim, in_dim, num_heads=1, qkv_bias=False, qk_scale=None, attn_drop=0.,
                 proj_drop=0.):
        super().__init__(dim, in_dim, num_heads, qkv_bias, qk_scale, attn_drop, proj_drop)

    def forward(self, x):
        y, v = self.attend(x)
        B, N, _ = x.shape
        return v.transpose(1, 2).reshape(B, N, self.width) + y


class _RCBlock(nn.Module):
    """An RC attention block: ``norm1``, an attention, ``norm2`` and an FFN ``mlp``.

    The Reduction Cell composes them (docs/design/vitae.md#reduction-cell-semantics): ``a =
        attend(norm1(p))``, ``x = a + PCM``,
    ``x = x + mlp(norm2(x))``.
    """

    def attend(self, x, hw):
        raise NotImplementedError

    def forward(self, x, hw):
        x = self.attend(self.norm1(x), hw)
        return x + self.mlp(self.norm2(x))


class RCWindowBlock(_RCBlock):
    """ViTAEv2 RC1/RC2 attention (official ``WindowTransformerBlock``; keys ``norm1``,
    ``attn.qkv``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``).

    Window attention ``in_dim -> out_dim`` with **no residual** around it
    (docs/design/vitae.md#reduction-cell-residuals). The RC
    window is hard-wired to 7 in the official code (docs/design/vitae.md#window-attention-details).
    LayerNorm eps 1e-5.
    """

    def __init__(self, in_dim, out_dim, num_heads=1, window_size=7, mlp_ratio=1., qkv_bias=True,
                 qk_scale=None, drop=0., attn_drop=0., use_rel_pos_bias=False, norm_eps=1e-5):
        super().__init__()
        self.window_size = window_size
        self.norm1 = nn.LayerNorm(in_dim, eps=norm_eps)
        self.attn = WindowAttention(in_dim, out_dim, num_heads, window_size, qkv_bias, qk_scale,
                                    attn_drop, drop, use_rel_pos_bias)
        self.norm2 = nn.LayerNorm(out_dim, eps=norm_eps)
        self.mlp = Mlp(out_dim, int(out_dim * mlp_ratio), out_dim, drop=drop)

    def attend(self, x, hw):
        return window_attention(self.attn, x, hw, self.window_size,
                                shrink=not self.attn.use_rel_pos_bias)


class TokenTransformer(_RCBlock):
    """ViTAEv2 RC3/RC4 attention (official ``Token_transformer``; keys ``norm1``, ``attn.qkv``,
    ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``). LayerNorm eps 1e-5, qkv without bias."""

    def __init__(self, dim, in_dim, num_heads=1, mlp_ratio=1., qkv_bias=False, qk_scale=None,
                 drop=0., attn_drop=0., norm_eps=1e-5):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = TokenAttention(dim, in_dim, num_heads, qkv_bias, qk_scale, attn_drop, drop)
        self.norm2 = nn.LayerNorm(in_dim, eps=norm_eps)
        self.mlp = Mlp(in_dim, int(in_dim * mlp_ratio), in_dim, drop=drop)

    def attend(self, x, hw):
        return self.attn(x)


class TokenPerformer(_RCBlock):
    """Performer attention of the vanilla ViTAE RC1/RC2 (official ``Token_performer``).

    Keys ``kqv``, ``w``, ``proj``, ``norm1``, ``norm2``, ``mlp.0``, ``mlp.2``
    (docs/design/vitae.md#reduction-cell-semantics):

    * ``kqv = Linear(dim, 3 * in_dim)`` split in the order **k, q, v**;
    * positive random features ``phi(x) = exp(x W^T - |x|^2 / 2) / sqrt(m)``, m = int(kernel_ratio
      * head_dim); ``w`` is an orthogonal matrix scaled by sqrt(m), a **frozen** parameter
      (``requires_grad=False``; saved and counted), shape ``(m, in_dim)`` for one head as in the
      official code, ``(heads, m, head_dim)`` otherwise;
    * ``y = phi(q) (v^T phi(k))^T / (phi(q) sum_t phi(k_t) + 1e-8)``, computed in fp32;
    * output ``v + Dropout(dp1)(proj(y))``; the FFN ``Linear-GELU-Linear-Dropout(dp2)``
      (hidden = in_dim). dp1 = dp2 = 0.1 are hard-coded in the official code
      (docs/design/vitae.md#performer-dropout-and-layernorm-eps).
    """

    def __init__(self, dim, in_dim, num_heads=1, kernel_ratio=0.5, dp1=0.1, dp2=0.1,
                 norm_eps=1e-5):
        super().__init__()
        if in_dim % num_heads:
            raise ValueError(f'in_dim {in_dim} is not divisible by num_heads {num_heads}')
        self.emb = in_dim
        self.head_cnt = num_heads
        self.head_dim = in_dim // num_heads
        self.kqv = nn.Linear(dim, 3 * in_dim)
        self.dp = nn.Dropout(dp1)
        self.proj = nn.Linear(in_dim, in_dim)
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.norm2 = nn.LayerNorm(in_dim, eps=norm_eps)
        self.epsilon = 1e-8
        self.mlp = nn.Sequential(nn.Linear(in_dim, in_dim), nn.GELU(), nn.Linear(in_dim, in_dim),
                                 nn.Dropout(dp2))
        self.m = int(self.head_dim * kernel_ratio)
        shape = (self.m, self.head_dim) if num_heads == 1 else (num_heads, self.m, self.head_dim)
        self.w = nn.Parameter(torch.empty(shape), requires_grad=False)
        self.reset_random_features()

    @torch.no_grad()
    def reset_random_features(self):
        """Draw a new orthogonal random-feature matrix (per head), scaled by sqrt(m)."""
        if self.w.is_meta:
            return
        w = self.w.view(-1, self.m, self.head_dim)
        for i in range(w.shape[0]):
            nn.init.orthogonal_(w[i])
        w.mul_(math.sqrt(self.m))

    def prm_exp(self, x):
        """``(B, h, T, d)`` -> positive random features ``(B, h, T, m)`` in fp32."""
        x = x.float()
        xd = (x * x).sum(dim=-1, keepdim=True) / 2
        w = self.w.float().view(-1, self.m, self.head_dim)
        wtx = torch.einsum('bhti,hmi->bhtm', x, w)
        return torch.exp(wtx - xd) / math.sqrt(self.m)

    def attend(self, x, hw=None):
        B, N, _ = x.shape
        k, q, v = self.kqv(x).reshape(B, N, 3, self.head_cnt, self.head_dim).permute(2, 0, 3, 1, 4)
        with _no_autocast(x):
            kp, qp = self.prm_exp(k), self.prm_exp(q)  # (B, h, T, m)
            D = torch.einsum('bhti,bhi->bht', qp, kp.sum(dim=2)).unsqueeze(-1)
            kptv = torch.einsum('bhin,bhim->bhnm', v.float(), kp)  # (B, h, d, m)
            y = torch.einsum('bhti,bhni->bhtn', qp, kptv) / (D + self.epsilon)
        y = y.to(v.dtype).transpose(1, 2).reshape(B, N, self.emb)
        v = v.transpose(1, 2).reshape(B, N, self.emb)
        return v + self.dp(self.proj(y))


# --------------------------------------------------------------------------------------------
# Cells
# --------------------------------------------------------------------------------------------
class ReductionCell(nn.Module):
    """Reduction Cell (docs/design/vitae.md#reduction-cell-semantics, Eqs. 2-5): PRM -> attention, +
    PCM, + FFN.

    Args:
        in_channels: channels of the input map (3 for the stem).
        embed_dims: per-dilation PRM width, also the PCM hidden width.
        token_dims: output width.
        downsample_ratio: PRM stride (4 for the stem, 2 otherwise).
        kernel_size: PRM kernel (7 for the stem, 3 otherwise).
        dilations: PRM dilations.
        num_heads: attention heads.
        attn_type: ``'window'`` (ViTAEv2 RC1/RC2), ``'transformer'`` (ViTAEv2 RC3/RC4, T2T-style),
            ``'performer'`` (vanilla RC1/RC2) or ``'performer_less'`` (vanilla RC3: the PRM
            alone, no attention, PCM nor FFN;
            docs/design/vitae.md#third-reduction-cell-is-the-prm-alone).
        pcm_layout: ``'v2'`` or ``'vanilla_rc'`` (see :class:`PCM`).
        groups: PCM groups.
        mlp_ratio: FFN hidden ratio (1 in every official model).
        window_size: RC window (hard-wired to 7 officially,
            docs/design/vitae.md#window-attention-details).
        use_rel_pos_bias: relative position bias in window attention (off in the paper models).
        op: PRM fusion (``'cat'``).

    ``forward(x)`` takes a map ``(B, C, H, W)`` and returns tokens ``(B, H' W', token_dims)``
    and ``(H', W')``.
    """
    ATTN_TYPES = ('window', 'transformer', 'performer', 'performer_less')

    def __init__(self, in_channels, embed_dims, token_dims, downsample_ratio=4, kernel_size=7,
                 dilations=(1, 2, 3, 4), num_heads=1, attn_type='window', pcm_layout='v2',
                 groups=1, mlp_ratio=1., window_size=7, use_rel_pos_bias=False, op='cat',
                 drop=0., attn_drop=0.):
        super().__init__()
        if attn_type not in self.ATTN_TYPES:
            raise ValueError(f'unknown RC attn_type {attn_type!r}; valid: {self.ATTN_TYPES}')
        self.attn_type = attn_type
        self.token_dims = token_dims
        self.PRM = PRM(in_channels, embed_dims, kernel_size, downsample_ratio, dilations, op)
        dim = self.PRM.out_channels
        if attn_type == 'performer_less':
            if dim != token_dims:
                raise ValueError(f'performer_less RC outputs the PRM tokens ({dim} channels), '
                                 f'which must equal token_dims={token_dims}')
            self.PCM = None
            self.attn = None
            return
        self.PCM = PCM(in_channels, embed_dims, token_dims, pcm_strides(downsample_ratio), groups,
                       pcm_layout, rc=True)
        if attn_type == 'window':
            self.attn = RCWindowBlock(dim, token_dims, num_heads, window_size, mlp_ratio,
                                      drop=drop, attn_drop=attn_drop,
                                      use_rel_pos_bias=use_rel_pos_bias)
        elif attn_type == 'transformer':
            self.attn = TokenTransformer(dim, token_dims, num_heads, mlp_ratio, drop=drop,
                                         attn_drop=attn_drop)
        else:
            self.attn = TokenPerformer(dim, token_dims, num_heads)

    def forward(self, x):
        p, hw = self.PRM(x)
        if self.attn is None:
            return p, hw
        c = self.PCM(x)
        if tuple(c.shape[-2:]) != hw:
            raise ValueError(
                f'ReductionCell: PRM output {hw} and PCM output {tuple(c.shape[-2:])} differ for '
                f'an input of {tuple(x.shape[-2:])}; pad the input to a multiple of 32')
        a = self.attn.attend(self.attn.norm1(p), hw)
        x = a + map_to_tokens(c)
        x = x + self.attn.mlp(self.attn.norm2(x))
        return x, hw


class NormalCell(nn.Module):
    """Normal Cell (docs/design/vitae.md#normal-cell-and-early-fusion), early fusion:

    ``x = x + DP(A(LN1(x))) + DP(PCM(x))``; ``x = x + DP(FFN(LN2(x)))``.

    Keys ``norm1``, ``attn.qkv``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``, ``PCM.*``.

    Args:
        dim, num_heads, mlp_ratio: width, heads and FFN ratio (the PCM hidden width is
            ``mlp_ratio * dim`` too).
        attn_type: ``'transformer'`` (full attention) or ``'window'``.
        window_size: window side for ``'window'``.
        groups: PCM groups.
        pcm_layout: ``'v2'``, ``'vanilla'`` or ``'shallow'`` (see :class:`PCM`).
        pcm_kernel_size: 3, or 1 for MAE pre-training of the scaled-up ViTAE.
        class_token: the first token is a class token; it is excluded from the PCM.
        use_rel_pos_bias: relative position bias for ``'window'`` (off in the paper models).
        norm_eps: LayerNorm eps (1e-6 in every official NC).
    """

    def __init__(self, dim, num_heads, mlp_ratio=4., qkv_bias=True, qk_scale=None, drop=0.,
                 attn_drop=0., drop_path=0., attn_type='transformer', window_size=7, groups=1,
                 pcm_layout='v2', pcm_kernel_size=3, class_token=False, use_rel_pos_bias=False,
                 norm_eps=1e-6):
        super().__init__()
        if attn_type not in ('transformer', 'window'):
            raise ValueError(f"NC attn_type must be 'transformer' or 'window', got {attn_type!r}")
        self.attn_type = attn_type
        self.window_size = window_size
        self.class_token = class_token
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        if attn_type == 'window':
            self.attn = WindowAttention(dim, dim, num_heads, window_size, qkv_bias, qk_scale,
                                        attn_drop, drop, use_rel_pos_bias)
        else:
            self.attn = Attention(dim, num_heads, qkv_bias, qk_scale, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, hidden, dim, drop=drop)
        self.PCM = PCM(dim, hidden, dim, (1, 1, 1), groups, pcm_layout,
                       kernel_size=pcm_kernel_size)

    def forward(self, x, hw):
        shortcut = x
        y = self.norm1(x)
        if self.attn_type == 'window':
            if self.class_token:
                raise ValueError('window attention does not support a class token')
            a = window_attention(self.attn, y, hw, self.window_size,
                                 shrink=not self.attn.use_rel_pos_bias)
        else:
            a = self.attn(y)
        patches = shortcut[:, 1:] if self.class_token else shortcut
        c = self.drop_path(map_to_tokens(self.PCM(tokens_to_map(patches, hw))))
        if self.class_token:
            c = torch.cat([c.new_zeros(c.shape[0], 1, c.shape[2]), c], dim=1)
        x = shortcut + self.drop_path(a) + c
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchEmbedCell(nn.Module):
    """Stem of ViTAE-B/L/H (official RC of type ``'embedding'``; keys ``PRM.proj``,
    ``cls_token``, ``pos_embed``).

    A ``patch_size`` x ``patch_size`` convolution with stride ``patch_size`` (timm PatchEmbed),
    a class token (zeros) prepended, and a learned absolute position embedding ``(1, N + 1, C)``
    (zeros) added. The position embedding is resized bicubically (in float32, class-token entry
    kept; :func:`~hvt.models.layers.tokens.resize_pos_embed`) when the input size differs from
    ``img_size``.
    """

    def __init__(self, in_channels, embed_dims, patch_size=16, img_size=224):
        super().__init__()
        img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.patch_size = patch_size
        self.grid = (img_size[0] // patch_size, img_size[1] // patch_size)
        self.PRM = nn.Module()
        self.PRM.proj = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.grid[0] * self.grid[1] + 1, embed_dims))

    def forward(self, x):
        x = self.PRM.proj(x)
        hw = tuple(x.shape[-2:])
        x = map_to_tokens(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return x + resize_pos_embed(self.pos_embed, self.grid, hw, num_extra_tokens=1), hw


class ViTAEBasicLayer(nn.Module):
    """One official ``BasicLayer``: an optional cell ``RC`` followed by the NCs ``NC.{k}``.

    ``forward(x, hw)`` takes a map ``(B, C, H, W)`` when an RC is present (``hw`` ignored), or
    tokens ``(B, N, C)`` with their map size ``hw`` otherwise, and returns tokens and ``hw``.
    ``with_cp`` checkpoints every NC while training
    (:func:`~hvt.models.layers.checkpoint.run_checkpointed`). ``pre_nc`` (optional callable)
    transforms the tokens between the RC and the first NC.
    """

    def __init__(self, rc: Optional[nn.Module], ncs: Sequence[nn.Module], with_cp=False):
        super().__init__()
        self.RC = rc
        self.NC = nn.ModuleList(ncs)
        self.with_cp = with_cp

    def forward(self, x, hw=None, pre_nc=None):
        if self.RC is not None:
            x, hw = self.RC(x)
        if pre_nc is not None:  # e.g. prepend a class token between the RC and the NCs
            x = pre_nc(x)
        for nc in self.NC:
            x = run_checkpointed(nc, x, hw, enabled=self.with_cp and self.training)
        return x, hw
