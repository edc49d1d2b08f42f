"""One backbone contract (hvt/models/backbones/base.py), checked on every registered backbone.

The backbones are found in the ``hvt`` registry (every class defined in
``hvt.models.backbones``); each needs a narrow variant below, so a new backbone without one fails
``test_every_registered_backbone_is_covered``. For each backbone:

* ``out_indices``: one output per entry, in the order given, negatives counted from the end,
  with the stage's stride and channels; an out-of-range entry is refused by name;
* ``out_type``: ``'avg_featmap'`` gives one ``(B, C)`` vector per entry, ``'cls_token'`` (where
  supported) one ``(B, C)`` token;
* ``frozen_stages`` from -1 to the last stage: ``-1`` freezes nothing, ``0`` only the stem
  (stage 0's output still needs a gradient), ``k`` the stem and stages ``0..k-1`` (their outputs
  need no gradient, stage ``k``'s does), each step freezes strictly more, and frozen modules stay
  in eval mode after ``train()``;
* ``norm_eval``: every BatchNorm in eval mode after ``train()`` (and in train mode without it);
* ``with_cp``: the same outputs and parameter gradients as the plain forward, in train mode.

Backbones with a built-in pyramid (iTPNDet, iTPNSeg, FastiTPNDet) return pyramid levels, not
stages: their ``out_indices`` are fixed to the stages the pyramid reads, and the per-stage
gradient check does not apply to their (mixed) outputs.
"""
import copy

import pytest
import torch
from mmengine.registry import DefaultScope
from torch.nn.modules.batchnorm import _BatchNorm

import hvt.models  # noqa: F401  (registers the backbones)
from hvt.models.backbones.base import BackboneContract
from hvt.registry import MODELS

SIZE = 64
_HIVIT = dict(embed_dims=64, depths=[1, 1, 2], num_heads=2)

# name: (constructor kwargs, [(channels, stride) per stage] or None, pyramid [(channels, stride)])
SPECS = {
    'ViTAE': (dict(arch=dict(embed_dims=[8, 8, 16], token_dims=[8, 16, 32], depth=2, num_heads=2,
                             nc_groups=8, mlp_ratio=2.)),
              [(8, 4), (16, 8), (32, 16)], None),
    'ViTAEv2': (dict(arch=dict(embed_dims=[8, 8, 16, 16], token_dims=[16, 32, 48, 64],
                               depths=[1, 1, 2, 1], rc_heads=[1, 1, 2, 2], nc_heads=[1, 2, 2, 4],
                               rc_groups=[1, 4, 8, 8], nc_groups=[1, 8, 8, 16])),
                [(16, 4), (32, 8), (48, 16), (64, 32)], None),
    'DualViT': (dict(arch=dict(stem_hidden_dim=8, embed_dims=[16, 16, 32, 32], depths=[1, 1, 1, 1],
                               num_heads=[1, 1, 2, 2], mlp_ratios=[2, 2, 2, 2])),
                [(16, 4), (16, 8), (32, 16), (32, 32)], None),
    'CETNet': (dict(arch=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4])),
               [(16, 4), (32, 8), (64, 16), (128, 32)], None),
    'CESwin': (dict(arch=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4])),
               [(16, 4), (32, 8), (64, 16), (128, 32)], None),
    'CECvT': (dict(arch=dict(embed_dims=[16, 32, 64], depths=[1, 1, 1], num_heads=[1, 2, 4])),
              [(16, 4), (32, 8), (64, 16)], None),
    'CEPVT': (dict(arch=dict(embed_dims=[8, 16, 32, 64], depths=[1, 1, 1, 1],
                             num_heads=[1, 1, 2, 2], mlp_ratios=[2, 2, 2, 2],
                             sr_ratios=[8, 4, 2, 1])),
              [(8, 4), (16, 8), (32, 16), (64, 32)], None),
    # CSWin splits the heads of every stage but the last into two stripe branches: even counts
    'CECSWin': (dict(arch=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[2, 2, 2, 4],
                               split_sizes=[1, 2, 4, 2])),
                [(16, 4), (32, 8), (64, 16), (128, 32)], None),
    'HiViT': (dict(arch=_HIVIT, img_size=SIZE), [(16, 4), (32, 8), (64, 16)], None),
    'FastiTPN': (dict(arch=_HIVIT, img_size=SIZE), [(16, 4), (32, 8), (64, 16)], None),
    'iTPNDet': (dict(arch=_HIVIT, img_size=SIZE, fpn_dim=32), [(16, 4), (32, 8), (64, 16)],
                [(32, 4), (32, 8), (32, 16), (32, 32), (32, 64)]),
    'iTPNSeg': (dict(arch=_HIVIT, img_size=SIZE, fpn_dim=32), [(16, 4), (32, 8), (64, 16)],
                [(48, 4), (64, 8), (96, 16), (96, 32)]),
    'FastiTPNDet': (dict(arch=_HIVIT, img_size=SIZE, fpn_dim=32), [(16, 4), (32, 8), (64, 16)],
                    [(32, 4), (32, 8), (32, 16), (32, 32), (32, 64)]),
}


