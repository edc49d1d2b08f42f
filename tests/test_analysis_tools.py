"""tools/analysis/analyze_logs.py, tools/misc/browse_dataset.py and tools/misc/print_config.py,
run from the shell on a real training log and the tiny datasets."""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from toolkit import (ROOT, cls_smoke_options, det_smoke_options, pose_smoke_options, run_tool,
                     seg_smoke_options)

PNG = b'\x89PNG\r\n\x1a\n'
CLS_CONFIG = 'configs/resnet/resnet18_8xb32_in1k.py'


@pytest.fixture(scope='module')
def train_log(tiny_data, tmp_path_factory):
    """scalars.json of a real 2-epoch run (loss and lr every iteration, accuracy every epoch)."""
    work = tmp_path_factory.mktemp('log') / 'work'
    opts = cls_smoke_options(tiny_data, work, img_size=32, epochs=2)
    run_tool('train.py', CLS_CONFIG, '--cfg-options', *opts)
    found = list(work.glob('*/vis_data/scalars.json'))
    assert len(found) == 1, found
    return found[0]


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_plot_curve(train_log, tmp_path):
    out = tmp_path / 'curves.png'
    text = run_tool('analysis/analyze_logs.py', 'plot_curve', train_log, train_log.parents[2],
                    '--keys', 'loss', 'lr', 'accuracy/top1', '--legend', 'file', 'work-dir',
                    '--out', out)
    assert 'loss, lr, accuracy/top1 of 2 log(s)' in text
    assert out.read_bytes()[:8] == PNG
    w, h = Image.open(out).size
    assert w > 2 * h  # three panels side by side


def test_plot_curve_names_available_keys(train_log, tmp_path):
    text = run_tool('analysis/analyze_logs.py', 'plot_curve', train_log, '--keys', 'loss',
                    'bbox_mAP', '--out', tmp_path / 'x.png', check=False)
    assert "has no 'bbox_mAP'" in text
    available = re.search(r'available keys: (.*)', text).group(1)
    for key in ('loss', 'lr', 'accuracy/top1', 'time', 'data_time'):
        assert key in available.split(', ')
    assert not (tmp_path / 'x.png').exists()


def test_cal_train_time(train_log):
    text = run_tool('analysis/analyze_logs.py', 'cal_train_time', train_log)
    # the same statistics, computed here from the JSON lines
    per_epoch = {}
    for r in _records(train_log):
        if 'loss' in r:
            per_epoch.setdefault(r['epoch'], []).append(r['time'])
    assert sorted(per_epoch) == [1, 2]
    means = {e: np.mean(t[1:]) for e, t in per_epoch.items()}  # first iteration left out
    slow = max(means, key=means.get)
    assert f'slowest epoch {slow}, average time is {means[slow]:.4f} s/iter' in text
    assert f'average iter time: {np.mean(list(means.values())):.4f} s/iter' in text
    with_first = run_tool('analysis/analyze_logs.py', 'cal_train_time', train_log,
                          '--include-outliers')
    mean_all = np.mean([np.mean(t) for t in per_epoch.values()])
    assert f'average iter time: {mean_all:.4f} s/iter' in with_first


BROWSE = {
    # task: (config, options, phase, compare with the source image)
    'classification': (CLS_CONFIG, lambda d, w, c: cls_smoke_options(d, w, img_size=64), 'val',
                       True),
    'detection': ('configs/resnet/mask-rcnn_r18_fpn_1x_coco.py', det_smoke_options, 'val', True),
    'segmentation': ('configs/resnet/upernet_r18_4xb4-160k_ade20k-512x512.py',
                     lambda d, w, c: seg_smoke_options(d, w, c, crop=64), 'val', True),
    'pose': ('configs/resnet/td-hm_res18_8xb64-210e_ap10k-256x256.py', pose_smoke_options,
             'train', False),  # the input is a crop of the animal's box
}


@pytest.mark.parametrize('task', sorted(BROWSE))
def test_browse_dataset(task, tiny_data, tmp_path):
    config, options, phase, compare = BROWSE[task]
    out_dir = tmp_path / 'vis'
    text = run_tool('misc/browse_dataset.py', config, '--output-dir', out_dir, '--max-items', 3,
                    '--phase', phase, '--cfg-options', *options(tiny_data, tmp_path / 'w', config))
    assert re.search(rf'3 {phase} samples of a {task} dataset', text), text[-2000:]
    pngs = sorted(out_dir.glob('*.png'))
    assert len(pngs) == 3
    for png in pngs:
        drawn = np.asarray(Image.open(png).convert('RGB'), dtype=np.int16)
        if task == 'pose':
            assert drawn.shape == (128, 128, 3)  # the top-down input size
        if not compare:
            continue
        name = png.stem.split('_', 1)[1]
        source = next(p for p in tiny_data.rglob(f'{name}.*') if p.suffix.lower() != '.png')
        src = Image.open(source).convert('RGB').resize(drawn.shape[1::-1], Image.BILINEAR)
        changed = (np.abs(drawn - np.asarray(src, dtype=np.int16)).max(axis=2) > 40).mean()
        assert changed > 0.005, f'{png}: nothing drawn ({changed:.2%} of the pixels differ)'


def test_browse_dataset_names_missing_data(tmp_path):
    text = run_tool('misc/browse_dataset.py', CLS_CONFIG, '--output-dir', tmp_path, '--cfg-options',
                    f'train_dataloader.dataset.data_root={tmp_path / "nowhere"}', check=False)
    assert 'train_dataloader.dataset.data_root' in text and 'nowhere' in text


def test_print_config(tmp_path):
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'misc', 'print_config.py'),
         'configs/vitaev2/mask-rcnn_vitaev2-s_fpn_1x_coco.py',
         '--cfg-options', 'model.backbone.drop_path_rate=0.3'],
        cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT),
        timeout=300, check=True)
    dumped = tmp_path / 'resolved.py'
    dumped.write_text(proc.stdout)  # stdout is exactly the resolved config, as Python
    cfg = Config.fromfile(str(dumped), import_custom_modules=False)
    assert '_base_' not in proc.stdout
    assert cfg.default_scope == 'mmdet' and cfg.model.type == 'MaskRCNN'  # from the _base_ files
    assert cfg.model.backbone.type == 'hvt.ViTAEv2'
    assert cfg.model.backbone.drop_path_rate == 0.3  # the override
    out = run_tool('misc/print_config.py', tmp_path / 'nope.py', check=False)
    assert 'config file not found' in out and 'nope.py' in out
