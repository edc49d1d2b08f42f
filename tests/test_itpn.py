"""iTPN: HiViT backbone, the integrally pre-trained pyramid, pre-training, downstream wrappers.

Numbers are from the design notes (docs/design/itpn.md#parameter-counts): parameter counts are exact
    integers.
"""
import copy
import re
import importlib.util
import os.path as osp
import warnings

import pytest
import torch

import hvt.engine  # noqa: F401  (registers the layer-decay constructor)
import hvt.models  # noqa: F401
from hvt.models.backbones.hivit import HiViT, random_masking
from hvt.models.backbones.itpn_wrappers import iTPNDet, iTPNSeg
from hvt.models.layers.itpn_pyramid import iTPNPyramid
from hvt.models.layers.tokens import patch_tokens_to_map
from hvt.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = dict(embed_dims=64, depths=[1, 1, 2], num_heads=2)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def meta_build(cfg):
    with torch.device('meta'):
        return MODELS.build(cfg)


def classifier_cfg(arch, channels, **bb):
    return dict(type='mmpretrain.ImageClassifier',
                backbone=dict(type='hvt.HiViT', arch=arch, rpe=True, out_type='avg_featmap', **bb),
                neck=None,
                head=dict(type='mmpretrain.LinearClsHead', num_classes=1000,
                          in_channels=channels))


# ------------------------------------------------------------------------------------------------
# exact parameter counts (meta device)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('arch,channels,expected', [
    ('b', 512, 78_557_992),          # iTPN-B 3+3+24, rpe + fc_norm + head
    ('l', 768, 288_493_576),         # iTPN-L 2+2+40
    ('hivit-b', 512, 66_418_952),    # HiViT-B baseline 4+4+20
    ('t', 384, 19_181_668),          # iTPN-T (mmpretrain tiny 2+2+10) incl. fc_norm
    ('s', 384, 37_526_464),          # iTPN-S (mmpretrain small 4+4+20) incl. fc_norm
])
def test_classifier_param_counts(arch, channels, expected):
    assert n_params(meta_build(classifier_cfg(arch, channels))) == expected


@pytest.mark.parametrize('arch,expected', [('b', 77_904_000), ('l', 287_373_120)])
def test_backbone_param_counts(arch, expected):
    m = meta_build(dict(type='hvt.HiViT', arch=arch, rpe=False))
    assert n_params(m) == expected


@pytest.mark.parametrize('channels,depth,expected', [
    ((128, 256, 512), 2, 4_700_160), ((128, 256, 512), 1, 3_648_000),
    ((192, 384, 768), 2, 5_077_504), ((192, 384, 768), 1, 4_025_344),
    ((96, 192, 384), 2, 4_511_488),
])
def test_pyramid_param_counts(channels, depth, expected):
    m = meta_build(dict(type='hvt.iTPNPyramid', in_channels=channels, fpn_dim=256,
                        fpn_depth=depth))
    assert n_params(m) == expected


def test_raw_depths_and_official_keys():
    b = meta_build(dict(type='hvt.HiViT', arch='b', rpe=True, out_type='avg_featmap'))
    assert b.depths == [3, 3, 24] and len(b.blocks) == 32
    keys = set(b.state_dict())
    # merges at 3 and 7 for B (docs/design/itpn.md#official-checkpoint-keys)
    for k in ('patch_embed.proj.weight', 'patch_embed.norm.weight', 'absolute_pos_embed',
              'blocks.0.norm2.weight', 'blocks.0.mlp.fc1.weight', 'blocks.3.norm.weight',
              'blocks.3.reduction.weight', 'blocks.7.reduction.weight', 'blocks.8.norm1.weight',
              'blocks.8.attn.qkv.weight', 'blocks.8.attn.proj.bias',
              'blocks.8.attn.relative_position_bias_table', 'blocks.31.mlp.fc2.weight',
              'fc_norm.weight'):
        assert k in keys, k
    assert 'blocks.3.reduction.bias' not in keys
    lg = meta_build(dict(type='hvt.HiViT', arch='l'))
    assert lg.depths == [2, 2, 40]
    assert 'blocks.2.reduction.weight' in lg.state_dict() and \
        'blocks.5.reduction.weight' in lg.state_dict()
    p = meta_build(dict(type='hvt.iTPNPyramid', in_channels=(128, 256, 512), fpn_depth=2))
    pk = set(p.state_dict())
    for k in ('align_dim_16tofpn.weight', 'align_dim_16tofpn.bias', 'align_dim_16to8.weight',
              'align_dim_8to4.weight', 'split_16to8.norm.weight', 'split_16to8.reduction.weight',
              'split_8to4.reduction.weight', 'block_16to8.1.mlp.fc1.weight',
              'block_8to4.1.norm2.weight', 'fpn_modules.2.mlp.fc2.bias'):
        assert k in pk, k
    assert 'align_dim_16to8.bias' not in pk


def test_bad_arch_names_valid_ones():
    with pytest.raises(ValueError, match='valid'):
        HiViT(arch='huge')
    with pytest.raises(ValueError, match='depths'):
        HiViT(arch=dict(embed_dims=64, num_heads=2))


# ------------------------------------------------------------------------------------------------
# shapes (docs/design/itpn.md#parameter-counts) and masking
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def itpn_b():
    # iTPN-B widths and heads with 2 stage-3 blocks: shapes do not depend on the depth (the real
    # 3+3+24 layout is checked on the meta device above) and this keeps the test fast on CPU
    torch.manual_seed(0)
    m = HiViT(dict(embed_dims=512, depths=[3, 3, 2], num_heads=8), out_indices=(0, 1, 2))
    m.init_weights()
    p = iTPNPyramid((128, 256, 512), 256, 2)
    p.init_weights()
    return m.eval(), p.eval()


