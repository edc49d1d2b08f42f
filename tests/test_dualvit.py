"""Dual-ViT (docs/design/dualvit.md): exact counts, both modes, semantic tokens, gradients,
freezing, the official-checkpoint converter and a tiny tools/train.py run."""
import importlib.util
import math
import os.path as osp
import re

import pytest
import torch

import hvt.models  # noqa: F401  (registers hvt.DualViT / hvt.DualViTClsHead)
from toolkit import ROOT, cls_smoke_options, logged_losses, run_tool

from mmpretrain.registry import MODELS as PRETRAIN_MODELS  # noqa: E402
from mmpretrain.structures import DataSample  # noqa: E402

HEADS = dict(s=(448, 14), b=(512, 16), l=(512, 16))


def classifier_cfg(arch, token_label, num_classes=1000, **backbone):
    c4, heads = HEADS[arch]
    return dict(
        type='ImageClassifier',
        backbone=dict(type='hvt.DualViT', arch=arch, mode='cls', **backbone),
        head=dict(type='hvt.DualViTClsHead', num_classes=num_classes, in_channels=c4,
                  num_heads=heads, token_label=token_label))


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------- counts
@pytest.mark.parametrize('arch,token_label,expected', [
    ('s', False, 24_605_000),
    ('s', True, 25_054_000),
    ('b', True, 42_627_024),
    ('l', True, 72_966_544),
    ('b', False, 42_114_024),
    ('l', False, 72_453_544),
])
def test_classifier_param_counts(arch, token_label, expected):
    with torch.device('meta'):
        model = PRETRAIN_MODELS.build(classifier_cfg(arch, token_label))
    assert n_params(model) == expected


@pytest.mark.parametrize('arch,expected', [('s', 21_741_280), ('b', 38_448_128)])
def test_dense_param_counts(arch, expected):
    with torch.device('meta'):
        model = PRETRAIN_MODELS.build(dict(type='hvt.DualViT', arch=arch, mode='dense'))
    assert n_params(model) == expected
    # the last block drops the semantic tokens before a plain pixel FFN
    # (docs/design/dualvit.md#dense-prediction-backbone)
    last = model.block4[-1]
    assert last.pixel_only and not hasattr(last.mlp, 'fc_proxy')
    assert all(hasattr(b.mlp, 'fc_proxy') for b in model.block4[:-1])


def test_spec_part_counts_and_stage3_alternation():
    with torch.device('meta'):
        m = PRETRAIN_MODELS.build(dict(type='hvt.DualViT', arch='s', mode='cls'))
    sem = sum(p.numel() for n in ('q_embed', 'kv', 'proxy_ln', 'se')
              for p in getattr(m, n).parameters()) + m.q.numel()
    assert sem == 29_312
    assert n_params(m.patch_embed1) == 41_952
    assert n_params(m.block1) == 441_024 and n_params(m.block2) == 2_290_176
    assert n_params(m.block3) == 9_316_800 and n_params(m.block4) == 8_492_736
    assert [b.mlp.fc1.out_features for b in m.block3] == [1280, 960, 1280, 960, 1280, 960]
    assert [b.mlp.fc1.out_features for b in m.block4] == [1344] * 3
    assert not hasattr(m, 'norm4') and not hasattr(m, 'norm_proxy4')


def test_arch_and_mode_errors():
    with pytest.raises(ValueError, match=r"unknown arch 'xl'.*'b'.*'l'.*'s'"):
        PRETRAIN_MODELS.build(dict(type='hvt.DualViT', arch='xl'))
    with pytest.raises(ValueError, match='missing keys'):
        PRETRAIN_MODELS.build(dict(type='hvt.DualViT', arch=dict(embed_dims=[1, 2, 3, 4])))
    with pytest.raises(ValueError, match='mode'):
        PRETRAIN_MODELS.build(dict(type='hvt.DualViT', mode='det'))
    with pytest.raises(ValueError, match='out_indices'):
        PRETRAIN_MODELS.build(dict(type='hvt.DualViT', out_indices=(4, )))


