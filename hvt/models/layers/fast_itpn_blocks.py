"""Fast-iTPN building blocks (spec itpn.md §1.3), with the official checkpoint key names.

The early stages of the official code run on NCHW maps with 1x1 convolutions. Here they run on
channel-last ``(B, H, W, C)`` maps and apply the very same conv weights as matrix products
(``F.linear`` on the flattened kernel), which avoids a permute around every LayerNorm. The modules
keep ``nn.Conv2d`` parameters, so the state-dict keys and shapes are the official ones:

* ``patch_embed.proj``                                        (:class:`ConvPatchEmbed`)
* ``blocks.{i}.norm2 / mlp.fc1 / mlp.ffn_ln / mlp.fc2``       (:class:`ConvMlpBlock`)
* ``blocks.{j}.norm / reduction``                             (:class:`ConvPatchMerge`)
* ``blocks.{i}.norm1 / attn.{q_proj,k_proj,v_proj}.weight / attn.q_bias / attn.v_bias /
  attn.proj / norm2 / mlp.{w1,w2,ffn_ln,w3} / gamma_1 / gamma_2``   (:class:`FastiTPNBlock`)
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .attention import attention
from .chunk import chunked_tokens
from .drop import DropPath


def _ln(dim, eps=1e-6):
    return nn.LayerNorm(dim, eps=eps)


class ConvPatchEmbed(nn.Module):
    """``Conv2d(in -> dim, k = s = patch_size / inner_patches)`` with bias and no norm.

    ``forward(x, mask=None, mask_token=None)`` returns a channel-last ``(B, H/4, W/4, dim)`` map.
    With a per-patch boolean ``mask`` (``(B, Hp, Wp)`` or ``(B, Hp*Wp)``, True = masked) and a
    ``(1, 1, inner**2 * dim)`` ``mask_token``, every masked 16x16 patch is replaced (BEiT style) by
    the token; the token's layout is the one of ``F.unfold`` on the NCHW map (channel, row, col),
    as in the official code.
    """

    def __init__(self, in_chans=3, embed_dim=96, patch_size=16, inner_patches=4):
        super().__init__()
        if patch_size % inner_patches:
            raise ValueError(f'patch_size {patch_size} is not a multiple of inner_patches '
                             f'{inner_patches}')
        self.patch_size = patch_size
        self.inner_patches = inner_patches
        k = patch_size // inner_patches
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=k, stride=k)

    def forward(self, x, mask=None, mask_token=None):
        H, W = x.shape[-2:]
        if H % self.patch_size or W % self.patch_size:
            raise ValueError(f'ConvPatchEmbed: input {H}x{W} is not a multiple of the patch size '
                             f'{self.patch_size} (pad the image, e.g. size_divisor=32)')
        x = self.proj(x).permute(0, 2, 3, 1)  # (B, H/4, W/4, c)
        if mask is not None:
            if mask_token is None:
                raise ValueError('ConvPatchEmbed: a mask needs a mask_token')
            B, h, w, c = x.shape
            p = self.inner_patches
            hp, wp = h // p, w // p
            mask = mask.reshape(B, hp * wp)
            # (B, hp, p, wp, p, c) -> (B, hp*wp, c*p*p), the F.unfold order (channel, row, col)
            cols = x.reshape(B, hp, p, wp, p, c).permute(0, 1, 3, 5, 2, 4).reshape(B, hp * wp, -1)
            wgt = mask.unsqueeze(-1).to(cols.dtype)
            cols = cols * (1 - wgt) + mask_token.to(cols.dtype) * wgt
            x = cols.reshape(B, hp, wp, c, p, p).permute(0, 1, 4, 2, 5, 3).reshape(B, h, w, c)
        return x


class ConvMlp(nn.Module):
    """1x1 Conv(d -> r d) -> GELU -> LN(r d) (sub-LN) -> 1x1 Conv(r d -> d), on channel-last maps.

    Keys ``fc1``, ``ffn_ln``, ``fc2`` (conv weights of shape ``(out, in, 1, 1)``).
    """

    def __init__(self, dim, hidden, drop=0., subln=True, norm_eps=1e-6):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.ffn_ln = _ln(hidden, norm_eps) if subln else None
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        # per pixel: cache-sized pieces of many pixels (layers/chunk.py)
        return chunked_tokens(self._ffn, x, self.fc1.out_channels)

    def _ffn(self, x):
        x = F.linear(x, self.fc1.weight.flatten(1), self.fc1.bias)
        x = self.act(x)
        if self.ffn_ln is not None:
            x = self.ffn_ln(x)
        x = F.linear(x, self.fc2.weight.flatten(1), self.fc2.bias)
        return self.drop(x)


class ConvMlpBlock(nn.Module):
    """Stage-1/2 block: ``x + DropPath(ConvMLP(LN(x)))``; no attention, no layer scale."""

    def __init__(self, dim, mlp_ratio=3., drop=0., drop_path=0., subln=True, norm_eps=1e-6):
        super().__init__()
        self.norm2 = _ln(dim, norm_eps)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio), drop=drop, subln=subln, norm_eps=norm_eps)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x):
        return x + self.drop_path(self.mlp(self.norm2(x)))


class ConvPatchMerge(nn.Module):
    """``LN(d)`` per pixel, then ``Conv2d(d -> 2d, k = 2, s = 2)`` with bias; channel-last in/out.

    The stride-2 conv is computed as a matrix product over 2x2 space-to-depth columns.
    """

    def __init__(self, dim, norm_eps=1e-6):
        super().__init__()
        self.norm = _ln(dim, norm_eps)
        self.reduction = nn.Conv2d(dim, dim * 2, kernel_size=2, stride=2)

    def forward(self, x):
        x = self.norm(x)
        B, H, W, C = x.shape
        x = x.reshape(B, H // 2, 2, W // 2, 2, C).permute(0, 1, 3, 2, 4, 5).reshape(
            B, H // 2, W // 2, 4 * C)
        weight = self.reduction.weight.permute(0, 2, 3, 1).reshape(2 * C, 4 * C)
        return F.linear(x, weight, self.reduction.bias)


class SwiGLU(nn.Module):
    """``w3(LN(SiLU(w1 x) * w2 x))`` (sub-LN); keys ``w1``, ``w2``, ``ffn_ln``, ``w3``."""

    def __init__(self, dim, hidden, drop=0., subln=True, norm_eps=1e-6):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden)
        self.w2 = nn.Linear(dim, hidden)
        self.act = nn.SiLU()
        self.ffn_ln = _ln(hidden, norm_eps) if subln else nn.Identity()
        self.w3 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        x = self.ffn_ln(self.act(self.w1(x)) * self.w2(x))
        return self.drop(self.w3(x))


class SeparateQKVAttention(nn.Module):
    """Multi-head attention with separate ``q_proj``/``k_proj``/``v_proj`` (no bias) plus learnable
    ``q_bias`` and ``v_bias`` (k has none), and a biased ``proj``: the official Fast-iTPN layout.

    The numerical core is the shared :func:`hvt.models.layers.attention`.
    """

    def __init__(self, dim, num_heads=8, qkv_bias=True, qk_scale=None, attn_drop=0., proj_drop=0.):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = qk_scale or self.head_dim ** -0.5
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim, bias=False)
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(dim))
            self.v_bias = nn.Parameter(torch.zeros(dim))
        else:
            self.q_bias = self.v_bias = None
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def _heads(self, t):
        return t.unflatten(-1, (self.num_heads, self.head_dim)).transpose(-2, -3)

    def qkv(self, x):
        """``(..., N, C)`` -> q, k, v of shape ``(..., heads, N, head_dim)``.

        Three products on the stored weights (no per-call weight concatenation: at batch 1 that
        copy costs more than it saves)."""
        q = F.linear(x, self.q_proj.weight, self.q_bias)
        k = F.linear(x, self.k_proj.weight)
        v = F.linear(x, self.v_proj.weight, self.v_bias)
        return self._heads(q), self._heads(k), self._heads(v)

    def project_q(self, x):
        return self._heads(F.linear(x, self.q_proj.weight, self.q_bias))

    def project_kv(self, x):
        return (self._heads(F.linear(x, self.k_proj.weight)),
                self._heads(F.linear(x, self.v_proj.weight, self.v_bias)))

    def attend(self, q, k, v, attn_bias=None):
        """Attention core; returns merged heads ``(..., N, C)`` before ``proj``."""
        out = attention(q, k, v, attn_bias, self.attn_drop if self.training else 0., self.scale)
        return out.transpose(-2, -3).flatten(-2)

    def forward(self, x, attn_bias=None, return_keys=False):
        q, k, v = self.qkv(x)
        out = self.proj_drop(self.proj(self.attend(q, k, v, attn_bias)))
        return (out, k) if return_keys else out


class FastiTPNBlock(nn.Module):
    """Stage-3 block: pre-LN, separate-qkv attention, SwiGLU with sub-LN, layer scale.

    ``forward(x, attn_bias=None, return_keys=False)`` is the plain global block on ``(B, N, C)``;
    the backbone also uses the parts (``norm1``, ``attn``, ``gamma_1``, ``mlp_branch``) for window
    attention and token gathering.
    """

    def __init__(self, dim, num_heads, mlp_ratio=3., qkv_bias=True, qk_scale=None, drop=0.,
                 attn_drop=0., drop_path=0., init_values=0.1, subln=True, norm_eps=1e-6):
        super().__init__()
        self.norm1 = _ln(dim, norm_eps)
        self.attn = SeparateQKVAttention(dim, num_heads, qkv_bias, qk_scale, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = _ln(dim, norm_eps)
        self.mlp = SwiGLU(dim, int(dim * mlp_ratio), drop=drop, subln=subln, norm_eps=norm_eps)
        if init_values is not None and init_values > 0:
            self.gamma_1 = nn.Parameter(init_values * torch.ones(dim))
            self.gamma_2 = nn.Parameter(init_values * torch.ones(dim))
        else:
            self.gamma_1 = self.gamma_2 = None

    def scale1(self, y):
        return y if self.gamma_1 is None else self.gamma_1 * y

    def mlp_branch(self, x):
        y = self.mlp(self.norm2(x))
        return y if self.gamma_2 is None else self.gamma_2 * y

    def forward(self, x, attn_bias: Optional[torch.Tensor] = None, return_keys=False):
        y = self.attn(self.norm1(x), attn_bias, return_keys=return_keys)
        if return_keys:
            y, k = y
        x = x + self.drop_path(self.scale1(y))
        x = x + self.drop_path(self.mlp_branch(x))
        return (x, k) if return_keys else x
