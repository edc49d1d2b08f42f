"""ViTAE / ViTAEv2 cells on their own (docs/design/vitae.md; per-module counts:
docs/design/vitae.md#exact-parameter-counts-and-macs)."""
import math

import pytest
import torch
from torch import nn

import hvt.models.layers.attention as attn_mod
from hvt.models.layers.vitae_cells import (PCM, PRM, NormalCell, PatchEmbedCell, ReductionCell,
                                           TokenAttention, TokenPerformer, WindowAttention,
                                           pcm_strides, window_attention)


def n_params(m, trainable=None):
    return sum(p.numel() for p in m.parameters()
               if trainable is None or p.requires_grad == trainable)


# ------------------------------------------------------------------------------------------ PRM
def test_prm_padding_shapes_and_channel_order():
    torch.manual_seed(0)
    prm = PRM(3, 8, kernel_size=7, stride=4, dilations=(1, 2, 3, 4))
    assert [c[0].padding for c in prm.convs] == [(2, 2), (5, 5), (8, 8), (11, 11)]
    assert all(isinstance(c[1], nn.GELU) and c[1].approximate == 'none' for c in prm.convs)
    x = torch.randn(2, 3, 64, 96)
    y, hw = prm(x)
    assert hw == (16, 24) and y.shape == (2, 16 * 24, 32)
    # channel index = branch * embed + c (dilation 1 first), tokens row-major
    for j, conv in enumerate(prm.convs):
        ref = conv(x).flatten(2).transpose(1, 2)
        torch.testing.assert_close(y[..., j * 8:(j + 1) * 8], ref)
    # stride-4 stem output is floor((H - 3) / 4) + 1
    assert prm(torch.randn(1, 3, 67, 65))[1] == ((67 - 3) // 4 + 1, (65 - 3) // 4 + 1)
    prm3 = PRM(8, 4, kernel_size=3, stride=2, dilations=(1, 2, 3))
    assert [c[0].padding for c in prm3.convs] == [(1, 1), (2, 2), (3, 3)]
    assert prm3(torch.randn(1, 8, 15, 14))[1] == (8, 7)  # ceil(H / 2)
    s = PRM(8, 4, 3, 2, (1, 2), op='sum')
    assert s.out_channels == 4 and s(torch.randn(1, 8, 8, 8))[0].shape == (1, 16, 4)
    with pytest.raises(ValueError, match='op'):
        PRM(3, 4, op='max')


# ------------------------------------------------------------------------------------------ PCM
def test_pcm_strides_rule():
    assert pcm_strides(4) == [2, 2, 1]
    assert pcm_strides(2) == [2, 1, 1]
    assert pcm_strides(1) == [1, 1, 1]
    with pytest.raises(ValueError):
        pcm_strides(16)


@pytest.mark.parametrize('layout,convs,bns,tail_act', [
    ('v2', [0, 3, 6], [1, 4], False),
    ('vanilla_rc', [0, 2, 5], [3], True),
    ('vanilla', [0, 3, 6], [1, 4], True),
    ('shallow', [0, 3], [1], False),
])
def test_pcm_official_layouts(layout, convs, bns, tail_act):
    strides = (1, 1, 1) if layout in ('vanilla', 'shallow') else (2, 2, 1)
    m = PCM(8, 16, 8, strides, groups=4, layout=layout, rc=layout == 'vanilla_rc')
    assert [i for i, x in enumerate(m) if isinstance(x, nn.Conv2d)] == convs
    assert [i for i, x in enumerate(m) if isinstance(x, nn.BatchNorm2d)] == bns
    assert isinstance(m[-1], nn.SiLU) == tail_act
    assert all(m[i].groups == 4 and m[i].bias is not None for i in convs)
    out = m.eval()(torch.randn(2, 8, 16, 16))
    assert out.shape == ((2, 8, 4, 4) if strides == (2, 2, 1) else (2, 8, 16, 16))


def test_pcm_counts_from_spec():
    # ViTAEv2-S RC1 PCM (3->64, BN, 64->64, BN, 64->64): 75,904
    # (docs/design/vitae.md#exact-parameter-counts-and-macs hand-check)
    assert n_params(PCM(3, 64, 64, (2, 2, 1), 1, 'v2', rc=True)) == 75_904
    # kernel size 1 (MAE pre-training of ViTAE-B/L/H): 1x1 convs, no padding
    m = PCM(8, 32, 8, groups=2, layout='shallow', kernel_size=1)
    assert m[0].kernel_size == (1, 1) and m[0].padding == (0, 0)


# ----------------------------------------------------------------------------------- attentions
def test_window_attention_is_full_attention_on_one_window():
    torch.manual_seed(0)
    m = WindowAttention(16, 24, num_heads=3, window_size=7).eval()
    x = torch.randn(2, 49, 16)
    out = window_attention(m, x, (7, 7), 7)
    assert out.shape == (2, 49, 24)
    qkv = m.qkv(x).reshape(2, 49, 3, 3, 8).permute(2, 0, 3, 1, 4)
    ref = ((qkv[0] @ qkv[1].transpose(-2, -1)) * 8**-0.5).softmax(-1) @ qkv[2]
    ref = m.proj(ref.transpose(1, 2).reshape(2, 49, 24))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_window_padding_is_centred_without_mask():
    """A 9x9 map in 7x7 windows is zero-padded to 14x14 with 2 rows/cols before, 3 after."""
    x = torch.randn(1, 81, 4)

    def window_mean(w):  # every token becomes the mean of its window (zeros included)
        return w.mean(1, keepdim=True).expand_as(w)

    out = window_attention(window_mean, x, (9, 9), 7).view(1, 9, 9, 4)
    xm = x.view(1, 9, 9, 4)
    # the first padded window covers padded rows/cols 0..6, i.e. image rows/cols 0..4
    torch.testing.assert_close(out[0, 0, 0], xm[0, :5, :5].sum((0, 1)) / 49)
    torch.testing.assert_close(out[0, 8, 8], xm[0, 5:, 5:].sum((0, 1)) / 49)
    torch.testing.assert_close(out[0, 4, 6], xm[0, :5, 5:].sum((0, 1)) / 49)


def test_window_shrinks_to_small_maps():
    x = torch.randn(1, 4 * 6, 2)
    seen = []

    def spy(w):
        seen.append(w.shape)
        return w

    out = window_attention(spy, x, (4, 6), 7)
    assert seen == [torch.Size([2, 16, 2])]  # window 4 -> W padded 6 -> 8: 1 x 2 windows
    torch.testing.assert_close(out, x)  # identity fn: the padding is cropped exactly


def test_window_attention_relative_position_bias_and_fused_path():
    torch.manual_seed(0)
    m = WindowAttention(8, 8, num_heads=2, window_size=3, use_rel_pos_bias=True).eval()
    assert m.rel_pos_bias.relative_position_bias_table.shape == (25, 2)
    assert 'rel_pos_bias.relative_position_index' not in m.state_dict()
    x = torch.randn(4, 9, 8)
    attn_mod.USE_FUSED_ATTENTION = False
    try:
        ref = m(x)
    finally:
        attn_mod.USE_FUSED_ATTENTION = True
    torch.testing.assert_close(m(x), ref, rtol=1e-5, atol=1e-5)
    no_bias = WindowAttention(8, 8, 2, 3).eval()
    no_bias.load_state_dict(m.state_dict(), strict=False)
    assert not torch.allclose(no_bias(x), m(x))
    with pytest.raises(ValueError, match='relative position bias'):
        m(torch.randn(1, 16, 8))


def test_token_attention_uses_v_as_residual():
    torch.manual_seed(0)
    m = TokenAttention(12, 8, num_heads=2, qkv_bias=False).eval()
    assert m.qkv.bias is None and m.qkv.weight.shape == (24, 12)
    nn.init.zeros_(m.proj.weight)
    nn.init.zeros_(m.proj.bias)
    x = torch.randn(2, 5, 12)
    v = x @ m.qkv.weight[16:].T
    torch.testing.assert_close(m(x), v)


def test_token_performer_matches_the_formula_and_is_frozen():
    torch.manual_seed(0)
    m = TokenPerformer(12, 8, kernel_ratio=0.5).eval()
    assert m.m == 4 and m.w.shape == (4, 8) and not m.w.requires_grad
    assert 'w' in m.state_dict()
    torch.testing.assert_close(m.w @ m.w.T, 4 * torch.eye(4), rtol=1e-5, atol=1e-5)  # orthogonal
    x = torch.randn(2, 6, 12)
    k, q, v = (x @ m.kqv.weight.T + m.kqv.bias).double().split(8, dim=-1)  # order k, q, v
    w = m.w.double()

    def phi(t):
        return torch.exp(t @ w.T - (t * t).sum(-1, keepdim=True) / 2) / math.sqrt(4)

    qp, kp = phi(q), phi(k)
    y = (qp @ (kp.transpose(1, 2) @ v)) / (qp @ kp.sum(1, keepdim=True).transpose(1, 2) + 1e-8)
    ref = v + (y @ m.proj.weight.double().T + m.proj.bias.double())
    torch.testing.assert_close(m.attend(x), ref.float(), rtol=1e-4, atol=1e-5)
    # hard-coded dropout 0.1 after proj and at the end of the FFN
    # (docs/design/vitae.md#performer-dropout-and-layernorm-eps)
    assert m.dp.p == 0.1 and isinstance(m.mlp[3], nn.Dropout) and m.mlp[3].p == 0.1
    multi = TokenPerformer(12, 8, num_heads=2)
    assert multi.w.shape == (2, 2, 4) and multi.attend(x).shape == (2, 6, 8)


# ------------------------------------------------------------------------------------ RC counts
@pytest.mark.parametrize('stage,count', [(0, 176_256), (1, 244_800), (2, 709_632),
                                         (3, 2_795_520)])
def test_v2_small_reduction_cell_counts(stage, count):
    in_ch = [3, 64, 128, 256][stage]
    embed = [64, 64, 128, 256][stage]
    token = [64, 128, 256, 512][stage]
    dil = [[1, 2, 3, 4], [1, 2, 3], [1, 2], [1, 2]][stage]
    with torch.device('meta'):
        rc = ReductionCell(in_ch, embed, token, 4 if stage == 0 else 2, 7 if stage == 0 else 3,
                           dil, [1, 1, 2, 4][stage], ['window', 'window', 'transformer',
                                                      'transformer'][stage], 'v2',
                           [1, 16, 32, 64][stage])
    assert n_params(rc) == count


def test_vanilla_tiny_reduction_cell_counts():
    with torch.device('meta'):
        rc1 = ReductionCell(3, 64, 64, 4, 7, (1, 2, 3, 4), 1, 'performer', 'vanilla_rc')
        rc2 = ReductionCell(64, 64, 64, 2, 3, (1, 2, 3), 1, 'performer', 'vanilla_rc')
        rc3 = ReductionCell(64, 128, 256, 2, 3, (1, 2), 1, 'performer_less', 'vanilla_rc')
    assert (n_params(rc1), n_params(rc1, trainable=False)) == (178_176, 2_048)
    assert (n_params(rc2), n_params(rc2, trainable=False)) == (273_792, 2_048)
    assert n_params(rc3) == 147_712 and rc3.PCM is None and rc3.attn is None


@pytest.mark.parametrize('dim,heads,ratio,groups,layout,attn,count', [
    (64, 1, 4., 1, 'v2', 'window', 382_784),  # ViTAEv2-S stage 1
    (128, 2, 4., 32, 'v2', 'window', 241_792),  # ViTAEv2-S stage 2
    (512, 8, 4., 128, 'v2', 'transformer', 3_326_464),  # ViTAEv2-S stage 4
    (1024, 16, 4., 128, 'v2', 'transformer', 13_276_160),  # ViTAEv2-B stage 4
    (256, 4, 2., 64, 'vanilla', 'transformer', 575_744),  # ViTAE-T
    (320, 5, 2., 64, 'vanilla', 'transformer', 897_920),  # ViTAE-13M
    (384, 6, 3., 96, 'vanilla', 'transformer', 1_580_928),  # ViTAE-S
    (768, 12, 4., 192, 'shallow', 'transformer', 7_319_040),  # ViTAE-B
])
def test_normal_cell_counts(dim, heads, ratio, groups, layout, attn, count):
    with torch.device('meta'):
        nc = NormalCell(dim, heads, ratio, groups=groups, pcm_layout=layout, attn_type=attn)
    assert n_params(nc) == count
    assert nc.norm1.eps == 1e-6 and nc.attn.qkv.bias is not None


# ---------------------------------------------------------------------------------- RC forward
def test_window_reduction_cell_composition():
    """Window RC: no residual around attention, + PCM(f) of the raw input, + FFN
    (docs/design/vitae.md#reduction-cell-semantics)."""
    torch.manual_seed(0)
    rc = ReductionCell(3, 8, 16, 4, 7, (1, 2), num_heads=2, attn_type='window').eval()
    x = torch.randn(2, 3, 64, 96)
    out, hw = rc(x)
    assert hw == (16, 24) and out.shape == (2, 16 * 24, 16)
    p, _ = rc.PRM(x)
    a = window_attention(rc.attn.attn, rc.attn.norm1(p), hw, 7)
    ref = a + rc.PCM(x).flatten(2).transpose(1, 2)
    ref = ref + rc.attn.mlp(rc.attn.norm2(ref))
    torch.testing.assert_close(out, ref)
    assert rc.attn.norm1.eps == 1e-5
    # PRM and PCM disagree on sizes that are not multiples of 4: a clear error
    with pytest.raises(ValueError, match='multiple of 32'):
        rc(torch.randn(1, 3, 66, 64))


def test_performer_less_reduction_cell_returns_prm_tokens():
    rc = ReductionCell(8, 4, 8, 2, 3, (1, 2), attn_type='performer_less')
    x = torch.randn(1, 8, 8, 6)
    out, hw = rc(x)
    torch.testing.assert_close(out, rc.PRM(x)[0])
    assert hw == (4, 3)
    with pytest.raises(ValueError, match='token_dims'):
        ReductionCell(8, 4, 16, 2, 3, (1, 2), attn_type='performer_less')


# ---------------------------------------------------------------------------------- NC forward
def test_normal_cell_early_fusion_and_class_token():
    torch.manual_seed(0)
    nc = NormalCell(16, 2, 4., groups=4, pcm_layout='shallow', class_token=True).eval()
    x = torch.randn(2, 1 + 12, 16)
    out = nc(x, (3, 4))
    a = nc.attn(nc.norm1(x))
    c = nc.PCM(x[:, 1:].transpose(1, 2).reshape(2, 16, 3, 4)).flatten(2).transpose(1, 2)
    ref = x + a + torch.cat([torch.zeros_like(c[:, :1]), c], 1)
    ref = ref + nc.mlp(nc.norm2(ref))
    torch.testing.assert_close(out, ref)


def test_normal_cell_window_matches_reference_attention_path():
    torch.manual_seed(0)
    nc = NormalCell(16, 2, 4., groups=4, attn_type='window', window_size=7).eval()
    x = torch.randn(1, 10 * 12, 16)
    fused = nc(x, (10, 12))
    attn_mod.USE_FUSED_ATTENTION = False
    try:
        ref = nc(x, (10, 12))
    finally:
        attn_mod.USE_FUSED_ATTENTION = True
    torch.testing.assert_close(fused, ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match='map size'):
        nc(x, (10, 10))


def test_normal_cell_drop_path_masks_are_independent():
    torch.manual_seed(0)
    nc = NormalCell(8, 1, 1., groups=1, drop_path=0.5).train()
    for p in nc.parameters():
        p.requires_grad_(False)
    x = torch.randn(256, 4, 8)
    # the attention and the PCM branches draw their own masks: with the FFN branch removed,
    # some samples keep exactly one of the two branches
    nc.mlp.fc2.weight.zero_()
    nc.mlp.fc2.bias.zero_()
    nc.PCM.eval()  # BN on running stats, so the branch is the same in both passes
    out = nc(x, (2, 2))
    nc.eval()
    a = nc.attn(nc.norm1(x))
    c = nc.PCM.eval()(x.transpose(1, 2).reshape(256, 8, 2, 2)).flatten(2).transpose(1, 2)
    d = out - x
    only_a = torch.isclose(d, 2 * a, atol=1e-5).flatten(1).all(1)
    only_c = torch.isclose(d, 2 * c, atol=1e-5).flatten(1).all(1)
    assert only_a.any() and only_c.any()


def test_patch_embed_cell_class_token_and_resized_pos_embed():
    m = PatchEmbedCell(3, 8, patch_size=16, img_size=64)
    assert m.pos_embed.shape == (1, 17, 8) and m.cls_token.shape == (1, 1, 8)
    assert set(m.state_dict()) == {'PRM.proj.weight', 'PRM.proj.bias', 'cls_token', 'pos_embed'}
    nn.init.normal_(m.pos_embed)
    out, hw = m(torch.randn(2, 3, 64, 64))
    assert hw == (4, 4) and out.shape == (2, 17, 8)
    torch.testing.assert_close(out[:, 0], (m.cls_token[0] + m.pos_embed[:, 0]).expand(2, -1))
    out, hw = m(torch.randn(2, 3, 32, 96))
    assert hw == (2, 6) and out.shape == (2, 13, 8)
