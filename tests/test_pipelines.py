"""tools/train.py then tools/test.py on each tiny dataset with the ResNet reference configs.

These prove the generic tools and the task bases end to end, each producing its task's metric.
HVT backbones reuse exactly these bases and options (see tests/test_<family>*.py).
"""
import pickle

import pytest

from toolkit import (cls_smoke_options, det_smoke_options, logged_metric, pose_smoke_options,
                     run_tool, seg_smoke_options)

CASES = {
    'classification': ('configs/resnet/resnet18_8xb32_in1k.py', cls_smoke_options,
                       r'accuracy/top1: (\S+)', 'epoch_1.pth'),
    'detection': ('configs/resnet/mask-rcnn_r18_fpn_1x_coco.py', det_smoke_options,
                  r'coco/segm_mAP: (\S+)', 'epoch_1.pth'),
    'segmentation': ('configs/resnet/upernet_r18_4xb4-160k_ade20k-512x512.py', seg_smoke_options,
                     r'mIoU: (\S+)', 'iter_4.pth'),
    'pose': ('configs/resnet/td-hm_res18_8xb64-210e_ap10k-256x256.py', pose_smoke_options,
             r'coco/AP: (\S+)', 'epoch_1.pth'),
}


@pytest.mark.parametrize('task', sorted(CASES))
def test_train_then_test(task, tiny_data, tmp_path):
    config, smoke, metric, ckpt_name = CASES[task]
    work = tmp_path / 'work'
    if smoke is cls_smoke_options:
        opts = smoke(tiny_data, work, img_size=32, epochs=1)
    else:
        opts = smoke(tiny_data, work, config)
    out = run_tool('train.py', config, '--cfg-options', *opts)
    logged_metric(metric, out)
    ckpt = work / ckpt_name
    assert ckpt.is_file() and (work / 'last_checkpoint').read_text().strip() == str(ckpt)

    results, show = tmp_path / 'results.pkl', tmp_path / 'show'
    out = run_tool('test.py', config, ckpt, '--out', results, '--show-dir', show,
                   '--cfg-options', *opts, f'work_dir={tmp_path / "test"}')
    logged_metric(metric, out)  # in range: not NaN, not COCO's -1
    with open(results, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) > 0
    drawn = [p for p in show.rglob('*') if p.suffix in ('.png', '.jpg')]
    assert drawn, f'--show-dir drew nothing into {show}'


def test_train_reports_missing_config(tmp_path):
    out = run_tool('train.py', tmp_path / 'nope.py', check='fail')
    assert "config file not found" in out and 'nope.py' in out


def test_test_reports_missing_checkpoint(tmp_path):
    out = run_tool('test.py', 'configs/resnet/resnet18_8xb32_in1k.py', tmp_path / 'gone.pth',
                   check='fail')
    assert 'checkpoint not found' in out and 'gone.pth' in out
