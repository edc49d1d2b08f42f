"""Downstream configs (COCO / ADE20K / AP-10K, issue 8).

1. Every downstream config under ``configs/`` (``_base_`` excluded; classification and
   pre-training configs are covered by the family test files) loads and its model builds under its
   default scope, on the meta device (no memory, no weights, milliseconds per model); every
   downstream config names its paper row (or says that there is none) in its header.
2. Parameter counts of the dense models against the numbers in docs/design.
3. The dense backbones accept the non-square, multiple-of-32 inputs of the detection pipelines.
4. Real runs: for every head type (Mask R-CNN, Cascade Mask R-CNN, RetinaNet, ATSS, GFL,
   Sparse R-CNN, DINO, UperNet, SimpleBaseline) one real config
   runs ``tools/train.py`` and then ``tools/test.py`` on the tiny data with its smallest backbone
   (``--cfg-options``), and must print the task's metric.
"""
import glob
import importlib
import math
import os.path as osp
import pickle
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from toolkit import (ROOT, det_smoke_options, logged_losses, logged_metric, pose_smoke_options,
                     run_tool, seg_smoke_options)

TASK_SCOPES = ('mmdet', 'mmseg', 'mmpose')


def _all_configs():
    files = sorted(glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True))
    return [osp.relpath(f, ROOT) for f in files if '_base_' not in f.split(osp.sep)]


def _is_downstream(path):
    """COCO / ADE20K / AP-10K configs, by their OpenMMLab file name (``..._coco.py``,
    ``..._ade20k-512x512.py``, ``..._ap10k-256x256.py``)."""
    name = osp.basename(path)
    return bool(re.search(r'_coco\.py$|_ade20k|_ap10k', name))


ALL_CONFIGS = _all_configs()
DOWNSTREAM = [p for p in ALL_CONFIGS if _is_downstream(p)]
HVT_DOWNSTREAM = [p for p in DOWNSTREAM if not p.startswith(osp.join('configs', 'resnet'))]


def _load(path):
    return Config.fromfile(osp.join(ROOT, path))


def _build_meta(cfg):
    scope = cfg.get('default_scope', 'mmengine')
    init_default_scope(scope)
    registry = importlib.import_module(f'{scope}.registry').MODELS if scope != 'mmengine' \
        else importlib.import_module('mmengine.registry').MODELS
    model_cfg = cfg.model
    backbone = model_cfg.get('backbone')
    if isinstance(backbone, dict):
        backbone['init_cfg'] = None
    with torch.device('meta'):
        return registry.build(model_cfg)


def _count(module):
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------------- 1. builds
def test_downstream_configs_exist():
    """The issue's table: every required (family, variant, task, head) config exists."""
    names = {osp.basename(p) for p in DOWNSTREAM}
    required = []
    for v in ('s', '48m', 'b'):
        for det in ('mask-rcnn', 'cascade-mask-rcnn'):
            required += [f'{det}_vitaev2-{v}_fpn_{s}_coco.py' for s in ('1x', '3x')]
        required += [f'upernet_vitaev2-{v}_8xb2-160k_ade20k-512x512.py',
                     f'td-hm_vitaev2-{v}_8xb64-210e_ap10k-256x256.py']
    for v in ('s', 'b'):
        required += [f'retinanet_dualvit-{v}_fpn_1x_coco.py', f'mask-rcnn_dualvit-{v}_fpn_1x_coco.py',
                     f'upernet_dualvit-{v}_8xb2-160k_ade20k-512x512.py']
    required += ['cascade-mask-rcnn_dualvit-s_fpn_3x_coco.py', 'atss_dualvit-s_fpn_3x_coco.py',
                 'gfl_dualvit-s_fpn_3x_coco.py',
                 'sparse-rcnn_dualvit-s_fpn_300-proposals_3x_coco.py']
    for v in ('t', 's', 'b'):
        required += [f'mask-rcnn_cetnet-{v}_fpn_1x_coco.py', f'mask-rcnn_cetnet-{v}_fpn_3x_coco.py',
                     f'cascade-mask-rcnn_cetnet-{v}_fpn_3x_coco.py',
                     f'upernet_cetnet-{v}_8xb2-160k_ade20k-512x512.py']
    required += ['mask-rcnn_itpn-b-pixel_1x_coco.py', 'mask-rcnn_itpn-b-clip_3x_coco.py',
                 'cascade-mask-rcnn_itpn-b-pixel_3x_coco.py', 'mask-rcnn_itpn-l-clip_1x_coco.py',
                 'mask-rcnn_itpn-l-clip_3x_coco.py', 'cascade-mask-rcnn_itpn-l-clip_3x_coco.py',
                 'upernet_itpn-b-pixel_8xb2-160k_ade20k-512x512.py',
                 'upernet_itpn-l-pixel_8xb2-160k_ade20k-512x512.py']
    required += [f'dino-4scale_fast-itpn-{v}_12e_coco.py' for v in 'tsbl']
    required += ['mask-rcnn_fast-itpn-b_1x_coco.py', 'mask-rcnn_fast-itpn-b_mig20_1x_coco.py',
                 'mask-rcnn_fast-itpn-b_gt_1x_coco.py',
                 'mask-rcnn_fast-itpn-b_mig40-gt-rpe_1x_coco.py',
                 'upernet_fast-itpn-b_8xb2-160k_ade20k-512x512.py']
    missing = sorted(set(required) - names)
    assert not missing, f'missing downstream configs: {missing}'


