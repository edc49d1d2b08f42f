"""Fast-iTPN (docs/design/itpn.md#fast-itpn-backbone, docs/fast_itpn.md): exact counts, official
keys, layer equivalences with the
official NCHW formulas, token migration and token gathering behaviour, the detection wrapper,
the benchmark tool and a tiny fine-tuning run."""
import json
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from hvt.models.backbones.fast_itpn import FastiTPN, FastiTPNDet, build_migration_schedule
from hvt.models.layers import window_partition
from hvt.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

TINY = dict(embed_dims=64, depths=(1, 1, 4), num_heads=2)


def make(seed=0, **kw):
    torch.manual_seed(seed)
    kw.setdefault('arch', TINY)
    return FastiTPN(**kw).eval()


# -- sizes and keys ------------------------------------------------------------------------------
@pytest.mark.parametrize('arch,expected', [('t', 24_219_976), ('s', 39_902_920),
                                           ('b', 84_825_192), ('l', 312_017_320)])
def test_param_counts_exact(arch, expected):
    """Backbone + fc_norm + 1000-class head at 224 (docs/design/itpn.md#fast-itpn-backbone,
    docs/design/itpn.md#parameter-counts, code-derived integers)."""
    with torch.device('meta'):
        m = MODELS.build(dict(type='hvt.FastiTPN', arch=arch, out_type='avg_featmap'))
        head = torch.nn.Linear(m.embed_dims, 1000)
    n = sum(p.numel() for p in m.parameters()) + sum(p.numel() for p in head.parameters())
    assert n == expected
    # printed values (24.2 / 40.0 / 85.2 / 312.3 M) within 1%
    printed = dict(t=24.2e6, s=40.0e6, b=85.2e6, l=312.3e6)[arch]
    assert abs(n - printed) / printed < 0.01


def test_arch_errors():
    with pytest.raises(ValueError, match='valid'):
        FastiTPN(arch='huge')
    with pytest.raises(ValueError, match='depths'):
        FastiTPN(arch=dict(embed_dims=64, depths=(1, 1), num_heads=2))
    with pytest.raises(ValueError, match='migration_ratio'):
        FastiTPN(arch=TINY, migration_ratio=0.6)
    with pytest.raises(ValueError, match='attn_mode'):
        FastiTPN(arch=TINY, attn_mode='local')


def test_official_key_names():
    with torch.device('meta'):
        m = FastiTPN(arch='tiny', out_type='avg_featmap')
    sd = m.state_dict()
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    # ConvPatchEmbed: conv 3 -> C/4 = 96, k = s = 4, with bias and no norm
    assert shapes['patch_embed.proj.weight'] == (96, 3, 4, 4)
    assert not any(k.startswith('patch_embed.norm') for k in sd)
    # blocks.0 = ConvMlpBlock (C/4), blocks.1 = ConvPatchMerge, blocks.2 ConvMlpBlock (C/2), blocks.3 merge
    assert shapes['blocks.0.mlp.fc1.weight'] == (288, 96, 1, 1)
    assert shapes['blocks.0.mlp.ffn_ln.weight'] == (288, )
    assert shapes['blocks.0.mlp.fc2.weight'] == (96, 288, 1, 1)
    assert 'blocks.0.norm2.weight' in sd and 'blocks.0.gamma_2' not in sd
    assert shapes['blocks.1.reduction.weight'] == (192, 96, 2, 2) and 'blocks.1.reduction.bias' in sd
    assert shapes['blocks.1.norm.weight'] == (96, )
    assert shapes['blocks.3.reduction.weight'] == (384, 192, 2, 2)
    b = 'blocks.4.'
    for k in ('norm1.weight', 'attn.q_proj.weight', 'attn.k_proj.weight', 'attn.v_proj.weight',
              'attn.q_bias', 'attn.v_bias', 'attn.proj.weight', 'attn.proj.bias', 'norm2.weight',
              'mlp.w1.weight', 'mlp.w2.weight', 'mlp.ffn_ln.weight', 'mlp.w3.weight', 'gamma_1',
              'gamma_2'):
        assert b + k in sd, k
    assert not any(k.endswith(('q_proj.bias', 'k_proj.bias', 'v_proj.bias', 'k_bias')) for k in sd)
    assert shapes[b + 'mlp.w1.weight'] == (1152, 384)
    assert torch.allclose(make().state_dict()['blocks.4.gamma_1'], torch.full((64, ), 0.1))
    assert shapes['pos_embed'] == (1, 196, 384)
    assert 'fc_norm.weight' in sd
    assert len(m.blocks) == 1 + 1 + 1 + 1 + 12
    assert sum(k.startswith('blocks.15.') for k in sd) > 0 and 'blocks.16.norm1.weight' not in sd


