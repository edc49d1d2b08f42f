"""Fast-iTPN building blocks (docs/design/itpn.md#fast-itpn-backbone), with the official checkpoint
key names.

The early stages of the official code run on NCHW maps with 1x1 convolutions. Here they run on
channel-last ``(B, H, W, C)`` maps and apply the very same conv weights as matrix products
(``F.linear`` on the flattened kernel), which avoids a permute around every LayerNorm. The modules
keep ``nn.Conv2d`` parameters, so the state-dict keys and shapes are the official ones:

* ``patch_embed.proj``                                        (:class:`ConvPatchEmbed`)
* ``blocks.{i}.norm2 / mlp.fc1 / mlp.ffn_ln / mlp.fc2``       (:class:`ConvMlpBlock`)
* ``blocks.{j}.norm / reduction``                             (:class:`ConvPatchMerge`)
* ``blocks.{i}.norm1 / attn.{q_proj,k_proj,v_proj}.weight / attn.q_bias / attn.v_bias /
  attn.proj / norm2 / mlp.{w1,w2,ffn_ln,w3} / gamma_1 / gamma_2``   (:class:`FastiTPNBlock`)
* ``blocks.{i}.attn.relative_position_bias_table`` (window blocks with ``window_rpe`` only)

The acceleration of dense fine-tuning (docs/fast_itpn.md) is written here too, at block level:
:meth:`FastiTPNBlock.forward_windows` (window attention and token gathering on windowed tokens)
and :class:`TokenMigration`; the backbone composes them.
"""
import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .attention import attention
from .chunk import chunked_tokens
from .drop import DropPath
from .hivit_blocks import HiViTPatchEmbed
from .window import relative_position_index


def _ln(dim, eps=1e-6):
    return nn.LayerNorm(dim, eps=eps)