@pytest.mark.parametrize('path', HVT_DOWNSTREAM)
def test_header_names_paper_row(path):
    with open(osp.join(ROOT, path)) as f:
        header = ''.join(line for line in f if line.startswith('#'))
    assert header.startswith('#'), f'{path} has no header comment'
    has_row = re.search(r'Paper: .*(Table|Fig\.|Sec\.)', header, re.S) is not None
    assert has_row or 'No paper row' in header, \
        f'{path}: the header must name the paper table/row and its number (or say "No paper row")'
    if has_row:
        assert re.search(r'\d+\.\d', header), f'{path}: the header names no reported number'


@pytest.mark.parametrize('path', DOWNSTREAM)
def test_config_builds(path):
    """The model builds under the config's default scope (meta device, no weights loaded)."""
    cfg = _load(path)
    assert cfg.default_scope in TASK_SCOPES, path
    model = _build_meta(cfg)
    assert type(model).__name__ == cfg.model.type.split('.')[-1]
    assert _count(model) > 0
    if path in HVT_DOWNSTREAM:
        assert cfg.model.backbone.type.startswith('hvt.'), path
        assert type(model.backbone).__name__ == cfg.model.backbone.type.split('.')[-1]
        _check_optimizer_recipe(path, cfg)


def _check_optimizer_recipe(path, cfg):
    """AdamW/Adam as in docs/design, no weight decay on norms / position embeddings / rpe tables."""
    opt = cfg.optim_wrapper.optimizer
    if cfg.default_scope == 'mmpose':
        assert opt.type == 'Adam' and opt.lr == 5e-4
        assert cfg.model.backbone.drop_path_rate == 0.6 and cfg.model.test_cfg.flip_test
        return
    assert opt.type == 'AdamW', path
    ow = cfg.optim_wrapper
    if ow.get('constructor') == 'hvt.LayerDecayOptimWrapperConstructor':
        assert 0.5 < ow.paramwise_cfg.layer_decay_rate < 1   # 1-D params / pos embeds: no decay
    elif 'dualvit' in path and ('_1x_' in path or 'sparse-rcnn' in path):
        # the official Dual-ViT 1x and Sparse R-CNN configs have none
        # (docs/design/dualvit.md#coco-detection-recipes)
        assert 'paramwise_cfg' not in ow
    else:
        keys = ow.paramwise_cfg.custom_keys
        assert keys['norm'].decay_mult == 0
        if 'dualvit' not in path:   # Dual-ViT's 3x / ADE configs exclude 'norm' only
            assert keys['relative_position_bias_table'].decay_mult == 0
            assert keys['absolute_pos_embed'].decay_mult == 0


