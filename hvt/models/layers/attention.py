"""Multi-head attention, written once.

``attention()`` is the single numerical core. It uses ``F.scaled_dot_product_attention`` (fused,
exact up to float rounding) and keeps a plain reference path; ``tests/test_layers.py`` keeps the
two equal. Families build their own projections around it (key names differ between the official
codebases), or use :class:`Attention`, the standard ``qkv``/``proj`` module.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from hvt.registry import MODELS

# Set to False (e.g. in a test or a benchmark) to force the reference path everywhere.
USE_FUSED_ATTENTION = True


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              attn_bias: Optional[torch.Tensor] = None, dropout_p: float = 0.,
              scale: Optional[float] = None, fused: Optional[bool] = None) -> torch.Tensor:
    """``softmax(q @ k^T * scale + attn_bias) @ v`` over the last two dims.

    Args:
        q, k, v: ``(..., N, d)``, ``(..., M, d)``, ``(..., M, dv)``.
        attn_bias: additive bias broadcastable to ``(..., N, M)`` (relative position bias, mask).
        dropout_p: attention-probability dropout; pass 0 in eval mode.
        scale: defaults to ``d ** -0.5``.
        fused: override :data:`USE_FUSED_ATTENTION` for this call.
    """
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    if USE_FUSED_ATTENTION if fused is None else fused:
        if attn_bias is not None:
            attn_bias = attn_bias.to(q.dtype)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_bias, dropout_p=dropout_p,
                                              scale=scale)
    attn = (q * scale) @ k.transpose(-2, -1)
    if attn_bias is not None:
        attn = attn + attn_bias
    # a half-precision softmax in fp32 (as the fused kernels do): fp16 logits of long sequences
    # lose the small probabilities (docs/design/mixed_precision.md); fp32 / fp64 unchanged
    low = attn.dtype in (torch.float16, torch.bfloat16)
    attn = attn.softmax(dim=-1, dtype=torch.float32 if low else None).to(v.dtype)
    if dropout_p > 0:
        attn = F.dropout(attn, p=dropout_p)
    return attn @ v


@MODELS.register_module()
class Attention(nn.Module):
    """Standard multi-head self-attention on ``(B, N, C)`` tokens; keys ``qkv`` and ``proj``.

    Args:
        dim: token channels.
        num_heads: heads.
        qkv_bias: bias of the fused qkv projection.
        qk_scale: overrides ``head_dim ** -0.5`` (some official configs set it).
        attn_drop, proj_drop: dropout rates.
        head_dim: per-head width if it differs from ``dim // num_heads``.
    """

    def __init__(self, dim, num_heads=8, qkv_bias=False, qk_scale=None, attn_drop=0., proj_drop=0.,
                 head_dim=None):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_dim or dim // num_heads
        inner = self.head_dim * num_heads
        self.scale = qk_scale or self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, inner * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(inner, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x, attn_bias=None):
        B, N, _ = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # one stacked gradient (indexing would zero-fill and add)
        x = attention(q, k, v, attn_bias,
                      self.attn_drop if self.training else 0., self.scale)
        x = x.transpose(1, 2).reshape(B, N, -1)
        return self.proj_drop(self.proj(x))
