"""Helpers for tests that drive the real tools on the tiny datasets.

``run_tool`` runs ``tools/<script>`` in a subprocess, exactly as a user would. The ``*_smoke_options``
functions return ``--cfg-options`` strings that point a real config at the tiny data and shrink its
input size and schedule. They read the config first, so pipeline steps are found by type, not by a
hard-coded position.
"""
import os
import os.path as osp
import re
import subprocess
import sys

from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
NO_WORKERS = ('num_workers=0', 'persistent_workers=False')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def run_tool(script, *args, timeout=900, env=None, check=True):
    """Run ``python tools/<script> *args`` from the repo root; return stdout + stderr as text.

    ``check``: True = the tool must succeed, ``'fail'`` = it must exit non-zero, False = either.
    """
    cmd = [sys.executable, osp.join(ROOT, 'tools', script), *map(str, args)]
    full_env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='2')
    full_env.update(env or {})
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=full_env)
    out = proc.stdout + proc.stderr
    if check == 'fail':
        if proc.returncode == 0:
            raise AssertionError(f'{" ".join(cmd)} exited with 0, expected a failure:\n'
                                 f'{out[-6000:]}')
    elif check and proc.returncode != 0:
        raise AssertionError(f'{" ".join(cmd)} exited with {proc.returncode}:\n{out[-6000:]}')
    return out


def logged_losses(text):
    """Every ``loss: <float>`` the mmengine logger printed, in order."""
    return [float(v) for v in re.findall(r'\bloss: ([0-9.]+(?:e[-+]?\d+)?)', text)]


def logged_metric(pattern, text):
    """The first value of ``pattern`` (with one ``(\\S+)`` group) in ``text``, checked: a number in
    the range the tools print it in (COCO ``coco/...``: 0..1, else a percentage 0..100). NaN and
    COCO's "no result" value -1 fail."""
    found = re.search(pattern, text)
    assert found, f'no {pattern} in the log:\n{text[-3000:]}'
    value = float(found.group(1))
    high = 1 if pattern.startswith('coco/') else 100
    assert 0 <= value <= high, f'{pattern}: {found.group(1)} is not in [0, {high}]'
    return value


def config_path(config):
    return config if osp.isabs(config) else osp.join(ROOT, config)


def _loader_options(loader_keys=LOADERS, batch_size=None):
    opts = []
    for loader in loader_keys:
        opts += [f'{loader}.{o}' for o in NO_WORKERS]
        if batch_size and loader == 'train_dataloader':
            opts.append(f'{loader}.batch_size={batch_size}')
    return opts


def _pipeline_options(cfg, settings):
    """``settings``: {transform type: {key: value}} applied to every pipeline of every loader."""
    opts = []
    for loader in LOADERS:
        pipeline = cfg[loader]['dataset'].get('pipeline', [])
        for i, step in enumerate(pipeline):
            for key, value in settings.get(step['type'], {}).items():
                opts.append(f'{loader}.dataset.pipeline.{i}.{key}={value}')
    return opts


def _common(work_dir):
    return ['default_hooks.logger.interval=1', 'log_processor.window_size=1',
            'randomness.seed=0', f'work_dir={work_dir}']