def test_optimizer_groups_layer_decay_and_no_decay():
    """The built optimizer really follows the recipe (iTPN-T on the meta device)."""
    from mmengine.optim import build_optim_wrapper
    cfg = _load('configs/itpn/mask-rcnn_itpn-b-pixel_1x_coco.py')
    cfg.model.backbone.arch = 't'
    model = _build_meta(cfg)
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    groups = ow.optimizer.param_groups
    by_name = {n: g for g in groups for n in g['param_names']}
    assert by_name['backbone.absolute_pos_embed']['weight_decay'] == 0
    assert by_name['backbone.blocks.0.norm2.weight']['weight_decay'] == 0
    assert by_name['backbone.blocks.0.mlp.fc1.weight']['weight_decay'] == 0.05
    first = by_name['backbone.patch_embed.proj.weight']['lr']
    last = by_name['backbone.blocks.13.attn.qkv.weight']['lr']
    head = by_name['roi_head.bbox_head.fc_cls.weight']['lr']
    assert first < last < head == pytest.approx(2e-4)
    # 2 + 2 + 10 blocks -> 15 layer ids; the stem gets 0.9 ** 15 of the lr
    assert first == pytest.approx(2e-4 * 0.9 ** 15)

    cfg = _load('configs/vitaev2/mask-rcnn_vitaev2-s_fpn_1x_coco.py')
    model = _build_meta(cfg)
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    wd = {}
    for g in ow.optimizer.param_groups:
        for p in g['params']:
            wd[id(p)] = g['weight_decay']
    params = dict(model.named_parameters())
    norm = [n for n in params if '.norm' in n and n.startswith('backbone.')]
    assert norm and all(wd[id(params[n])] == 0 for n in norm)
    assert wd[id(params['backbone.layers.0.NC.0.attn.qkv.weight'])] == 0.045


# --------------------------------------------------------------------------------- 2. counts
def _backbone_count(path, **backbone):
    cfg = _load(path)
    cfg.model.backbone.update(backbone)
    return _build_meta(cfg)


def test_dense_parameter_counts_match_specs():
    # Dual-ViT dense backbones (docs/design/dualvit.md#dense-prediction-backbone, exact)
    m = _backbone_count('configs/dualvit/mask-rcnn_dualvit-s_fpn_1x_coco.py')
    assert _count(m.backbone) == 21_741_280
    m = _backbone_count('configs/dualvit/mask-rcnn_dualvit-b_fpn_1x_coco.py')
    assert _count(m.backbone) == 38_448_128
    # ViTAEv2-S SimpleBaseline (docs/design/vitae.md#downstream-model-sizes): backbone 18.84 M +
    # head ~4.20 M ~ paper 23.1 M
    m = _backbone_count('configs/vitaev2/td-hm_vitaev2-s_8xb64-210e_ap10k-256x256.py')
    assert round(_count(m.backbone) / 1e6, 2) == 18.84
    assert round(_count(m.head) / 1e6, 1) == 4.2
    assert abs(_count(m) / 1e6 - 23.1) < 0.1
    # CETNet (docs/design/cetnet.md#coco-recipe, docs/design/cetnet.md#ade20k-recipe): full Mask
    # R-CNN / UperNet totals computed there
    for v, mrcnn, upernet in (('t', 42.9, 53.05), ('s', 53.6, 63.77), ('b', 95.3, 107.46)):
        m = _backbone_count(f'configs/cetnet/mask-rcnn_cetnet-{v}_fpn_1x_coco.py')
        assert abs(_count(m) / 1e6 - mrcnn) < 0.06, (v, _count(m))
        m = _backbone_count(f'configs/cetnet/upernet_cetnet-{v}_8xb2-160k_ade20k-512x512.py')
        assert abs(_count(m) / 1e6 - upernet) < 0.01, (v, _count(m))


# ---------------------------------------------------------------------- 3. multi-scale inputs
# the real block types at reduced widths / depths (the full variants are built by the config tests)
_VITAE = dict(embed_dims=[16, 16, 32, 32], token_dims=[16, 32, 32, 64], depths=[1, 1, 1, 1],
              rc_heads=[1, 1, 1, 2], nc_heads=[1, 1, 2, 2], rc_groups=[1, 4, 8, 8],
              nc_groups=[1, 8, 8, 16])
