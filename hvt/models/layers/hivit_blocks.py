"""HiViT / iTPN building blocks (official key names).

All modules work on channel-last tensors with any number of leading dims, so the same code serves
HiViT's per-patch token layout ``(B, N, h, w, C)`` (masked or not) and dense ``(B, H, W, C)`` maps.
"""
import torch
from torch import nn

from .attention import Attention, attention
from .drop import DropPath
from .mlp import Mlp
from .window import decomposed_rel_pos_bias


def _ln(dim, eps=1e-6):
    return nn.LayerNorm(dim, eps=eps)


class MlpBlock(nn.Module):
    """``x + DropPath(gamma_2 * MLP(LN(x)))``: the HiViT stage-1/2 block and every pyramid block.

    Keys: ``norm2``, ``mlp.fc1``, ``mlp.fc2``, ``gamma_2`` (only with layer scale).
    """

    def __init__(self, dim, mlp_ratio=4., drop=0., drop_path=0., layer_scale_init_value=0.,
                 norm_eps=1e-6):
        super().__init__()
        self.norm2 = _ln(dim, norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        if layer_scale_init_value > 0:
            self.gamma_2 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
        else:
            self.gamma_2 = None

    def forward(self, x):
        y = self.mlp(self.norm2(x))
        if self.gamma_2 is not None:
            y = self.gamma_2 * y
        return x + self.drop_path(y)


def _pair(size):
    return (size, size) if isinstance(size, int) else tuple(size)


class HiViTAttention(Attention):
    """Shared :class:`Attention` plus HiViT's optional relative positions, of two kinds.

    * ``rpe_size``: the relative position bias table, stored as ``relative_position_bias_table``
      directly on the attention module (the official key
      ``blocks.{i}.attn.relative_position_bias_table``); the bias is gathered (as in
      :class:`~.window.RelativePositionBias`) from an index that the backbone provides (the full
      ``(N, N)`` index, or a per-sample ``(B, L, L)`` index of the kept tokens under masking).
    * ``rel_pos_size``: ViTDet's decomposed relative position of the official iTPN-L CLIP detector
      (docs/design/itpn.md#relative-position-options): ``rel_pos_h`` / ``rel_pos_w`` of shape ``(2 s
      - 1, head_dim)``,
      shared by the heads, linearly resized to the actual grid; the forward needs the grid ``hw``.
    """

    def __init__(self, dim, num_heads, qkv_bias=True, qk_scale=None, attn_drop=0., proj_drop=0.,
                 rpe_size=None, rel_pos_size=None):
        super().__init__(dim, num_heads, qkv_bias=qkv_bias, qk_scale=qk_scale,
                         attn_drop=attn_drop, proj_drop=proj_drop)
        if rpe_size is not None and rel_pos_size is not None:
            raise ValueError('HiViTAttention: give rpe_size (bias table) or rel_pos_size '
                             '(decomposed), not both')
        self.rpe_size = rpe_size
        if rpe_size is not None:
            wh, ww = _pair(rpe_size)
            # official init: zeros (fine-tuning); pre-training overwrites via init_weights anyway
            self.relative_position_bias_table = nn.Parameter(
                torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads))
        else:
            self.relative_position_bias_table = None
        self.rel_pos_size = rel_pos_size
        if rel_pos_size is not None:
            sh, sw = _pair(rel_pos_size)
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * sh - 1, self.head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * sw - 1, self.head_dim))
            self.init_rel_pos()
        else:
            self.rel_pos_h = self.rel_pos_w = None

    def init_rel_pos(self):
        """trunc-normal(0.02) as in the official detector (no pre-trained weights have them)."""
        if self.rel_pos_h is not None:
            nn.init.trunc_normal_(self.rel_pos_h, std=.02)
            nn.init.trunc_normal_(self.rel_pos_w, std=.02)

    def rpe_bias(self, rpe_index, table=None):
        """``(heads, N, N)`` or ``(B, heads, L, L)`` bias for an index of shape ``(N, N)`` /
        ``(B, L, L)``, gathered from ``table`` (a resized copy) or this block's own table."""
        table = self.relative_position_bias_table if table is None else table
        bias = table[rpe_index.reshape(-1)].view(*rpe_index.shape, self.num_heads)
        return bias.movedim(-1, -3).contiguous()

    def forward(self, x, rpe_index=None, rpe_table=None, hw=None):
        bias = None
        if rpe_index is not None and self.relative_position_bias_table is not None:
            bias = self.rpe_bias(rpe_index, rpe_table)
        if self.rel_pos_h is None:
            return super().forward(x, bias)
        if hw is None:
            raise ValueError('HiViTAttention with decomposed relative positions needs the token '
                             'grid hw=(h, w)')
        B, N, _ = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        bias = decomposed_rel_pos_bias(q, self.rel_pos_h, self.rel_pos_w, hw)
        x = attention(q, k, v, bias, self.attn_drop if self.training else 0., self.scale)
        x = x.transpose(1, 2).reshape(B, N, -1)
        return self.proj_drop(self.proj(x))