def registered_backbones():
    return sorted(name for name, cls in MODELS.module_dict.items()
                  if cls.__module__.startswith('hvt.models.backbones.'))


BACKBONES = registered_backbones()


def build(name, **kwargs):
    cfg = dict(SPECS[name][0], type=name)
    cfg.update(kwargs)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('hvt'):
        return MODELS.build(copy.deepcopy(cfg))


def stages(name):
    return SPECS[name][1]


def is_pyramid(name):
    return SPECS[name][2] is not None


def forward(model, batch=2, seed=1):
    torch.manual_seed(seed)
    x = torch.randn(batch, 3, SIZE, SIZE)
    torch.manual_seed(seed + 1)
    out = model(x)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def test_every_registered_backbone_is_covered():
    assert len(BACKBONES) >= 13, BACKBONES
    assert set(BACKBONES) == set(SPECS), 'each registered backbone needs a narrow variant here'
    for name in BACKBONES:
        assert issubclass(MODELS.get(name), BackboneContract), name


@pytest.mark.parametrize('name', BACKBONES)
def test_out_indices_order_negatives_strides_channels(name):
    expected = stages(name)
    n = len(expected)
    if is_pyramid(name):
        model = build(name).eval()
        assert model.out_indices == list(range(n))
        shapes = [tuple(o.shape) for o in forward(model)]
        assert shapes == [(2, c, SIZE // s, SIZE // s) for c, s in SPECS[name][2]]
        return
    for out_indices in (list(range(n)), [n - 1, 0], [-1], [-n, -2]):
        model = build(name, out_indices=out_indices, out_type='featmap').eval()
        want = [expected[i] for i in out_indices]
        assert model.out_indices == [i % n for i in out_indices]
        with torch.no_grad():
            shapes = [tuple(o.shape) for o in forward(model)]
        assert shapes == [(2, c, SIZE // s, SIZE // s) for c, s in want], out_indices
    with pytest.raises(ValueError, match=f'out_indices entry {n}'):
        build(name, out_indices=[0, n])
    with pytest.raises(ValueError, match=f'out_indices entry {-n - 1}'):
        build(name, out_indices=[-n - 1])


@pytest.mark.parametrize('name', BACKBONES)
def test_out_type_means_the_same_everywhere(name):
    if is_pyramid(name):
        with pytest.raises(ValueError, match='out_type'):
            build(name, out_type='avg_featmap')
        return
    expected = stages(name)
    n = len(expected)
    cls = MODELS.get(name)
    assert 'featmap' in cls.out_types
    with pytest.raises(ValueError, match='out_type'):
        build(name, out_type='raw_tokens')
    out_indices = [n - 1, 0] if n > 1 else [0]
    if 'avg_featmap' in cls.out_types:
        model = build(name, out_indices=out_indices, out_type='avg_featmap').eval()
        with torch.no_grad():
            outs = forward(model)
        assert [tuple(o.shape) for o in outs] == [(2, expected[i][0]) for i in out_indices]
    if 'cls_token' in cls.out_types:
        model = build(name, out_indices=[-1], out_type='cls_token').eval()
        with torch.no_grad():
            outs = forward(model)
        assert [tuple(o.shape) for o in outs] == [(2, expected[-1][0])]


def _frozen_names(model):
    """Parameters without a gradient, less those the backbone declares it never trains
    (``fixed_parameters``), which must indeed have none."""
    fixed = tuple(type(model).fixed_parameters)
    out = set()
    for n, p in model.named_parameters():
        if any(n == f or n.endswith('.' + f) for f in fixed):
            assert not p.requires_grad, f'{n} is declared fixed but is trained'
        elif not p.requires_grad:
            out.add(n)
    return out


@pytest.mark.parametrize('name', BACKBONES)
def test_frozen_stages_minus_one_to_last(name):
    n = len(stages(name))
    previous = None
    for k in range(-1, n + 1):
        model = build(name, frozen_stages=k)
        model.train()
        frozen = _frozen_names(model)
        if k == -1:
            assert frozen == set(), f'{name}: frozen_stages=-1 froze {sorted(frozen)[:5]}'
        else:
            assert frozen > previous, f'{name}: frozen_stages={k} freezes no more than {k - 1}'
        previous = frozen
        for mod_name, mod in model.named_modules():
            params = list(mod.parameters())
            if params and all(not p.requires_grad for p in params):
                assert not mod.training, f'{name}: frozen {mod_name!r} is in train mode (k={k})'
        if is_pyramid(name):
            continue
        model.out_indices = list(range(n))
        outs = forward(model)
        for i, o in enumerate(outs):
            assert o.requires_grad == (i >= k), \
                f'{name}: frozen_stages={k}, stage {i} output requires_grad={o.requires_grad}'
    with pytest.raises(ValueError, match='frozen_stages'):
        build(name, frozen_stages=n + 1)


@pytest.mark.parametrize('name', BACKBONES)
def test_norm_eval(name):
    for norm_eval in (False, True):
        model = build(name, norm_eval=norm_eval)
        model.train()
        bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
        assert all(m.training != norm_eval for m in bns), (name, norm_eval)
        others = [m for m in model.modules() if not isinstance(m, _BatchNorm)]
        assert all(m.training for m in others), name


@pytest.mark.parametrize('name', BACKBONES)
def test_with_cp_same_outputs_and_grads(name, monkeypatch):
    import torch.utils.checkpoint as cp
    calls = []
    real = cp.checkpoint

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cp, 'checkpoint', counting)
    plain = build(name, drop_path_rate=0.1) if _takes(name, 'drop_path_rate') else build(name)
    kwargs = dict(drop_path_rate=0.1) if _takes(name, 'drop_path_rate') else {}
    cp_model = build(name, with_cp=True, **kwargs)
    cp_model.load_state_dict(plain.state_dict())
    results = []
    for model in (plain, cp_model):
        model.train()
        calls.clear()
        outs = forward(model)
        assert bool(calls) == model.with_cp, f'{name}: with_cp={model.with_cp}, {len(calls)} calls'
        sum(o.float().square().mean() for o in outs).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results.append(([o.detach() for o in outs], grads))
    (o1, g1), (o2, g2) = results
    for a, b in zip(o1, o2):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert g1.keys() == g2.keys() and g1
    for k in g1:
        torch.testing.assert_close(g1[k], g2[k], rtol=1e-4, atol=1e-6, msg=k)


def _takes(name, arg):
    import inspect
    cls = MODELS.get(name)
    params = set()
    for klass in cls.__mro__:
        if '__init__' in vars(klass):
            params |= set(inspect.signature(klass.__init__).parameters)
    return arg in params