@torch.no_grad()
def test_itpn_b_shapes_224(itpn_b):
    m, p = itpn_b
    x = torch.randn(1, 3, 224, 224)
    (u1, u2, u3), grid = m.forward_tokens(x)
    assert grid == (14, 14)
    assert u1.shape == (1, 196, 4, 4, 128)
    assert u2.shape == (1, 196, 2, 2, 256)
    assert u3.shape == (1, 196, 512)
    o4, o8, o16 = p.forward_tokens(u1, u2, u3)
    assert o4.shape == (1, 196, 4, 4, 256)
    assert o8.shape == (1, 196, 2, 2, 256)
    assert o16.shape == (1, 196, 1, 1, 256)
    # the same pyramid on NCHW maps gives the same numbers
    maps = [patch_tokens_to_map(u, 14, 14) for u in (u1, u2, u3)]
    assert [tuple(t.shape) for t in maps] == [(1, 128, 56, 56), (1, 256, 28, 28), (1, 512, 14, 14)]
    dense = p(maps)
    for tok, d in zip((o4, o8, o16), dense):
        torch.testing.assert_close(patch_tokens_to_map(tok, 14, 14), d, atol=1e-4, rtol=1e-4)
    # masked forward: 49 of 196 patches survive, at every stage
    ids_keep, mask, ids_restore = random_masking(1, 196, 0.75)
    assert ids_keep.shape == (1, 49) and int(mask.sum()) == 147
    (v1, v2, v3), _ = m.forward_tokens(x, ids_keep=ids_keep)
    assert v1.shape == (1, 49, 4, 4, 128) and v2.shape == (1, 49, 2, 2, 256)
    assert v3.shape == (1, 49, 512)
    # stages 1-2 never mix patches: visible stage-1/2 features equal the unmasked ones
    torch.testing.assert_close(v2, u2[:, ids_keep[0]], atol=1e-5, rtol=1e-5)


def test_out_indices_and_frozen_stages():
    m = HiViT(TINY, img_size=64, out_indices=(0, 1, 2), frozen_stages=2)
    m.init_weights()
    m.train()
    outs = m(torch.randn(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 16, 24), (2, 32, 8, 12), (2, 64, 4, 6)]
    assert not any(p.requires_grad for p in m.patch_embed.parameters())
    assert not any(p.requires_grad for p in m.blocks[:3].parameters())  # stage 1, merge, stage 2
    assert all(p.requires_grad for p in m.blocks[3].parameters())       # second merge trainable
    assert m.absolute_pos_embed.requires_grad
    with pytest.raises(ValueError, match='out_indices'):
        HiViT(TINY, out_indices=(3, ))


def test_rpe_gathered_for_kept_tokens():
    """Keeping every patch in a shuffled order must permute the output exactly: this checks that
    the rpe bias rows/columns and the position embedding are gathered for the kept tokens."""
    torch.manual_seed(0)
    m = HiViT(TINY, img_size=64, rpe=True)
    m.init_weights()
    for b in m.blocks[-2:]:
        torch.nn.init.normal_(b.attn.relative_position_bias_table, std=1.)
    m.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        (_, _, full), _ = m.forward_tokens(x)
        perm = torch.stack([torch.randperm(16), torch.randperm(16)])
        (_, _, shuf), _ = m.forward_tokens(x, ids_keep=perm)
        ref = torch.gather(full, 1, perm[:, :, None].expand(-1, -1, full.shape[-1]))
        torch.testing.assert_close(shuf, ref, atol=1e-5, rtol=1e-5)
        # with the rpe switched off the result changes, so the bias really is used
        tables = [b.attn.relative_position_bias_table for b in m.blocks[-2:]]
        for t in tables:
            t.zero_()
        (_, _, nobias), _ = m.forward_tokens(x)
    assert not torch.allclose(nobias, full, atol=1e-3)


def test_with_cp_and_drop_path_grads():
    m = HiViT(TINY, img_size=32, drop_path_rate=0.1, with_cp=True)
    m.init_weights()
    m.train()
    dp = [getattr(b.drop_path, 'drop_prob', 0.) for b in m.blocks if hasattr(b, 'drop_path')]
    assert dp[0] == 0 and abs(dp[-1] - 0.1) < 1e-6 and len(dp) == 4
    m(torch.randn(2, 3, 32, 32))[0].sum().backward()
    assert m.patch_embed.proj.weight.grad is not None


# ------------------------------------------------------------------------------------------------
# ViTDet-style decomposed relative position (iTPN-L CLIP detection,
# docs/design/itpn.md#relative-position-options)
# ------------------------------------------------------------------------------------------------
def _naive_decomposed_bias(q, rel_h, rel_w, h, w):
    """Element by element: q_(i,j) . Rh[i - k + h - 1] + q_(i,j) . Rw[j - l + w - 1]."""
    out = torch.zeros(*q.shape[:-2], h * w, h * w)
    for i in range(h):
        for j in range(w):
            for k in range(h):
                for l in range(w):
                    qv = q[..., i * w + j, :]
                    out[..., i * w + j, k * w + l] = (qv * rel_h[i - k + h - 1]).sum(-1) \
                        + (qv * rel_w[j - l + w - 1]).sum(-1)
    return out


def _linear_resize(table, n):
    """align_corners=False linear resampling written out: source x = (j + .5) L / n - .5."""
    L = table.shape[0]
    x = ((torch.arange(n, dtype=torch.float64) + .5) * L / n - .5).clamp(0, L - 1)
    lo = x.floor().long()
    hi = (lo + 1).clamp(max=L - 1)
    frac = (x - lo).float()[:, None]
    return table[lo] * (1 - frac) + table[hi] * frac


