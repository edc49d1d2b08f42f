"""The configs/custom/ templates work from any folder (``hvt::`` bases, configs shipped in the
package through ``hvt/.mim``), and their schedule follows the one number at their top."""
import os.path as osp
import re
import shutil
import subprocess
import sys

import pytest
from mmengine.config import Config

import hvt  # noqa: F401  (registers hvt:: with mmengine)
from toolkit import ROOT, cls_smoke_options

TEMPLATES = {
    'cls': 'configs/custom/vitaev2-s_ft_custom-folder.py',
    'det': 'configs/custom/mask-rcnn_vitaev2-s_fpn_ft_custom-coco.py',
    'seg': 'configs/custom/upernet_vitaev2-s_ft_custom-seg.py',
}


def copy_template(task, folder, replace=None):
    """The template, copied alone into ``folder`` (outside the repository), optionally with one
    top-block line replaced."""
    src = osp.join(ROOT, TEMPLATES[task])
    dst = osp.join(str(folder), osp.basename(src))
    shutil.copyfile(src, dst)
    if replace:
        old, new = replace
        text = open(dst).read()
        assert re.search(rf'^{re.escape(old)}$', text, flags=re.M), (task, old)
        with open(dst, 'w') as f:
            f.write(re.sub(rf'^{re.escape(old)}$', new, text, flags=re.M))
    return dst


@pytest.mark.parametrize('task', sorted(TEMPLATES))
def test_template_copied_elsewhere_loads_and_builds(task, tmp_path):
    path = copy_template(task, tmp_path)
    text = open(path).read()
    assert "_base_ = ['hvt::" in text  # no relative base left that would break here
    cfg = Config.fromfile(path)
    assert cfg.default_scope in ('mmpretrain', 'mmdet', 'mmseg')
    assert '_scope_' not in cfg.pretty_text  # built in the config's own scope, not in 'hvt'
    from mmengine.registry import DefaultScope, MODELS
    import torch
    with DefaultScope.overwrite_default_scope(cfg.default_scope), torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert type(model).__name__ in ('ImageClassifier', 'MaskRCNN', 'EncoderDecoder')
    # the user's own script in that folder, as docs/custom_data.md shows it
    out = subprocess.run([sys.executable, '-c', 'import hvt; from mmengine.config import Config; '
                          f'print(Config.fromfile({path!r}).model.backbone.type)'],
                         cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and 'hvt.ViTAEv2' in out.stdout, out.stderr[-2000:]


@pytest.mark.parametrize('task,line,new,check', [
    ('cls', 'max_epochs = 30', 'max_epochs = 7',
     lambda c: (c.train_cfg.max_epochs, c.param_scheduler[-1].end) == (7, 7)),
    ('cls', 'warmup_epochs = 1', 'warmup_epochs = 3',
     lambda c: (c.param_scheduler[0].end, c.param_scheduler[1].begin) == (3, 3)),
    ('det', 'max_epochs = 12', 'max_epochs = 36',
     lambda c: (c.train_cfg.max_epochs, c.param_scheduler[-1].end,
                c.param_scheduler[-1].milestones) == (36, 36, [24, 33])),
    ('seg', 'max_iters = 20000', 'max_iters = 5000',
     lambda c: (c.train_cfg.max_iters, c.param_scheduler[-1].end) == (5000, 5000)),
])
def test_one_number_moves_the_schedule(task, line, new, check, tmp_path):
    cfg = Config.fromfile(copy_template(task, tmp_path, (line, new)))
    assert check(cfg), cfg.param_scheduler


def test_copied_template_trains(tmp_path, tiny_data):
    """A copy outside the repository trains with the real tools/train.py, run from that folder."""
    work = tmp_path / 'work'
    path = copy_template('cls', tmp_path, ("pretrained = 'official:vitaev2-s_in1k'",
                                           'pretrained = None'))
    opts = cls_smoke_options(tiny_data, work, img_size=32, epochs=1, batch_size=8,
                             config=TEMPLATES['cls'])
    opts = [o for o in opts if not o.startswith(('train_dataloader.dataset.data_root',
                                                 'val_dataloader.dataset.data_root',
                                                 'test_dataloader.dataset.data_root'))]
    data = tiny_data / 'imagenet'
    opts += ['model.backbone.arch=s',
             f'train_dataloader.dataset.data_root={data}',
             f'val_dataloader.dataset.data_root={data}', 'train_dataloader.dataset.indices=16',
             'val_dataloader.dataset.indices=8', 'test_dataloader=None', 'test_evaluator=None',
             'test_cfg=None', 'train_cfg.val_begin=1']
    n = len([d for d in (data / 'train').iterdir() if d.is_dir()])
    opts += [f'model.head.num_classes={n}', f'data_preprocessor.num_classes={n}']
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), path,
                           '--cfg-options', *opts], cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert re.search(r'Epoch\(val\) \[1\].*accuracy/top1: [0-9.]+', out), out[-3000:]
    assert (work / 'epoch_1.pth').is_file()


