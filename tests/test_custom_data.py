"""Fine-tuning on custom data: the configs/custom/ templates with the real tools.

The custom datasets come from ``make_tiny_datasets.py --tasks custom_cls custom_det custom_seg``
in exactly the formats of docs/custom_data.md, with class counts that are none of the benchmarks'
(5 folder classes, 2 COCO categories, 4 mask labels). A ViTAEv2-S classifier checkpoint in the
layout ``vitae2hvt.py`` writes (``backbone.*`` + ``head.fc.*``) is saved from a freshly built
backbone and given to each config's ``init_cfg`` (``prefix='backbone.'``). Each config trains a few
iterations with ``tools/train.py`` (the first two stages frozen), then ``tools/test.py`` evaluates
it. Checked: the task's metric, the classes and head widths in the checkpoint, the frozen stages
still hold the pretrained tensors exactly, and a later stage was fine-tuned.
"""
import re

import pytest
import torch

from toolkit import (cls_smoke_options, det_smoke_options, run_tool, seg_smoke_options)

SEG_CLASSES = ('background', 'circle', 'triangle', 'hexagon')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _limit(n_train, n_eval):
    return [f'train_dataloader.dataset.indices={n_train}',
            f'val_dataloader.dataset.indices={n_eval}',
            f'test_dataloader.dataset.indices={n_eval}', 'train_cfg.val_begin=1000']


def _cls_options(data, work):
    return cls_smoke_options(data, work, img_size=64, epochs=1, batch_size=8,
                             config=CASES['cls'][0], subdir='custom_cls') + [
        'model.head.num_classes=5', 'data_preprocessor.num_classes=5'] + _limit(16, 10)


def _det_options(data, work):
    ann = data / 'custom_det' / 'annotations' / 'val.json'
    return det_smoke_options(data, work, CASES['det'][0], classes='(box,star)',
                             subdir='custom_det') + [
        f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}',
        'model.test_cfg.rcnn.score_thr=0.0'] + _limit(4, 4)


def _seg_options(data, work):
    classes = '(' + ','.join(SEG_CLASSES) + ')'
    palette = '[[0,0,0],[255,0,0],[0,255,0],[0,0,255]]'
    opts = seg_smoke_options(data, work, CASES['seg'][0], iters=2, crop=64, subdir='custom_seg')
    opts += ['model.decode_head.num_classes=4', 'model.auxiliary_head.num_classes=4']
    for loader in LOADERS:
        opts += [f'{loader}.dataset.metainfo.classes={classes}',
                 f'{loader}.dataset.metainfo.palette={palette}']
    return opts + _limit(4, 4)


CASES = {
    # task: (config, options, metric, classes in the checkpoint, (head weight key, its rows))
    'cls': ('configs/custom/vitaev2-s_ft_custom-folder.py', _cls_options,
            r'accuracy/top1: ([0-9.]+)',
            ('circle', 'pentagon', 'square', 'star', 'triangle'),  # sorted sub-folders
            ('head.fc.weight', 5)),
    'det': ('configs/custom/mask-rcnn_vitaev2-s_fpn_ft_custom-coco.py', _det_options,
            r'coco/bbox_mAP: ([-0-9.]+)', ('box', 'star'),
            ('roi_head.bbox_head.fc_cls.weight', 3)),  # + background
    'seg': ('configs/custom/upernet_vitaev2-s_ft_custom-seg.py', _seg_options,
            r'mIoU: ([0-9.]+)', SEG_CLASSES, ('decode_head.conv_seg.weight', 4)),
}


@pytest.fixture(scope='module')
def custom_data(tmp_path_factory):
    from make_tiny_datasets import CUSTOM_TASKS, make_all
    out = tmp_path_factory.mktemp('custom_data')
    make_all(str(out), tasks=CUSTOM_TASKS, seed=0)
    return out


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    """(path, backbone state) of a ViTAEv2-S classifier checkpoint saved from a fresh backbone."""
    import hvt.models  # noqa: F401
    from hvt.registry import MODELS
    torch.manual_seed(0)
    backbone = MODELS.build(dict(type='ViTAEv2', arch='s', out_indices=(3, )))
    backbone.init_weights()
    state = {k: v.clone() for k, v in backbone.state_dict().items()}
    ckpt = {f'backbone.{k}': v for k, v in state.items()}
    ckpt.update({'head.fc.weight': torch.randn(1000, 512), 'head.fc.bias': torch.zeros(1000)})
    path = tmp_path_factory.mktemp('pretrained') / 'vitaev2-s_in1k.pth'
    torch.save({'state_dict': ckpt, 'meta': {}}, path)
    return path, state


@pytest.mark.parametrize('task', sorted(CASES))
def test_finetune_then_test(task, custom_data, pretrained, tmp_path):
    from hvt.engine.checkpoint_io import load_checkpoint_file
    config, options, metric, classes, (head_key, rows) = CASES[task]
    ckpt_path, backbone_state = pretrained
    work = tmp_path / 'work'
    opts = options(custom_data, work) + [f'model.backbone.init_cfg.checkpoint={ckpt_path}',
                                         'model.backbone.frozen_stages=2']
    out = run_tool('train.py', config, '--cfg-options', *opts)
    # the checked loader's summary (hvt/engine/pretrained.py): every backbone tensor loaded
    loaded = (f"ViTAEv2: {len(backbone_state)} tensors of '{ckpt_path}' fit; "
              '0.0% of the parameters not loaded')
    assert loaded in out, f'the pretrained checkpoint was not loaded:\n{out[-3000:]}'
    ckpt_file = open(work / 'last_checkpoint').read().strip()

    out = run_tool('test.py', config, ckpt_file, '--cfg-options', *opts,
                   f'work_dir={tmp_path / "test"}')
    found = re.search(metric, out)
    assert found, f'no {metric} in the test log:\n{out[-3000:]}'
    assert 0 <= float(found.group(1)) <= 100

    ckpt = load_checkpoint_file(ckpt_file)
    assert tuple(ckpt['meta']['dataset_meta']['classes']) == classes
    weights = ckpt['state_dict']
    assert weights[head_key].shape[0] == rows
    frozen = [k for k in backbone_state if k.startswith(('layers.0.', 'layers.1.'))]
    assert frozen
    for k in frozen:  # the frozen stages hold exactly the pretrained tensors
        assert torch.equal(weights[f'backbone.{k}'], backbone_state[k]), k
    tuned = [k for k in backbone_state if k.startswith('layers.3.') and 'weight' in k]
    assert any(not torch.equal(weights[f'backbone.{k}'], backbone_state[k]) for k in tuned)