def test_decomposed_rel_pos_params_and_keys():
    from hvt.models.layers import HiViTAttention
    m = HiViT(TINY, img_size=224, rpe='decomposed')  # 14x14 grid, head_dim 32
    attn_blocks = m.blocks[m.stage_slices[2][0]:]
    for blk in attn_blocks:
        assert blk.attn.rel_pos_h.shape == blk.attn.rel_pos_w.shape == (27, 32)
        assert blk.attn.relative_position_bias_table is None
        assert 0 < blk.attn.rel_pos_h.std() < 0.05  # trunc-normal(0.02), not zeros
    keys = [k for k in m.state_dict() if 'rel_pos' in k or 'relative_position' in k]
    assert keys == [f'blocks.{i}.attn.rel_pos_{a}' for i in (4, 5) for a in 'hw']
    assert not m.rpe and m.rpe_mode == 'decomposed'
    plain = HiViT(TINY, img_size=224, rpe=False)
    assert n_params(m) - n_params(plain) == 2 * 2 * 27 * 32
    # the official iTPN-L CLIP detectors: 40 blocks of (2 * 14 - 1) x 64 tables
    for cfg_name in ('mask-rcnn_itpn-l-clip_1x_coco.py', 'mask-rcnn_itpn-l-clip_3x_coco.py',
                     'cascade-mask-rcnn_itpn-l-clip_3x_coco.py'):
        from mmengine.config import Config
        cfg = Config.fromfile(osp.join(ROOT, 'configs/itpn', cfg_name)).model.backbone
        assert cfg.rpe == 'decomposed', cfg_name
        cfg.init_cfg = None
        bb = meta_build(cfg)
        shapes = {k: tuple(v.shape) for k, v in bb.named_parameters() if 'rel_pos' in k}
        assert len(shapes) == 80 and set(shapes.values()) == {(27, 64)}, cfg_name
    with pytest.raises(ValueError, match="rpe must be False, True, 'table' or 'decomposed'"):
        HiViT(TINY, rpe='vitdet')
    with pytest.raises(ValueError, match='not both'):
        HiViTAttention(64, 2, rpe_size=4, rel_pos_size=4)


def test_decomposed_rel_pos_interpolated_to_grid():
    from hvt.models.layers import decomposed_rel_pos_bias, resize_rel_pos
    torch.manual_seed(0)
    table = torch.randn(27, 8)
    assert resize_rel_pos(table, 27) is table
    for n in (7, 11, 41):
        torch.testing.assert_close(resize_rel_pos(table, n), _linear_resize(table, n))
    # a 6 x 4 grid uses the tables resized to 11 and 7 rows
    rel_h, rel_w = torch.randn(27, 8), torch.randn(27, 8)
    q = torch.randn(2, 3, 24, 8)
    bias = decomposed_rel_pos_bias(q, rel_h, rel_w, (6, 4))
    assert bias.shape == (2, 3, 24, 24)
    ref = _naive_decomposed_bias(q, _linear_resize(rel_h, 11), _linear_resize(rel_w, 7), 6, 4)
    torch.testing.assert_close(bias, ref, atol=1e-4, rtol=1e-4)  # float32 sums of 8 products
    with pytest.raises(ValueError, match='do not form the 5x5 grid'):
        decomposed_rel_pos_bias(q, rel_h, rel_w, (5, 5))