def test_layer_depth_numbering():
    with torch.device('meta'):
        m = FastiTPN(arch='b', out_type='avg_featmap')  # 3+1+3+1+24 = 32 entries
    assert m.get_layer_depth('backbone.pos_embed', 'backbone.') == (0, 33)
    assert m.get_layer_depth('backbone.patch_embed.proj.weight', 'backbone.') == (0, 33)
    assert m.get_layer_depth('backbone.blocks.3.reduction.weight', 'backbone.') == (4, 33)
    assert m.get_layer_depth('backbone.blocks.31.gamma_1', 'backbone.') == (32, 33)
    assert m.get_layer_depth('backbone.fc_norm.weight', 'backbone.') == (33, 33)
    assert m.get_layer_depth('head.fc.weight', 'backbone.') == (33, 33)


# -- shapes and layer equivalence with the official NCHW formulas ---------------------------------
def test_shapes_and_pos_embed_resize():
    m = make(out_indices=(0, 1, 2))
    with torch.no_grad():
        outs = m(torch.randn(2, 3, 96, 128))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 24, 32), (2, 32, 12, 16), (2, 64, 6, 8)]
    m = make(out_type='avg_featmap')
    with torch.no_grad():
        (pooled, ) = m(torch.randn(2, 3, 224, 224))
    assert pooled.shape == (2, 64)
    with pytest.raises(ValueError, match='multiple of the patch size'):
        m(torch.randn(1, 3, 100, 100))


def _ln_nchw(x, ln):
    return F.layer_norm(x.permute(0, 2, 3, 1), ln.normalized_shape, ln.weight, ln.bias,
                        ln.eps).permute(0, 3, 1, 2)


def _reference_early(m, img):
    """The official NCHW computation of patch embed, stage 1 and stage 2 (convs as convs)."""
    x = F.conv2d(img, m.patch_embed.proj.weight, m.patch_embed.proj.bias, stride=4)
    d1, d2, _ = m.depths
    feats = []
    for i, blk in enumerate(m.blocks[:m.num_early]):
        if i in (d1, d1 + d2 + 1):
            feats.append(x)
            x = F.conv2d(_ln_nchw(x, blk.norm), blk.reduction.weight, blk.reduction.bias, stride=2)
        else:
            mlp = blk.mlp
            y = F.gelu(F.conv2d(_ln_nchw(x, blk.norm2), mlp.fc1.weight, mlp.fc1.bias))
            y = F.conv2d(_ln_nchw(y, mlp.ffn_ln), mlp.fc2.weight, mlp.fc2.bias)
            x = x + y
    return feats, x


