"""The configs/custom/ templates work from any folder (``hvt::`` bases, configs shipped in the
package through ``hvt/.mim``), and their schedule follows the one number at their top."""
import os
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
    # from scratch: the fine-tune template next to them with only the recipe changed
    'cls-scratch': 'configs/custom/vitaev2-s_scratch_custom-folder.py',
    'det-scratch': 'configs/custom/mask-rcnn_vitaev2-s_fpn_scratch_custom-coco.py',
    'seg-scratch': 'configs/custom/upernet_vitaev2-s_scratch_custom-seg.py',
}


def copy_template(task, folder, replace=None):
    """The template, copied into ``folder`` (outside the repository), optionally with one
    top-block line replaced. A fine-tune template goes alone; a from-scratch one goes with the
    fine-tune template it inherits, as docs/custom_data.md tells users to copy them."""
    src = osp.join(ROOT, TEMPLATES[task])
    dst = osp.join(str(folder), osp.basename(src))
    if task.endswith('-scratch'):
        base = TEMPLATES[task[:-len('-scratch')]]
        shutil.copyfile(osp.join(ROOT, base), osp.join(str(folder), osp.basename(base)))
    shutil.copyfile(src, dst)
    if replace:
        replace_line(dst, *replace)
    return dst


def replace_line(path, old, new):
    """Replace the whole line ``old`` (which must be there) of the file ``path`` by ``new``."""
    text = open(path).read()
    assert re.search(rf'^{re.escape(old)}$', text, flags=re.M), (path, old)
    with open(path, 'w') as f:
        f.write(re.sub(rf'^{re.escape(old)}$', new, text, flags=re.M))


@pytest.mark.parametrize('task', sorted(TEMPLATES))
def test_template_copied_elsewhere_loads_and_builds(task, tmp_path):
    path = copy_template(task, tmp_path)
    text = open(path).read()
    if task.endswith('-scratch'):  # the sibling fine-tune template, and nothing else
        base = osp.basename(TEMPLATES[task[:-len('-scratch')]])
        assert f"_base_ = ['./{base}']" in text
        assert "_base_ = ['hvt::" in open(tmp_path / base).read()
    else:
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
    ('cls-scratch', 'max_epochs = 100', 'max_epochs = 40',
     lambda c: (c.train_cfg.max_epochs, c.param_scheduler[-1].end) == (40, 40)),
    ('cls-scratch', 'warmup_epochs = 5', 'warmup_epochs = 8',
     lambda c: (c.param_scheduler[0].end, c.param_scheduler[1].begin) == (8, 8)),
    ('det-scratch', 'max_epochs = 36', 'max_epochs = 24',
     lambda c: (c.train_cfg.max_epochs, c.param_scheduler[-1].end,
                c.param_scheduler[-1].milestones) == (24, 24, [16, 22])),
    ('det-scratch', 'warmup_iters = 1000', 'warmup_iters = 200',
     lambda c: c.param_scheduler[0].end == 200),
    ('seg-scratch', 'max_iters = 80000', 'max_iters = 30000',
     lambda c: (c.train_cfg.max_iters, c.param_scheduler[-1].end) == (30000, 30000)),
    ('seg-scratch', 'eval_every = 8000', 'eval_every = 1000',
     lambda c: (c.train_cfg.val_interval, c.default_hooks.checkpoint.interval) == (1000, 1000)),
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


FT_DATA_LINE = {'cls': "data_root = 'data/my_cls'", 'det': "data_root = 'data/my_coco/'",
                'seg': "data_root = 'data/my_seg'"}


@pytest.mark.parametrize('task', ['cls', 'det', 'seg'])
def test_scratch_template_changes_only_the_recipe(task, tmp_path):
    """From scratch: nothing pretrained, a larger lr, wd 0.05, a longer warm-up and schedule; the
    data come from the fine-tune template next to it (edited there, they reach both)."""
    copy_template(task + '-scratch', tmp_path)
    ft_path = tmp_path / osp.basename(TEMPLATES[task])
    replace_line(ft_path, FT_DATA_LINE[task], "data_root = 'elsewhere/'")
    ft = Config.fromfile(str(ft_path))
    sc = Config.fromfile(str(tmp_path / osp.basename(TEMPLATES[task + '-scratch'])))
    assert ft.model.backbone.init_cfg['type'] == 'Pretrained'
    assert sc.pretrained is None and sc.model.backbone.init_cfg is None
    assert sc.optim_wrapper.optimizer.lr > ft.optim_wrapper.optimizer.lr
    assert sc.optim_wrapper.optimizer.weight_decay == 0.05
    assert sc.param_scheduler[0].end > ft.param_scheduler[0].end  # longer warm-up
    end = 'max_iters' if task == 'seg' else 'max_epochs'
    assert sc.train_cfg[end] > ft.train_cfg[end]
    for loader in ('train_dataloader', 'val_dataloader'):  # the data as set in the fine-tune copy
        assert sc[loader].dataset.data_root == ft[loader].dataset.data_root == 'elsewhere/'
    # the heads and the test side stay the fine-tune template's
    assert sc.val_dataloader.dataset.pipeline == ft.val_dataloader.dataset.pipeline
    assert sc.model.to_dict().keys() == ft.model.to_dict().keys()
    if task == 'cls':  # stronger augmentation for a model that has only these images
        assert ft.model.train_cfg is None
        assert [a['type'] for a in sc.model.train_cfg.augments] == ['Mixup', 'CutMix']
        steps = [t['type'] for t in sc.train_dataloader.dataset.pipeline]
        assert 'RandAugment' in steps and 'RandAugment' not in [
            t['type'] for t in ft.train_dataloader.dataset.pipeline]
        assert sc.train_dataloader.dataset.pipeline[1].scale == ft.img_size  # from the fine-tune