# ---------------------------------------------------------------------------------- forward
def test_dense_forward_shapes_and_normalised_maps():
    torch.manual_seed(0)
    model = PRETRAIN_MODELS.build(dict(type='hvt.DualViT', arch='s', mode='dense'))
    model.init_weights()
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 16, 24), (1, 128, 8, 12), (1, 320, 4, 6),
                                              (1, 448, 2, 3)]
    for o in outs:  # each map leaves a LayerNorm (weight 1, bias 0 at init)
        assert torch.allclose(o.mean(1), torch.zeros(()), atol=1e-4)
        assert torch.allclose(o.var(1, unbiased=False), torch.ones(()), atol=1e-2)
    sub = PRETRAIN_MODELS.build(dict(type='hvt.DualViT', arch='s', mode='dense',
                                     out_indices=(1, -1)))
    sub.eval()
    with torch.no_grad():
        outs = sub(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [128, 448]


def test_test_time_tiles():
    """docs/design/dualvit.md#test-time-tiling-in-segmentation (official segmentation
    ``forward_test``): in eval mode an input larger than the
    tile is run whole, then tile by tile (last tile aligned to the image end), each tile's maps
    pasted over the whole-image maps; below the tile size and in training it is one plain pass."""
    torch.manual_seed(0)
    cfg = dict(type='hvt.DualViT', arch='s', mode='dense')
    plain = PRETRAIN_MODELS.build(cfg)
    plain.init_weights()
    tiled = PRETRAIN_MODELS.build(dict(cfg, test_tile_size=64))
    tiled.load_state_dict(plain.state_dict())
    plain.eval(), tiled.eval()
    x = torch.randn(1, 3, 96, 160)
    with torch.no_grad():
        outs = tiled(x)
        whole = plain(x)
        # reference: every 64x64 window on its own, pasted at its pixel offset / stride
        # (rows start at 0, 32; columns at 0, 64, 96), later windows over earlier ones
        ref = [w.clone() for w in whole]
        for h0 in (0, 32):
            for w0 in (0, 64, 96):
                for r, part, s in zip(ref, plain(x[:, :, h0:h0 + 64, w0:w0 + 64]), (4, 8, 16, 32)):
                    assert part.shape[-2:] == (64 // s, 64 // s)
                    r[:, :, h0 // s:h0 // s + 64 // s, w0 // s:w0 // s + 64 // s] = part
    assert [tuple(o.shape) for o in outs] == [tuple(w.shape) for w in whole] == [
        (1, 64, 24, 40), (1, 128, 12, 20), (1, 320, 6, 10), (1, 448, 3, 5)]
    for o, r, w in zip(outs, ref, whole):
        torch.testing.assert_close(o, r, rtol=0, atol=0)
        assert not torch.allclose(o, w, atol=1e-3)  # the tiles really replaced the whole pass

    with torch.no_grad():  # at most the tile size on both sides: the plain forward
        small = torch.randn(1, 3, 64, 64)
        for o, w in zip(tiled(small), plain(small)):
            torch.testing.assert_close(o, w, rtol=0, atol=0)
    plain.train(), tiled.train()  # training ignores the tiles (BN in batch mode, no drop path)
    for o, w in zip(tiled(x), plain(x)):
        torch.testing.assert_close(o, w, rtol=0, atol=0)

    # the ADE20K UperNet configs switch it on at the official 768 pixels
    from mmengine.config import Config
    for v in 'sb':
        path = osp.join(ROOT, f'configs/dualvit/upernet_dualvit-{v}_8xb2-160k_ade20k-512x512.py')
        assert Config.fromfile(path).model.backbone.test_tile_size == 768
    with pytest.raises(ValueError, match='test_tile_size'):
        PRETRAIN_MODELS.build(dict(cfg, test_tile_size=100))
    with pytest.raises(ValueError, match='test_tile_size'):
        PRETRAIN_MODELS.build(dict(cfg, mode='cls', test_tile_size=768))


def test_cls_forward_shapes_predict_and_loss():
    torch.manual_seed(0)
    model = PRETRAIN_MODELS.build(classifier_cfg('s', token_label=True, num_classes=10))
    model.init_weights()
    x = torch.randn(2, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(x)
        x_map, z = feats[-1]
        assert tuple(x_map.shape) == (2, 448, 2, 2)
        assert tuple(z.shape) == (2, 4, 448)  # m = floor(16/7)^2 at 64x64
        logits = model(x, mode='tensor')
        assert tuple(logits.shape) == (2, 10)
        # eval logits = head(cls) + 0.5 * max over pixel tokens of aux_head
        head = model.head
        cls, pix, hw, _ = head._tokens(feats)
        assert pix.shape[1] == 4 and hw == (2, 2)
        expect = head.head(cls) + 0.5 * head.aux_head(pix).max(1)[0]
        assert torch.allclose(logits, expect, atol=1e-5)
        preds = model(x, [DataSample() for _ in range(2)], mode='predict')
    assert preds[0].pred_score.shape == (10, )
    model.train()
    samples = [DataSample().set_gt_label(i) for i in (1, 3)]
    for s in samples:
        s.set_field(torch.randint(0, 10, (7, 7)), 'gt_token_label')
    losses = model(x, samples, mode='loss')
    assert set(losses) == {'loss', 'loss_aux'}
    assert all(torch.isfinite(v) for v in losses.values())


def test_semantic_token_count_grows_with_input():
    model = PRETRAIN_MODELS.build(dict(type='hvt.DualViT', arch='s', mode='dense'))
    model.eval()

    def m_for(h, w):
        with torch.no_grad():
            x, hw = model.patch_embed1(torch.zeros(1, 3, h, w))
            return model.semantic_tokens(x, hw).shape[1]

    counts = {(h, w): m_for(h, w) for h, w in [(64, 64), (128, 96), (224, 224), (384, 384)]}
    for (h, w), m in counts.items():
        h1, w1 = math.ceil(math.ceil(h / 2) / 2), math.ceil(math.ceil(w / 2) / 2)
        assert m == (h1 // 7) * (w1 // 7)
    assert counts[(224, 224)] == 64 and counts[(384, 384)] == 169
    assert counts[(64, 64)] < counts[(128, 96)] < counts[(224, 224)] < counts[(384, 384)]
    with pytest.raises(ValueError, match='smaller than the semantic pool'):
        m_for(16, 16)


def test_semantic_queries_interpolated_only_off_grid():
    """At an 8x8 pooled grid the learnable queries are used as they are; elsewhere they are
    bicubic-resized, so the output depends on every query through interpolation."""
    torch.manual_seed(0)
    model = PRETRAIN_MODELS.build(dict(type='hvt.DualViT', arch='s', mode='dense'))
    model.init_weights()
    x, hw = model.patch_embed1(torch.randn(1, 3, 224, 224))
    z = model.semantic_tokens(x, hw)
    z.sum().backward()
    assert model.q.grad.abs().sum(1).gt(0).all()
    # no-op interpolation is an identity: equal result with the explicit resize path
    q = model.q.detach().reshape(8, 8, 64).permute(2, 0, 1)[None]
    resized = torch.nn.functional.interpolate(q, size=(8, 8), mode='bicubic', align_corners=False)
    assert torch.allclose(resized, q, atol=1e-6)


# ---------------------------------------------------------------------------------- training
def test_gradients_finite_with_mix_token_and_token_labels():
    torch.manual_seed(0)
    model = PRETRAIN_MODELS.build(classifier_cfg('s', True, 10, mix_token=True,
                                                 drop_path_rate=0.1))
    model.init_weights()
    model.train()
    samples = [DataSample().set_gt_label(i) for i in range(2)]
    for s in samples:
        s.set_field(torch.rand(10, 2, 2), 'gt_token_label')
    losses = model(torch.randn(2, 3, 64, 64), samples, mode='loss')
    sum(losses.values()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f'{name} got no gradient'
        assert torch.isfinite(p.grad).all(), f'{name} has a non-finite gradient'

    dense = PRETRAIN_MODELS.build(dict(type='hvt.DualViT', arch='s', mode='dense',
                                       drop_path_rate=0.1, with_cp=True))
    dense.init_weights()
    dense.train()
    outs = dense(torch.randn(2, 3, 64, 64))
    sum(o.square().mean() for o in outs).backward()
    for name, p in dense.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_mix_token_box_and_unmix():
    torch.manual_seed(3)
    model = PRETRAIN_MODELS.build(dict(type='hvt.DualViT', arch='s', mode='cls',
                                       mix_token=True))
    x = torch.randn(3, 32 * 32, 64)
    for _ in range(20):
        mixed, (r1, c1, r2, c2) = model._mix_tokens(x, (32, 32))
        if r2 > r1 and c2 > c1:
            break
    assert r2 > r1 and c2 > c1, 'no non-empty MixToken box in 20 draws'
    a, b = x.reshape(3, 32, 32, 64), mixed.reshape(3, 32, 32, 64)
    box = (slice(None), slice(8 * r1, 8 * r2), slice(8 * c1, 8 * c2))
    assert torch.equal(b[box], a.flip(0)[box])
    outside = torch.ones(32, 32, dtype=torch.bool)
    outside[8 * r1:8 * r2, 8 * c1:8 * c2] = False
    assert torch.equal(b[:, outside], a[:, outside])


def test_token_label_head_needs_label_maps():
    model = PRETRAIN_MODELS.build(classifier_cfg('s', True, 10))
    model.train()
    samples = [DataSample().set_gt_label(0) for _ in range(2)]
    with pytest.raises(KeyError, match='gt_token_label'):
        model(torch.randn(2, 3, 64, 64), samples, mode='loss')
    model.head.aux_loss_weight = 0.
    losses = model(torch.randn(2, 3, 64, 64), samples, mode='loss')
    assert set(losses) == {'loss'}


def test_frozen_stages_stay_frozen():
    torch.manual_seed(0)
    # frozen_stages=2: the stem (patch_embed1 + semantic-token init) and stages 0 and 1
    model = PRETRAIN_MODELS.build(dict(type='hvt.DualViT', arch='s', mode='dense',
                                       frozen_stages=2))
    model.init_weights()
    model.train()
    frozen = ['q', 'q_embed', 'kv', 'se', 'proxy_ln', 'patch_embed1', 'block1', 'norm1',
              'norm_proxy1', 'patch_embed2', 'proxy_embed2', 'block2', 'norm2', 'norm_proxy2']
    is_frozen = lambda n: n.split('.')[0] in frozen  # noqa: E731
    for name, p in model.named_parameters():
        assert p.requires_grad == (not is_frozen(name)), name
    assert not model.patch_embed1.training and not model.block2.training
    assert model.block3.training
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.)
    for _ in range(2):
        opt.zero_grad()
        sum(o.mean() for o in model(torch.randn(2, 3, 64, 64))).backward()
        opt.step()
    after = model.state_dict()
    for k in before:
        if is_frozen(k):
            assert torch.equal(before[k], after[k]), f'{k} changed although frozen'
    assert not torch.equal(before['block3.0.attn.q.weight'], after['block3.0.attn.q.weight'])

    # norm_eval keeps the stem BN statistics fixed in training
    m2 = PRETRAIN_MODELS.build(dict(type='hvt.DualViT', arch='s', norm_eval=True))
    m2.train()
    rm = m2.patch_embed1.conv[1].running_mean.clone()
    m2(torch.randn(2, 3, 64, 64))
    assert torch.equal(rm, m2.patch_embed1.conv[1].running_mean)


# ---------------------------------------------------------------------------------- converter
SPEC = dict(s=dict(stem=32, dims=[64, 128, 320, 448], depths=[3, 4, 6, 3]),
            b=dict(stem=64, dims=[64, 128, 320, 512], depths=[3, 4, 15, 3]))


def official_state_dict(arch='s', token_label=True, num_classes=1000, seed=0):
    """Keys and shapes of the official classification checkpoint, written from
    docs/design/dualvit.md
    (all block sections), independently of the HVT modules; random values."""
    a = SPEC[arch]
    h, C = a['stem'], a['dims']
    shapes = {}

    def lin(n, i, o):
        shapes[n + '.weight'], shapes[n + '.bias'] = (o, i), (o, )

    def ln(n, c):
        shapes[n + '.weight'], shapes[n + '.bias'] = (c, ), (c, )

    def bn(n, c):
        for k in ('weight', 'bias', 'running_mean', 'running_var'):
            shapes[f'{n}.{k}'] = (c, )
        shapes[n + '.num_batches_tracked'] = ()

    shapes['patch_embed1.conv.0.weight'] = (h, 3, 7, 7)
    shapes['patch_embed1.conv.3.weight'] = (h, h, 3, 3)
    shapes['patch_embed1.conv.6.weight'] = (h, h, 3, 3)
    for i in (1, 4, 7):
        bn(f'patch_embed1.conv.{i}', h)
    shapes['patch_embed1.proj.weight'], shapes['patch_embed1.proj.bias'] = (C[0], h, 3, 3), (C[0], )
    ln('patch_embed1.norm', C[0])
    shapes['q'] = (64, C[0])
    ln('q_embed.0', C[0])
    lin('q_embed.1', C[0], C[0])
    lin('kv', C[0], 2 * C[0])
    ln('proxy_ln', C[0])
    lin('se.0', C[0], C[0])
    lin('se.2', C[0], 2 * C[0])
    for i in (2, 3, 4):
        shapes[f'patch_embed{i}.proj.weight'] = (C[i - 1], C[i - 2], 3, 3)
        shapes[f'patch_embed{i}.proj.bias'] = (C[i - 1], )
        ln(f'patch_embed{i}.norm', C[i - 1])
        lin(f'proxy_embed{i}.proj_proxy.0', C[i - 2], C[i - 1])
        ln(f'proxy_embed{i}.proj_proxy.1', C[i - 1])
    for i in range(4):
        d = C[i]
        for j in range(a['depths'][i]):
            p = f'block{i + 1}.{j}.'
            ln(p + 'norm1', d)
            ln(p + 'norm2', d)
            shapes[p + 'gamma1'] = shapes[p + 'gamma2'] = (d, )
            lin(p + 'attn.q', d, d)
            lin(p + 'attn.kv', d, 2 * d)
            lin(p + 'attn.proj', d, d)
            if i < 2:
                lin(p + 'attn.q_proxy', d, d)
                lin(p + 'attn.kv_proxy', d, 2 * d)
                ln(p + 'attn.q_proxy_ln', d)
                ln(p + 'attn.p_ln', d)
                lin(p + 'attn.mlp_proxy.0', d, 4 * d)
                lin(p + 'attn.mlp_proxy.2', 4 * d, d)
                ln(p + 'attn.proxy_ln', d)
                ln(p + 'attn.qkv_proxy.0', d)
                lin(p + 'attn.qkv_proxy.1', d, 3 * d)
                for g in (1, 2, 3):
                    shapes[f'{p}attn.gamma{g}'] = (d, )
                hid = 8 * d
            else:
                hid = d * (3 if (i == 3 or j % 2) else 4)
                lin(p + 'mlp.fc_proxy.0', d, 2 * d)
                lin(p + 'mlp.fc_proxy.2', 2 * d, d)
            lin(p + 'mlp.fc1', d, hid)
            shapes[p + 'mlp.dwconv.dwconv.weight'] = (hid, 1, 3, 3)
            shapes[p + 'mlp.dwconv.dwconv.bias'] = (hid, )
            lin(p + 'mlp.fc2', hid, d)
        ln(f'norm{i + 1}', d)
        if i < 3:
            ln(f'norm_proxy{i + 1}', d)
    d = C[3]
    ln('post_network.0.norm1', d)
    ln('post_network.0.norm2', d)
    lin('post_network.0.attn.q', d, d)
    lin('post_network.0.attn.kv', d, 2 * d)
    lin('post_network.0.attn.proj', d, d)
    lin('post_network.0.mlp.fc1', d, 2 * d)
    lin('post_network.0.mlp.fc2', 2 * d, d)
    lin('head', d, num_classes)
    if token_label:
        lin('aux_head', d, num_classes)
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.tensor(7) if k.endswith('num_batches_tracked')
                else torch.randn(s, generator=g)) for k, s in shapes.items()}


def load_converter():
    path = osp.join(ROOT, 'tools', 'model_converters', 'dualvit2hvt.py')
    spec = importlib.util.spec_from_file_location('dualvit2hvt', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_official_layout_matches_spec_count():
    sd = official_state_dict('s', token_label=True)
    params = sum(v.numel() for k, v in sd.items()
                 if not re.search(r'running_(mean|var)|num_batches_tracked', k))
    assert params == 25_054_000


def test_convert_official_cls_checkpoint_loads_strict():
    conv = load_converter()
    sd = official_state_dict('s', token_label=True)
    sd['some_extra.weight'] = torch.zeros(3)
    out, report = conv.convert({'model': sd}, mode='cls')
    assert report['unmatched'] == ['some_extra.weight'] and report['dropped'] == []
    assert out['head.head.weight'] is sd['head.weight']
    assert out['head.norm4.weight'] is sd['norm4.weight']
    key = 'block1.0.attn.qkv_proxy.1.weight'
    assert out['backbone.' + key] is sd[key]
    model = PRETRAIN_MODELS.build(classifier_cfg('s', token_label=True))
    model.load_state_dict(out, strict=True)
    assert torch.equal(model.backbone.q, sd['q'])
    arch, head = conv.infer_arch(sd)
    assert arch['embed_dims'] == [64, 128, 320, 448] and arch['depths'] == [3, 4, 6, 3]
    assert head == dict(num_classes=1000, in_channels=448, num_heads=14, token_label=True)


def test_convert_official_to_dense_loads_strict():
    conv = load_converter()
    sd = official_state_dict('b', token_label=True)
    out, report = conv.convert(sd, mode='dense')
    assert report['unmatched'] == []
    assert 'block4.2.mlp.fc_proxy.0.weight' in report['dropped']
    assert 'block4.1.mlp.fc_proxy.0.weight' in out
    assert not any(k.startswith(('post_network', 'head', 'aux_head')) for k in out)
    model = PRETRAIN_MODELS.build(dict(type='hvt.DualViT', arch='b', mode='dense'))
    model.load_state_dict(out, strict=True)
    assert n_params(model) == 38_448_128
    # an mmdet-trained official checkpoint (backbone.* keys) converts the same way
    det = {'state_dict': {'backbone.' + k: v for k, v in sd.items()
                          if not k.startswith(('post_network', 'head', 'aux_head'))}}
    det['state_dict']['neck.lateral_convs.0.conv.weight'] = torch.zeros(1)
    out2, report2 = conv.convert(det, mode='dense')
    assert report2['unmatched'] == ['neck.lateral_convs.0.conv.weight']
    assert out2.keys() == out.keys()


def test_converter_cli_reports_and_verifies(tmp_path):
    sd = official_state_dict('s', token_label=False)
    src, dst = tmp_path / 'dualvit_s.pth', tmp_path / 'out.pth'
    torch.save({'model': sd}, src)
    out = run_tool('model_converters/dualvit2hvt.py', src, dst, '--mode', 'cls', timeout=300)
    assert 'strict load OK' in out
    saved = torch.load(dst, map_location='cpu', weights_only=False)['state_dict']
    assert 'head.aux_head.weight' not in saved and 'head.head.weight' in saved
    del sd['block2.1.attn.gamma3']
    torch.save(sd, src)
    out = run_tool('model_converters/dualvit2hvt.py', src, dst, '--mode', 'dense', check=False,
                   timeout=300)
    assert 'missing in checkpoint: block2.1.attn.gamma3' in out and 'FAILED' in out
    # post_network (14 tensors), head (2), the last block's fc_proxy (4)
    assert 'dropped 20 classification-only keys' in out



# ---------------------------------------------------------------------------------- tools
def test_configs_build_exact_models():
    from mmengine.config import Config
    expected = {
        'dualvit-s_8xb128_in1k.py': 24_605_000, 'dualvit-s-tl_8xb128_in1k.py': 25_054_000,
        'dualvit-b-tl_8xb128_in1k.py': 42_627_024, 'dualvit-l-tl_8xb128_in1k.py': 72_966_544,
        'dualvit-b_8xb128_in1k.py': 42_114_024, 'dualvit-l_8xb128_in1k.py': 72_453_544,
        'dualvit-s-tl_8xb64_in1k-384px.py': 25_054_000,
        'dualvit-b-tl_8xb64_in1k-384px.py': 42_627_024,
        'dualvit-l-tl_8xb64_in1k-384px.py': 72_966_544,
    }
    for name, count in expected.items():
        cfg = Config.fromfile(osp.join(ROOT, 'configs', 'dualvit', name))
        with torch.device('meta'):
            model = PRETRAIN_MODELS.build(cfg.model)
        assert n_params(model) == count, name
        if '-tl' in name:
            assert cfg.model.backbone.mix_token and cfg.model.head.token_label
            assert cfg.model.get('train_cfg') is None  # no Mixup/CutMix: MixToken instead
        if '384px' in name:
            assert cfg.optim_wrapper.optimizer.lr == 8e-6 and cfg.train_cfg.max_epochs == 35
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'dualvit', 'dualvit-l_8xb128_in1k.py'))
    assert cfg.model.backbone.drop_path_rate == 0.3 and cfg.optim_wrapper.clip_grad.max_norm == 1.0
    text = open(osp.join(ROOT, 'configs', 'dualvit', 'dualvit-s-tl_8xb128_in1k.py')).read()
    assert 'NEEDS DENSE TOKEN-LABEL MAPS' in text


def test_train_tool_loss_decreases(tiny_data, tmp_path):
    config = 'configs/dualvit/dualvit-s_8xb128_in1k.py'
    work = tmp_path / 'work'
    # 32x32 inputs (stem map 8x8, one semantic token), one epoch of 12 iterations: the machine
    # running the suite is small; the full recipe (RepeatAug sampler aside) is used otherwise
    opts = cls_smoke_options(tiny_data, work, img_size=32, epochs=1, batch_size=8, config=config)
    opts += ['train_dataloader.sampler.type=DefaultSampler', 'optim_wrapper.optimizer.lr=1e-3',
             'model.backbone.drop_path_rate=0.0']
    out = run_tool('train.py', config, '--cfg-options', *opts, timeout=1800)
    losses = logged_losses(out)
    assert len(losses) >= 8, out[-3000:]
    k = len(losses) // 4
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    assert all(math.isfinite(v) for v in losses)
    assert last < first - 0.5, f'loss did not decrease: {losses}'
    assert re.search(r'accuracy/top1: [0-9.]+', out)
    assert (work / 'epoch_1.pth').is_file()


# ---------------------------------------------------------------------------------- equations
def _mha(q, k, v, heads):
    """Reference multi-head attention written with explicit loops over heads."""
    d = q.shape[-1] // heads
    outs = []
    for i in range(heads):
        qi, ki, vi = (t[..., i * d:(i + 1) * d] for t in (q, k, v))
        a = torch.softmax(torch.einsum('bnd,bmd->bnm', qi, ki) / math.sqrt(d), dim=-1)
        outs.append(torch.einsum('bnm,bmd->bnd', a, vi))
    return torch.cat(outs, dim=-1)


def test_dual_and_merge_blocks_match_the_equations():
    from torch.nn import functional as F

    from hvt.models.layers.dualvit_blocks import DualBlock, MergeBlock
    torch.manual_seed(0)
    dim, heads, H, W, m = 16, 2, 3, 4, 5
    blk = DualBlock(dim, heads, mlp_ratio=2)
    for p in blk.parameters():  # non-trivial layer scales and norms
        torch.nn.init.normal_(p, 0, 0.5)
    x, z = torch.randn(2, H * W, dim), torch.randn(2, m, dim)
    out_x, out_z = blk(x, z, (H, W))

    a = blk.attn
    lin = lambda mod, t: F.linear(t, mod.weight, mod.bias)  # noqa: E731
    lnorm = lambda mod, t: F.layer_norm(t, (dim, ), mod.weight, mod.bias, mod.eps)  # noqa: E731
    xn = lnorm(blk.norm1, x)
    qkv = lin(a.qkv_proxy[1], lnorm(a.qkv_proxy[0], z))
    zr = z + a.gamma1 * _mha(*qkv.split(dim, -1), heads)
    kv = lin(a.kv_proxy, xn)
    zr = zr + a.gamma2 * _mha(lin(a.q_proxy, lnorm(a.q_proxy_ln, zr)), *kv.split(dim, -1), heads)
    zr = zr + a.gamma3 * lin(a.mlp_proxy[2], F.relu(lin(a.mlp_proxy[0], lnorm(a.p_ln, zr))))
    kv = lin(a.kv, lnorm(a.proxy_ln, zr))
    xr = x + blk.gamma1 * lin(a.proj, _mha(lin(a.q, xn), *kv.split(dim, -1), heads))
    h = lin(blk.mlp.fc1, lnorm(blk.norm2, xr))
    h = F.conv2d(h.transpose(1, 2).reshape(2, -1, H, W), blk.mlp.dwconv.dwconv.weight,
                 blk.mlp.dwconv.dwconv.bias, padding=1, groups=h.shape[-1])
    xr = xr + blk.gamma2 * lin(blk.mlp.fc2, F.gelu(h.flatten(2).transpose(1, 2)))
    assert torch.allclose(out_z, zr, atol=1e-5) and torch.allclose(out_x, xr, atol=1e-5)

    for pixel_only in (False, True):
        mb = MergeBlock(dim, heads, mlp_ratio=3, pixel_only=pixel_only)
        for p in mb.parameters():
            torch.nn.init.normal_(p, 0, 0.5)
        y = torch.randn(2, H * W + m, dim)
        out = mb(y, (H, W))
        yn = lnorm(mb.norm1, y)
        kv = lin(mb.attn.kv, yn)
        yr = y + mb.gamma1 * lin(mb.attn.proj, _mha(lin(mb.attn.q, yn), *kv.split(dim, -1), heads))
        if pixel_only:
            yr = yr[:, :H * W]
        yn = lnorm(mb.norm2, yr)
        h = lin(mb.mlp.fc1, yn[:, :H * W])
        h = F.conv2d(h.transpose(1, 2).reshape(2, -1, H, W), mb.mlp.dwconv.dwconv.weight,
                     mb.mlp.dwconv.dwconv.bias, padding=1, groups=h.shape[-1])
        f = lin(mb.mlp.fc2, F.gelu(h.flatten(2).transpose(1, 2)))
        if not pixel_only:
            s = lin(mb.mlp.fc_proxy[2], F.gelu(lin(mb.mlp.fc_proxy[0], yn[:, H * W:])))
            f = torch.cat([f, s], dim=1)
        assert out.shape == yr.shape and torch.allclose(out, yr + mb.gamma2 * f, atol=1e-5)


def test_semantic_init_and_class_block_match_the_equations():
    from torch.nn import functional as F
    torch.manual_seed(0)
    model = PRETRAIN_MODELS.build(dict(type='hvt.DualViT', arch='s', mode='dense'))
    for n in ('q_embed', 'kv', 'se', 'proxy_ln'):
        for p in getattr(model, n).parameters():
            torch.nn.init.normal_(p, 0, 0.3)
    C, H1, W1 = 64, 21, 30  # pooled grid 3 x 4: the 8x8 queries are bicubic-resized
    x = torch.randn(2, H1 * W1, C)
    z = model.semantic_tokens(x, (H1, W1))
    pooled = F.avg_pool2d(x.transpose(1, 2).reshape(2, C, H1, W1), 7).flatten(2).transpose(1, 2)
    k, v = model.kv(pooled).split(C, -1)
    q = F.interpolate(model.q.t().reshape(1, C, 8, 8), size=(3, 4), mode='bicubic')
    q = model.q_embed(q.reshape(C, 12).t())
    sem = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(C), -1) @ v
    g = model.se((sem + pooled).mean(1)).reshape(2, 2, C).softmax(1)
    ref = model.proxy_ln(g[:, :1] * sem + g[:, 1:] * pooled)
    assert z.shape == (2, 12, C) and torch.allclose(z, ref, atol=1e-5)

    head = PRETRAIN_MODELS.build(dict(type='hvt.DualViTClsHead', num_classes=5, in_channels=C,
                                      num_heads=2, token_label=False))
    x_map, zz = torch.randn(2, C, 2, 3), torch.randn(2, 4, C)
    t = torch.cat([x_map.flatten(2).transpose(1, 2), zz], 1)
    t = torch.cat([t.mean(1, keepdim=True), t], 1)
    blk = head.post_network[0]
    tn = blk.norm1(t)
    kv = blk.attn.kv(tn)
    cls = t[:, :1] + blk.attn.proj(_mha(blk.attn.q(tn[:, :1]), *kv.split(C, -1), 2))
    cls = cls + blk.mlp.fc2(F.gelu(blk.mlp.fc1(blk.norm2(cls))))
    assert torch.allclose(head([(x_map, zz)]), head.head(head.norm4(cls[:, 0])), atol=1e-5)


def test_head_mix_token_target_and_unmix():
    """With a MixToken box the class target mixes with the flipped batch by the unmixed area, and
    the aux predictions inside the box are swapped back before the dense loss."""
    from torch.nn import functional as F
    torch.manual_seed(0)
    K, C = 6, 32
    head = PRETRAIN_MODELS.build(dict(
        type='hvt.DualViTClsHead', num_classes=K, in_channels=C, num_heads=2, token_label=True,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')))
    x_map, z = torch.randn(2, C, 2, 2), torch.randn(2, 3, C)
    samples = [DataSample().set_gt_label(i) for i in (1, 4)]
    dense = [torch.randint(0, K, (2, 2)) for _ in range(2)]
    for s, d in zip(samples, dense):
        s.set_field(d, 'gt_token_label')
    box = (0, 0, 1, 2)  # top row of the 2x2 grid: lambda = 1 - 2/4
    losses = head.loss([(x_map, z, box)], samples)

    cls, pix, hw, _ = head._tokens([(x_map, z)])
    onehot = F.one_hot(torch.tensor([1, 4]), K).float()
    target = 0.5 * onehot + 0.5 * onehot.flip(0)
    target = target * 0.9 + 0.1 / K
    ref_cls = -(target * F.log_softmax(head.head(cls), -1)).sum(-1).mean()
    aux = head.aux_head(pix).reshape(2, 2, 2, K)
    aux = torch.cat([aux.flip(0)[:, :1], aux[:, 1:]], dim=1).reshape(2, 4, K)
    t = torch.stack([F.one_hot(d, K).reshape(4, K).float() for d in dense])
    ref_aux = 0.5 * -(t * F.log_softmax(aux, -1)).sum(-1).mean()
    assert torch.allclose(losses['loss'], ref_cls, atol=1e-5)
    assert torch.allclose(losses['loss_aux'], ref_aux, atol=1e-5)
