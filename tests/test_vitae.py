"""ViTAE and ViTAEv2 backbones, configs, converter and training (docs/design/vitae.md)."""
import glob
import math
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from torch import nn

import hvt.models  # noqa: F401  (registers hvt.ViTAE / hvt.ViTAEv2)
from hvt.models.backbones.vitae import ViTAE
from hvt.models.backbones.vitae_common import add_relative_position_index
from hvt.models.backbones.vitaev2 import ViTAEv2
from hvt.registry import MODELS
from toolkit import ROOT, cls_smoke_options, logged_losses, run_tool

from mmpretrain.registry import MODELS as PRETRAIN_MODELS  # noqa: E402

# docs/design/vitae.md#exact-parameter-counts-and-macs [code-measured]: params with the 1000-class
# head, frozen Performer params
V2_COUNTS = {'s': (19_355_688, 512), '48m': (48_674_632, 768), 'b': (89_693_352, 1024)}
V1_COUNTS = {
    't': (4_886_888, 256, 4_096), '6m': (6_614_120, 256, 4_096), '13m': (10_834_728, 320, 4_096),
    's': (24_032_136, 384, 23_040), 's-neurips': (23_191_528, 384, 4_096),
    'b': (89_341_672, 768, 0), 'l': (311_724_008, 1024, 0), 'h': (644_528_360, 1280, 0)
}
# narrowed archs for fast real forward/backward passes
TINY_V2 = dict(embed_dims=[8, 8, 16, 16], token_dims=[16, 32, 48, 64], depths=[1, 1, 2, 1],
               rc_heads=[1, 1, 2, 2], nc_heads=[1, 2, 2, 4], rc_groups=[1, 4, 8, 8],
               nc_groups=[1, 8, 8, 16])
TINY_V1 = dict(embed_dims=[8, 8, 16], token_dims=[8, 16, 32], depth=2, num_heads=2, nc_groups=8,
               mlp_ratio=2.)
TINY_V1_PATCH = dict(patch_size=16, embed_dims=32, depth=2, num_heads=2, nc_groups=8,
                     mlp_ratio=4.)


def n_params(m, trainable=None):
    return sum(p.numel() for p in m.parameters()
               if trainable is None or p.requires_grad == trainable)


def head_params(c):
    return c * 1000 + 1000


# ------------------------------------------------------------------------------ exact counts
@pytest.mark.parametrize('arch', sorted(V2_COUNTS))
def test_vitaev2_exact_param_count(arch):
    count, channels = V2_COUNTS[arch]
    with torch.device('meta'):
        m = MODELS.build(dict(type='hvt.ViTAEv2', arch=arch))
    assert n_params(m) + head_params(channels) == count
    assert m.token_dims[-1] == channels


@pytest.mark.parametrize('arch', sorted(V1_COUNTS))
def test_vitae_exact_param_count(arch):
    count, channels, frozen = V1_COUNTS[arch]
    with torch.device('meta'):
        m = MODELS.build(dict(type='hvt.ViTAE', arch=arch))
    assert n_params(m) + head_params(channels) == count
    assert n_params(m, trainable=False) == frozen  # Performer random features: saved, counted


def test_vitae_h_patch14_reading():
    with torch.device('meta'):
        m = MODELS.build(dict(type='hvt.ViTAE', arch='h', patch_size=14))
    # docs/design/vitae.md#vitae-h-patch-size (paper's likely setting)
    assert n_params(m) + head_params(1280) == 644_374_760
    assert m.layers[0].RC.pos_embed.shape == (1, 16 * 16 + 1, 1280)