def test_decomposed_attention_zero_params_fused_and_reference(monkeypatch):
    import importlib
    from hvt.models.layers import Attention, HiViTAttention
    attn_mod = importlib.import_module('hvt.models.layers.attention')  # not the function
    torch.manual_seed(0)
    dec = HiViTAttention(64, 4, rel_pos_size=14).eval()
    plain = Attention(64, 4, qkv_bias=True).eval()
    plain.load_state_dict({k: v for k, v in dec.state_dict().items() if 'rel_pos' not in k})
    x = torch.randn(2, 5 * 3, 64)
    with torch.no_grad():
        for p in (dec.rel_pos_h, dec.rel_pos_w):
            p.zero_()
        torch.testing.assert_close(dec(x, hw=(5, 3)), plain(x), atol=1e-6, rtol=1e-6)
        for p in (dec.rel_pos_h, dec.rel_pos_w):
            p.normal_(std=1.)
        fused = dec(x, hw=(5, 3))
        monkeypatch.setattr(attn_mod, 'USE_FUSED_ATTENTION', False)
        reference = dec(x, hw=(5, 3))
        # the official formula, written out: softmax(q k^T * scale + rel_h + rel_w) v, then proj
        qkv = dec.qkv(x).reshape(2, 15, 3, 4, 16).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        logits = (q * dec.scale) @ k.transpose(-2, -1) + _naive_decomposed_bias(
            q, _linear_resize(dec.rel_pos_h, 9), _linear_resize(dec.rel_pos_w, 5), 5, 3)
        official = dec.proj((logits.softmax(-1) @ v).transpose(1, 2).reshape(2, 15, 64))
    torch.testing.assert_close(fused, reference, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(reference, official, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(fused, plain(x), atol=1e-3)  # the bias is really applied
    with pytest.raises(ValueError, match='needs the token grid'):
        dec(x)


def test_decomposed_backbone_and_det_wrapper():
    torch.manual_seed(0)
    det = iTPNDet(TINY, img_size=64, fpn_dim=32, rpe='decomposed')  # 4x4 grid, 7-row tables
    det.init_weights()
    x = torch.randn(1, 3, 64, 96)  # 4 x 6 grid: the w table is resized to 11 rows
    outs = det(x)
    assert [tuple(o.shape) for o in outs] == [(1, 32, 16, 24), (1, 32, 8, 12), (1, 32, 4, 6),
                                              (1, 32, 2, 3), (1, 32, 1, 1)]
    sum(o.sum() for o in outs).backward()
    blk = det.blocks[-1]
    assert blk.attn.rel_pos_h.shape == (7, 32)
    assert blk.attn.rel_pos_h.grad.abs().sum() > 0 and blk.attn.rel_pos_w.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='ids_keep'):
        det.forward_tokens(x, ids_keep=torch.arange(12)[None])


# ------------------------------------------------------------------------------------------------
# downstream wrappers
# ------------------------------------------------------------------------------------------------
def test_det_and_seg_wrappers_shapes():
    det = meta_build(dict(type='hvt.iTPNDet', arch='b'))
    assert det.pyramid.fpn_depth == 1
    seg = meta_build(dict(type='hvt.iTPNSeg', arch='b'))
    assert seg.out_channels == [384, 512, 768, 768] and seg.pyramid.fpn_depth == 2
    assert meta_build(dict(type='hvt.iTPNSeg', arch='l')).out_channels == [448, 640, 1024, 1024]

    torch.manual_seed(0)
    det = iTPNDet(TINY, img_size=64, fpn_dim=32)
    det.init_weights()
    outs = det(torch.randn(1, 3, 64, 128))
    assert [tuple(o.shape) for o in outs] == [(1, 32, 16, 32), (1, 32, 8, 16), (1, 32, 4, 8),
                                              (1, 32, 2, 4), (1, 32, 1, 2)]
    torch.testing.assert_close(outs[3], torch.nn.functional.avg_pool2d(outs[2], 2))
    seg = iTPNSeg(TINY, img_size=64, fpn_dim=32)
    seg.init_weights()
    outs = seg(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == seg.out_channels == [48, 64, 96, 96]
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 2]


def _official_per_forward_pos_embed(table, hp, wp):
    """Reference for the official det/seg ``interpolate_pos_encoding``, written from its formula.

    The official code calls ``F.interpolate(table_14x14, scale_factor=((hp + 0.1) / 14,
    (wp + 0.1) / 14), mode='bicubic')``: output pixel ``i`` samples the source at
    ``(i + 0.5) / scale - 0.5`` (the scale factor as given, half-pixel centres), with Keys' cubic
    kernel (a = -0.75) over the 4 nearest rows / columns, indices clamped to the border. Bicubic is
    separable, so rows then columns. At the table's own grid the table is returned unchanged.
    """
    import math
    g = int(round(math.sqrt(table.shape[1])))
    if (hp, wp) == (g, g):
        return table
    a = -0.75

    def kernel(d):  # cubic convolution weight at distance d >= 0
        d = abs(d)
        if d <= 1:
            return ((a + 2) * d - (a + 3)) * d * d + 1
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    def resample(t, out_len, scale):  # along dim 0 of t
        rows = []
        for i in range(out_len):
            src = (i + 0.5) / scale - 0.5
            i0 = math.floor(src)
            rows.append(sum(kernel(src - k) * t[min(max(k, 0), t.shape[0] - 1)]
                            for k in range(i0 - 1, i0 + 3)))
        return torch.stack(rows)

    t = table[0].reshape(g, g, -1)
    t = resample(t, hp, (hp + 0.1) / g)
    t = resample(t.transpose(0, 1), wp, (wp + 0.1) / g).transpose(0, 1)
    return t.reshape(1, hp * wp, -1)


@pytest.mark.parametrize('cls,kw', [(iTPNDet, dict(img_size=224)),
                                    (iTPNDet, dict(img_size=224, rpe='decomposed')),
                                    (iTPNSeg, dict(img_size=512))])
def test_downstream_pos_embed_and_eps_follow_official_code(cls, kw):
    """The det/seg wrappers keep the 14x14 pre-training table as the parameter, interpolate it on
    every forward as the official downstream code does, and use its LayerNorm eps (1e-5)."""
    torch.manual_seed(0)
    m = cls(TINY, fpn_dim=32, **kw).eval()
    m.init_weights()
    assert m.pos_embed_interp == 'per-forward'
    assert m.absolute_pos_embed.shape == (1, 196, 64)  # also for seg at img_size 512 (not 1024)
    lns = [mod for mod in m.modules() if isinstance(mod, torch.nn.LayerNorm)]
    assert lns and all(ln.eps == 1e-5 for ln in lns)  # backbone and pyramid
    with torch.no_grad():
        m.absolute_pos_embed.normal_(0, 1)
    hp, wp = 16, 11  # a 256 x 176 input: non-square, not 224
    ref_pe = _official_per_forward_pos_embed(m.absolute_pos_embed.detach().double(), hp, wp)
    torch.testing.assert_close(m._pos_embed(hp, wp).double(), ref_pe, atol=1e-5, rtol=0)
    # the official semantics really differ from a plain resize to the target size
    plain = torch.nn.functional.interpolate(
        m.absolute_pos_embed.detach().reshape(1, 14, 14, -1).permute(0, 3, 1, 2), size=(hp, wp),
        mode='bicubic', align_corners=False).permute(0, 2, 3, 1).reshape(1, hp * wp, -1)
    assert (plain.double() - ref_pe).abs().max() > 1e-2
    # whole backbone: same outputs as a copy that adds the reference embedding as it is
    ref = copy.deepcopy(m)
    ref._pos_embed = lambda h, w: _official_per_forward_pos_embed(
        ref.absolute_pos_embed.double(), h, w).float()
    x = torch.randn(1, 3, 16 * hp, 16 * wp)
    with torch.no_grad():
        for o, r in zip(m(x), ref(x)):
            torch.testing.assert_close(o, r, atol=1e-5, rtol=0)
    # at the table's own grid the table is used unchanged
    assert m._pos_embed(14, 14) is m.absolute_pos_embed
    # the classification / pre-training path is unchanged
    hv = HiViT(TINY)
    assert hv.pos_embed_interp == 'resize' and hv.absolute_pos_embed.shape == (1, 196, 64)
    assert all(mod.eps == 1e-6 for mod in hv.modules() if isinstance(mod, torch.nn.LayerNorm))


def test_downstream_backbone_param_counts_equal_official():
    # the official det backbone (iTPN_pixel, img_size 224, rpe off, fpn_depth 1) and seg backbone
    # (iTPN, img_size 512, rpe on, fpn_depth 2, a 196-entry position table), counted on the code
    assert n_params(meta_build(dict(type='hvt.iTPNDet', arch='b'))) == 81_552_000
    assert n_params(meta_build(dict(type='hvt.iTPNSeg', arch='b', img_size=512))) == 83_366_208


def test_per_forward_table_loads_old_and_pretrained_checkpoints():
    torch.manual_seed(0)
    # an HVT segmentation checkpoint written before: 32x32 table trained as free vectors
    old = iTPNSeg(TINY, img_size=512, fpn_dim=32, pos_embed_interp='resize')
    assert old.absolute_pos_embed.shape == (1, 1024, 64)
    new = iTPNSeg(TINY, img_size=512, fpn_dim=32)
    assert new.load_pretrained({'state_dict': {f'backbone.{k}': v for k, v in
                                                    old.state_dict().items()}}) == []
    torch.testing.assert_close(new.state_dict()['blocks.5.attn.qkv.weight'],
                               old.state_dict()['blocks.5.attn.qkv.weight'])
    # a whole-model load (mmengine / load_state_dict) resizes the table with a warning
    with pytest.warns(UserWarning, match='absolute_pos_embed of 1024 positions resized'):
        new.load_state_dict(old.state_dict())
    assert new.absolute_pos_embed.shape == (1, 196, 64)
    # the 14x14 pre-trained table loads unchanged (no load-time resize)
    pre = HiViT(TINY)
    with torch.no_grad():
        pre.absolute_pos_embed.normal_()
    det, seg = iTPNDet(TINY, fpn_dim=32), iTPNSeg(TINY, img_size=512, fpn_dim=32)
    for m in (det, seg):
        with pytest.warns(UserWarning, match='no pyramid weights'):
            m.load_pretrained(pre.state_dict(), max_missing_ratio=None)
        torch.testing.assert_close(m.absolute_pos_embed, pre.absolute_pos_embed)


def _tiny_pixel_model(mfm='visible', decoder_depth=1):
    cfg = dict(
        type='hvt.iTPNPretrain', target='pixel', mask_ratio=0.75,
        backbone=dict(type='hvt.HiViT', arch=TINY, img_size=64, ape_init='sincos'),
        neck=dict(type='hvt.iTPNPixelNeck', in_channels=(16, 32, 64), fpn_dim=32, fpn_depth=2,
                  num_patches=16, decoder_embed_dim=32, decoder_depth=decoder_depth,
                  decoder_num_heads=2),
        head=dict(type='mmpretrain.MAEPretrainHead', norm_pix=True, patch_size=16,
                  loss=dict(type='mmpretrain.PixelReconstructionLoss', criterion='L2')))
    if mfm:
        cfg['mfm'] = dict(loss_weight=0.3, momentum=0.996, teacher_input=mfm)
    m = MODELS.build(cfg)
    m.init_weights()
    return m


def test_pixel_decoder_default_depth_8():
    neck = meta_build(dict(type='hvt.iTPNPixelNeck'))
    assert len(neck.decoder_blocks) == 8 and neck.decoder_pred.out_features == 768
    # docs/design/itpn.md#pixel-pre-training: official iTPN-B pixel model 108.39 M trainable + 0.10
    # M frozen decoder pos
    bb = meta_build(dict(type='hvt.HiViT', arch='b'))
    trainable = sum(p.numel() for m in (bb, neck) for p in m.parameters() if p.requires_grad)
    assert round(trainable / 1e6, 2) == 108.39
    assert not neck.decoder_pos_embed.requires_grad and neck.decoder_pos_embed.numel() == 100_352


@pytest.mark.parametrize('arch,chans,heads,teacher_dim,expected_m', [
    ('b', (128, 256, 512), 8, 512, 88.74), ('l', (192, 384, 768), 12, 768, 307.45)])
def test_clip_pretrain_student_size(arch, chans, heads, teacher_dim, expected_m):
    # docs/design/itpn.md#clip-supervised-pre-training: official CLIP pre-training students (rpe,
    # layer scale, stage-3 mask token,
    # fpn_depth 1, fusion + lm_head, 2-block aux branch + lm_cls_head)
    bb = meta_build(dict(type='hvt.HiViT', arch=arch, rpe=True, use_mask_token=True,
                         layer_scale_init_value=0.1))
    neck = meta_build(dict(type='hvt.iTPNClipNeck', in_channels=chans, fpn_depth=1,
                           teacher_dim=teacher_dim, num_heads=heads, aux_depth=2))
    assert round((n_params(bb) + n_params(neck)) / 1e6, 2) == expected_m


def test_pretrain_checkpoint_loads_into_all_wrappers(tmp_path):
    pre = _tiny_pixel_model(mfm=None)
    ckpt = tmp_path / 'pre.pth'
    torch.save(dict(state_dict=pre.state_dict(), meta=dict()), ckpt)
    pyr_keys = {f'pyramid.{k}' for k in pre.neck.state_dict() if not k.startswith(
        ('decoder', 'mask_token'))}
    # segmentation: same fpn_depth -> every backbone + pyramid key loaded, no warning
    seg = iTPNSeg(TINY, img_size=64, fpn_dim=32, fpn_depth=2, rpe=False,
                  init_cfg=dict(type='Pretrained', checkpoint=str(ckpt)))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        missing = seg.load_pretrained(str(ckpt))
    assert missing == []
    seg.init_weights()
    for k in pyr_keys:
        torch.testing.assert_close(seg.state_dict()[k],
                                   pre.state_dict()['neck.' + k[len('pyramid.'):]])
    torch.testing.assert_close(seg.state_dict()['blocks.5.attn.qkv.weight'],
                               pre.state_dict()['backbone.blocks.5.attn.qkv.weight'])
    # detection: fpn_depth 1 vs the checkpoint's 2 -> a clear warning, no missing key
    det = iTPNDet(TINY, img_size=64, fpn_dim=32, fpn_depth=1,
                  init_cfg=dict(type='Pretrained', checkpoint=str(ckpt)))
    with pytest.warns(UserWarning, match='fpn_depth=2 but the model has fpn_depth=1'):
        det.init_weights()
    assert det.load_pretrained(str(ckpt)) == []
    # classification: backbone.* through mmengine's Pretrained init with prefix
    cls = MODELS.build(dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='hvt.HiViT', arch=TINY, img_size=64, out_type='avg_featmap',
                      init_cfg=dict(type='Pretrained', checkpoint=str(ckpt), prefix='backbone.')),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=3, in_channels=64)))
    cls.init_weights()
    torch.testing.assert_close(cls.backbone.state_dict()['blocks.5.mlp.fc1.weight'],
                               pre.state_dict()['backbone.blocks.5.mlp.fc1.weight'])