class HiViTBlock(nn.Module):
    """Stage-3 pre-LN ViT block with optional rpe and layer scale (keys ``norm1``, ``attn.*``,
    ``norm2``, ``mlp.*``, ``gamma_1``, ``gamma_2``)."""

    def __init__(self, dim, num_heads, mlp_ratio=4., qkv_bias=True, qk_scale=None, drop=0.,
                 attn_drop=0., drop_path=0., rpe_size=None, layer_scale_init_value=0.,
                 norm_eps=1e-6, rel_pos_size=None):
        super().__init__()
        self.norm1 = _ln(dim, norm_eps)
        self.attn = HiViTAttention(dim, num_heads, qkv_bias, qk_scale, attn_drop, drop,
                                   rpe_size=rpe_size, rel_pos_size=rel_pos_size)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = _ln(dim, norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        if layer_scale_init_value > 0:
            self.gamma_1 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
            self.gamma_2 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
        else:
            self.gamma_1 = self.gamma_2 = None

    def forward(self, x, rpe_index=None, rpe_table=None, hw=None):
        y = self.attn(self.norm1(x), rpe_index, rpe_table, hw)
        if self.gamma_1 is not None:
            y = self.gamma_1 * y
        x = x + self.drop_path(y)
        y = self.mlp(self.norm2(x))
        if self.gamma_2 is not None:
            y = self.gamma_2 * y
        return x + self.drop_path(y)


class PatchMerge(nn.Module):
    """2x2 space-to-depth inside the last two spatial dims, then ``LN(4d) -> Linear(4d, 2d, no bias)``.

    Concatenation order (official): (even, even), (odd row, even col), (even row, odd col), (odd, odd).
    Input ``(..., h, w, d)`` -> ``(..., h/2, w/2, 2d)``. Keys ``norm``, ``reduction``.
    """

    def __init__(self, dim, norm_eps=1e-6):
        super().__init__()
        self.norm = _ln(dim * 4, norm_eps)
        self.reduction = nn.Linear(dim * 4, dim * 2, bias=False)

    def forward(self, x):
        h, w = x.shape[-3:-1]
        if h % 2 or w % 2:
            raise ValueError(f'PatchMerge needs an even sub-grid, got {h}x{w}')
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :],
                       x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], dim=-1)
        return self.reduction(self.norm(x))


class PatchSplit(nn.Module):
    """Inverse of a merge for the pyramid: ``LN(d) -> Linear(d, 4 f, no bias)`` then depth-to-space.

    Channel chunk ``k = 2 i + j`` goes to sub-row ``i``, sub-col ``j``.
    Input ``(..., h, w, d)`` -> ``(..., 2h, 2w, f)``. Keys ``norm``, ``reduction``.
    """

    def __init__(self, dim, fpn_dim, norm_eps=1e-6):
        super().__init__()
        self.fpn_dim = fpn_dim
        self.norm = _ln(dim, norm_eps)
        self.reduction = nn.Linear(dim, fpn_dim * 4, bias=False)

    def forward(self, x):
        *lead, h, w, _ = x.shape
        x = self.reduction(self.norm(x))
        x = x.reshape(*lead, h, w, 2, 2, self.fpn_dim)
        n = len(lead)
        x = x.permute(*range(n), n, n + 2, n + 1, n + 3, n + 4)
        return x.reshape(*lead, 2 * h, 2 * w, self.fpn_dim)


class HiViTPatchEmbed(nn.Module):
    """Conv(k = s = patch/inner) then regroup into per-patch sub-grids: ``(B, N, inner, inner, C)``.

    Keys ``proj`` and ``norm`` (when ``patch_norm``). Returns the tokens and the patch grid.
    """

    def __init__(self, patch_size=16, inner_patches=4, in_channels=3, embed_dim=128,
                 patch_norm=True, norm_eps=1e-6):
        super().__init__()
        if patch_size % inner_patches:
            raise ValueError(f'patch_size {patch_size} is not a multiple of inner_patches '
                             f'{inner_patches}')
        self.patch_size = patch_size
        self.inner_patches = inner_patches
        k = patch_size // inner_patches
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=k, stride=k)
        self.norm = _ln(embed_dim, norm_eps) if patch_norm else None

    def forward(self, x):
        B, _, H, W = x.shape
        if H % self.patch_size or W % self.patch_size:
            raise ValueError(f'HiViT input {H}x{W} must be a multiple of patch_size '
                             f'{self.patch_size}')
        hp, wp, r = H // self.patch_size, W // self.patch_size, self.inner_patches
        x = self.proj(x)
        C = x.shape[1]
        x = x.reshape(B, C, hp, r, wp, r).permute(0, 2, 4, 3, 5, 1).reshape(B, hp * wp, r, r, C)
        if self.norm is not None:
            x = self.norm(x)
        return x, (hp, wp)