def test_vitaev2_per_stage_counts():
    """docs/design/vitae.md#exact-parameter-counts-and-macs per-module table (RC params; params per
    NC) and BN/LN totals for S."""
    table = {
        's': [(176_256, 382_784), (244_800, 241_792), (709_632, 876_800),
              (2_795_520, 3_326_464)],
        '48m': [(234_912, 859_872), (402_432, 541_248), (1_594_368, 1_967_232),
                (6_285_312, 7_473_408)],
        'b': [(452_064, 1_527_424), (779_232, 959_744), (2_832_384, 3_492_352),
              (11_169_792, 13_276_160)],
    }
    for arch, rows in table.items():
        with torch.device('meta'):
            m = ViTAEv2(arch)
        for layer, (rc, nc) in zip(m.layers, rows):
            assert n_params(layer.RC) == rc
            assert {n_params(c) for c in layer.NC} == {nc}
    with torch.device('meta'):
        s = ViTAEv2('s')
    bn = sum(n_params(x) for x in s.modules() if isinstance(x, nn.BatchNorm2d))
    ln = sum(n_params(x) for x in s.modules() if isinstance(x, nn.LayerNorm))
    assert (bn, ln) == (36_608, 18_176)


def _gmacs(backbone, channels, size):
    from torch.utils.flop_counter import FlopCounterMode
    with torch.device('meta'):
        x = torch.randn(1, 3, size, size)
        head = nn.Linear(channels, 1000)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        feat = backbone(x)[-1]
        head(feat.mean((2, 3)) if feat.ndim == 4 else feat)
    return counter.get_total_flops() / 2 / 1e9


@pytest.mark.parametrize('build,channels,size,gmacs', [
    (lambda: ViTAEv2('s'), 512, 224, 5.753),
    (lambda: ViTAEv2('s'), 512, 384, 18.021),  # includes the centred 96 -> 98 window padding
    (lambda: ViTAEv2('48m'), 768, 224, 13.341),
    (lambda: ViTAE('t'), 256, 224, 1.757),
    (lambda: ViTAE('13m'), 320, 224, 3.036),
    (lambda: ViTAE('b', out_type='avg_featmap'), 768, 224, 18.084),
])
def test_macs_match_the_official_code(build, channels, size, gmacs):
    """docs/design/vitae.md#exact-parameter-counts-and-macs [code-measured] GMACs (convs, linears,
    attention matmuls, Performer einsums),
    counted on the meta device: a check of the whole forward computation, not only shapes."""
    with torch.device('meta'):
        m = build().eval()
    assert _gmacs(m, channels, size) == pytest.approx(gmacs, abs=5e-4)


def test_configs_build_the_exact_classifiers():
    """Every config builds its mmpretrain classifier with its exact count
    (docs/design/vitae.md#exact-parameter-counts-and-macs)."""
    expected = {
        'vitaev2-s': V2_COUNTS['s'][0], 'vitaev2-48m': V2_COUNTS['48m'][0],
        'vitaev2-b': V2_COUNTS['b'][0], 'vitae-t': V1_COUNTS['t'][0],
        'vitae-6m': V1_COUNTS['6m'][0], 'vitae-13m': V1_COUNTS['13m'][0],
        'vitae-s': V1_COUNTS['s'][0], 'vitae-b-p16': V1_COUNTS['b'][0],
        'vitae-l-p16': V1_COUNTS['l'][0], 'vitae-h-p16': V1_COUNTS['h'][0]
    }
    files = sorted(glob.glob(osp.join(ROOT, 'configs', 'vitae*', 'vitae*_in1k*.py')))
    assert len(files) == 15  # 10 variants at 224 + 4 fine-tunes at 384 + ViTAE-H with FSDP
    seen = set()
    for f in files:
        name = osp.basename(f).split('_')[0]
        cfg = Config.fromfile(f)
        with torch.device('meta'):
            model = PRETRAIN_MODELS.build(cfg.model)
        assert n_params(model) == expected[name], f
        seen.add(name)
        if '384px' in f:
            assert cfg.train_dataloader.dataset.pipeline[1].scale == 384
    assert seen == set(expected)