# ------------------------------------------------------------------------------------------------
# pre-training steps
# ------------------------------------------------------------------------------------------------
def _one_step(model, inputs, data_samples=None):
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    losses = model.loss(inputs, data_samples)
    total = sum(losses.values())
    assert torch.isfinite(total)
    opt.zero_grad()
    total.backward()
    opt.step()
    return losses


@pytest.mark.parametrize('mfm', ['visible', 'masked'])
def test_pixel_pretrain_step_and_ema(mfm):
    torch.manual_seed(0)
    model = _tiny_pixel_model(mfm)
    teacher0 = copy.deepcopy(model.mfm_teacher.state_dict())
    # the teacher starts as an exact copy of the student
    for k, v in model.backbone.state_dict().items():
        torch.testing.assert_close(teacher0[k], v)
    img = torch.randn(2, 3, 64, 64)
    losses = _one_step(model, img)
    assert set(losses) == {'loss', 'loss_mfm'} and losses['loss_mfm'] > 0
    # the backbone moved; the next iteration moves the teacher by exactly 0.4% of the gap
    w_s = model.backbone.state_dict()['blocks.5.attn.qkv.weight'].clone()
    w_t = model.mfm_teacher.state_dict()['blocks.5.attn.qkv.weight'].clone()
    assert not torch.allclose(w_s, w_t)
    losses = _one_step(model, img)
    expect = 0.996 * w_t + 0.004 * w_s
    torch.testing.assert_close(model.mfm_teacher.state_dict()['blocks.5.attn.qkv.weight'], expect)
    assert not any(p.requires_grad for p in model.mfm_teacher.parameters())