def test_num_workers_are_capped_at_the_available_cpus(capsys):
    from hvt.engine.cli import available_cpus, cap_workers
    n = available_cpus()
    cfg = Config(dict(train_dataloader=dict(num_workers=n + 6), val_dataloader=dict(num_workers=0),
                      test_dataloader=dict(num_workers=n + 1)))
    cap_workers(cfg)
    assert cfg.train_dataloader.num_workers == n and cfg.test_dataloader.num_workers == n
    assert cfg.val_dataloader.num_workers == 0
    out = capsys.readouterr().out
    assert out.count('num_workers capped') == 1
    assert f'train_dataloader {n + 6} -> {n}' in out and f'test_dataloader {n + 1} -> {n}' in out
    cap_workers(cfg)  # nothing left to cap: silent
    assert 'capped' not in capsys.readouterr().out


def test_image_demo_creates_its_output_folder_before_inference(tmp_path):
    """--out into a folder that does not exist yet: the folder is made first (not a failure
    after the model ran). The checkpoint is missing on purpose, so the run stops right after."""
    out = tmp_path / 'new' / 'deeper' / 'x.png'
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'demo', 'image_demo.py'), 'img.jpg',
                           osp.join(ROOT, TEMPLATES['cls']), str(tmp_path / 'missing.pth'),
                           '--out', str(out)], capture_output=True, text=True, timeout=300,
                          cwd=str(tmp_path))
    assert proc.returncode != 0 and 'missing.pth' in proc.stderr, proc.stderr[-2000:]
    assert out.parent.is_dir()


@pytest.mark.parametrize('config,arch,key,expected', [
    ('configs/custom/vitaev2-s_ft_custom-folder.py', 'b', 'head', 1024),
    ('configs/vitaev2/td-hm_vitaev2-s_8xb64-210e_ap10k-256x256.py', '48m', 'head', 768),
    ('configs/vitaev2/mask-rcnn_vitaev2-s_fpn_1x_coco.py', '48m', 'neck', [96, 192, 384, 768]),
    ('configs/vitaev2/upernet_vitaev2-s_8xb2-160k_ade20k-512x512.py', 'b', 'decode_head',
     [128, 256, 512, 1024]),
])
def test_heads_follow_the_backbone_arch(config, arch, key, expected, capsys):
    """Swapping model.backbone.arch alone is enough: the head's / neck's in_channels follow, and
    the swapped model builds and runs."""
    import torch
    from mmengine.registry import DefaultScope, MODELS
    from hvt.engine.cli import load_config
    cfg = load_config(osp.join(ROOT, config), {'model.backbone.arch': arch})
    assert cfg.model[key].in_channels == expected
    assert f'[hvt] following model.backbone (arch={arch!r}): model.{key}.in_channels' in \
        capsys.readouterr().out
    if key == 'decode_head':
        assert cfg.model.auxiliary_head.in_channels == expected[cfg.model.auxiliary_head.in_index]
    if config.startswith('configs/custom'):  # the classifier really runs with the new width
        cfg.model.backbone.init_cfg = None
        with DefaultScope.overwrite_default_scope(cfg.default_scope):
            model = MODELS.build(cfg.model).eval()
        with torch.no_grad():
            assert model(torch.randn(1, 3, 64, 64), mode='tensor').shape == (1, 10)
    # as written, nothing moves; and a config can turn it off
    load_config(osp.join(ROOT, config))
    assert 'following' not in capsys.readouterr().out
    cfg = load_config(osp.join(ROOT, config), {'model.backbone.arch': arch,
                                                'follow_backbone_channels': False})
    assert cfg.model[key].in_channels != expected