_DUAL = dict(stem_hidden_dim=8, embed_dims=[16, 32, 32, 64], depths=[1, 1, 2, 1],
             num_heads=[1, 2, 2, 4], mlp_ratios=[2, 2, 2, 2])
_HIVIT = dict(embed_dims=64, depths=[1, 1, 2], num_heads=2)
DENSE_BACKBONES = {
    'ViTAEv2': (dict(type='hvt.ViTAEv2', arch=_VITAE, out_indices=(0, 1, 2, 3)),
                (4, 8, 16, 32)),
    'DualViT': (dict(type='hvt.DualViT', arch=_DUAL, mode='dense'), (4, 8, 16, 32)),
    'CETNet': (dict(type='hvt.CETNet', arch=dict(embed_dims=16, depths=[1, 1, 2, 1],
                                                 num_heads=[1, 1, 2, 2]),
                    out_indices=(0, 1, 2, 3)), (4, 8, 16, 32)),
    'iTPNDet': (dict(type='hvt.iTPNDet', arch=_HIVIT, fpn_dim=32), (4, 8, 16, 32, 64)),
    'iTPNSeg': (dict(type='hvt.iTPNSeg', arch=_HIVIT, fpn_dim=32), (4, 8, 16, 32)),
    'FastiTPNDet': (dict(type='hvt.FastiTPNDet', arch=_HIVIT, fpn_dim=32,
                         out_strides=(8, 16, 32, 64)), (8, 16, 32, 64)),
    'FastiTPNDet-accelerated': (dict(type='hvt.FastiTPNDet', arch=_HIVIT, fpn_dim=32,
                                     attn_mode='gathering', window_size=4, migration_ratio=0.2,
                                     window_rpe='rpe'), (4, 8, 16, 32, 64)),
}