def test_pixel_pretrain_head_loss_is_masked_normalised_mse():
    torch.manual_seed(0)
    model = _tiny_pixel_model(mfm=None)
    img = torch.randn(2, 3, 64, 64)
    assert model.head.norm_pix
    pred = torch.zeros(2, 16, 768)
    mask = torch.zeros(2, 16)
    mask[:, :4] = 1
    # with norm_pix (per-patch mean / unbiased std, as MAE), predicting 0 costs exactly
    # mean(z^2) = 767 / 768 on every masked patch
    assert abs(float(model.head.loss(pred, img, mask)) - 767 / 768) < 1e-4
    # unmasked patches do not count: a perfect prediction there changes nothing
    target = model.head.construct_target(img)
    pred2 = pred.clone()
    pred2[:, 4:] = target[:, 4:]
    assert abs(float(model.head.loss(pred2, img, mask)) - 767 / 768) < 1e-4


def test_clip_pretrain_step_with_teacher_config():
    """The CLIP target path with a small random teacher built through FeatureTeacher, the same
    config path a real CLIP checkpoint takes (mmpretrain CLIPGenerator + tokenizer_path)."""
    torch.manual_seed(0)
    teacher = dict(
        type='hvt.FeatureTeacher',
        model=dict(type='mmpretrain.VisionTransformer',
                   arch=dict(embed_dims=24, num_layers=1, num_heads=2, feedforward_channels=48),
                   img_size=64, patch_size=16, out_type='raw', with_cls_token=True),
        output_index=0, drop_cls_token=True, norm_target=True)
    model = MODELS.build(dict(
        type='hvt.iTPNPretrain', target='clip',
        clip_mask=dict(num_masking_patches=6, min_num_patches=2),
        backbone=dict(type='hvt.HiViT', arch=TINY, img_size=64, rpe=True, use_mask_token=True,
                      layer_scale_init_value=0.1),
        neck=dict(type='hvt.iTPNClipNeck', in_channels=(16, 32, 64), fpn_dim=32, fpn_depth=1,
                  teacher_dim=24, num_heads=2, aux_depth=2, rpe_grid=(4, 4)),
        target_generator=teacher,
        mfm=dict(loss_weight=0.3, momentum=0.996)))
    model.init_weights()
    img = torch.randn(2, 3, 64, 64)
    t_before = model.target_generator.model.state_dict()['ln1.weight'].clone() \
        if 'ln1.weight' in model.target_generator.model.state_dict() else None
    losses = _one_step(model, [img, img])
    assert set(losses) == {'loss', 'loss_aux', 'loss_mfm'}
    assert all(torch.isfinite(v) for v in losses.values())
    # the CLIP teacher is frozen
    assert not any(p.requires_grad for p in model.target_generator.parameters())
    assert model.backbone.mask_token.grad is not None
    w_s = model.backbone.state_dict()['blocks.4.mlp.fc1.weight'].clone()
    w_t = model.mfm_teacher.state_dict()['blocks.4.mlp.fc1.weight'].clone()
    _one_step(model, [img, img])
    torch.testing.assert_close(model.mfm_teacher.state_dict()['blocks.4.mlp.fc1.weight'],
                               0.996 * w_t + 0.004 * w_s)
    if t_before is not None:
        torch.testing.assert_close(model.target_generator.model.state_dict()['ln1.weight'],
                                   t_before)