def cls_smoke_options(data_root, work_dir, img_size=64, iters=None, epochs=1, batch_size=8,
                      config=None, subdir='imagenet'):
    """Classification on ``<data_root>/<subdir>`` at ``img_size``, constant lr, no Mixup/CutMix.

    ``iters`` (if given) becomes a number of epochs over the tiny train split.
    """
    root = osp.join(str(data_root), subdir)
    if iters is not None:
        with open(osp.join(root, 'meta', 'train.txt')) as f:
            n = sum(1 for line in f if line.strip())
        epochs = max(1, -(-iters * batch_size // n))
    cfg = Config.fromfile(config_path(config or 'configs/resnet/resnet18_8xb32_in1k.py'))
    opts = _common(work_dir) + _loader_options(batch_size=batch_size)
    opts += [f'{loader}.dataset.data_root={root}' for loader in LOADERS]
    opts += _pipeline_options(cfg, {
        'RandomResizedCrop': dict(scale=img_size),
        'ResizeEdge': dict(scale=img_size),
        'CenterCrop': dict(crop_size=img_size),
        'Resize': dict(scale=img_size),
    })
    opts += [f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1', 'param_scheduler=[]',
             'model.train_cfg=None', 'default_hooks.checkpoint.interval=1',
             'optim_wrapper.clip_grad=None']
    return opts


def det_smoke_options(data_root, work_dir, config, epochs=1, batch_size=2, scale='(128,96)',
                      classes='(circle,square,triangle)', subdir='coco'):
    """Detection / instance segmentation on ``<data_root>/<subdir>`` (3 classes, 128x96 images)."""
    root = osp.join(str(data_root), subdir)
    cfg = Config.fromfile(config_path(config))
    opts = _common(work_dir) + _loader_options(batch_size=batch_size)
    for loader in LOADERS:
        opts += [f'{loader}.dataset.data_root={root}/', f'{loader}.dataset.metainfo.classes={classes}']
    ann = osp.join(root, 'annotations', 'instances_val2017.json')
    opts += [f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}']
    opts += _pipeline_options(cfg, {'Resize': dict(scale=scale),
                                    'RandomResize': dict(scale=scale),
                                    'RandomChoiceResize': dict(scales=f'[{scale}]')})
    n_cls = len(classes.strip('()[]').split(','))
    model = cfg.model
    for key in ('bbox_head', 'mask_head'):
        head = model.get('roi_head', {}).get(key)
        if isinstance(head, dict):
            opts.append(f'model.roi_head.{key}.num_classes={n_cls}')
        elif isinstance(head, list):  # cascade
            opts += [f'model.roi_head.{key}.{i}.num_classes={n_cls}' for i in range(len(head))]
    if 'bbox_head' in model:
        opts.append(f'model.bbox_head.num_classes={n_cls}')
    opts += [f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1',
             'default_hooks.checkpoint.interval=1']
    return opts


def seg_smoke_options(data_root, work_dir, config, iters=4, crop=64, batch_size=2, subdir='ade'):
    """Semantic segmentation on ``<data_root>/<subdir>`` (ADE20K layout), ``crop`` x ``crop``, BN not SyncBN."""
    root = osp.join(str(data_root), subdir)
    cfg = Config.fromfile(config_path(config))
    opts = _common(work_dir) + _loader_options(batch_size=batch_size)
    opts += [f'{loader}.dataset.data_root={root}' for loader in LOADERS]
    opts += _pipeline_options(cfg, {
        'RandomResize': dict(scale=f'({2 * crop},{crop})'),
        'RandomCrop': dict(crop_size=f'({crop},{crop})'),
        'Resize': dict(scale=f'({2 * crop},{crop})'),
    })
    opts.append(f'model.data_preprocessor.size=({crop},{crop})')
    for part in ('backbone', 'decode_head', 'auxiliary_head'):
        sub = cfg.model.get(part)
        if isinstance(sub, dict) and sub.get('norm_cfg', {}).get('type') == 'SyncBN':
            opts.append(f'model.{part}.norm_cfg.type=BN')
    opts += [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
             f'default_hooks.checkpoint.interval={iters}']
    return opts


def pose_smoke_options(data_root, work_dir, config, epochs=1, batch_size=4, size=128):
    """Top-down pose on ``<data_root>/ap10k`` at ``size`` x ``size`` (heatmaps at 1/4)."""
    root = osp.join(str(data_root), 'ap10k')
    cfg = Config.fromfile(config_path(config))
    opts = _common(work_dir) + _loader_options(batch_size=batch_size)
    opts += [f'{loader}.dataset.data_root={root}/' for loader in LOADERS]
    opts += [f'val_evaluator.ann_file={root}/annotations/ap10k-val-split1.json',
             f'test_evaluator.ann_file={root}/annotations/ap10k-test-split1.json']
    hm = size // 4
    opts += _pipeline_options(cfg, {
        'TopdownAffine': dict(input_size=f'({size},{size})'),
        'GenerateTarget': {'encoder.input_size': f'({size},{size})',
                           'encoder.heatmap_size': f'({hm},{hm})'},
    })
    opts += [f'model.head.decoder.input_size=({size},{size})',
             f'model.head.decoder.heatmap_size=({hm},{hm})',
             f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1',
             'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.save_best=None']
    return opts
