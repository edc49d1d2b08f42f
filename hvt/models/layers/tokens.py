"""Token sequences, feature maps and position tables: the conversions every family needs, once.

* :func:`tokens_to_map` / :func:`map_to_tokens`: ``(B, H*W, C)`` <-> ``(B, C, H, W)``;
* :func:`patch_tokens_to_map` / :func:`map_to_patch_tokens`: HiViT's per-patch tokens
  ``(B, N, h, w, C)`` (``N`` patches of ``h x w`` inner tokens) <-> NCHW;
* :func:`resize_pos_embed`: a learned position table moved to another grid (class-token
  entries kept), bicubic or bilinear, ``size=`` semantics with ``align_corners=False``;
* :func:`sincos_pos_embed_2d`: the fixed 2-D sin-cos table.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F


def tokens_to_map(x: torch.Tensor, hw: Sequence[int]) -> torch.Tensor:
    """``(B, H*W, C)`` -> ``(B, C, H, W)``."""
    B, N, C = x.shape
    H, W = hw
    if N != H * W:
        raise ValueError(f'tokens_to_map: {N} tokens do not fill a {H}x{W} map')
    return x.transpose(1, 2).reshape(B, C, H, W)


def map_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, H*W, C)``."""
    return x.flatten(2).transpose(1, 2)


def patch_tokens_to_map(x: torch.Tensor, hp: int, wp: int) -> torch.Tensor:
    """``(B, N, h, w, C)`` (or ``(B, N, C)``) with ``N = hp * wp`` -> NCHW
    ``(B, C, hp*h, wp*w)``."""
    if x.dim() == 3:
        x = x[:, :, None, None, :]
    B, N, h, w, C = x.shape
    if N != hp * wp:
        raise ValueError(f'patch_tokens_to_map: {N} tokens do not fill a {hp}x{wp} grid '
                         '(masked tokens cannot be turned into a dense map)')
    x = x.reshape(B, hp, wp, h, w, C).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(B, C, hp * h, wp * w)


def map_to_patch_tokens(x: torch.Tensor, patch: int) -> torch.Tensor:
    """NCHW ``(B, C, hp*patch, wp*patch)`` -> ``(B, hp*wp, patch, patch, C)`` (inverse of
    :func:`patch_tokens_to_map`)."""
    B, C, H, W = x.shape
    if H % patch or W % patch:
        raise ValueError(f'map_to_patch_tokens: a {H}x{W} map is not a multiple of {patch}')
    hp, wp = H // patch, W // patch
    x = x.reshape(B, C, hp, patch, wp, patch).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(B, hp * wp, patch, patch, C)


def square_grid(num_tokens: int) -> Optional[Tuple[int, int]]:
    """``(n, n)`` when ``num_tokens == n * n``, else None."""
    n = int(round(num_tokens ** .5))
    return (n, n) if n * n == num_tokens else None


def resize_pos_embed(pos: torch.Tensor, src_hw: Sequence[int], dst_hw: Sequence[int],
                     num_extra_tokens: int = 0, mode: str = 'bicubic',
                     scale_factor: Optional[Sequence[float]] = None,
                     upcast: bool = True) -> torch.Tensor:
    """A ``(1, extra + H*W, C)`` position table on the ``src_hw`` grid, moved to ``dst_hw``.

    The first ``num_extra_tokens`` entries (class tokens) are kept as they are. The grid part is
    interpolated in float32 (``size=`` semantics, ``align_corners=False``) and returned in the
    table's dtype; the table itself comes back when the grids agree.

    ``scale_factor`` (optional) drives the sampling instead of the size, used as given
    (``recompute_scale_factor=False``: output pixel ``i`` samples ``(i + 0.5) / s - 0.5``), as the
    official iTPN detection / segmentation code does; the result must still be ``dst_hw``.

    ``upcast=False`` interpolates in the table's own dtype instead of float32 (CE-PVT's tables,
    as the PVT reference does).
    """
    src_hw, dst_hw = tuple(src_hw), tuple(dst_hw)
    if src_hw == dst_hw:
        return pos
    extra, grid = pos[:, :num_extra_tokens], pos[:, num_extra_tokens:]
    if grid.shape[1] != src_hw[0] * src_hw[1]:
        raise ValueError(f'resize_pos_embed: {grid.shape[1]} grid entries do not fill the '
                         f'{src_hw[0]}x{src_hw[1]} source grid')
    grid = grid.reshape(1, *src_hw, -1).permute(0, 3, 1, 2)
    grid = grid.float() if upcast else grid
    if scale_factor is None:
        grid = F.interpolate(grid, size=dst_hw, mode=mode, align_corners=False)
    else:
        grid = F.interpolate(grid, scale_factor=tuple(scale_factor), mode=mode,
                             align_corners=False, recompute_scale_factor=False)
        if tuple(grid.shape[-2:]) != dst_hw:
            raise ValueError(f'resize_pos_embed: scale_factor {tuple(scale_factor)} gives a '
                             f'{tuple(grid.shape[-2:])} grid, not {dst_hw}')
    grid = grid.to(pos.dtype).flatten(2).transpose(1, 2)
    return torch.cat([extra, grid], dim=1) if num_extra_tokens else grid


def sincos_pos_embed_2d(dim: int, hp: int, wp: int) -> torch.Tensor:
    """Fixed 2-D sin-cos embedding ``(1, hp*wp, dim)`` (half the channels per axis, MAE style)."""
    if dim % 4:
        raise ValueError(f'sin-cos position embedding needs dim % 4 == 0, got {dim}')
    q = dim // 4
    omega = 1. / (10000 ** (torch.arange(q, dtype=torch.float64) / q))
    ys, xs = torch.meshgrid(torch.arange(hp, dtype=torch.float64),
                            torch.arange(wp, dtype=torch.float64), indexing='ij')
    out_x = xs.reshape(-1, 1) * omega[None]
    out_y = ys.reshape(-1, 1) * omega[None]
    emb = torch.cat([out_x.sin(), out_x.cos(), out_y.sin(), out_y.cos()], dim=1)
    return emb.float()[None]