# ------------------------------------------------------------------------------------------------
# layer decay
# ------------------------------------------------------------------------------------------------
def test_layer_decay_distinct_lr_per_block():
    from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
    model = MODELS.build(dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='hvt.HiViT', arch=TINY, img_size=32, rpe=True,
                      out_type='avg_featmap'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=3, in_channels=64)))
    ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='hvt.LayerDecayOptimWrapperConstructor',
        optim_wrapper_cfg=dict(type='OptimWrapper',
                               optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05)),
        paramwise_cfg=dict(layer_decay_rate=0.5)))
    opt = ctor(model).optimizer
    lr_of = {}
    for g in opt.param_groups:
        for n in g['param_names']:
            lr_of[n] = (g['lr'], g['weight_decay'])
    # TINY: blocks = [mlp, merge, mlp, merge, attn, attn]; official numbering skips merges
    num_layers = 5
    blocks = {0: 1, 1: 1, 2: 2, 3: 2, 4: 3, 5: 4}
    for i, lid in blocks.items():
        name = next(n for n in lr_of if n.startswith(f'backbone.blocks.{i}.') and
                    n.endswith('weight') and lr_of[n][1] > 0)
        assert lr_of[name][0] == pytest.approx(0.5 ** (num_layers - lid)), name
    assert lr_of['backbone.patch_embed.proj.weight'][0] == pytest.approx(0.5 ** 5)
    assert lr_of['head.fc.weight'] == (pytest.approx(1.0), 0.05)
    assert lr_of['backbone.blocks.4.attn.relative_position_bias_table'][1] == 0
    assert lr_of['backbone.absolute_pos_embed'][1] == 0
    lrs = {round(lr_of[f'backbone.blocks.{i}.mlp.fc1.weight'][0], 8) for i in (0, 2, 4, 5)}
    assert len(lrs) == 4  # distinct learning rates per block
    # rescaled (official) and merge-counting modes
    ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='hvt.LayerDecayOptimWrapperConstructor',
        optim_wrapper_cfg=dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1.0)),
        paramwise_cfg=dict(layer_decay_rate=0.5, layer_decay_rescale=True,
                           layer_decay_mode='count_merge')))
    opt = ctor(model).optimizer
    lr_of = {n: g['lr'] for g in opt.param_groups for n in g['param_names']}
    rate = 0.5 ** (13 / 7)
    assert lr_of['backbone.blocks.3.reduction.weight'] == pytest.approx(rate ** (7 - 4))
    assert lr_of['backbone.blocks.4.attn.qkv.weight'] == pytest.approx(rate ** (7 - 5))