def test_early_stages_match_official_conv_formulas():
    m = make(arch=dict(embed_dims=64, depths=(2, 2, 1), num_heads=2), out_indices=(0, 1))
    img = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        f4, f8 = m(img)
        ref, _ = _reference_early(m, img)
    torch.testing.assert_close(f4, ref[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(f8, ref[1], rtol=1e-5, atol=1e-5)


def test_stage3_block_matches_official_formula():
    m = make()
    blk = m.stage3_blocks[0]
    for p in blk.parameters():  # non-trivial biases / norms
        torch.nn.init.normal_(p, std=0.1) if p.dim() == 1 else None
    x = torch.randn(2, 10, 64)
    a, s = blk.attn, blk.attn.scale
    h = blk.norm1(x)
    q = F.linear(h, a.q_proj.weight, a.q_bias).reshape(2, 10, 2, 32).transpose(1, 2)
    k = F.linear(h, a.k_proj.weight).reshape(2, 10, 2, 32).transpose(1, 2)
    v = F.linear(h, a.v_proj.weight, a.v_bias).reshape(2, 10, 2, 32).transpose(1, 2)
    attn = ((q * s).float() @ k.float().transpose(-2, -1)).softmax(-1)
    y = a.proj((attn @ v).transpose(1, 2).reshape(2, 10, 64))
    ref = x + blk.gamma_1 * y
    mlp = blk.mlp
    hid = F.silu(mlp.w1(blk.norm2(ref))) * mlp.w2(blk.norm2(ref))
    ref = ref + blk.gamma_2 * mlp.w3(mlp.ffn_ln(hid))
    with torch.no_grad():
        torch.testing.assert_close(blk(x), ref.detach(), rtol=1e-5, atol=1e-5)


def test_mask_token_matches_official_unfold_fold():
    m = make(use_mask_token=True)
    torch.nn.init.normal_(m.mask_token)
    img = torch.randn(2, 3, 64, 64)
    mask = torch.rand(2, 16) > 0.5
    with torch.no_grad():
        out = m.patch_embed(img, mask, m.mask_token)  # channel-last
        x = F.conv2d(img, m.patch_embed.proj.weight, m.patch_embed.proj.bias, stride=4)
        cols = F.unfold(x, kernel_size=4, stride=4).transpose(1, 2)
        w = mask.unsqueeze(-1).float()
        cols = cols * (1 - w) + m.mask_token * w
        ref = F.fold(cols.transpose(1, 2), output_size=(16, 16), kernel_size=4, stride=4)
    torch.testing.assert_close(out.permute(0, 3, 1, 2), ref)
    assert m.mask_token.shape == (1, 1, 4 * 64)
    with torch.no_grad():  # masking changes the output of masked patches only at stage 1
        f4 = m.forward_features(img, mask=mask)[0]
        f4_plain = m.forward_features(img)[0]
        ref4 = ref.permute(0, 2, 3, 1)  # stage 1 (per-pixel ConvMLP blocks) on the reference
        for blk in m.blocks[:m.depths[0]]:
            ref4 = blk(ref4)
    assert f4.shape == (2, 16, 16, 16)
    torch.testing.assert_close(f4, ref4)
    # (B, 16, 16, C) -> one flag per stage-1 pixel: the 4 x 4 pixels of each patch share its flag
    masked = mask.reshape(2, 4, 1, 4, 1).expand(2, 4, 4, 4, 4).reshape(2, 16, 16)
    assert masked.any() and (~masked).any()
    torch.testing.assert_close(f4[~masked], f4_plain[~masked])
    assert (f4[masked] - f4_plain[masked]).abs().amax(-1).min() > 1e-3


# -- token migration -----------------------------------------------------------------------------
def test_migration_schedule():
    assert build_migration_schedule(0.4, 49, range(24), 24, 'floor') == [0] * 24
    assert build_migration_schedule(0.4, 64, range(4), 24, 'floor')[:5] == [6, 6, 6, 6, 0]
    r = build_migration_schedule(0.4, 64, range(24), 24, 'cumulative')
    assert sum(r) == round(0.4 * 64) and max(r) - min(r) <= 1
    r = build_migration_schedule(0.1, 49, [2, 5], 8, 'cumulative')
    assert r == [0, 0, 2, 0, 0, 3, 0, 0]


def test_migration_zero_is_bit_identical():
    img = torch.randn(2, 3, 112, 112)
    plain = make()
    with torch.no_grad():
        ref = plain(img)[0]
        for kw in (dict(migration_ratio=0.), dict(migration_ratio=0., drop_layers=2),
                   dict(migration_ratio=0.3, migration_schedule='floor', window_size=3)):
            m = make(**kw)
            assert not any(m.drop_schedule)
            assert torch.equal(m(img)[0], ref)


def _check_positions(record, T):
    allpos = torch.cat([record['kept_pos']] + record['dropped_pos'], dim=2)
    assert allpos.shape[2] == T
    expected = torch.arange(T).expand_as(allpos)
    assert torch.equal(allpos.sort(dim=2).values, expected)  # every position exactly once


@pytest.mark.parametrize('kw', [dict(window_size=7), dict(window_size=4),  # 4: padded 7x7 grid
                                dict(window_size=7, attn_mode='gathering', window_rpe='rpe'),
                                dict(window_size=4, attn_mode='window', migration_point='attn')])
def test_migration_replenishes_every_position(kw):
    m = make(migration_ratio=0.4, **kw)
    img = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        (f4, f8, f16), rec = m.forward_features(img, return_migration=True)
    ws = rec['window_size']
    T = ws * ws
    assert sum(m.drop_schedule) == round(0.4 * T)
    assert len(rec['dropped_pos']) == sum(r > 0 for r in m.drop_schedule)
    _check_positions(rec, T)
    assert f16.shape == (2, 7, 7, 64)
    # the map holds the kept features at kept positions and the stored features at the others
    Hq, Wq = rec['grid']
    full = F.pad(f16, (0, 0, 0, Wq - 7, 0, Hq - 7))
    win = window_partition(full, ws).reshape(2, -1, T, 64)
    valid = window_partition(F.pad(torch.ones(1, 7, 7, 1), (0, 0, 0, Wq - 7, 0, Hq - 7)),
                             ws).reshape(1, -1, T).bool()
    for pos, feat in [(rec['kept_pos'], rec['kept_feat'])] + list(
            zip(rec['dropped_pos'], rec['dropped_feat'])):
        got = win.gather(2, pos.unsqueeze(-1).expand(-1, -1, -1, 64))
        v = valid.expand(2, -1, -1).gather(2, pos)
        assert torch.equal(got[v], feat[v])
    assert torch.isfinite(f16).all() and (f16.abs().sum(-1) > 0).all()


def test_migration_matches_running_plain_blocks_on_shrinking_sets():
    """Global attention: the dropped tokens really leave; the selection is the top-r A tokens."""
    m = make(migration_ratio=0.3, window_size=7)
    img = torch.randn(1, 3, 112, 112)
    with torch.no_grad():
        (_, _, f16), rec = m.forward_features(img, return_migration=True)
        # reference: plain blocks on the remaining token set (window-raster order is irrelevant)
        x = m.forward_early(img)[1]
        x = x + m.resized_pos_embed(7, 7)
        t = window_partition(x, 7).reshape(1, 1, 49, 64)  # one window covers the 7x7 grid
        pos = torch.arange(49).reshape(1, 1, 49)
        event = 0
        for i, blk in enumerate(m.stage3_blocks):
            h = blk.norm1(t[0])
            _, k, _ = blk.attn.qkv(h)
            t = blk(t[0]).unsqueeze(0)
            r = m.drop_schedule[i]
            if not r:
                continue
            # the [R] rule (docs/fast_itpn.md#token-migration): A = even, B = odd positions; score =
            # max cosine of mean keys
            kk = F.normalize(k.mean(1), dim=-1)[0]
            score = (kk[0::2] @ kk[1::2].T).amax(-1)
            chosen = (score.topk(r).indices * 2)
            assert set(pos[0, 0, chosen].tolist()) == set(rec['dropped_pos'][event][0, 0].tolist())
            keep = torch.ones(t.shape[2], dtype=torch.bool)
            keep[chosen] = False
            t, pos = t[:, :, keep], pos[:, :, keep]
            event += 1
        ref = torch.zeros(1, 1, 49, 64)
        ref[0, 0, pos[0, 0]] = t[0, 0]
        got = window_partition(f16, 7).reshape(1, 1, 49, 64)
        torch.testing.assert_close(got[0, 0, pos[0, 0]], ref[0, 0, pos[0, 0]], rtol=1e-4,
                                   atol=1e-5)


# -- window attention and token gathering --------------------------------------------------------
def test_window_equal_to_grid_is_global_attention():
    img = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        ref = make()(img)[0]
        out = make(attn_mode='window', window_size=7)(img)[0]
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_padded_window_attention_matches_per_window_blocks():
    m = make(attn_mode='window', window_size=4)  # 7x7 grid -> padded to 8x8, padded keys masked
    img = torch.randn(1, 3, 112, 112)
    with torch.no_grad():
        out = m.forward_features(img)[2]
        x = m.forward_early(img)[1] + m.resized_pos_embed(7, 7)
        for blk in m.stage3_blocks:
            y = x.clone()
            for r0 in range(0, 7, 4):
                for c0 in range(0, 7, 4):
                    win = x[:, r0:r0 + 4, c0:c0 + 4]
                    h, w = win.shape[1:3]
                    y[:, r0:r0 + 4, c0:c0 + 4] = blk(win.reshape(1, h * w, 64)).reshape(1, h, w, 64)
            x = y
    torch.testing.assert_close(out, x, rtol=1e-4, atol=1e-5)


def _naive_gathering(m, x):
    """Independent per-window loops for attn_mode='gathering' (mean init, input queries)."""
    ws = m.window_size
    B, H, W, C = x.shape
    wins = [(r, c) for r in range(0, H, ws) for c in range(0, W, ws)]
    g = torch.stack([x[:, r:r + ws, c:c + ws].reshape(B, -1, C).mean(1) for r, c in wins], 1)
    for blk in m.stage3_blocks:
        a = blk.attn
        heads, hd = a.num_heads, a.head_dim

        def split(t):
            return t.reshape(*t.shape[:-1], heads, hd).transpose(-2, -3)

        new_x, new_g, qs, outs = x.clone(), g.clone(), [], []
        for wi, (r, c) in enumerate(wins):
            z = torch.cat([g[:, wi:wi + 1], x[:, r:r + ws, c:c + ws].reshape(B, -1, C)], 1)
            h = blk.norm1(z)
            q = split(F.linear(h, a.q_proj.weight, a.q_bias))
            k = split(F.linear(h, a.k_proj.weight))
            v = split(F.linear(h, a.v_proj.weight, a.v_bias))
            o = ((q * a.scale) @ k.transpose(-2, -1)).softmax(-1) @ v
            o = o.transpose(1, 2).reshape(B, -1, C)
            new_g[:, wi] = g[:, wi] + blk.gamma_1 * a.proj(o[:, 0])
            qs.append(q[:, :, 1:])
            outs.append(o[:, 1:])
        hg = blk.norm1(new_g)
        kg = split(F.linear(hg, a.k_proj.weight))
        vg = split(F.linear(hg, a.v_proj.weight, a.v_bias))
        for wi, (r, c) in enumerate(wins):
            oc = ((qs[wi] * a.scale) @ kg.transpose(-2, -1)).softmax(-1) @ vg
            oc = oc.transpose(1, 2).reshape(B, -1, C)
            t = x[:, r:r + ws, c:c + ws].reshape(B, -1, C) + blk.gamma_1 * a.proj(outs[wi] + oc)
            t = t + blk.mlp_branch(t)
            new_x[:, r:r + ws, c:c + ws] = t.reshape(B, ws, ws, C)
        g = new_g + blk.mlp_branch(new_g)
        x = new_x
    return x


def test_gathering_matches_naive_reference():
    m = make(attn_mode='gathering', window_size=7)
    img = torch.randn(2, 3, 224, 224)  # 14x14 grid, 4 windows
    with torch.no_grad():
        out = m.forward_features(img)[2]
        x = m.forward_early(img)[1] + m.resized_pos_embed(14, 14)
        ref = _naive_gathering(m, x)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_gathering_parameters_and_checkpoint_compatibility():
    plain = make()
    n_plain = sum(p.numel() for p in plain.parameters())
    heads, ws = 2, 7
    table = (2 * ws - 1) ** 2 * heads
    cases = [(dict(attn_mode='gathering'), 0), (dict(attn_mode='window'), 0),
             (dict(attn_mode='gathering', gathering_query='updated'), 0),
             (dict(attn_mode='gathering', gathering_init='learnable'), 64),
             (dict(attn_mode='gathering', window_rpe='rpe'), 4 * table),
             (dict(attn_mode='gathering', window_rpe='hrpe', global_attn_indexes=(1, 3)),
              2 * table)]
    img = torch.randn(1, 3, 224, 224)  # 14x14 grid: 4 windows of 7x7
    with torch.no_grad():
        ref = plain.forward_features(img)
        ref_embed = plain.patch_embed(img)
    for kw, extra in cases:
        m = make(seed=1, **kw)
        n = sum(p.numel() for p in m.parameters())
        assert n - n_plain == extra, kw
        missing, unexpected = m.load_state_dict(plain.state_dict(), strict=False)
        assert not unexpected
        assert all(k.endswith(('relative_position_bias_table', 'gathering_token'))
                   for k in missing)
        if extra == 0:  # a no-gathering checkpoint loads unchanged, strictly
            m.load_state_dict(plain.state_dict(), strict=True)
        with torch.no_grad():
            assert torch.equal(m.patch_embed(img), ref_embed)
            feats = m.forward_features(img)
        assert torch.equal(feats[0], ref[0]) and torch.equal(feats[1], ref[1])
        assert torch.isfinite(feats[2]).all()
        assert not torch.equal(feats[2], ref[2])  # stage 3 does change


def test_gathering_and_migration_train_backward():
    m = make(attn_mode='gathering', window_size=4, migration_ratio=0.4, window_rpe='rpe',
             global_attn_indexes=(3, ), drop_path_rate=0.1, with_cp=True)
    m.train()
    out = m(torch.randn(2, 3, 112, 112))[0]
    out.square().mean().backward()
    grads = {k: p.grad for k, p in m.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert grads['blocks.4.attn.relative_position_bias_table'].abs().sum() > 0


# -- detection wrapper ---------------------------------------------------------------------------
def test_det_wrapper_outputs():
    torch.manual_seed(0)
    m = MODELS.build(dict(type='hvt.FastiTPNDet', arch=TINY, migration_ratio=0.2,
                          attn_mode='gathering', window_size=4)).eval()
    m.init_weights()
    with torch.no_grad():
        outs = m(torch.randn(1, 3, 128, 160))
    assert [tuple(o.shape) for o in outs] == [(1, 256, 32, 40), (1, 256, 16, 20), (1, 256, 8, 10),
                                             (1, 256, 4, 5), (1, 256, 2, 2)]
    m4 = FastiTPNDet(arch=TINY, out_strides=(8, 16, 32, 64), extra_pool='max').eval()
    with torch.no_grad():
        assert [o.shape[-1] for o in m4(torch.randn(1, 3, 128, 128))] == [16, 8, 4, 2]
    assert any(k.startswith('pyramid.split_16to8') for k in m.state_dict())


def test_token_layout_api_for_pretraining():
    """``forward_tokens`` (used by hvt.iTPNPretrain) is the NCHW output in HiViT's token layout."""
    from hvt.models.layers.tokens import patch_tokens_to_map
    m = make(use_mask_token=True, out_indices=(0, 1, 2))
    img = torch.randn(2, 3, 64, 96)
    mask = torch.rand(2, 24) > 0.5
    with torch.no_grad():
        (u1, u2, u3), (hp, wp), hidden = m.forward_tokens(img, mask=mask, return_hidden=(3, ))
        maps = m(img, mask=mask)
    assert (u1.shape, u2.shape, u3.shape) == ((2, 24, 4, 4, 16), (2, 24, 2, 2, 32), (2, 24, 64))
    for u, ref in zip((u1, u2, u3), maps):
        assert torch.equal(patch_tokens_to_map(u, hp, wp), ref)
    assert torch.equal(hidden[3], u3)
    with pytest.raises(ValueError, match='ids_keep'):
        m.forward_tokens(img, ids_keep=torch.zeros(2, 6, dtype=torch.long))


def test_load_pretrained_hvt_layout():
    """HVT 'backbone.'/'neck.' checkpoints (the official layout: tests/test_official_keys.py)."""
    src = make(seed=3)
    det_src = FastiTPNDet(arch=TINY)
    hvt_ckpt = {'state_dict': {**{'backbone.' + k: v for k, v in src.state_dict().items()},
                               **{'neck.' + k: v for k, v in det_src.pyramid.state_dict().items()}}}
    det = FastiTPNDet(arch=TINY, img_size=112)
    missing = det.load_pretrained(hvt_ckpt)
    assert not missing
    assert torch.equal(det.state_dict()['pyramid.split_16to8.reduction.weight'],
                       det_src.pyramid.state_dict()['split_16to8.reduction.weight'])


# -- tools ---------------------------------------------------------------------------------------
TINY_CFG = """
default_scope = 'mmpretrain'
custom_imports = dict(imports=['hvt.models'], allow_failed_imports=False)
model = dict(type='ImageClassifier',
             backbone=dict(type='hvt.FastiTPN', arch=dict(embed_dims=64, depths=(1, 1, 2),
                                                          num_heads=2), out_type='avg_featmap'),
             neck=None, head=dict(type='LinearClsHead', num_classes=10, in_channels=64))
"""


def test_benchmark_tool_runs(tmp_path):
    """One iteration on a tiny model (no timing assertions): both parts, variants, JSON."""
    from toolkit import run_tool
    cfg = tmp_path / 'tiny_fast_itpn.py'
    cfg.write_text(TINY_CFG)
    out_json = tmp_path / 'bench.json'
    text = run_tool('analysis/benchmark.py', cfg, '--part', 'backbone', '--input-size', '64',
                    '--batch-size', '2', '--train-batch-size', '2', '--iters', '1', '--warmup',
                    '0', '--threads', '1', '--variant', 'mig',
                    'model.backbone.migration_ratio=0.4', 'model.backbone.window_size=2',
                    '--compare', cfg, '--baseline', cfg, '--out', out_json, timeout=600)
    assert 'infer img/s' in text and 'train img/s' in text
    res = json.loads(out_json.read_text())
    names = [m['name'] for m in res['models']]
    assert names == ['tiny_fast_itpn', 'mig', 'tiny_fast_itpn', 'baseline:tiny_fast_itpn']
    assert res['reference'] == 'baseline:tiny_fast_itpn'
    assert res['heap'].startswith('steady')  # glibc: allocations reused across the models
    for m in res['models']:
        assert m['infer']['img_per_s'] > 0 and m['train']['img_per_s'] > 0
        assert len(m['infer']['times']) == 1
        assert len(m['infer']['mem_mib']) == 1
        # the RSS rise of one tiny train step (0 when it reuses freed heap memory), in MiB
        assert m['train']['peak_mem_mib'] == max(m['train']['mem_mib'])
        assert 0 <= m['train']['peak_mem_mib'] < 256
    assert res['models'][3]['infer']['speed_ratio'] == 1.0
    # the whole classifier (real loss on random labels), bf16 autocast
    text = run_tool('analysis/benchmark.py', cfg, '--part', 'model', '--input-size', '32',
                    '--batch-size', '1', '--train-batch-size', '2', '--iters', '1', '--warmup',
                    '0', '--amp', '--optimizer', 'sgd', timeout=600)
    assert 'tiny_fast_itpn' in text


def test_benchmark_resolves_package_configs():
    """``mmpretrain::REL`` names the config shipped with mmpretrain (the Swin-T reference)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'hvt_benchmark', osp.join(ROOT, 'tools', 'analysis', 'benchmark.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = bench.resolve_config_path('mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py')
    assert osp.isfile(path) and path.endswith('swin-tiny_16xb64_in1k.py')
    assert bench.resolve_config_path('configs/x.py') == 'configs/x.py'
    with pytest.raises(FileNotFoundError, match='nope.py'):
        bench.load_cfg('mmpretrain::nope.py', {})


def test_train_tool_fine_tuning_run(tiny_data, tmp_path):
    """A tiny tools/train.py run of the real Fast-iTPN-T fine-tuning config (layer decay, EMA)."""
    import math
    from toolkit import cls_smoke_options, logged_losses, run_tool
    config = 'configs/fast_itpn/fast-itpn-t_8xb128_in1k.py'
    work = tmp_path / 'work'
    opts = cls_smoke_options(tiny_data, work, img_size=64, epochs=2, config=config)
    opts += ['model.backbone.init_cfg=None', 'optim_wrapper.optimizer.lr=5e-4',
             'model.backbone.drop_path_rate=0.0',
             # a 0.1M-parameter arch keeps the run short on a shared 2-core machine
             'model.backbone.arch._delete_=True', 'model.backbone.arch.embed_dims=64',
             'model.backbone.arch.depths=(1,1,2)', 'model.backbone.arch.num_heads=2',
             'model.head.in_channels=64']
    out = run_tool('train.py', config, '--cfg-options', *opts, timeout=900)
    losses = logged_losses(out)
    assert len(losses) >= 4, out[-3000:]
    assert all(math.isfinite(v) for v in losses)
    k = max(1, len(losses) // 4)
    assert sum(losses[-k:]) / k < sum(losses[:k]) / k, f'loss did not decrease: {losses}'
    assert 'Layer decay: 8 layer ids' in out  # 1+1+1+1+2 blocks + patch embed + head
    assert (work / 'epoch_2.pth').is_file()


def test_clip_pretraining_config_drives_fast_itpn():
    """The Fast-iTPN CLIP-L pre-training config (cosine loss, patch-embed mask token, no aux),
    shrunk and with a small random teacher instead of CLIP-L: one finite training step."""
    from mmengine.config import Config
    cfg = Config.fromfile('configs/fast_itpn/itpn-clip-l_fast-itpn-t_64xb32-amp-coslr-1600e_in1k.py')
    m = cfg.model
    assert m.clip_loss == 'cosine' and m.backbone.type == 'hvt.FastiTPN'
    assert m.backbone.use_mask_token and m.neck.aux_depth == 0 and m.neck.teacher_dim == 768
    assert m.target_generator.input_size == 196 and cfg.train_cfg.max_epochs == 1600
    m.backbone.update(arch=TINY, img_size=64)
    m.neck.update(in_channels=(16, 32, 64), fpn_dim=32, teacher_dim=24, num_heads=2)
    m.clip_mask = dict(num_masking_patches=6, min_num_patches=2)
    m.pop('data_preprocessor')
    m.target_generator = dict(
        type='hvt.FeatureTeacher',
        model=dict(type='mmpretrain.VisionTransformer',
                   arch=dict(embed_dims=24, num_layers=1, num_heads=2, feedforward_channels=48),
                   img_size=64, patch_size=16, out_type='raw', with_cls_token=True),
        output_index=0, drop_cls_token=True, norm_target=True)
    torch.manual_seed(0)
    model = MODELS.build(m)
    model.init_weights()
    model.train()
    img = torch.randn(2, 3, 64, 64)
    losses = model.loss([img, img], None)
    assert set(losses) == {'loss'} and torch.isfinite(losses['loss'])
    assert 0 < float(losses['loss'].detach()) <= 2  # cosine loss range
    losses['loss'].backward()
    assert model.backbone.mask_token.grad is not None  # masking happens at the patch embed
    assert model.backbone.mask_token.grad.abs().sum() > 0


def test_mask_rcnn_configs_build():
    from mmengine.config import Config
    from mmengine.registry import MODELS as ROOT_MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    import mmdet.models  # noqa: F401
    for name, modes in [('mask-rcnn_fast-itpn-b_1x_coco.py', {'global'}),
                        ('mask-rcnn_fast-itpn-b_mig40-gt-rpe_1x_coco.py', {'global', 'gathering'})]:
        cfg = Config.fromfile(f'configs/fast_itpn/{name}')
        with torch.device('meta'):
            det = ROOT_MODELS.build(cfg.model)
        assert type(det.backbone).__name__ == 'FastiTPNDet' and not det.with_neck
        assert set(det.backbone.block_modes) == modes
        assert det.backbone.out_strides == (4, 8, 16, 32, 64)