@pytest.mark.parametrize('name', sorted(DENSE_BACKBONES))
def test_dense_backbones_take_pipeline_shapes(name):
    """Non-square multiple-of-32 inputs, as padded DETR-style multi-scale crops produce."""
    from hvt.registry import MODELS
    import hvt.models  # noqa: F401
    cfg, strides = DENSE_BACKBONES[name]
    torch.manual_seed(0)
    model = MODELS.build(cfg).eval()
    for h, w in ((64, 160), (128, 96)):
        with torch.no_grad():
            outs = model(torch.randn(1, 3, h, w))
        assert len(outs) == len(strides)
        for o, s in zip(outs, strides):
            assert o.shape[-2:] == (-(-h // s), -(-w // s)) or o.shape[-2:] == (h // s, w // s), \
                (name, (h, w), s, tuple(o.shape))
            assert torch.isfinite(o).all()


# --------------------------------------------------------------------------------- 4. real runs
def _limit(n_train=4, n_eval=4):
    return [f'train_dataloader.dataset.indices={n_train}',
            f'val_dataloader.dataset.indices={n_eval}',
            f'test_dataloader.dataset.indices={n_eval}']


def _nested_pipeline_options(cfg, scale='(128,96)', crop='(64,96)'):
    """Shrink the resizes and crops nested in the DETR-style RandomChoice step."""
    opts = []
    for loader in ('train_dataloader', ):
        for i, step in enumerate(cfg[loader]['dataset'].get('pipeline', [])):
            if step['type'] != 'RandomChoice':
                continue
            for b, branch in enumerate(step['transforms']):
                for j, t in enumerate(branch):
                    key = f'{loader}.dataset.pipeline.{i}.transforms.{b}.{j}'
                    if t['type'] == 'RandomChoiceResize':
                        opts.append(f'{key}.scales=[{scale}]')
                    elif t['type'] == 'RandomCrop':
                        opts.append(f'{key}.crop_size={crop}')
    return opts


DET = r'coco/bbox_mAP: (\S+)'
SEGM = r'coco/segm_mAP: (\S+)'
RUNS = {
    # head type: (config, extra --cfg-options, metrics)
    'mask-rcnn': ('configs/vitaev2/mask-rcnn_vitaev2-s_fpn_1x_coco.py', [], (DET, SEGM)),
    # fewer proposals / RoIs: the 4conv1fc heads of three stages dominate the CPU time
    'cascade-mask-rcnn': ('configs/cetnet/cascade-mask-rcnn_cetnet-t_fpn_3x_coco.py',
                          ['model.train_cfg.rpn_proposal.max_per_img=64',
                           'model.test_cfg.rpn.max_per_img=64',
                           *[f'model.train_cfg.rcnn.{i}.sampler.num=32' for i in range(3)]],
                          (DET, SEGM)),
    'retinanet': ('configs/dualvit/retinanet_dualvit-s_fpn_1x_coco.py', [], (DET, )),
    'atss': ('configs/dualvit/atss_dualvit-s_fpn_3x_coco.py', [], (DET, )),
    'gfl': ('configs/dualvit/gfl_dualvit-s_fpn_3x_coco.py', [], (DET, )),
    'sparse-rcnn': ('configs/dualvit/sparse-rcnn_dualvit-s_fpn_300-proposals_3x_coco.py',
                    ['model.rpn_head.num_proposals=20', 'model.test_cfg.rcnn.max_per_img=20'],
                    (DET, )),
    'dino': ('configs/fast_itpn/dino-4scale_fast-itpn-t_12e_coco.py',
             ['model.num_queries=50', 'model.dn_cfg.group_cfg.num_dn_queries=10',
              'model.test_cfg.max_per_img=50'], (DET, )),
    'upernet': ('configs/itpn/upernet_itpn-b-pixel_8xb2-160k_ade20k-512x512.py',
                ['model.backbone.arch=t', 'model.decode_head.in_channels=[352,448,640,640]',
                 'model.decode_head.channels=64', 'model.auxiliary_head.in_channels=640',
                 'model.auxiliary_head.channels=32', 'model.test_cfg.crop_size=(64,64)',
                 'model.test_cfg.stride=(43,43)'],
                (r'mIoU: (\S+)', )),
    'simplebaseline': ('configs/vitaev2/td-hm_vitaev2-s_8xb64-210e_ap10k-256x256.py', [],
                       (r'coco/AP: (\S+)', )),
}


def _smoke_options(config, tiny_data, work):
    cfg = Config.fromfile(osp.join(ROOT, config), import_custom_modules=False)
    scope = cfg.get('default_scope')
    if scope == 'mmdet':
        opts = det_smoke_options(tiny_data, work, config) + _nested_pipeline_options(cfg)
        opts += _limit()
        # a few iterations from scratch score low: keep every box so that the metric exists
        test_cfg = cfg.model.get('test_cfg') or {}
        if 'score_thr' in test_cfg:
            opts.append('model.test_cfg.score_thr=0.0')
        if isinstance(test_cfg.get('rcnn'), dict) and 'score_thr' in test_cfg['rcnn']:
            opts.append('model.test_cfg.rcnn.score_thr=0.0')
    elif scope == 'mmseg':
        opts = seg_smoke_options(tiny_data, work, config, iters=2, crop=64) + _limit()
    else:
        opts = pose_smoke_options(tiny_data, work, config, size=128) + _limit(8, 8)
    # train.py trains only (the metric comes from test.py), from scratch
    return opts + ['train_cfg.val_begin=1000', 'model.backbone.init_cfg=None']


@pytest.mark.parametrize('head', sorted(RUNS))
def test_train_then_test(head, tiny_data, tmp_path):
    config, extra, metrics = RUNS[head]
    work = tmp_path / 'work'
    opts = _smoke_options(config, tiny_data, work) + extra
    out = run_tool('train.py', config, '--cfg-options', *opts)
    losses = logged_losses(out)
    assert losses and all(math.isfinite(v) for v in losses), out[-3000:]
    ckpt = work / open(work / 'last_checkpoint').read().strip().split('/')[-1]
    assert ckpt.is_file()

    results = tmp_path / 'results.pkl'
    out = run_tool('test.py', config, ckpt, '--out', results, '--cfg-options', *opts,
                   f'work_dir={tmp_path / "test"}')
    for metric in metrics:
        logged_metric(metric, out)  # in range: not NaN, not COCO's -1
    with open(results, 'rb') as f:
        assert len(pickle.load(f)) > 0