# ------------------------------------------------------------------------------------------------
# converter
# ------------------------------------------------------------------------------------------------
def _converter():
    path = osp.join(ROOT, 'tools', 'model_converters', 'itpn2hvt.py')
    spec = importlib.util.spec_from_file_location('itpn2hvt', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_converter_mmpretrain_layout():
    """mmpretrain's iTPN names (the official layouts: tests/test_official_keys.py)."""
    conv = _converter()
    # mmpretrain layout: pos_embed and decoder names
    mmp = {'backbone.pos_embed': torch.zeros(1, 16, 64), 'neck.decoder_blocks.0.ln1.weight':
           torch.ones(32), 'neck.decoder_blocks.0.ffn.layers.0.0.weight': torch.zeros(128, 32),
           'neck.decoder_blocks.0.ffn.layers.1.weight': torch.zeros(32, 128),
           'neck.ln1.weight': torch.ones(32)}
    sd, layout = conv.convert({'state_dict': mmp})
    assert layout == 'mmpretrain'
    assert set(sd) == {'backbone.absolute_pos_embed', 'neck.decoder_blocks.0.norm1.weight',
                       'neck.decoder_blocks.0.mlp.fc1.weight',
                       'neck.decoder_blocks.0.mlp.fc2.weight', 'neck.decoder_norm.weight'}


# ------------------------------------------------------------------------------------------------
# tools/train.py: pixel pre-training on tiny data, then fine-tuning from its checkpoint
# ------------------------------------------------------------------------------------------------
TINY_ARCH = "dict(_delete_=True, embed_dims=64, depths=[1, 1, 2], num_heads=2)"


def test_configs_parse_and_match_recipe():
    from mmengine.config import Config
    d = osp.join(ROOT, 'configs', 'itpn')
    pix = Config.fromfile(osp.join(d, 'itpn-pixel_hivit-b-p16_64xb64-amp-coslr-1600e_in1k.py'))
    assert pix.model.neck.decoder_depth == 8 and pix.model.neck.fpn_depth == 2
    assert pix.model.mask_ratio == 0.75 and pix.model.mfm.loss_weight == 0.3
    assert pix.model.mfm.momentum == 0.996
    assert pix.optim_wrapper.optimizer.lr == pytest.approx(2.4e-3)
    pl = Config.fromfile(osp.join(d, 'itpn-pixel_hivit-l-p16_64xb64-amp-coslr-1600e_in1k.py'))
    assert pl.model.backbone.arch == 'l' and pl.model.neck.in_channels == (192, 384, 768)
    clip = Config.fromfile(osp.join(d, 'itpn-clip-b_hivit-b-p16_64xb32-amp-coslr-800e_in1k.py'))
    assert clip.model.neck.fpn_depth == 1 and clip.model.backbone.rpe
    assert clip.model.target_generator.model.type == 'mmpretrain.CLIPGenerator'
    cl = Config.fromfile(osp.join(d, 'itpn-clip-l_hivit-l-p16_64xb32-amp-coslr-300e_in1k.py'))
    assert cl.model.neck.teacher_dim == 768 and cl.model.target_generator.input_size == 196
    ft = Config.fromfile(osp.join(d, 'itpn-hivit-b-p16_pixel-pre_8xb128-coslr-100e_in1k.py'))
    assert ft.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.60
    assert ft.optim_wrapper.paramwise_cfg.layer_decay_rescale
    assert ft.train_cfg.max_epochs == 100 and ft.model.backbone.drop_path_rate == 0.15
    fl = Config.fromfile(osp.join(d, 'itpn-hivit-l-p16_pixel-pre_8xb128-coslr-50e_in1k.py'))
    assert fl.model.head.in_channels == 768 and fl.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.55
    assert fl.train_cfg.max_epochs == 50
    # the pre-training configs build (CLIP teacher swapped for a random ViT-B: no CLIP weights
    # here) with the derived student sizes (pixel: 108.39 M trainable + 0.10 M frozen decoder pos;
    # pixel L = backbone 287.37 + pyramid 5.08 + the same decoder, our count), and their
    # pipelines build
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    from mmpretrain.registry import TRANSFORMS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        for cfg, size_m in ((pix, 108.49), (pl, 318.34), (clip, 88.74), (cl, 307.45)):
            model_cfg = copy.deepcopy(cfg.model)
            if 'target_generator' in model_cfg:
                model_cfg.target_generator.model = dict(
                    type='mmpretrain.VisionTransformer', arch='b', out_type='raw')
            with torch.device('meta'):
                model = PRETRAIN_MODELS.build(model_cfg)
            student = sum(p.numel() for n, p in model.named_parameters()
                          if n.startswith(('backbone.', 'neck.')))
            assert round(student / 1e6, 2) == size_m
            for step in cfg.train_dataloader.dataset.pipeline:
                TRANSFORMS.build(step)
    # the real fine-tuning configs build (meta device keeps this fast)
    for cfg, n in ((ft, 78_557_992), (fl, 288_493_576)):
        model_cfg = copy.deepcopy(cfg.model)
        model_cfg.backbone.init_cfg = None
        model_cfg.type = 'mmpretrain.' + model_cfg.type
        assert n_params(meta_build(model_cfg)) == n


def test_train_tool_pixel_pretrain_then_finetune(tiny_data, tmp_path):
    from toolkit import cls_smoke_options, logged_losses, run_tool
    import math
    data_root = tiny_data / 'imagenet'
    pre_cfg = tmp_path / 'itpn_pre_tiny.py'
    pre_cfg.write_text(f"""
_base_ = ['{ROOT}/configs/itpn/itpn-pixel_hivit-b-p16_64xb64-amp-coslr-1600e_in1k.py']
model = dict(
    backbone=dict(arch={TINY_ARCH}, img_size=64),
    neck=dict(in_channels=(16, 32, 64), fpn_dim=32, num_patches=16, decoder_embed_dim=32,
              decoder_depth=1, decoder_num_heads=2))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.2, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root='{data_root}', pipeline=train_pipeline))
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05))
param_scheduler = []
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=3)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(type='hvt.SafeCheckpointHook', interval=3, by_epoch=False))
log_processor = dict(window_size=1)
""")
    pre_work = tmp_path / 'pre'
    out = run_tool('train.py', pre_cfg, '--work-dir', pre_work, timeout=600)
    losses = logged_losses(out)
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses), out[-3000:]
    assert 'loss_mfm' in out
    ckpt = pre_work / 'iter_3.pth'
    assert ckpt.is_file()
    sd = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    assert 'neck.block_16to8.1.mlp.fc1.weight' in sd and 'mfm_teacher.blocks.0.norm2.weight' in sd

    # the checkpoint loads into the segmentation and detection wrappers with no missing key
    seg = iTPNSeg(TINY, img_size=64, fpn_dim=32, fpn_depth=2, rpe=False)
    assert seg.load_pretrained(str(ckpt)) == []
    det = iTPNDet(TINY, img_size=64, fpn_dim=32, fpn_depth=2)
    assert det.load_pretrained(str(ckpt)) == []
    torch.testing.assert_close(det.state_dict()['pyramid.fpn_modules.2.mlp.fc2.weight'],
                               sd['neck.fpn_modules.2.mlp.fc2.weight'])

    ft_cfg = tmp_path / 'itpn_ft_tiny.py'
    ft_cfg.write_text(f"""
_base_ = ['{ROOT}/configs/itpn/itpn-hivit-b-p16_pixel-pre_8xb128-coslr-100e_in1k.py']
model = dict(backbone=dict(arch={TINY_ARCH}, img_size=64, drop_path_rate=0.0,
                           init_cfg=dict(checkpoint='{ckpt}')),
             head=dict(in_channels=64))
""")
    ft_work = tmp_path / 'ft'
    opts = cls_smoke_options(tiny_data, ft_work, img_size=64, iters=2, batch_size=8,
                             config=str(ft_cfg))
    out = run_tool('train.py', ft_cfg, '--cfg-options', *opts, timeout=900)
    losses = logged_losses(out)
    assert losses and all(math.isfinite(v) for v in losses), out[-3000:]
    assert 'Layer decay: 6 layer ids' in out      # 4 blocks + embeddings + head
    assert re.search(r'accuracy/top1: [0-9.]+', out)
    # the fine-tuning run started from the pre-trained backbone: with layer decay the patch
    # embedding barely moves (lr scale (0.6 ** (13 / 5)) ** 5 ~ 1e-3), so it still equals the
    # pre-trained weights, which a random init would not
    ft_ckpt = sorted(ft_work.glob('epoch_*.pth'))[-1]
    ft_sd = torch.load(ft_ckpt, map_location='cpu', weights_only=False)['state_dict']
    for k in ('backbone.patch_embed.proj.weight', 'backbone.blocks.0.mlp.fc1.weight'):
        torch.testing.assert_close(ft_sd[k], sd[k], atol=2e-3, rtol=0)