class ConvPatchEmbed(HiViTPatchEmbed):
    """``Conv2d(in -> dim, k = s = patch_size / inner_patches)`` with bias and no norm (HiViT's
    patch embedding without ``patch_norm``, kept as a channel-last map).

    ``forward(x, mask=None, mask_token=None)`` returns a channel-last ``(B, H/4, W/4, dim)`` map.
    With a per-patch boolean ``mask`` (``(B, Hp, Wp)`` or ``(B, Hp*Wp)``, True = masked) and a
    ``(1, 1, inner**2 * dim)`` ``mask_token``, every masked 16x16 patch is replaced (BEiT style) by
    the token; the token's layout is the one of ``F.unfold`` on the NCHW map (channel, row, col),
    as in the official code.
    """

    def __init__(self, in_channels=3, embed_dim=96, patch_size=16, inner_patches=4):
        super().__init__(patch_size, inner_patches, in_channels, embed_dim, patch_norm=False)

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

    The numerical core is the shared :func:`hvt.models.layers.attention`. ``rpe_window`` (a window
    side) adds a zero-initialised ``relative_position_bias_table`` of ``(2w-1)^2 x heads`` for
    window attention (Fast-iTPN's ``window_rpe``).
    """

    def __init__(self, dim, num_heads=8, qkv_bias=True, qk_scale=None, attn_drop=0., proj_drop=0.,
                 rpe_window: Optional[int] = None):
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
        if rpe_window:
            self.relative_position_bias_table = nn.Parameter(
                torch.zeros((2 * rpe_window - 1) ** 2, num_heads))
            self.register_buffer('relative_position_index', relative_position_index(rpe_window),
                                 persistent=False)
        else:
            self.relative_position_bias_table = None

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


def key_mask_bias(valid, dtype):
    """``(B, nW, L)`` bool -> additive ``(B, nW, 1, 1, L)`` bias (0 / very negative)."""
    neg = torch.finfo(dtype).min / 4
    return torch.zeros(valid.shape, dtype=dtype, device=valid.device).masked_fill(
        ~valid, neg)[:, :, None, None, :]


def window_rpe_bias(attn, pos, geo, with_g):
    """Relative position bias ``(1 | B, 1 | nW, heads, L, L)`` for window attention, from
    ``attn``'s table; the gathering token (first in the window) sits at the window centre."""
    table = attn.relative_position_bias_table
    ws = geo['ws']
    idx = attn.relative_position_index
    if with_g:
        c = (ws - 1) // 2
        coords = torch.stack(torch.meshgrid(
            torch.arange(ws, device=idx.device), torch.arange(ws, device=idx.device),
            indexing='ij')).flatten(1)  # (2, T)
        rel_tg = coords - c  # token - centre
        to_idx = (rel_tg[0] + ws - 1) * (2 * ws - 1) + rel_tg[1] + ws - 1
        from_idx = (-rel_tg[0] + ws - 1) * (2 * ws - 1) - rel_tg[1] + ws - 1
        centre = (ws - 1) * (2 * ws - 1) + ws - 1
        T = ws * ws
        ext = idx.new_empty(T + 1, T + 1)
        ext[1:, 1:] = idx
        ext[0, 1:] = from_idx  # g (query) -> token (key): offset centre - token
        ext[1:, 0] = to_idx
        ext[0, 0] = centre
        idx = ext
    if geo['migrated']:
        p = pos
        if with_g:
            p = torch.cat([pos.new_zeros(*pos.shape[:2], 1), pos + 1], dim=2)
        idx = idx[p[..., :, None], p[..., None, :]]  # (B, nW, L, L)
    else:
        idx = idx[None, None]
    bias = table[idx.reshape(-1)].reshape(*idx.shape, -1)
    return bias.movedim(-1, -3)


def gathering_rpe_bias(table, pos, geo):
    """Bias ``(B | 1, heads, nW*L, nW)`` for token -> gathering-token attention: offsets from
    the token to each window centre, clipped to the table range."""
    ws, nh, nw = geo['ws'], geo['nh'], geo['nw']
    dev = table.device
    T = ws * ws
    local = torch.arange(T, device=dev)
    win = torch.arange(nh * nw, device=dev)
    ty = (win[:, None] // nw) * ws + local[None] // ws  # (nW, T)
    tx = (win[:, None] % nw) * ws + local[None] % ws
    c = (ws - 1) // 2
    cy = (win // nw) * ws + c
    cx = (win % nw) * ws + c
    dy = (ty[..., None] - cy).clamp(-(ws - 1), ws - 1)  # (nW, T, nW)
    dx = (tx[..., None] - cx).clamp(-(ws - 1), ws - 1)
    idx = (dy + ws - 1) * (2 * ws - 1) + dx + ws - 1
    if geo['migrated']:
        B = pos.shape[0]
        flat = (win[None, :, None] * T + pos).reshape(B, -1)  # (B, nW*L)
        idx = idx.reshape(-1, nh * nw)[flat]  # (B, nW*L, nW)
    else:
        idx = idx.reshape(1, -1, nh * nw)
    bias = table[idx.reshape(-1)].reshape(*idx.shape, -1)
    return bias.movedim(-1, -3)


def init_gathering_tokens(xw, valid=None, token=None):
    """The gathering tokens ``(B, nW, C)`` at the first gathering block: the learnable ``token``
    or the mean of each window's (valid) tokens ``xw`` ``(B, nW, L, C)``."""
    B, nW, _, C = xw.shape
    if token is not None:
        return token.expand(B, nW, C).to(xw.dtype)
    if valid is None:
        return xw.mean(dim=2)
    w = valid.unsqueeze(-1).to(xw.dtype)
    return (xw * w).sum(2) / w.sum(2).clamp(min=1)


class FastiTPNBlock(nn.Module):
    """Stage-3 block: pre-LN, separate-qkv attention, SwiGLU with sub-LN, layer scale.

    ``forward(x, attn_bias=None, return_keys=False)`` is the plain global block on ``(B, N, C)``.
    :meth:`forward_windows` runs the attention residual on windowed tokens ``(B, nW, L, C)``
    as ``attn_mode`` says (``'global'`` over all windows, ``'window'``, or ``'gathering'``
    with one gathering token per window), with the same weights; :meth:`mlp_residual` is the
    second residual. ``window_rpe`` (``'rpe'`` / ``'hrpe'``, non-global blocks only) adds the
    window table of ``window_size``.
    """

    def __init__(self, dim, num_heads, mlp_ratio=3., qkv_bias=True, qk_scale=None, drop=0.,
                 attn_drop=0., drop_path=0., layer_scale_init_value=0.1, subln=True,
                 norm_eps=1e-6, attn_mode='global', window_size=None, window_rpe=None,
                 gathering_query='input'):
        super().__init__()
        self.attn_mode = attn_mode
        self.window_rpe = window_rpe if attn_mode != 'global' else None
        self.gathering_query = gathering_query
        self.norm1 = _ln(dim, norm_eps)
        self.attn = SeparateQKVAttention(dim, num_heads, qkv_bias, qk_scale, attn_drop, drop,
                                         rpe_window=window_size if self.window_rpe else None)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = _ln(dim, norm_eps)
        self.mlp = SwiGLU(dim, int(dim * mlp_ratio), drop=drop, subln=subln, norm_eps=norm_eps)
        if layer_scale_init_value is not None and layer_scale_init_value > 0:
            self.gamma_1 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
            self.gamma_2 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
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

    def mlp_residual(self, x):
        return x + self.drop_path(self.mlp_branch(x))

    def forward_windows(self, xw, g, pos, valid, geo, need_keys=False):
        """Attention residual on windowed tokens ``xw`` ``(B, nW, L, C)``.

        ``g``: the gathering tokens ``(B, nW, C)`` (``'gathering'`` blocks; see
        :func:`init_gathering_tokens`), ``pos``: the window-raster positions of the tokens,
        ``valid``: None or the ``(B, nW, L)`` mask of real (not padding) tokens, ``geo``: the
        window geometry (``ws``, ``nh``, ``nw``, ``migrated``). Returns ``(xw, g, keys)`` with
        the head-averaged keys ``(B, nW, L, head_dim)`` when ``need_keys`` (token migration).
        """
        B, nW, L, C = xw.shape
        attn = self.attn
        heads = attn.num_heads
        if self.attn_mode == 'global':
            t = xw.reshape(B, nW * L, C)
            bias = None
            if valid is not None:
                bias = key_mask_bias(valid.reshape(B, 1, nW * L), t.dtype)[:, 0]
            y, k = attn(self.norm1(t), bias, return_keys=True)
            xw = xw + self.drop_path(self.scale1(y)).reshape(B, nW, L, C)
            keys = None
            if need_keys:
                keys = k.mean(1).reshape(B, nW, L, -1)
            return xw, g, keys

        with_g = self.attn_mode == 'gathering'
        z = torch.cat([g.unsqueeze(2), xw], dim=2) if with_g else xw
        Lz = z.shape[2]
        q, k, v = attn.qkv(self.norm1(z))  # (B, nW, heads, Lz, hd)
        bias = None
        if attn.relative_position_bias_table is not None:
            bias = window_rpe_bias(attn, pos, geo, with_g)  # (1|B, 1|nW, heads, Lz, Lz)
        if valid is not None:
            vz = torch.cat([valid.new_ones(B, nW, 1), valid], dim=2) if with_g else valid
            mb = key_mask_bias(vz, q.dtype)
            bias = mb if bias is None else bias.to(q.dtype) + mb
        if bias is not None:
            bias = bias.expand(B, nW, heads, Lz, Lz).reshape(B * nW, heads, Lz, Lz)
        hd = q.shape[-1]
        o = attn.attend(q.reshape(B * nW, heads, Lz, hd), k.reshape(B * nW, heads, Lz, hd),
                        v.reshape(B * nW, heads, Lz, hd), bias).reshape(B, nW, Lz, C)
        keys = None
        if need_keys:
            keys = (k[:, :, :, 1:] if with_g else k).mean(2)  # (B, nW, L, hd)
        if not with_g:
            xw = xw + self.drop_path(self.scale1(attn.proj_drop(attn.proj(o))))
            return xw, g, keys

        ox = o[:, :, 1:]
        g = g + self.drop_path(self.scale1(attn.proj_drop(attn.proj(o[:, :, 0]))))
        kg, vg = attn.project_kv(self.norm1(g))  # (B, heads, nW, hd)
        cbias = None
        if self.window_rpe == 'rpe':
            cbias = gathering_rpe_bias(attn.relative_position_bias_table, pos,
                                       geo).to(q.dtype)  # (1|B, heads, nW*L, nW)
        if self.gathering_query == 'input':
            qx = q[:, :, :, 1:].permute(0, 2, 1, 3, 4).reshape(B, heads, nW * L, hd)
            oc = attn.attend(qx, kg, vg, cbias).reshape(B, nW, L, C)
            xw = xw + self.drop_path(self.scale1(attn.proj_drop(attn.proj(ox + oc))))
        else:
            xw = xw + self.drop_path(self.scale1(attn.proj_drop(attn.proj(ox))))
            qx = attn.project_q(self.norm1(xw.reshape(B, nW * L, C)))  # (B, heads, nW*L, hd)
            oc = attn.attend(qx, kg, vg, cbias).reshape(B, nW, L, C)
            xw = xw + self.drop_path(self.scale1(attn.proj_drop(attn.proj(oc))))
        return xw, g, keys


def build_migration_schedule(ratio: float, tokens_per_window: int, drop_layers: Sequence[int],
                             depth: int, schedule: str = 'cumulative'):
    """Tokens dropped per window after each stage-3 layer (a list of length ``depth``).

    ``'floor'``: the literal rule, ``floor(ratio * T / len(drop_layers))`` after every
    drop layer (rounds small ratios down to nothing). ``'cumulative'``: the total
    ``round(ratio * T)`` spread as evenly as integers allow over the drop layers (cumulative count
    after the i-th drop layer = ``round(ratio * T * (i + 1) / n)``), which reaches the ratio.
    """
    r = [0] * depth
    layers = sorted(set(drop_layers))
    if not ratio or not layers:
        return r
    n = len(layers)
    if schedule == 'floor':
        for l in layers:
            r[l] = int(math.floor(ratio * tokens_per_window / n))
    elif schedule == 'cumulative':
        prev = 0
        for i, l in enumerate(layers):
            cum = int(math.floor(ratio * tokens_per_window * (i + 1) / n + 0.5))
            r[l] = cum - prev
            prev = cum
    else:
        raise ValueError(f"migration_schedule must be 'floor' or 'cumulative', got {schedule!r}")
    return r


class TokenMigration(nn.Module):
    """Token migration (docs/fast_itpn.md): the ``r`` most redundant A tokens of every window leave.

    Each window's tokens are split into A (even positions of the current window order) and B
    (odd positions); an A token's score is its largest similarity (``metric``: ``'cosine'`` or
    ``'dot'``) to a B token, measured on the head-averaged attention keys of the layer; padding
    tokens leave first. No parameters.
    """

    def __init__(self, metric='cosine'):
        super().__init__()
        if metric not in ('cosine', 'dot'):
            raise ValueError(f"migration_metric must be 'cosine' or 'dot', got {metric!r}")
        self.metric = metric

    def forward(self, xw, keys, pos, valid, r):
        """Returns ``(xw, pos, valid)`` of the kept tokens and ``(pos, features)`` of the
        migrated ones."""
        B, nW, L, C = xw.shape
        nA = (L + 1) // 2
        if L < 2 or r > nA:
            raise ValueError(f'token migration: cannot drop {r} of {L} tokens per window '
                             f'(lower migration_ratio or use more drop_layers)')
        with torch.no_grad():
            k = keys.float()
            if self.metric == 'cosine':
                k = F.normalize(k, dim=-1)
            sim = k[:, :, 0::2] @ k[:, :, 1::2].transpose(-1, -2)  # (B, nW, nA, nB)
            if valid is not None:
                sim = sim.masked_fill(~valid[:, :, None, 1::2], float('-inf'))
            score = sim.amax(dim=-1)
            if valid is not None:  # padding tokens leave first
                score = score.masked_fill(~valid[:, :, 0::2], float('inf'))
            top = score.topk(r, dim=-1).indices * 2  # token index in the window
            drop = torch.zeros(B, nW, L, dtype=torch.uint8, device=xw.device)
            drop.scatter_(2, top, 1)
            order = torch.sort(drop, dim=2, stable=True).indices
        keep_idx, drop_idx = order[:, :, :L - r], order[:, :, L - r:]

        def take(t, idx):
            if t.dim() == 4:
                return t.gather(2, idx.unsqueeze(-1).expand(-1, -1, -1, t.shape[-1]))
            return t.gather(2, idx)

        dropped_pos, dropped_feat = take(pos, drop_idx), take(xw, drop_idx)
        xw, pos = take(xw, keep_idx), take(pos, keep_idx)
        if valid is not None:
            valid = take(valid, keep_idx)
        return xw, pos, valid, dropped_pos, dropped_feat