# the one-line variant swap, per template: (the arch line's new value, model key, in_channels)
ARCH_SWAPS = {
    'cls': ("'48m'", 'head', 768),
    'cls-scratch': ('demo_arch', 'head', 256),  # the narrowed demo model of the first CPU try
    'det': ("'48m'", 'neck', [96, 192, 384, 768]),
    'det-scratch': ("'b'", 'neck', [128, 256, 512, 1024]),
    'seg': ("'b'", 'decode_head', [128, 256, 512, 1024]),
    'seg-scratch': ("'48m'", 'decode_head', [96, 192, 384, 768]),
}


@pytest.mark.parametrize('task', sorted(ARCH_SWAPS))
def test_one_line_swaps_the_variant(task, tmp_path, capsys):
    """`arch = ...` in the top block is the only edit: the heads' in_channels follow the backbone
    (hvt.engine.cli.load_config, what the tools use)."""
    from hvt.engine.cli import load_config
    value, key, expected = ARCH_SWAPS[task]
    as_written = load_config(copy_template(task, tmp_path))
    assert as_written.model.backbone.arch == 's' and as_written.model[key].in_channels != expected
    swapped_dir = tmp_path / 'swapped'
    swapped_dir.mkdir()
    path = copy_template(task, swapped_dir)
    # a from-scratch template takes the variant, like the data, from its fine-tune template
    edited = path if '-scratch' not in task else \
        str(swapped_dir / osp.basename(TEMPLATES[task.split('-')[0]]))
    replace_line(edited, "arch = 's'", f'arch = {value}')
    cfg = load_config(path)
    assert cfg.model[key].in_channels == expected
    assert '[hvt] following model.backbone' in capsys.readouterr().out
    if key == 'decode_head':
        assert cfg.model.auxiliary_head.in_channels == expected[cfg.model.auxiliary_head.in_index]


@pytest.fixture(scope='module')
def custom_data(tmp_path_factory):
    """The three custom layouts of docs/custom_data.md (5 folder classes, box/star, 4 mask
    labels)."""
    from make_tiny_datasets import CUSTOM_TASKS, make_all
    out = tmp_path_factory.mktemp('custom_data')
    make_all(str(out), tasks=CUSTOM_TASKS, seed=0, train_per_class=4, val_per_class=2,
             num_train=4, num_val=2)
    return out


def _scratch_options(task, data, work, path):
    """--cfg-options shrinking a from-scratch copy to one tiny epoch on ``data``; the template's
    scheduler, augmentation and (random) initialisation stay as written."""
    from toolkit import det_smoke_options, seg_smoke_options
    if task == 'cls':
        opts = cls_smoke_options(data, work, img_size=32, epochs=1, batch_size=4, config=path,
                                 subdir='custom_cls')
        opts = [o for o in opts if o not in ('param_scheduler=[]', 'model.train_cfg=None')]
        return opts + ['model.head.num_classes=5', 'data_preprocessor.num_classes=5',
                       'train_dataloader.dataset.indices=8', 'val_dataloader.dataset.indices=4',
                       'test_dataloader=None', 'test_evaluator=None', 'test_cfg=None'], \
            r'accuracy/top1: [0-9.]+'
    if task == 'det':
        ann = data / 'custom_det' / 'annotations' / 'val.json'
        opts = det_smoke_options(data, work, path, classes='(box,star)', subdir='custom_det')
        return opts + [f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}',
                       'model.test_cfg.rcnn.score_thr=0.0', 'train_dataloader.dataset.indices=2',
                       'val_dataloader.dataset.indices=2'], r'coco/bbox_mAP: [-0-9.]+'
    opts = seg_smoke_options(data, work, path, iters=2, crop=64, subdir='custom_seg')
    classes = '(background,circle,triangle,hexagon)'
    palette = '[[0,0,0],[255,0,0],[0,255,0],[0,0,255]]'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.metainfo.classes={classes}',
                 f'{loader}.dataset.metainfo.palette={palette}']
    return opts + ['model.decode_head.num_classes=4', 'model.auxiliary_head.num_classes=4',
                   'val_dataloader.dataset.indices=2'], r'mIoU: [0-9.]+'


@pytest.mark.parametrize('task', ['cls', 'det', 'seg'])
def test_copied_scratch_template_trains(task, custom_data, tmp_path):
    """The from-scratch template, copied with its fine-tune base outside the repository, trains
    one tiny epoch (iterations for seg) with the real tools/train.py run from that folder,
    loading no weights."""
    work = tmp_path / 'work'
    path = copy_template(task + '-scratch', tmp_path)
    opts, metric = _scratch_options(task, custom_data, work, path)
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), path,
                           '--cfg-options', *opts], cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=900, env=dict(os.environ, OMP_NUM_THREADS='1'))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert re.search(metric, out), out[-3000:]
    assert 'tensors of' not in out and 'load checkpoint from' not in out  # random weights
    assert open(work / 'last_checkpoint').read().strip()