# ------------------------------------------------------------------------------ forward shapes
def test_vitaev2_shapes_at_224_and_non_square():
    torch.manual_seed(0)
    m = ViTAEv2(TINY_V2, out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = m(torch.randn(2, 3, 224, 224))
        assert [tuple(o.shape) for o in outs] == [(2, 16, 56, 56), (2, 32, 28, 28),
                                                 (2, 48, 14, 14), (2, 64, 7, 7)]
        outs = m(torch.randn(1, 3, 96, 160))
        assert [tuple(o.shape[-2:]) for o in outs] == [(24, 40), (12, 20), (6, 10), (3, 5)]
    with pytest.raises(ValueError, match='multiples of 32'):
        m(torch.randn(1, 3, 100, 96))


def test_vitaev2_small_real_arch_channels():
    m = ViTAEv2('s', out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = m(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 16, 24), (1, 128, 8, 12), (1, 256, 4, 6),
                                             (1, 512, 2, 3)]
    assert all(torch.isfinite(o).all() for o in outs)


def test_vitae_tiny_at_224_and_non_square():
    m = ViTAE('t', out_indices=(0, 1, 2)).eval()
    with torch.no_grad():
        outs = m(torch.randn(1, 3, 224, 224))
        assert [tuple(o.shape) for o in outs] == [(1, 64, 56, 56), (1, 64, 28, 28),
                                                 (1, 256, 14, 14)]
        outs = m(torch.randn(1, 3, 64, 96))
        assert [tuple(o.shape) for o in outs] == [(1, 64, 16, 24), (1, 64, 8, 12),
                                                 (1, 256, 4, 6)]
    pooled = ViTAE('t', out_type='avg_featmap').eval()
    pooled.load_state_dict(m.state_dict())
    with torch.no_grad():
        x = torch.randn(2, 3, 64, 64)
        torch.testing.assert_close(pooled(x)[0], m(x)[-1].mean((2, 3)))  # official mean pooling
    # no final norm for the small models
    # (docs/design/vitae.md#class-token-position-embedding-and-final-norm)
    assert not hasattr(m, 'fc_norm')


def test_vitae_patch_arch_class_token_and_fc_norm():
    torch.manual_seed(0)
    m = ViTAE(TINY_V1_PATCH, out_indices=(2, )).eval()
    assert m.final_norm and m.fc_norm.eps == 1e-6
    with torch.no_grad():
        fmap = m(torch.randn(2, 3, 224, 224))[0]
        assert fmap.shape == (2, 32, 14, 14)
        x = torch.randn(2, 3, 64, 96)
        fmap = m(x)[0]
        assert fmap.shape == (2, 32, 4, 6)
        m.out_type = 'avg_featmap'
        torch.testing.assert_close(m(x)[0], m.fc_norm(fmap.mean((2, 3))))


def test_vitae_paper_class_token_variant():
    """docs/design/vitae.md#class-token-position-embedding-and-final-norm: the paper's class token +
    sinusoid PE + LN(class token) as an option."""
    with torch.device('meta'):
        m = ViTAE('t', paper_cls_token=True)
    assert n_params(m) + head_params(256) == V1_COUNTS['t'][0] + 3 * 256
    torch.manual_seed(0)
    m = ViTAE(TINY_V1, paper_cls_token=True, out_type='avg_featmap', out_indices=(1, 2)).eval()
    assert all(nc.class_token for nc in m.layers[2].NC)
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        mid, feat = m(x)
        tokens, hw = m.layers[0](x)
        tokens, hw = m.layers[1](tokens.transpose(1, 2).reshape(2, -1, *hw))
        tokens, hw = m.layers[2](tokens.transpose(1, 2).reshape(2, -1, *hw),
                                 pre_nc=m._add_paper_cls)
    assert tokens.shape == (2, 1 + 4 * 6, 32) and mid.shape == (2, 16)
    torch.testing.assert_close(feat, m.norm(tokens[:, 0]))
    pe = ViTAE.sinusoid_encoding(3, 4)
    torch.testing.assert_close(pe[0, 1], torch.tensor([math.sin(1), math.cos(1),
                                                       math.sin(1 / 100), math.cos(1 / 100)]))
    with pytest.raises(ValueError, match='paper_cls_token'):
        ViTAE(TINY_V1_PATCH, paper_cls_token=True)


# ------------------------------------------------------------------------------ conventions
def test_out_indices():
    m = ViTAEv2(TINY_V2, out_indices=(1, -1)).eval()
    with torch.no_grad():
        outs = m(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [32, 64]
    assert ViTAEv2(TINY_V2).out_indices == [3]
    with pytest.raises(ValueError, match='out_indices'):
        ViTAEv2(TINY_V2, out_indices=(4, ))
    with pytest.raises(ValueError, match='out_indices'):
        ViTAE(TINY_V1, out_indices=(3, ))


def test_unknown_arch_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown arch 'xl'.*'48m'"):
        ViTAEv2('xl')
    with pytest.raises(ValueError, match=r"unknown arch 'xl'.*'13m'"):
        ViTAE('xl')
    with pytest.raises(ValueError, match='missing keys'):
        ViTAEv2(dict(embed_dims=[8] * 4))
    with pytest.raises(ValueError, match='one per stage'):
        ViTAEv2(dict(TINY_V2, depths=[1, 1, 1]))


def test_frozen_stages_get_no_gradients():
    torch.manual_seed(0)
    m = ViTAEv2(TINY_V2, out_indices=(0, 1, 2, 3), frozen_stages=2)
    m.train()
    assert not m.layers[0].training and not m.layers[1].training and m.layers[2].training
    bn = m.layers[1].RC.PCM[1]
    before = bn.running_mean.clone()
    outs = m(torch.randn(2, 3, 64, 64))
    sum(o.mean() for o in outs).backward()
    torch.testing.assert_close(bn.running_mean, before)  # frozen BN statistics do not move
    for i, layer in enumerate(m.layers):
        for name, p in layer.named_parameters():
            if i < 2:
                assert not p.requires_grad and p.grad is None, name
            else:
                assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_norm_eval_keeps_batchnorm_in_eval():
    m = ViTAE(TINY_V1, norm_eval=True).train()
    bns = [x for x in m.modules() if isinstance(x, nn.BatchNorm2d)]
    assert bns and not any(b.training for b in bns)
    assert m.layers[2].NC[0].training


@pytest.mark.parametrize('build', [
    lambda: ViTAEv2(TINY_V2, out_indices=(0, 1, 2, 3), drop_path_rate=0.2),
    lambda: ViTAE(TINY_V1, out_indices=(0, 1, 2), drop_path_rate=0.2),
    lambda: ViTAE(TINY_V1_PATCH, out_type='avg_featmap', drop_path_rate=0.2),
])
def test_backward_gives_finite_gradients(build):
    torch.manual_seed(0)
    m = build().train()
    outs = m(torch.randn(2, 3, 64, 64))
    sum((o**2).mean() for o in outs).backward()
    for name, p in m.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
        else:  # only the Performer random features are frozen
            assert name.endswith('attn.w') and p.grad is None


def test_with_cp_matches_plain_forward_and_backward():
    torch.manual_seed(0)
    plain = ViTAEv2(TINY_V2, out_indices=(0, 1, 2, 3), drop_path_rate=0.).train()
    ckpt = ViTAEv2(TINY_V2, out_indices=(0, 1, 2, 3), drop_path_rate=0., with_cp=True).train()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 64)
    losses = []
    for m in (plain, ckpt):
        outs = m(x)
        loss = sum(o.mean() for o in outs)
        loss.backward()
        losses.append(loss.detach())
    torch.testing.assert_close(losses[0], losses[1])
    for (n, p), (_, q) in zip(plain.named_parameters(), ckpt.named_parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6, msg=n)


def test_official_drop_path_slicing_quirk():
    rate = 0.13
    dpr = torch.linspace(0, rate, 14).tolist()

    def rates(m):
        return [getattr(nc.drop_path, 'drop_prob', 0.) for layer in m.layers for nc in layer.NC]

    with torch.device('meta'):
        official = rates(ViTAEv2('s', drop_path_rate=rate))
        cumulative = rates(ViTAEv2('s', drop_path_rate=rate, official_dpr_slicing=False))
    # docs/design/vitae.md#stochastic-depth-slicing: stage slices [0:2], [2:4], [2:10], [8:10] of 14
    # values
    assert official == pytest.approx(dpr[0:2] + dpr[2:4] + dpr[2:10] + dpr[8:10])
    assert cumulative == pytest.approx(dpr)
    assert max(official) < rate  # the last stage never reaches the maximum rate
    with torch.device('meta'):
        m = ViTAEv2('s', drop_path_rate=rate)
    assert all(not any(isinstance(x, nn.Dropout) and x.p > 0 for x in layer.RC.modules())
               for layer in m.layers)  # RCs: no drop path, no dropout


def test_layer_depth_for_layer_decay():
    m = ViTAE(TINY_V1_PATCH)
    assert m.get_layer_depth('backbone.layers.0.RC.pos_embed', 'backbone.') == (0, 3)
    assert m.get_layer_depth('backbone.layers.2.NC.1.attn.qkv.weight', 'backbone.') == (2, 3)
    assert m.get_layer_depth('backbone.fc_norm.weight', 'backbone.') == (3, 3)
    assert m.get_layer_depth('head.fc.weight', 'backbone.') == (3, 3)


# ---------------------------------------------------------------------- official checkpoints
def official_v2_shapes(embed, token, depths, rc_groups, nc_groups, mlp=4, windows=(1, 1, 0, 0),
                       dilations=((1, 2, 3, 4), (1, 2, 3), (1, 2), (1, 2)), kernels=(7, 3, 3, 3)):
    """Official ViTAEv2 classification keys and shapes, written from
    docs/design/vitae.md#model-variants-and-hyper-parameters and
    docs/design/vitae.md#official-checkpoint-keys."""
    sd = {}

    def conv(n, o, i, k, g=1):
        sd[n + '.weight'], sd[n + '.bias'] = (o, i // g, k, k), (o, )

    def bn(n, c):
        for s in ('weight', 'bias', 'running_mean', 'running_var'):
            sd[f'{n}.{s}'] = (c, )
        sd[n + '.num_batches_tracked'] = ()

    def lin(n, o, i, bias=True):
        sd[n + '.weight'] = (o, i)
        if bias:
            sd[n + '.bias'] = (o, )

    def ln(n, c):
        sd[n + '.weight'], sd[n + '.bias'] = (c, ), (c, )

    in_ch = 3
    for i in range(4):
        E, T, D = embed[i], token[i], embed[i] * len(dilations[i])
        p = f'layers.{i}.RC'
        for j in range(len(dilations[i])):
            conv(f'{p}.PRM.convs.{j}.0', E, in_ch, kernels[i])
        g = rc_groups[i]
        conv(f'{p}.PCM.0', E, in_ch, 3, g)
        bn(f'{p}.PCM.1', E)
        conv(f'{p}.PCM.3', E, E, 3, g)
        bn(f'{p}.PCM.4', E)
        conv(f'{p}.PCM.6', T, E, 3, g)
        ln(f'{p}.attn.norm1', D)
        lin(f'{p}.attn.attn.qkv', 3 * T, D, bias=bool(windows[i]))
        lin(f'{p}.attn.attn.proj', T, T)
        ln(f'{p}.attn.norm2', T)
        lin(f'{p}.attn.mlp.fc1', T, T)
        lin(f'{p}.attn.mlp.fc2', T, T)
        if windows[i]:
            sd[f'{p}.attn.attn.relative_position_index'] = (49, 49)
        for k in range(depths[i]):
            q, H, g = f'layers.{i}.NC.{k}', mlp * T, nc_groups[i]
            ln(f'{q}.norm1', T)
            lin(f'{q}.attn.qkv', 3 * T, T)
            lin(f'{q}.attn.proj', T, T)
            ln(f'{q}.norm2', T)
            lin(f'{q}.mlp.fc1', H, T)
            lin(f'{q}.mlp.fc2', T, H)
            conv(f'{q}.PCM.0', H, T, 3, g)
            bn(f'{q}.PCM.1', H)
            conv(f'{q}.PCM.3', T, H, 3, g)
            bn(f'{q}.PCM.4', T)
            conv(f'{q}.PCM.6', T, T, 3, g)
            if windows[i]:
                sd[f'{q}.attn.relative_position_index'] = (49, 49)
        in_ch = T
    lin('head', 1000, token[-1])
    return sd


def official_vitae_t_shapes():
    """Official vanilla ViTAE-T keys (Performer RCs, PRM-only RC3, 7 NCs)."""
    sd = {}
    dils, embeds, tokens = ((1, 2, 3, 4), (1, 2, 3), (1, 2)), (64, 64, 128), (64, 64, 256)
    in_ch = 3
    for i in range(3):
        E, T, p = embeds[i], tokens[i], f'layers.{i}.RC'
        for j in range(len(dils[i])):
            k = 7 if i == 0 else 3
            sd[f'{p}.PRM.convs.{j}.0.weight'], sd[f'{p}.PRM.convs.{j}.0.bias'] = (E, in_ch, k, k), (E, )
        if i < 2:
            D = E * len(dils[i])
            for n, shape in (('0', (E, in_ch)), ('2', (E, E)), ('5', (T, E))):
                sd[f'{p}.PCM.{n}.weight'], sd[f'{p}.PCM.{n}.bias'] = shape + (3, 3), shape[:1]
            for s in ('weight', 'bias', 'running_mean', 'running_var'):
                sd[f'{p}.PCM.3.{s}'] = (E, )
            sd[f'{p}.PCM.3.num_batches_tracked'] = ()
            sd.update({f'{p}.attn.norm1.weight': (D, ), f'{p}.attn.norm1.bias': (D, ),
                       f'{p}.attn.kqv.weight': (3 * T, D), f'{p}.attn.kqv.bias': (3 * T, ),
                       f'{p}.attn.w': (T // 2, T), f'{p}.attn.proj.weight': (T, T),
                       f'{p}.attn.proj.bias': (T, ), f'{p}.attn.norm2.weight': (T, ),
                       f'{p}.attn.norm2.bias': (T, ), f'{p}.attn.mlp.0.weight': (T, T),
                       f'{p}.attn.mlp.0.bias': (T, ), f'{p}.attn.mlp.2.weight': (T, T),
                       f'{p}.attn.mlp.2.bias': (T, )})
        in_ch = T
    for k in range(7):
        q, C, H = f'layers.2.NC.{k}', 256, 512
        sd.update({f'{q}.norm1.weight': (C, ), f'{q}.norm1.bias': (C, ),
                   f'{q}.attn.qkv.weight': (3 * C, C), f'{q}.attn.qkv.bias': (3 * C, ),
                   f'{q}.attn.proj.weight': (C, C), f'{q}.attn.proj.bias': (C, ),
                   f'{q}.norm2.weight': (C, ), f'{q}.norm2.bias': (C, ),
                   f'{q}.mlp.fc1.weight': (H, C), f'{q}.mlp.fc1.bias': (H, ),
                   f'{q}.mlp.fc2.weight': (C, H), f'{q}.mlp.fc2.bias': (C, ),
                   f'{q}.PCM.0.weight': (H, 4, 3, 3), f'{q}.PCM.0.bias': (H, ),
                   f'{q}.PCM.3.weight': (C, 8, 3, 3), f'{q}.PCM.3.bias': (C, ),
                   f'{q}.PCM.6.weight': (C, 4, 3, 3), f'{q}.PCM.6.bias': (C, )})
        for n, c in (('1', H), ('4', C)):
            for s in ('weight', 'bias', 'running_mean', 'running_var'):
                sd[f'{q}.PCM.{n}.{s}'] = (c, )
            sd[f'{q}.PCM.{n}.num_batches_tracked'] = ()
    sd['head.weight'], sd['head.bias'] = (1000, 256), (1000, )
    return sd


def _converter():
    from importlib import util
    spec = util.spec_from_file_location(
        'vitae2hvt', osp.join(ROOT, 'tools', 'model_converters', 'vitae2hvt.py'))
    module = util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def convert_in_process(capsys, *args):
    """``tools/model_converters/vitae2hvt.py *args`` in this process (one subprocess test
    drives the real command line; the others avoid the slow interpreter start-up)."""
    rc = _converter().main([str(a) for a in args])
    return rc, capsys.readouterr().out


def random_state(shapes, seed):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, s in shapes.items():
        if k.endswith('num_batches_tracked') or k.endswith('relative_position_index'):
            out[k] = torch.randint(0, 100, s, generator=g)
        else:
            out[k] = torch.randn(s, generator=g)
    return out


def _float_count(sd):
    return sum(v.numel() for k, v in sd.items()
               if not re.search(r'(running_|num_batches|relative_position_index)', k))


@pytest.mark.parametrize('name,config,shapes,count', [
    ('vitaev2-s', 'configs/vitaev2/vitaev2-s_8xb128_in1k.py',
     lambda: official_v2_shapes([64, 64, 128, 256], [64, 128, 256, 512], [2, 2, 8, 2],
                                [1, 16, 32, 64], [1, 32, 64, 128]), 19_355_688),
    ('vitae-t', 'configs/vitae/vitae-t_4xb128_in1k.py', official_vitae_t_shapes, 4_886_888),
])
def test_converter_official_layout_loads_strictly(name, config, shapes, count, tmp_path, capsys):
    ema = random_state(shapes(), 0)
    # the layout of docs/design/vitae.md#official-checkpoint-keys is the whole official model
    assert _float_count(ema) == count
    raw = random_state(shapes(), 1)
    src = tmp_path / 'official.pth'
    torch.save({'model': raw, 'state_dict_ema': ema, 'epoch': 309}, src)
    dst = tmp_path / 'hvt.pth'
    if name == 'vitaev2-s':  # the real command line, as a user runs it
        out = run_tool('model_converters/vitae2hvt.py', src, dst, '--arch', name, timeout=900)
    else:
        rc, out = convert_in_process(capsys, src, dst, '--arch', name)
        assert rc == 0
    assert "weights taken from 'state_dict_ema'" in out
    assert f'strict load into {name}: OK' in out
    state = torch.load(dst, map_location='cpu', weights_only=False)['state_dict']
    assert not any('relative_position_index' in k for k in state)
    model = PRETRAIN_MODELS.build(Config.fromfile(osp.join(ROOT, config)).model)
    model.load_state_dict(state, strict=True)
    sd = model.state_dict()
    torch.testing.assert_close(sd['head.fc.weight'], ema['head.weight'])
    torch.testing.assert_close(sd['backbone.layers.2.NC.1.PCM.3.weight'],
                               ema['layers.2.NC.1.PCM.3.weight'])
    if name == 'vitae-t':
        w = model.backbone.layers[0].RC.attn.w
        torch.testing.assert_close(w, ema['layers.0.RC.attn.w'])
        assert not w.requires_grad


def test_converter_reports_unmatched_and_missing_keys(tmp_path, capsys):
    ema = random_state(official_vitae_t_shapes(), 0)
    del ema['layers.2.NC.3.mlp.fc1.bias']
    ema['layers.2.NC.3.gamma1'] = torch.ones(256)
    ema['some_extra.weight'] = torch.ones(3)
    src = tmp_path / 'official.pth'
    torch.save({'model': ema}, src)
    rc, out = convert_in_process(capsys, src, tmp_path / 'o.pth', '--arch', 'vitae-t', '--mode',
                                 'backbone')
    assert rc == 1
    assert "weights taken from 'model'" in out
    assert "left out 1 keys that match no ViTAE module: ['some_extra.weight']" in out
    assert 'layers.2.NC.3.mlp.fc1.bias' in out and 'layers.2.NC.3.gamma1' in out
    assert 'strict load into vitae-t: FAILED' in out


def test_converter_needs_trust_for_pickled_objects(tmp_path, capsys):
    import argparse
    ema = random_state(official_vitae_t_shapes(), 0)
    src = tmp_path / 'official.pth'
    torch.save({'state_dict_ema': ema, 'args': argparse.Namespace(lr=1e-3)}, src)
    rc, out = convert_in_process(capsys, src, tmp_path / 'o.pth')
    assert rc == 2 and 'rerun with --trust-pickle' in out and not (tmp_path / 'o.pth').exists()
    rc, out = convert_in_process(capsys, src, tmp_path / 'o.pth', '--trust-pickle', '--arch',
                                 'vitae-t')
    assert rc == 0 and 'strict load into vitae-t: OK' in out


def test_converter_round_trip_and_pcm_padding():
    conv = _converter()
    shapes = official_v2_shapes([8, 8, 16, 16], [16, 32, 48, 64], [1, 1, 2, 1], [1, 4, 8, 8],
                                [1, 8, 8, 16])
    official = random_state(shapes, 0)
    state, unmatched = conv.convert({'state_dict_ema': official}, mode='backbone',
                                    log=lambda *a: None)
    assert unmatched == []
    m = ViTAEv2(TINY_V2)
    m.load_state_dict(state, strict=True)
    back, _ = conv.convert({'state_dict': {'backbone.' + k: v for k, v in state.items()}},
                           to_official=True)
    assert set(back) == set(official) - {'head.weight', 'head.bias'}
    assert torch.equal(back['layers.0.NC.0.attn.relative_position_index'],
                       add_relative_position_index({'layers.0.NC.0.attn.qkv.weight': 0})[
                           'layers.0.NC.0.attn.relative_position_index'])
    one = {'layers.2.NC.0.PCM.0.weight': torch.randn(8, 2, 1, 1)}
    padded = conv.pad_pcm_kernels(one)['layers.2.NC.0.PCM.0.weight']
    assert padded.shape == (8, 2, 3, 3) and padded[..., 1, 1].equal(one[
        'layers.2.NC.0.PCM.0.weight'][..., 0, 0]) and padded.abs().sum((-1, -2)).equal(
            one['layers.2.NC.0.PCM.0.weight'].abs()[..., 0, 0])


def test_pretrained_init_cfg_loads_official_ema_weights(tmp_path):
    shapes = official_v2_shapes([8, 8, 16, 16], [16, 32, 48, 64], [1, 1, 2, 1], [1, 4, 8, 8],
                                [1, 8, 8, 16])
    ema, raw = random_state(shapes, 0), random_state(shapes, 1)
    path = tmp_path / 'official.pth'
    torch.save({'model': raw, 'state_dict_ema': ema}, path)
    m = MODELS.build(dict(type='hvt.ViTAEv2', arch=TINY_V2,
                          init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    m.init_weights()
    sd = m.state_dict()
    for k in ('layers.0.RC.PRM.convs.3.0.weight', 'layers.3.NC.0.mlp.fc2.bias',
              'layers.2.RC.attn.attn.qkv.weight'):
        torch.testing.assert_close(sd[k], ema[k])
    # official files also pickle `args` (an argparse.Namespace): an explicit opt-in is needed
    import argparse
    torch.save({'state_dict_ema': ema, 'args': argparse.Namespace(lr=1e-3)}, path)
    cfg = dict(type='Pretrained', checkpoint=str(path))
    with pytest.raises(RuntimeError, match='trust_pickle=True'):
        ViTAEv2(TINY_V2, init_cfg=cfg).init_weights()
    m = ViTAEv2(TINY_V2, init_cfg=dict(cfg, trust_pickle=True))
    m.init_weights()
    torch.testing.assert_close(m.state_dict()['layers.3.NC.0.mlp.fc2.bias'],
                               ema['layers.3.NC.0.mlp.fc2.bias'])


# ------------------------------------------------------------------------------ training
def test_train_tool_smallest_variant_loss_decreases(tiny_data, tmp_path):
    config = 'configs/vitae/vitae-t_4xb128_in1k.py'
    work = tmp_path / 'work'
    # 32x32 inputs (maps 8/4/2 after the RCs) keep this fast on a loaded CPU; no EMA hook
    opts = cls_smoke_options(tiny_data, work, img_size=32, epochs=2, config=config)
    opts += ['optim_wrapper.optimizer.lr=1e-3', 'model.backbone.drop_path_rate=0.0',
             'custom_hooks=[]']
    out = run_tool('train.py', config, '--cfg-options', *opts, timeout=1500)
    losses = logged_losses(out)
    assert len(losses) >= 20, out[-3000:]
    k = len(losses) // 4
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    assert all(math.isfinite(v) for v in losses)
    assert last < first - 0.3, f'loss did not decrease: {losses}'
    assert re.search(r'accuracy/top1: [0-9.]+', out)
    assert (work / 'epoch_2.pth').is_file()
