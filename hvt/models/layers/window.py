"""Window partitioning and relative position bias (Swin-style), shared by window attentions."""
import torch
import torch.nn.functional as F
from torch import nn


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """``(B, H, W, C)`` -> ``(B * nW, ws * ws, C)``; H and W must be multiples of ``window_size``."""
    B, H, W, C = x.shape
    ws = window_size
    x = x.view(B, H // ws, ws, W // ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, C)


def window_reverse(windows: torch.Tensor, window_size: int, H: int, W: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B * nW, ws * ws, C)`` -> ``(B, H, W, C)``."""
    ws = window_size
    C = windows.shape[-1]
    B = windows.shape[0] // ((H // ws) * (W // ws))
    x = windows.view(B, H // ws, W // ws, ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, H, W, C)


def pad_to_multiple(x: torch.Tensor, multiple: int):
    """Pad a ``(B, H, W, C)`` map on the bottom/right to multiples of ``multiple``.

    Returns the padded map and ``(pad_h, pad_w)``.
    """
    H, W = x.shape[1:3]
    pad_h = (multiple - H % multiple) % multiple
    pad_w = (multiple - W % multiple) % multiple
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    return x, (pad_h, pad_w)


def relative_position_index(window_size) -> torch.Tensor:
    """Swin's ``(Wh*Ww, Wh*Ww)`` index into a ``(2Wh-1)(2Ww-1)`` bias table."""
    wh, ww = (window_size, window_size) if isinstance(window_size, int) else window_size
    coords = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    rel[:, :, 0] += wh - 1
    rel[:, :, 1] += ww - 1
    rel[:, :, 0] *= 2 * ww - 1
    return rel.sum(-1)


class RelativePositionBias(nn.Module):
    """Learnable per-head bias over relative offsets inside a window.

    Keys ``relative_position_bias_table`` and buffer ``relative_position_index`` as in Swin, HiViT
    and ViTAEv2's official code. ``forward()`` returns ``(num_heads, N, N)``.
    """

    def __init__(self, window_size, num_heads):
        super().__init__()
        wh, ww = (window_size, window_size) if isinstance(window_size, int) else window_size
        self.window_size = (wh, ww)
        self.num_heads = num_heads
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads))
        self.register_buffer('relative_position_index', relative_position_index((wh, ww)),
                             persistent=False)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=.02)

    def forward(self, index=None):
        index = self.relative_position_index if index is None else index
        n = index.shape[-1]
        bias = self.relative_position_bias_table[index.reshape(-1)]
        return bias.view(*index.shape[:-1], n, self.num_heads).movedim(-1, -3).contiguous()


def resize_rel_pos(rel_pos: torch.Tensor, length: int) -> torch.Tensor:
    """Linearly resize a ``(L, d)`` decomposed relative position table to ``(length, d)``."""
    if rel_pos.shape[0] == length:
        return rel_pos
    out = F.interpolate(rel_pos.t().unsqueeze(0), size=length, mode='linear', align_corners=False)
    return out[0].t()


def decomposed_rel_pos_bias(q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor,
                            hw) -> torch.Tensor:
    """ViTDet's decomposed relative position, as an additive attention bias (self-attention).

    ``bias[(i, j), (k, l)] = q_(i, j) . Rh[i - k] + q_(i, j) . Rw[j - l]``, where ``Rh`` and
    ``Rw`` are ``rel_pos_h`` / ``rel_pos_w``: ``(2 s - 1, d)`` tables, linearly resized to
    ``2 h - 1`` and ``2 w - 1`` rows when the grid differs from the one they were made for.

    Args:
        q: queries ``(..., h * w, d)`` (unscaled), tokens in row-major grid order.
        rel_pos_h, rel_pos_w: the two tables.
        hw: the token grid ``(h, w)``.

    Returns:
        ``(..., h * w, h * w)``, to add to ``q @ k^T * scale`` before the softmax.
    """
    h, w = hw
    *lead, n, d = q.shape
    if n != h * w:
        raise ValueError(f'decomposed relative position: {n} tokens do not form the {h}x{w} grid')
    if rel_pos_h.shape[-1] != d or rel_pos_w.shape[-1] != d:
        raise ValueError(f'decomposed relative position: tables of width {rel_pos_h.shape[-1]} / '
                         f'{rel_pos_w.shape[-1]} do not match head_dim {d}')

    def offsets(table, size):  # (size, size, d): row (i, k) holds table[i - k + size - 1]
        idx = torch.arange(size, device=q.device)
        return resize_rel_pos(table, 2 * size - 1)[idx[:, None] - idx[None, :] + size - 1]

    rq = q.reshape(*lead, h, w, d)
    rel_h = torch.einsum('...hwc,hkc->...hwk', rq, offsets(rel_pos_h, h).to(q.dtype))
    rel_w = torch.einsum('...hwc,wkc->...hwk', rq, offsets(rel_pos_w, w).to(q.dtype))
    bias = rel_h[..., :, None] + rel_w[..., None, :]
    return bias.reshape(*lead, n, n)
